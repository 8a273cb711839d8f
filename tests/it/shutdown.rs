//! Graceful shutdown: in-flight requests finish, new connections are refused.

use std::time::Duration;

use crate::services;
use crate::support::{Logs, TestServer, client};

#[tokio::test]
async fn in_flight_request_finishes_after_the_stop_signal() {
    let config = r#"
[server]
shutdown_grace = "5s"

[[channel]]
name = "sleeps"
path = "/sleeps"
service = "test.sleeps"
"#;
    let (logs, _guard) = Logs::capture();
    let mut server = TestServer::start(services::app(), config).await;
    let url = server.url("/sleeps");
    let in_flight = tokio::spawn(async move {
        let response = client()
            .post(url)
            .body(r#"{"ms": 500}"#)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    });
    // The stop must come while the request is in the service, not before it arrived.
    assert!(logs.wait_for("sleeping").await, "{}", logs.text());
    server.signal_stop();
    let (status, text) = in_flight.await.unwrap();
    assert_eq!((status, text.as_str()), (200, r#"{"slept_ms":500}"#));

    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = client().post(server.url("/sleeps")).body("{}").send().await;
    assert!(
        refused.is_err(),
        "a new connection was accepted after the stop signal"
    );
    server.stop().await;
}

/// One grace period covers both a slow request and a slow background job: they drain at
/// the same time, so the stop takes about the grace period, not twice it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_jobs_share_one_grace_period() {
    let config = r#"
[server]
shutdown_grace = "1s"

[[channel]]
name = "sleeps"
path = "/sleeps"
service = "test.sleeps"

[[channel]]
name = "sleeps-later"
path = "/sleeps-later"
mode = "async"
service = "test.sleeps"
"#;
    let mut server = TestServer::start(services::app(), config).await;
    let queued = client()
        .post(server.url("/sleeps-later"))
        .body(r#"{"ms": 10000}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status().as_u16(), 202);
    let url = server.url("/sleeps");
    let in_flight =
        tokio::spawn(async move { client().post(url).body(r#"{"ms": 10000}"#).send().await });
    // Both the request and the job are running by now.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stopping = std::time::Instant::now();
    server.signal_stop();
    server.stop().await;
    let took = stopping.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1800),
        "the stop took {took:?} with a grace period of 1 s"
    );
    let cut = std::time::Instant::now();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the slow request was cut off"
    );
    assert!(
        cut.elapsed() < Duration::from_secs(2),
        "its connection stayed open for {:?} after the stop",
        cut.elapsed()
    );
}
