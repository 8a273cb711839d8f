//! "Basic webhook handler": log the Jira event and dispatch on its type.

use inlet::{Context, Request, Response, Service, ServiceError};
use serde_json::Value;

pub struct JiraWebhook;

impl Service for JiraWebhook {
    fn name(&self) -> &str {
        "webhooks.jira.receive"
    }

    async fn handle(&self, request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        // Access the incoming webhook data
        let event = request.payload()?;
        let event_type = event.get("webhookEvent").and_then(Value::as_str);

        // Log what we received
        tracing::info!("Received Jira event: {}", event_type.unwrap_or("None"));

        // Extract event data
        let issue_key = event
            .get("issue")
            .and_then(|issue| issue.get("key"))
            .and_then(Value::as_str)
            .unwrap_or("None");

        // Process based on event type
        match event_type {
            Some("jira:issue_created") => handle_issue_created(issue_key),
            Some("jira:issue_updated") => handle_issue_updated(issue_key),
            _ => {}
        }
        Ok(Response::empty())
    }
}

fn handle_issue_created(issue_key: &str) {
    tracing::info!("New issue created: {issue_key}");
}

fn handle_issue_updated(issue_key: &str) {
    tracing::info!("Issue updated: {issue_key}");
}
