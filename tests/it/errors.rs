//! Every error path of the request flow, each followed by proof that the server still serves.

use std::time::Duration;

use crate::services;
use crate::support::{Logs, TestServer, client, error_json, post, raw_exchange};

const CONFIG: &str = r#"
[server]
service_timeout = "300ms"
body_read_timeout = "1s"
header_read_timeout = "1s"

[[channel]]
name = "fails"
path = "/fails"
service = "test.fails"

[[channel]]
name = "panics"
path = "/panics"
service = "test.panics"

[[channel]]
name = "sleeps"
path = "/sleeps"
service = "test.sleeps"

[[channel]]
name = "recurses"
path = "/recurses"
service = "test.recurses"

[[channel]]
name = "echo"
path = "/echo"
methods = ["POST", "PUT"]
service = "inlet.echo"
max_body = 64

[[channel]]
name = "inspect"
path = "/hooks/{tenant}/inspect"
service = "test.inspects"

[[channel]]
name = "ping"
path = "/ping"
methods = ["GET"]
service = "inlet.ping"
"#;

async fn server() -> TestServer {
    TestServer::start(services::app(), CONFIG).await
}

async fn still_serves(server: &TestServer) {
    let response = client().get(server.url("/ping")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), r#"{"pong":true}"#);
}

#[tokio::test]
async fn unknown_path_is_404_json_with_cid() {
    let server = server().await;
    let (status, headers, text) = post(&server, "/nowhere", "{}", &[]).await;
    assert_eq!(status, 404);
    let error = error_json(&text);
    assert_eq!(error["cid"], headers["x-inlet-cid"].to_str().unwrap());
    assert!(error["error"].as_str().unwrap().contains("/nowhere"));
    server.stop().await;
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let server = server().await;
    let response = client().delete(server.url("/echo")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST, PUT");
    error_json(&response.text().await.unwrap());
    server.stop().await;
}

#[tokio::test]
async fn invalid_json_is_400_with_line_and_column() {
    let server = server().await;
    let (status, _, text) = post(&server, "/echo", "{\"a\":\n  tru}", &[]).await;
    assert_eq!(status, 400);
    let message = error_json(&text)["error"].as_str().unwrap().to_string();
    assert!(message.contains("line 2 column"), "{message}");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn oversized_body_with_content_length_is_413_before_the_body_is_sent() {
    let server = server().await;
    // Only the head is sent: the answer must come without waiting for 10 MB of body.
    let head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n";
    let answer = raw_exchange(server.addr, &[head], Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("limit of 64 bytes"), "{answer}");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn oversized_chunked_body_is_413() {
    let server = server().await;
    let head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunk = format!("28\r\n{}\r\n", "x".repeat(40));
    // 40 + 40 bytes crosses the 64-byte limit; the terminating chunk is never sent.
    let answer = raw_exchange(
        server.addr,
        &[head, chunk.as_bytes(), chunk.as_bytes()],
        Duration::from_secs(3),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn body_within_limit_is_echoed() {
    let server = server().await;
    let (status, _, text) = post(&server, "/echo", r#"{"n":1}"#, &[]).await;
    assert_eq!((status, text.as_str()), (200, r#"{"n":1}"#));
    server.stop().await;
}

#[tokio::test]
async fn slow_body_is_408() {
    let server = server().await;
    let head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n{\"a\":";
    let answer = raw_exchange(server.addr, &[head], Duration::from_secs(4)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let server = server().await;
    let started = std::time::Instant::now();
    let answer = raw_exchange(
        server.addr,
        &[b"POST /echo HTTP/1.1\r\nHost:"],
        Duration::from_secs(5),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the connection was not closed by the header timeout"
    );
    assert!(!answer.contains("200 OK"), "{answer}");
    still_serves(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn service_error_is_opaque_500_and_logged_in_full() {
    let (logs, _guard) = Logs::capture();
    let server = server().await;
    let (status, _, text) = post(&server, "/fails", "{}", &[]).await;
    assert_eq!(status, 500);
    assert!(!text.contains("db-internal"), "internals leaked: {text}");
    error_json(&text);
    assert!(
        logs.wait_for("db-internal.corp:5432 refused").await,
        "the cause is not in the log"
    );
    still_serves(&server).await;
    server.stop().await;
}

/// Inlet's formats write a request's cid from its task; a subscriber of an embedding
/// program's own knows nothing of that, and gets the cid from a `request` span instead.
#[tokio::test]
async fn a_foreign_subscriber_sees_the_request_span() {
    let (logs, _guard) = Logs::capture_foreign();
    let server = server().await;
    let response = client()
        .post(server.url("/fails"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let cid = response.headers()["x-inlet-cid"]
        .to_str()
        .unwrap()
        .to_string();
    let prefix = format!("request{{cid={cid} channel=");
    assert!(
        logs.wait_for("db-internal.corp:5432 refused").await,
        "{}",
        logs.text()
    );
    let line = logs
        .text()
        .lines()
        .find(|line| line.contains("db-internal.corp:5432 refused"))
        .map(str::to_string)
        .unwrap();
    assert!(line.contains(&prefix), "{line}");
    assert_eq!(line.matches("request{").count(), 1, "{line}");
    server.stop().await;
}

#[tokio::test]
async fn panic_is_500_and_the_server_keeps_serving() {
    let server = server().await;
    let (status, _, text) = post(&server, "/panics", "{}", &[]).await;
    assert_eq!(status, 500);
    assert!(!text.contains("deadbeef"), "internals leaked: {text}");
    error_json(&text);
    still_serves(&server).await;
    let (status, _, _) = post(&server, "/echo", "{}", &[]).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn slow_service_is_504() {
    let server = server().await;
    let (status, _, text) = post(&server, "/sleeps", r#"{"ms": 2000}"#, &[]).await;
    assert_eq!(status, 504);
    error_json(&text);
    let (status, _, _) = post(&server, "/sleeps", r#"{"ms": 1}"#, &[]).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn endless_invoke_recursion_is_stopped_by_the_nesting_limit() {
    let (logs, _guard) = Logs::capture();
    let server = server().await;
    let (status, _, _) = post(&server, "/recurses", "{}", &[]).await;
    assert_eq!(status, 500);
    assert!(logs.wait_for("nested 16 deep").await, "{}", logs.text());
    server.stop().await;
}

#[tokio::test]
async fn path_params_query_and_peer_reach_the_service() {
    let server = server().await;
    let response = client()
        .post(server.url("/hooks/acme/inspect?a=1%202&b=3"))
        .body(r#"{"x": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cid = response.headers()["x-inlet-cid"]
        .to_str()
        .unwrap()
        .to_string();
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(seen["tenant"], "acme");
    assert_eq!(seen["query_a"], "1 2");
    assert_eq!(seen["payload"]["x"], true);
    assert_eq!(seen["cid"], cid);
    assert_eq!(seen["peer_is_loopback"], true);
    server.stop().await;
}

#[tokio::test]
async fn many_concurrent_requests_all_get_answers() {
    let server = server().await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let url = server.url("/echo");
        tasks.push(tokio::spawn(async move {
            let response = client()
                .post(url)
                .body(format!(r#"{{"i":{i}}}"#))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let (status, text) = task.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(text, format!(r#"{{"i":{i}}}"#));
    }
    server.stop().await;
}
