//! Inlet: a webhook receiving server.
pub mod config;
