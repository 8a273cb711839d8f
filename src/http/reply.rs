//! Building HTTP responses: errors as JSON, and a service's [`Response`](crate::Response).

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use http_body_util::Full;

use crate::service::{Body, Response};

pub(crate) type HttpResponse = http::Response<Full<Bytes>>;

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `{"error": message, "cid": cid}` with `status`.
pub(crate) fn error(status: StatusCode, message: &str, cid: &str) -> HttpResponse {
    let body = serde_json::json!({ "error": message, "cid": cid });
    json(status, &body)
}

pub(crate) fn method_not_allowed(allow: &HeaderValue, cid: &str) -> HttpResponse {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!(
            "method not allowed; this path takes {}",
            allow.to_str().unwrap_or("")
        ),
        cid,
    );
    response.headers_mut().insert(ALLOW, allow.clone());
    response
}

pub(crate) fn unavailable(message: &str, cid: &str, retry_after_seconds: u32) -> HttpResponse {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, message, cid);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after_seconds));
    response
}

/// `value` as a JSON body with `status`. Generic, so that fixed answers (an async
/// channel's receipt) serialise from a plain struct without building a `Value` first.
pub(crate) fn json(status: StatusCode, value: &impl serde::Serialize) -> HttpResponse {
    let bytes = serde_json::to_vec(value).expect("Inlet's answers always serialise");
    let mut response = http::Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, APPLICATION_JSON);
    response
}

/// A reply the channel gives itself: a handshake or an acknowledgement.
pub(crate) fn raw(answer: &crate::security::Reply) -> HttpResponse {
    let mut response = http::Response::new(Full::new(answer.body.clone()));
    *response.status_mut() = answer.status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    response
}

/// Turns a service's answer into HTTP.
pub(crate) fn from_service(answer: Response) -> HttpResponse {
    let Response {
        status,
        headers,
        body,
    } = answer;
    let (content_type, bytes) = match body {
        Body::Empty => (None, Bytes::new()),
        Body::Json(value) => (
            Some(APPLICATION_JSON),
            Bytes::from(serde_json::to_vec(&value).expect("a JSON value always serialises")),
        ),
        Body::Raw {
            content_type,
            bytes,
        } => (Some(content_type), bytes),
    };
    let mut response = http::Response::new(Full::new(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .entry(CONTENT_TYPE)
            .or_insert(content_type);
    }
    response
}
