//! The HTTP edge: the accept loop, and the flow of each request.

mod accept;
mod body;
pub(crate) mod cid;
pub(crate) mod dispatch;
mod listener;
pub(crate) mod reply;

pub use self::dispatch::CID_HEADER;
pub(crate) use self::listener::serve_connections;
