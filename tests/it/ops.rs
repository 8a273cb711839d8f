//! The operations listener: `/metrics` counts what happened, `/healthz` and `/readyz`
//! answer probes, and `/readyz` turns 503 while the server drains.

use std::time::Duration;

use inlet::security::{Algorithm, hmac::compute};

use crate::services;
use crate::support::{Logs, TestServer, client, post};

/// A port that was free a moment ago, for `server.admin_listen` (the listener binds it
/// itself, so the test cannot hand it a socket).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits up to 5 s for the admin listener: the test server starts serving on a socket the
/// test bound beforehand, but binds `admin_listen` itself a moment later.
async fn admin_ready(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on the admin port {port} after 5 s");
}

fn config(admin_port: u16) -> String {
    format!(
        r#"
[server]
admin_listen = "127.0.0.1:{admin_port}"
shutdown_grace = "5s"

[security.signed]
type = "hmac"
algorithm = "sha256"
header = "X-Signature"
secrets = ["s3cret"]

[[channel]]
name = "signed"
path = "/signed"
service = "inlet.ping"
security = ["signed"]

[[channel]]
name = "queued"
path = "/queued"
mode = "async"
service = "inlet.noop"

[[channel]]
name = "sleeps"
path = "/sleeps"
service = "test.sleeps"
"#
    )
}

async fn get(url: &str) -> (u16, String, String) {
    let response = client()
        .get(url)
        .send()
        .await
        .expect("the admin listener answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_rejections_and_job_attempts() {
    let port = free_port();
    let server = TestServer::start(services::app(), &config(port)).await;
    admin_ready(port).await;
    let admin = format!("http://127.0.0.1:{port}");

    let body = r#"{"a":1}"#;
    let good = hex::encode(compute(Algorithm::Sha256, b"s3cret", &[body.as_bytes()]));
    for _ in 0..2 {
        assert_eq!(
            post(&server, "/signed", body, &[("X-Signature", &good)])
                .await
                .0,
            200
        );
    }
    assert_eq!(
        post(&server, "/signed", body, &[("X-Signature", "00")])
            .await
            .0,
        401
    );
    assert_eq!(post(&server, "/signed", body, &[]).await.0, 401);
    assert_eq!(post(&server, "/nowhere", body, &[]).await.0, 404);
    assert_eq!(post(&server, "/queued", body, &[]).await.0, 202);

    let mut text = String::new();
    for _ in 0..100 {
        let (status, content_type, body) = get(&format!("{admin}/metrics")).await;
        assert_eq!(status, 200);
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        text = body;
        if text.contains("inlet_job_attempts_total{service=\"inlet.noop\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for line in [
        r#"inlet_requests_total{channel="signed",status="200"} 2"#,
        r#"inlet_requests_total{channel="signed",status="401"} 2"#,
        r#"inlet_requests_total{channel="",status="404"} 1"#,
        r#"inlet_requests_total{channel="queued",status="202"} 1"#,
        r#"inlet_security_rejections_total{definition="signed",check="no_match"} 1"#,
        r#"inlet_security_rejections_total{definition="signed",check="missing_header"} 1"#,
        r#"inlet_job_attempts_total{service="inlet.noop",outcome="succeeded"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }

    assert_eq!(get(&format!("{admin}/healthz")).await.0, 200);
    assert_eq!(
        get(&format!("{admin}/readyz")).await.2,
        r#"{"status":"ready"}"#
    );
    let (status, _, body) = get(&format!("{admin}/nope")).await;
    assert_eq!(status, 404);
    assert!(body.contains("/metrics"), "{body}");
    let refused = client()
        .post(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 405);
    assert_eq!(refused.headers()["allow"], "GET, HEAD");
    server.stop().await;
}

// Current-thread, so that the capture sees the server's log lines.
#[tokio::test]
async fn readyz_turns_503_while_the_server_drains() {
    let (logs, _guard) = Logs::capture();
    let port = free_port();
    let mut server = TestServer::start(services::app(), &config(port)).await;
    admin_ready(port).await;
    let admin = format!("http://127.0.0.1:{port}");
    assert_eq!(get(&format!("{admin}/readyz")).await.0, 200);

    let url = server.url("/sleeps");
    let in_flight = tokio::spawn(async move {
        client()
            .post(url)
            .body(r#"{"ms": 1500}"#)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    // The stop must come while the request is in the service, not before it arrived.
    assert!(logs.wait_for("sleeping").await, "{}", logs.text());
    server.signal_stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !in_flight.is_finished(),
        "the slow request is still running"
    );
    assert_eq!(
        get(&format!("{admin}/readyz")).await,
        (
            503,
            "application/json".to_string(),
            r#"{"status":"stopping"}"#.to_string()
        )
    );
    assert_eq!(get(&format!("{admin}/healthz")).await.0, 200);
    assert_eq!(in_flight.await.unwrap(), 200);
    server.stop().await;
}

#[test]
fn an_admin_address_that_is_not_one_is_a_config_error() {
    let err = inlet::config::Config::parse(
        std::path::Path::new("bad.toml"),
        "[server]\nadmin_listen = \"localhost\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("server.admin_listen"), "{err}");
    assert!(err.contains("bad.toml:2"), "{err}");

    let err = inlet::config::Config::parse(
        std::path::Path::new("same.toml"),
        "[server]\nlisten = \"127.0.0.1:9000\"\nadmin_listen = \"127.0.0.1:9000\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("same.toml:3"), "{err}");
    assert!(err.contains("the same address as server.listen"), "{err}");
}
