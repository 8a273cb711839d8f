//! The durability promise, tested the hard way: drive load at an async channel, `kill -9`
//! the server in the middle of it, restart it, and check that every event that got a 202
//! is in the store and that its job runs to `done`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inlet::store::{JobState, Store};

use crate::process::{spawn_server, terminate};
use crate::support::client;

const CONFIG: &str = r#"
[workers]
poll_interval = "50ms"

[[channel]]
name = "hooks"
path = "/hooks"
mode = "async"
service = "inlet.noop"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("inlet.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.to_string_lossy().into_owned();
    let (mut child, address) = spawn_server(&config);

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for sender in 0..16 {
        let (url, acknowledged, stop) = (
            format!("http://{address}/hooks"),
            Arc::clone(&acknowledged),
            Arc::clone(&stop),
        );
        senders.push(tokio::spawn(async move {
            let client = client();
            // Bounded: at most 100 000 requests per sender, and it stops at the kill.
            for n in 0..100_000u32 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let body = format!(r#"{{"sender": {sender}, "n": {n}}}"#);
                let Ok(response) = client.post(&url).body(body).send().await else {
                    break;
                };
                if response.status() != 202 {
                    continue;
                }
                let Ok(answer) = response.json::<serde_json::Value>().await else {
                    break;
                };
                if let Some(cid) = answer["cid"].as_str() {
                    acknowledged.lock().unwrap().push(cid.to_string());
                }
            }
        }));
    }
    // Kill once a few hundred events are in (or after 20 s on a very slow machine), so
    // that the kill lands mid-load however fast the machine is.
    for _ in 0..400 {
        if acknowledged.lock().unwrap().len() >= 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().expect("SIGKILL is delivered");
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(15), sender)
            .await
            .expect("senders stop once the server is gone")
            .unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 50,
        "only {} events were acknowledged before the kill",
        acknowledged.len()
    );

    eprintln!("{} events acknowledged before the kill", acknowledged.len());
    let (mut restarted, _) = spawn_server(&config);
    let store = Store::open(&format!(
        "sqlite://{}",
        Path::new(&dir.path().join("inlet.db")).display()
    ))
    .await
    .unwrap();
    let mut settled = false;
    for _ in 0..400 {
        let jobs = store.stats().await.unwrap().jobs;
        if jobs.pending == 0 && jobs.running == 0 {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        settled,
        "jobs did not settle: {:?}",
        store.stats().await.unwrap()
    );
    for cid in &acknowledged {
        let trace = store
            .trace(cid)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("event {cid} got a 202 but is not in the store"));
        assert!(trace.event.is_some(), "{cid} has no event");
        assert!(
            trace
                .jobs
                .iter()
                .all(|record| record.job.state == JobState::Done),
            "{cid}: {:?}",
            trace.jobs
        );
    }
    store.close().await;
    assert_eq!(terminate(&mut restarted), 0);
}
