//! "Responding to webhooks": answer at once, and process in the background.

use inlet::{Context, Request, Response, Service, ServiceError};
use serde_json::{Value, json};

pub struct ServiceNowWebhook;

impl Service for ServiceNowWebhook {
    fn name(&self) -> &str {
        "webhooks.servicenow.receive"
    }

    async fn handle(&self, request: Request, ctx: Context) -> Result<Response, ServiceError> {
        let event = request.payload()?;
        let event_type = event.get("event_type").cloned().unwrap_or(Value::Null);

        // Run in background instead of blocking
        ctx.invoke_async(
            "servicenow.incident.process",
            json!({
                "event_type": event_type,
                "payload": event,
            }),
        )
        .await?;

        // Return immediately
        Ok(Response::json(json!({"status": "received"})))
    }
}

/// The background half: the heavy processing of one incident.
pub struct ProcessIncident;

impl Service for ProcessIncident {
    fn name(&self) -> &str {
        "servicenow.incident.process"
    }

    async fn handle(&self, request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        let job = request.payload()?;
        let number = job
            .pointer("/payload/incident/number")
            .and_then(Value::as_str)
            .unwrap_or("(no number)");
        let event_type = job
            .get("event_type")
            .and_then(Value::as_str)
            .unwrap_or("(no type)");
        tracing::info!("Processing ServiceNow incident {number} ({event_type})");
        Ok(Response::empty())
    }
}
