//! Services built into every binary.

use super::{Context, Request, Response, Service, ServiceError};

/// `inlet.ping`: answers `{"pong":true}`. Useful as a health check channel.
pub struct Ping;

impl Service for Ping {
    fn name(&self) -> &str {
        "inlet.ping"
    }

    async fn handle(&self, _request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        // A constant answer, so it is sent as constant bytes rather than built each time.
        Ok(Response::raw(
            "application/json",
            bytes::Bytes::from_static(br#"{"pong":true}"#),
        ))
    }
}

/// `inlet.echo`: answers the request's payload.
pub struct Echo;

impl Service for Echo {
    fn name(&self) -> &str {
        "inlet.echo"
    }

    async fn handle(&self, request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        Ok(Response::json(request.payload()?.clone()))
    }
}

/// `inlet.noop`: does nothing and answers an empty 200. Useful to accept and store events
/// that nothing needs to process yet.
pub struct Noop;

impl Service for Noop {
    fn name(&self) -> &str {
        "inlet.noop"
    }

    async fn handle(&self, _request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        Ok(Response::empty())
    }
}
