//! The flow of one request: route, read the body, verify, check the format, run the service.
//!
//! Each step either hands on to the next or answers with an error. The client sees a JSON
//! error that says what was wrong with its request, and never internal details; the
//! operator's log says exactly what happened, under the request's cid.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::Either;
use http::{HeaderName, HeaderValue, StatusCode};
use hyper::body::Incoming;
use tracing::Instrument;

use super::body::{BodyError, read_limited};
use super::cid::Cid;
use super::reply::{self, HttpResponse};
use crate::config::{ChannelConfig, Mode};
use crate::format::check_body;
use crate::routes::RouteMatch;
use crate::security::{self, Unverified};
use crate::server::Gateway;
use crate::service::{Context, ErrorKind, Request, ServiceError, call_guarded};
use crate::telemetry::{self, RequestScope, in_request};

/// The header that carries the cid on every response.
pub const CID_HEADER: HeaderName = HeaderName::from_static("x-inlet-cid");

/// The log target of the one line logged per request; `INLET_LOG=info,inlet::access=off`
/// turns it off.
pub const ACCESS_LOG_TARGET: &str = "inlet::access";

/// Where routing sent a request; owned, so that it can be computed before the request's
/// log scope, which then carries the channel from the start.
enum Route {
    Channel {
        index: usize,
        params: Vec<(String, String)>,
    },
    MethodNotAllowed(HeaderValue),
    NotFound,
}

/// Answers one request. Never fails: every problem becomes an HTTP error response.
///
/// What needs no waiting runs before the future is made, and the request's head goes behind
/// a `Box` at once: the head moves into `respond`, `Unverified`, `Verified` and the service's
/// `Request`, and the futures of this flow hold it; each move of its 224 bytes was a
/// `memcpy`, and every future that held it was that much larger to build and move.
pub(crate) fn handle(
    gateway: Arc<Gateway>,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> impl Future<Output = HttpResponse> + Send + 'static {
    let started = Instant::now();
    let cid = Cid::new();
    let route = match gateway
        .config
        .routes
        .lookup(request.method(), request.uri().path())
    {
        RouteMatch::Found { channel, params } => Route::Channel {
            index: channel,
            params,
        },
        RouteMatch::MethodNotAllowed { allow } => Route::MethodNotAllowed(allow.clone()),
        RouteMatch::NotFound => Route::NotFound,
    };
    let channel_index = match &route {
        Route::Channel { index, .. } => Some(*index),
        _ => None,
    };
    let channel = channel_index.map(|index| Arc::clone(&gateway.channel_names[index]));
    // Not a `tracing` span: a task-local costs a fraction of one (see `telemetry::scope`).
    let scope = RequestScope::new(cid, channel);
    let (head, body) = request.into_parts();
    let head = Box::new(head);
    // Both clones are cheap: a method is an enum, a URI shares its bytes.
    let method = head.method.clone();
    let uri = head.uri.clone();
    let answer = async move {
        let mut response = respond(&gateway, route, head, body, peer, cid.as_str()).await;
        response.headers_mut().insert(
            CID_HEADER,
            HeaderValue::from_bytes(cid.as_bytes()).expect("a cid is hex, so a valid header value"),
        );
        gateway
            .metrics
            .request(channel_index, response.status().as_u16());
        tracing::info!(
            target: ACCESS_LOG_TARGET,
            // As a field rather than a format string: the line reads the same, and a `str`
            // is written as it is, where a format string goes through `fmt::Arguments`.
            message = "request",
            method = method.as_str(),
            path = uri.path(),
            status = response.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
        );
        response
    };
    // `Either` rather than an async block around the two: the block would hold `answer` twice,
    // as its capture and inside the task-local's future, and the whole is copied into place.
    if telemetry::formats_write_scope() {
        Either::Left(in_request(scope, answer))
    } else {
        let span = tracing::info_span!(
            telemetry::REQUEST_SPAN,
            cid = %scope.cid(),
            channel = scope.channel()
        );
        Either::Right(in_request(scope, answer.instrument(span)))
    }
}

