//! What a service receives: the payload, and everything about the HTTP request it came from.

use std::fmt;
use std::net::SocketAddr;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ServiceError;
use crate::format::{DataFormat, parse_payload};

/// The input of one service call.
///
/// For a channel it holds the raw request exactly as received; for an `invoke` it holds the
/// caller's payload. The JSON `payload` is parsed from the raw bytes on first use and kept.
///
/// Its fields are behind one `Box`: a request is moved by value from the dispatch into the
/// timeout, the panic guard and the service's future, and each move of the fields themselves
/// (344 bytes) was a `memcpy`; a pointer is cheaper to move than an allocation costs.
pub struct Request(Box<Fields>);

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[derive(Debug)]
struct Fields {
    method: Method,
    target: Target,
    params: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
    peer: Option<SocketAddr>,
    format: DataFormat,
    payload: OnceLock<Result<Value, String>>,
}

/// Where a request was sent: its path and query.
#[derive(Debug)]
enum Target {
    /// As received over HTTP: the URI shares the request's bytes, so keeping it costs no copy.
    Uri(http::Uri),
    /// A stored event's, or none (empty) for an `invoke`.
    Text { path: String, query: String },
}

impl Request {
    /// A request that arrived on a channel and passed its security.
    pub(crate) fn from_http(
        head: Box<http::request::Parts>,
        body: Bytes,
        peer: SocketAddr,
        params: Vec<(String, String)>,
        format: DataFormat,
    ) -> Self {
        let http::request::Parts {
            method,
            uri,
            headers,
            ..
        } = *head;
        Request(Box::new(Fields {
            method,
            target: Target::Uri(uri),
            params,
            headers,
            body,
            peer: Some(peer),
            format,
            payload: OnceLock::new(),
        }))
    }

