//! Inlet: a webhook receiving server.
//!
//! # Layout
//!
//! - [`config`]: the TOML file, read in two phases (raw serde structs, then a checked [`Config`]).
//! - [`security`]: the checks a channel runs over the raw request; `Unverified` → `Verified`.
//! - [`service`]: the service model: [`Service`], [`Request`], [`Response`], [`Context`].
//! - [`routes`]: method + path → channel.
//! - [`format`]: data formats (json, form, text, xml, raw).
//! - [`lua`]: services written in Lua, deployed from `services_dir` and hot-reloaded.
//! - `http`: the accept loop and the flow of one request.
//! - [`server`]: a built server; [`app`]: the builder a binary uses; `cli`: the commands.
//! - [`store`]: durable events, jobs and attempts (SQLite, group commit).
//! - [`jobs`]: background workers that run stored jobs, with retries and retention.

pub mod app;
mod cli;
pub mod config;
pub mod format;
mod http;
pub mod jobs;
pub mod lua;
mod ops;
pub mod routes;
pub mod security;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;

pub use app::App;
pub use config::Config;
pub use http::CID_HEADER;
pub use server::Server;
pub use service::{Context, ErrorKind, JobId, Request, Response, Service, ServiceError};
