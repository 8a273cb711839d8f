//! Integration tests: one binary, real servers on 127.0.0.1 port 0, real HTTP.

mod cli;
mod providers;
mod support;
