//! Integration tests: real servers on real sockets, one test binary.

mod cli;
mod crash;
mod durable;
mod errors;
mod formats;
mod ops;
mod process;
mod provider_support;
mod providers;
mod security;
mod seed;
mod services;
mod shutdown;
mod support;
mod verify_send;

// The seed example's services, compiled into the tests from `examples/seed/`.
#[allow(dead_code)]
#[path = "../../examples/seed/access_request.rs"]
mod seed_access_request;
#[allow(dead_code)]
#[path = "../../examples/seed/jira.rs"]
mod seed_jira;
#[allow(dead_code)]
#[path = "../../examples/seed/salesforce.rs"]
mod seed_salesforce;
#[allow(dead_code)]
#[path = "../../examples/seed/servicenow.rs"]
mod seed_servicenow;
