//! The four services of Zato's "Receiving webhooks" page, in Rust.
//!
//! Build with `cargo build --release --examples`, then run
//! `target/release/examples/seed serve --config examples/seed/inlet.toml`
//! and try the page's curl commands against http://localhost:11223.

mod access_request;
mod jira;
mod salesforce;
mod servicenow;

/// The same allocator as the `inlet` binary (optional for your own binary: Inlet works
/// with any global allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    inlet::App::new()
        .service(jira::JiraWebhook)
        .service(access_request::AccessRequestWebhook)
        .service(access_request::ProcessAccessRequest)
        .service(servicenow::ServiceNowWebhook)
        .service(servicenow::ProcessIncident)
        .service(salesforce::SalesforceWebhook)
        .main()
}
