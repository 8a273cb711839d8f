//! Graceful shutdown: in-flight requests finish, new connections are refused.

use std::time::Duration;

use crate::services;
use crate::support::{TestServer, client};

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
    tokio::time::sleep(Duration::from_millis(150)).await;
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