    /// A stored event, as a background job sees it: the request exactly as it was received.
    pub(crate) fn from_event(
        event: &crate::store::Event,
        params: Vec<(String, String)>,
        format: DataFormat,
    ) -> Self {
        let mut headers = HeaderMap::with_capacity(event.headers.len());
        for (name, value) in &event.headers {
            // Stored headers came from a valid request, so these conversions only skip
            // what a newer http crate might refuse.
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name),
                http::HeaderValue::from_bytes(value),
            ) {
                headers.append(name, value);
            }
        }
        Request(Box::new(Fields {
            method: Method::from_bytes(event.method.as_bytes()).unwrap_or(Method::POST),
            target: Target::Text {
                path: event.path.clone(),
                query: event.query.clone(),
            },
            params,
            headers,
            body: event.body.clone(),
            peer: event.peer.parse().ok(),
            format,
            payload: OnceLock::new(),
        }))
    }

    /// A background job's inline payload (from `invoke_async`): JSON bytes.
    pub(crate) fn from_json_bytes(body: Bytes) -> Self {
        Request(Box::new(Fields {
            method: Method::POST,
            target: Target::Text {
                path: String::new(),
                query: String::new(),
            },
            params: Vec::new(),
            headers: HeaderMap::new(),
            body,
            peer: None,
            format: DataFormat::Json,
            payload: OnceLock::new(),
        }))
    }

    /// A request made by `invoke`/`invoke_async`, or by a test: the payload is given, and the
    /// raw body is its JSON text.
    pub fn from_payload(payload: Value) -> Self {
        let body =
            Bytes::from(serde_json::to_vec(&payload).expect("a JSON value always serialises"));
        let mut request = Request::from_json_bytes(body);
        request.0.payload = OnceLock::from(Ok(payload));
        request
    }

    /// Adds a header; useful when building a request in a test.
    pub fn with_header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.0.headers.append(name, value);
        self
    }

    /// The payload as JSON: the parsed body on a `json` channel, an object of fields on a
    /// `form` channel, a string on `text` and `xml` channels, and null on a `raw` channel.
    /// An empty body is null.
    pub fn payload(&self) -> Result<&Value, ServiceError> {
        self.0
            .payload
            .get_or_init(|| parse_payload(self.0.format, &self.0.body))
            .as_ref()
            .map_err(ServiceError::bad_request)
    }

    /// The body as JSON text still to parse: on a `json` channel (or a job's inline payload)
    /// whose payload nobody has parsed yet, so that a caller with its own representation
    /// (a Lua table) can parse it once, straight from the bytes. `None` otherwise, and for an
    /// empty body.
    pub(crate) fn unparsed_json(&self) -> Option<&[u8]> {
        let unparsed = self.0.format == DataFormat::Json
            && self.0.payload.get().is_none()
            && !self.0.body.is_empty();
        unparsed.then_some(&self.0.body[..])
    }

    /// The payload mapped to the service's own model. A missing or mistyped field gives a
    /// 422 that names the field.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, ServiceError> {
        let result = if self.0.format == DataFormat::Json
            && self.0.payload.get().is_none()
            && !self.0.body.is_empty()
        {
            // Straight from the bytes: no intermediate `Value` on the common path.
            let mut deserializer = serde_json::Deserializer::from_slice(&self.0.body);
            serde_path_to_error::deserialize(&mut deserializer)
        } else {
            serde_path_to_error::deserialize(self.payload()?)
        };
        result.map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return ServiceError::bad_request(format!("the body is not valid JSON: {inner}"));
            }
            if path == "." {
                ServiceError::unprocessable(inner)
            } else {
                ServiceError::unprocessable(format!("field `{path}`: {inner}"))
            }
        })
    }

    /// The body exactly as received. Verify signatures over this, never over a re-serialised payload.
    pub fn raw_body(&self) -> &Bytes {
        &self.0.body
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }

    /// A header's value as text; `None` when absent or not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.0.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn method(&self) -> &Method {
        &self.0.method
    }

    /// The path that was requested; empty for an `invoke`.
    pub fn path(&self) -> &str {
        match &self.0.target {
            Target::Uri(uri) => uri.path(),
            Target::Text { path, .. } => path,
        }
    }

    /// A `{param}` segment of the channel's path.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.0
            .params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn params(&self) -> &[(String, String)] {
        &self.0.params
    }

    /// The raw query string, without the `?`.
    pub fn query_string(&self) -> &str {
        match &self.0.target {
            Target::Uri(uri) => uri.query().unwrap_or(""),
            Target::Text { query, .. } => query,
        }
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(self.query_string())
            .ok()?
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// The TCP peer; `None` for an `invoke`.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.0.peer
    }

    pub fn data_format(&self) -> DataFormat {
        self.0.format
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use serde::Deserialize;

    fn json_request(body: &str) -> Request {
        let head = http::Request::post("/x").body(()).unwrap().into_parts().0;
        Request::from_http(
            Box::new(head),
            Bytes::from(body.to_string()),
            "127.0.0.1:1".parse().unwrap(),
            vec![],
            DataFormat::Json,
        )
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Access {
        issue_key: String,
        email: String,
    }

    #[test]
    fn payload_as_names_missing_and_mistyped_fields() {
        let err = json_request(r#"{"issueKey":"P-1"}"#)
            .payload_as::<Access>()
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            err.public_message().contains("missing field `email`"),
            "{err:?}"
        );

        let err = json_request(r#"{"issueKey":"P-1","email":5}"#)
            .payload_as::<Access>()
            .unwrap_err();
        assert!(
            err.public_message()
                .starts_with("field `email`: invalid type"),
            "{err:?}"
        );
    }

    #[test]
    fn payload_is_parsed_once_and_empty_body_is_null() {
        let request = json_request(r#"{"a":1}"#);
        assert_eq!(request.payload().unwrap()["a"], 1);
        assert_eq!(json_request("").payload().unwrap(), &Value::Null);
    }
}
