//! Lua services over real sockets: the seed's curl lines, hot reload, limits, the API, and
//! calls between Lua and Rust services.

mod api;
mod interop;
mod limits;
mod reload;
mod seed;
mod support;
