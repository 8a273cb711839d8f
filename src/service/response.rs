//! What a service answers: a status, headers, and a payload.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::Value;

/// The body of a [`Response`].
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body at all.
    Empty,
    /// A JSON document, sent with `Content-Type: application/json`.
    Json(Value),
    /// Bytes sent as they are, with their own content type (an XML acknowledgement, say).
    Raw {
        content_type: HeaderValue,
        bytes: Bytes,
    },
}

/// A service's answer. The default is an empty 200.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Body,
}

impl Default for Response {
    fn default() -> Self {
        Response::empty()
    }
}

impl Response {
    /// An empty 200.
    pub fn empty() -> Self {
        Response {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Body::Empty,
        }
    }

    /// A 200 whose body is `payload` as JSON.
    pub fn json(payload: impl Into<Value>) -> Self {
        Response {
            body: Body::Json(payload.into()),
            ..Response::empty()
        }
    }

    /// A 200 with a body sent verbatim.
    pub fn raw(content_type: &'static str, bytes: impl Into<Bytes>) -> Self {
        Response {
            body: Body::Raw {
                content_type: HeaderValue::from_static(content_type),
                bytes: bytes.into(),
            },
            ..Response::empty()
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// The JSON payload, if the body is JSON.
    pub fn payload(&self) -> Option<&Value> {
        match &self.body {
            Body::Json(value) => Some(value),
            _ => None,
        }
    }
}
