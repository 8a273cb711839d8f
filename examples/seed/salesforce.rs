//! "Verifying webhook signatures": check `X-Salesforce-Signature`, an HMAC-SHA256 (hex) of
//! the raw body, inside the service, as the page does.

use http::StatusCode;
use inlet::security::{Algorithm, Encoding, signature_matches};
use inlet::{Context, Request, Response, Service, ServiceError};
use serde_json::{Value, json};

pub struct SalesforceWebhook;

impl Service for SalesforceWebhook {
    fn name(&self) -> &str {
        "webhooks.salesforce.receive"
    }

    async fn handle(&self, request: Request, ctx: Context) -> Result<Response, ServiceError> {
        // Get the signature from headers
        let signature = request.header("X-Salesforce-Signature").unwrap_or("");

        // Get raw request body for verification
        let raw_body = request.raw_body();

        // Your webhook secret from Salesforce
        let secret = ctx
            .config()
            .str("salesforce.webhook_secret")
            .map_err(ServiceError::permanent)?;

        // Verify signature
        if !verify_signature(raw_body, signature, secret) {
            return Ok(Response::json(json!({"error": "Invalid signature"}))
                .with_status(StatusCode::UNAUTHORIZED));
        }

        // Signature valid, process the event
        let event = request.payload()?;
        process_salesforce_event(event);
        Ok(Response::empty())
    }
}

/// Constant-time comparison of the hex HMAC-SHA256 of the exact bytes received.
fn verify_signature(payload: &[u8], signature: &str, secret: &str) -> bool {
    signature_matches(
        Algorithm::Sha256,
        Encoding::Hex,
        secret.as_bytes(),
        payload,
        signature,
    )
}

fn process_salesforce_event(event: &Value) {
    let event_type = event.get("type").and_then(Value::as_str).unwrap_or("None");
    tracing::info!("Processing Salesforce event: {event_type}");
}
