//! Async channels and background jobs against a real SQLite file: commit before 202,
//! dedup under concurrency, retries to dead, replay, 503 when the store cannot commit,
//! and `invoke_async` jobs that outlive the server that accepted them.

use std::time::Duration;

use inlet::store::{JobState, ReplaySelector, Store, Trace};
use serde_json::Value;

use crate::services;
use crate::support::{Logs, TestServer, client, error_json, post};

const CONFIG: &str = r#"
[retry]
max_attempts = 3
base = "20ms"
cap = "100ms"

[workers]
poll_interval = "50ms"

[[channel]]
name = "echo"
path = "/echo"
mode = "async"
service = "inlet.echo"

[[channel]]
name = "github"
path = "/github"
mode = "async"
service = "inlet.noop"
dedup = { header = "X-GitHub-Delivery" }

[[channel]]
name = "fails"
path = "/fails"
mode = "async"
service = "test.fails"

[[channel]]
name = "rejects"
path = "/rejects"
mode = "async"
service = "test.rejects"

[[channel]]
name = "fails-once-more"
path = "/fails-twice"
mode = "async"
service = "test.fails"
retry = { max_attempts = 2 }
"#;

/// Waits (at most 10 s) until every job under `cid` is in `state`, and returns the trace.
async fn wait_for(store: &Store, cid: &str, state: JobState) -> Trace {
    for _ in 0..200 {
        if let Some(trace) = store.trace(cid).await.unwrap()
            && !trace.jobs.is_empty()
            && trace.jobs.iter().all(|record| record.job.state == state)
        {
            return trace;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the jobs of {cid} did not all reach {state:?}: {:?}",
        store.trace(cid).await
    );
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

#[tokio::test]
async fn async_channel_answers_202_after_the_commit_and_runs_the_job() {
    let server = TestServer::start(services::app(), CONFIG).await;
    let (status, headers, text) = post(&server, "/echo", r#"{"n": 7}"#, &[]).await;
    assert_eq!(status, 202, "{text}");
    let body = json(&text);
    assert_eq!(body["status"], "received");
    let cid = body["cid"].as_str().unwrap().to_string();
    assert_eq!(headers["x-inlet-cid"], cid.as_str());

    let store = server.store().await;
    // The event is there exactly as received, as soon as the answer is.
    let trace = store
        .trace(&cid)
        .await
        .unwrap()
        .expect("stored before the 202");
    let event = trace.event.as_ref().unwrap();
    assert_eq!(&event.body[..], br#"{"n": 7}"#);
    assert_eq!(event.channel, "echo");
    let trace = wait_for(&store, &cid, JobState::Done).await;
    assert_eq!(trace.jobs[0].attempts.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn concurrent_identical_deliveries_are_stored_once() {
    let server = TestServer::start(services::app(), CONFIG).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let url = server.url("/github");
        tasks.push(tokio::spawn(async move {
            let response = client()
                .post(url)
                .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
                .body(r#"{"action":"opened"}"#)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }));
    }
    let mut stored = Vec::new();
    let mut duplicates = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (202, body) => stored.push(body["cid"].as_str().unwrap().to_string()),
            (200, body) => {
                assert_eq!(body["status"], "duplicate");
                duplicates.push(body["cid"].as_str().unwrap().to_string());
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(stored.len(), 1, "exactly one delivery is stored");
    assert_eq!(duplicates.len(), 49);
    assert!(
        duplicates.iter().all(|cid| *cid == stored[0]),
        "duplicates name the first cid"
    );

    // A different delivery id is a different event.
    let (status, _, _) = post(&server, "/github", "{}", &[("X-GitHub-Delivery", "other")]).await;
    assert_eq!(status, 202);
    let store = server.store().await;
    wait_for(&store, &stored[0], JobState::Done).await;
    assert_eq!(store.stats().await.unwrap().events, 2);
    server.stop().await;
}

#[tokio::test]
async fn failures_are_retried_until_dead_and_permanent_ones_die_at_once() {
    let server = TestServer::start(services::app(), CONFIG).await;
    let store = server.store().await;

    let (_, _, text) = post(&server, "/fails", "{}", &[]).await;
    let cid = json(&text)["cid"].as_str().unwrap().to_string();
    let trace = wait_for(&store, &cid, JobState::Dead).await;
    let attempts = &trace.jobs[0].attempts;
    assert_eq!(attempts.len(), 3, "max_attempts = 3");
    assert!(
        attempts
            .iter()
            .all(|a| a.error.as_deref().unwrap().contains("db-internal"))
    );

    let (_, _, text) = post(&server, "/fails-twice", "{}", &[]).await;
    let cid = json(&text)["cid"].as_str().unwrap().to_string();
    let trace = wait_for(&store, &cid, JobState::Dead).await;
    assert_eq!(
        trace.jobs[0].attempts.len(),
        2,
        "the channel's retry overrides [retry]"
    );

    let (_, _, text) = post(&server, "/rejects", "{}", &[]).await;
    let cid = json(&text)["cid"].as_str().unwrap().to_string();
    let trace = wait_for(&store, &cid, JobState::Dead).await;
    assert_eq!(
        trace.jobs[0].attempts.len(),
        1,
        "a 4xx from the service is permanent"
    );

    // Replaying a dead job runs it again (and it fails again, three more times).
    let replayed = store
        .replay(ReplaySelector::Cids(vec![cid.clone()]), 0, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(replayed, 1);
    let trace = wait_for(&store, &cid, JobState::Dead).await;
    assert_eq!(
        trace.jobs.len(),
        2,
        "the replay is a new job beside the old one"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_store_that_cannot_commit_gives_503_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("[store]\nbusy_timeout = \"100ms\"\n{CONFIG}");
    let mut config = inlet::Config::parse(std::path::Path::new("test.toml"), &text).unwrap();
    let file = dir.path().join("inlet.db");
    config.set_store_path(&file);
    let server = TestServer::start_with_store(services::app(), config, dir).await;
    let (status, _, _) = post(&server, "/echo", "{}", &[]).await;
    assert_eq!(status, 202);

    // Another connection takes the write lock and keeps it past the busy timeout.
    let blocker = rusqlite::Connection::open(&file).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let response = client()
        .post(server.url("/echo"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    error_json(&response.text().await.unwrap());

    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    let (status, _, _) = post(&server, "/echo", "{}", &[]).await;
    assert_eq!(status, 202, "the server recovers once the store does");
    server.stop().await;
}

/// The seed's ServiceNow example: the job `invoke_async` stores outlives the server that
/// accepted the webhook, and a later server runs it.
#[tokio::test(flavor = "current_thread")]
async fn invoke_async_job_survives_a_restart() {
    use crate::seed_servicenow as servicenow;
    let (logs, _guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inlet.db");
    let app = || {
        inlet::App::new()
            .service(servicenow::ServiceNowWebhook)
            .service(servicenow::ProcessIncident)
    };
    let config = |workers: bool| {
        let text = format!(
            "[workers]\nenabled = {workers}\npoll_interval = \"50ms\"\n\n[[channel]]\nname = \"servicenow\"\npath = \"/webhooks/servicenow\"\nservice = \"webhooks.servicenow.receive\"\n"
        );
        let mut config = inlet::Config::parse(std::path::Path::new("test.toml"), &text).unwrap();
        config.set_store_path(&file);
        config
    };

    // The first server accepts the webhook but runs no jobs, then stops.
    let first =
        TestServer::start_with_store(app(), config(false), tempfile::tempdir().unwrap()).await;
    let body = r#"{"event_type": "incident.created", "incident": {"number": "INC0010001", "priority": "2"}}"#;
    let (status, headers, text) = post(&first, "/webhooks/servicenow", body, &[]).await;
    assert_eq!(
        (status, json(&text)),
        (200, serde_json::json!({"status": "received"}))
    );
    let cid = headers["x-inlet-cid"].to_str().unwrap().to_string();
    first.stop().await;
    assert!(!logs.text().contains("Processing ServiceNow incident"));

    // The second one finds the job in the store and runs it, under the original cid.
    let second = TestServer::start_with_store(app(), config(true), dir).await;
    assert!(
        logs.wait_for("Processing ServiceNow incident INC0010001 (incident.created)")
            .await,
        "{}",
        logs.text()
    );
    let line = logs
        .text()
        .lines()
        .find(|line| line.contains("Processing ServiceNow incident"))
        .unwrap()
        .to_string();
    assert!(line.contains(&cid), "{line}");
    second.stop().await;
}
