//! Services that misbehave on purpose, to test the error paths.

use std::time::Duration;

use inlet::{Context, Request, Response, Service, ServiceError};
use serde_json::json;

/// Fails with an internal error whose text must never reach the client.
pub struct Fails;

impl Service for Fails {
    fn name(&self) -> &str {
        "test.fails"
    }
    async fn handle(&self, _request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        let err = std::io::Error::other("connection to db-internal.corp:5432 refused");
        Err(ServiceError::from(err))
    }
}

/// Panics.
pub struct Panics;

impl Service for Panics {
    fn name(&self) -> &str {
        "test.panics"
    }
    async fn handle(&self, _request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        panic!("secret internal state 0xdeadbeef");
    }
}

/// Sleeps for the number of milliseconds in the payload's `ms`, then answers it.
pub struct Sleeps;

impl Service for Sleeps {
    fn name(&self) -> &str {
        "test.sleeps"
    }
    async fn handle(&self, request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        let ms = request.payload()?["ms"].as_u64().unwrap_or(0);
        // Tests wait for this line to know the request is in flight.
        tracing::info!(ms, "sleeping");
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(Response::json(json!({"slept_ms": ms})))
    }
}

/// Invokes itself forever; the nesting limit must stop it.
pub struct Recurses;

impl Service for Recurses {
    fn name(&self) -> &str {
        "test.recurses"
    }
    async fn handle(&self, _request: Request, ctx: Context) -> Result<Response, ServiceError> {
        ctx.invoke("test.recurses", json!({})).await
    }
}

/// Answers what it saw: params, query, headers it was asked about, and the payload.
pub struct Inspects;

impl Service for Inspects {
    fn name(&self) -> &str {
        "test.inspects"
    }
    async fn handle(&self, request: Request, ctx: Context) -> Result<Response, ServiceError> {
        Ok(Response::json(json!({
            "params": request.params(),
            "tenant": request.param("tenant"),
            "query_a": request.query("a"),
            "payload": request.payload()?,
            "raw_len": request.raw_body().len(),
            "cid": ctx.cid(),
            "peer_is_loopback": request.peer().map(|p| p.ip().is_loopback()),
        })))
    }
}

/// Refuses its input: a client error, which a background job must not retry.
pub struct Rejects;

impl Service for Rejects {
    fn name(&self) -> &str {
        "test.rejects"
    }
    async fn handle(&self, _request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        Err(ServiceError::unprocessable("field `id` is missing"))
    }
}

pub fn app() -> inlet::App {
    inlet::App::new()
        .service(Fails)
        .service(Panics)
        .service(Sleeps)
        .service(Recurses)
        .service(Inspects)
        .service(Rejects)
}