async fn respond(
    gateway: &Arc<Gateway>,
    route: Route,
    head: Box<http::request::Parts>,
    body: Incoming,
    peer: SocketAddr,
    cid: &str,
) -> HttpResponse {
    let (channel, params) = match route {
        Route::Channel { index, params } => (&gateway.config.channels[index], params),
        Route::MethodNotAllowed(allow) => return reply::method_not_allowed(&allow, cid),
        Route::NotFound => {
            let message = format!("no channel serves {}", head.uri.path());
            return reply::error(StatusCode::NOT_FOUND, &message, cid);
        }
    };

    let timeout = gateway.config.server.body_read_timeout;
    let body = match read_limited(body, channel.max_body, timeout).await {
        Ok(body) => body,
        Err(err) => return body_error(err, cid),
    };

    let verified = match security::verify(&channel.security, Unverified::new(head, body, peer)) {
        Ok(verified) => verified,
        Err(rejected) => {
            gateway
                .metrics
                .rejection(&rejected.definition, rejected.failure.kind());
            tracing::warn!(
                %peer,
                definition = rejected.definition,
                check = rejected.failure.kind(),
                reason = %rejected.failure,
                "security check failed"
            );
            // A replay of a message already processed is answered as a delivered duplicate,
            // so the provider stops retrying; nothing reaches the service twice.
            if matches!(rejected.failure, security::Failure::Replayed(_)) {
                return reply::json(
                    rejected.status,
                    &serde_json::json!({ "status": "duplicate", "cid": cid }),
                );
            }
            let message = if rejected.status == StatusCode::FORBIDDEN {
                "forbidden"
            } else {
                "unauthorized"
            };
            return reply::error(rejected.status, message, cid);
        }
    };
    let (head, body, peer, settlement) = verified.into_parts();

    // A provider's handshake is answered by the channel itself; the service never sees it.
    if let Some(handshake) = settlement.handshake() {
        tracing::info!(
            status = handshake.status.as_u16(),
            "answered a provider handshake"
        );
        let response = reply::raw(handshake);
        // A handshake reaches no service and its answer is the same every time, so it keeps
        // no replay-cache id: a provider repeating it gets the same answer again.
        settlement.settle(false);
        return response;
    }

    if let Err(message) = check_body(channel.data_format, &body) {
        tracing::info!(reason = %message, "rejected malformed body");
        return reply::error(StatusCode::BAD_REQUEST, &message, cid);
    }
    if channel.mode == Mode::Async {
        // Boxed: its future is the largest of this flow's (2.9 KiB), and every request's
        // future, sync ones too, would otherwise be sized for it (5 KiB instead of 3) and
        // copied at that size as it is built up. Async requests pay one allocation more.
        return Box::pin(super::accept::accept(
            gateway, channel, head, body, peer, settlement, cid,
        ))
        .await;
    }
    let mut response = run_service(
        gateway,
        channel,
        Request::from_http(head, body, peer, params, channel.data_format),
        cid,
    )
    .await;
    let acknowledged = response.status().is_success();
    // Salesforce needs its SOAP Ack as the answer, and only once the service succeeded.
    if acknowledged && let Some(acknowledgement) = settlement.acknowledgement() {
        response = reply::raw(acknowledgement);
    }
    settlement.settle(acknowledged);
    response
}

async fn run_service(
    gateway: &Arc<Gateway>,
    channel: &ChannelConfig,
    request: Request,
    cid: &str,
) -> HttpResponse {
    let Some(service) = gateway.shared.services.get(&channel.service) else {
        let message = format!("service {} is not deployed", channel.service);
        tracing::warn!(
            service = channel.service,
            "channel's service is not deployed"
        );
        return reply::unavailable(&message, cid, 5);
    };
    let ctx = Context::new(Arc::clone(&gateway.shared), Arc::from(cid));
    let limit = gateway.config.server.service_timeout;
    let outcome = tokio::time::timeout(limit, call_guarded(service.as_ref(), request, ctx)).await;
    match outcome {
        Ok(Ok(answer)) => reply::from_service(answer),
        Ok(Err(err)) => service_error(&channel.service, err, cid),
        Err(_) => {
            let err = ServiceError::with_kind(
                ErrorKind::Timeout,
                format!("did not finish within {limit:?}"),
            );
            service_error(&channel.service, err, cid)
        }
    }
}

fn service_error(service: &str, err: ServiceError, cid: &str) -> HttpResponse {
    match err.kind() {
        ErrorKind::Client(_) => tracing::info!(service, error = %err, "service rejected the input"),
        kind => tracing::error!(service, ?kind, error = %err, "service failed"),
    }
    if matches!(err.kind(), ErrorKind::NotDeployed | ErrorKind::Unavailable) {
        return reply::unavailable(&err.public_message(), cid, 5);
    }
    reply::error(err.status(), &err.public_message(), cid)
}

fn body_error(err: BodyError, cid: &str) -> HttpResponse {
    let (status, message) = match err {
        BodyError::TooLarge { limit } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than this channel's limit of {limit} bytes"),
        ),
        BodyError::TimedOut { after } => (
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {} s", after.as_secs_f64()),
        ),
        BodyError::Unreadable(reason) => (
            StatusCode::BAD_REQUEST,
            format!("the body could not be read: {reason}"),
        ),
    };
    tracing::info!(status = status.as_u16(), reason = %message, "rejected body");
    reply::error(status, &message, cid)
}

#[cfg(test)]
mod span_tests {
    /// The text format recognises the fallback request span by its target (see
    /// `telemetry::formats_write_scope`); it is made here.
    #[test]
    fn the_request_span_is_made_in_the_module_the_formats_expect() {
        let this = format!("{}::span_tests", crate::telemetry::REQUEST_SPAN_TARGET);
        assert_eq!(module_path!(), this);
    }
}
