//! "Mapping webhook data to your models": map the payload to `AccessRequest`, then hand it
//! to a processing service that can be tested on its own.

use inlet::{Context, Request, Response, Service, ServiceError};
use serde::{Deserialize, Serialize};

/// The internal model.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessRequest {
    pub issue_key: String,
    pub email: String,
    pub company_name: String,
    pub request_type: String,
}

/// The webhook's shape: the same fields, named as the sender names them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessRequestWebhookData {
    issue_key: String,
    email: String,
    company_name: String,
    request_type: String,
}

pub struct AccessRequestWebhook;

impl Service for AccessRequestWebhook {
    fn name(&self) -> &str {
        "webhooks.access-request.receive"
    }

    async fn handle(&self, request: Request, ctx: Context) -> Result<Response, ServiceError> {
        // Get raw webhook data; a missing or mistyped field is a 422 that names it
        let data: AccessRequestWebhookData = request.payload_as()?;

        // Map to internal model
        let request = AccessRequest {
            issue_key: data.issue_key,
            email: data.email,
            company_name: data.company_name,
            request_type: data.request_type,
        };

        // Pass to processing service
        ctx.invoke("access.request.process", &request).await?;
        Ok(Response::empty())
    }
}

/// The processing service the page delegates to.
pub struct ProcessAccessRequest;

impl Service for ProcessAccessRequest {
    fn name(&self) -> &str {
        "access.request.process"
    }

    async fn handle(&self, request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        let access: AccessRequest = request.payload_as()?;
        tracing::info!(
            "Processing {} access request {} for {} at {}",
            access.request_type,
            access.issue_key,
            access.email,
            access.company_name
        );
        Ok(Response::empty())
    }
}
