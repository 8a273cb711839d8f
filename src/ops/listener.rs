//! Serves the operations endpoints. Read-only and cheap: nothing here touches the store,
//! so a scrape or a probe never competes with webhook traffic for it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Metrics;

/// Connections served at once; scrapers and probes need few.
const MAX_CONNECTIONS: usize = 64;

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until the task is aborted.
/// `/readyz` answers 503 once `stopping` is cancelled, so that a load balancer drains the
/// instance while it finishes its in-flight requests.
pub(crate) fn spawn(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    stopping: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed on the operations listener");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let (metrics, stopping) = (Arc::clone(&metrics), stopping.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let answer = answer(&request, &metrics, &stopping);
                    async move { Ok::<_, Infallible>(answer) }
                });
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                drop(slot);
            });
        }
    })
}

fn answer(
    request: &Request<Incoming>,
    metrics: &Metrics,
    stopping: &CancellationToken,
) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
        let message = format!("no endpoint at {path}; try /metrics, /healthz or /readyz");
        return json(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": message }).to_string(),
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = json(
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"error":"only GET is allowed here"}"#.to_string(),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match path {
        "/metrics" => {
            let mut response = Response::new(Full::new(Bytes::from(metrics.render())));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        "/healthz" => json(StatusCode::OK, r#"{"status":"ok"}"#.to_string()),
        _ if stopping.is_cancelled() => json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"stopping"}"#.to_string(),
        ),
        _ => json(StatusCode::OK, r#"{"status":"ready"}"#.to_string()),
    }
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}
