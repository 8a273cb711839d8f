//! Hot deployment: changed, broken, removed and restored scripts while requests flow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use inlet::App;

use crate::support::{TestServer, until, wait_for_log};

const CONFIG: &str = r#"
[[channel]]
name = "version"
path = "/version"
service = "test.version"
"#;

fn version_script(version: u32) -> String {
    format!("service(\"test.version\", function(req, ctx) return {{ version = {version} }} end)\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_script_is_live_within_a_second_and_no_request_fails() {
    let server = Arc::new(
        TestServer::start(App::new(), CONFIG, &[("version.lua", &version_script(1))]).await,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (server, stop, sent) = (Arc::clone(&server), Arc::clone(&stop), Arc::clone(&sent));
        clients.push(tokio::spawn(async move {
            // Bounded: at most 5000 requests per client, and the test stops them sooner.
            for _ in 0..5000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let answer = server.post("/version", "{}", &[]).await;
                assert_eq!(answer.status, 200, "{}", answer.body);
                let version = answer.body["version"].as_u64().unwrap();
                assert!(version == 1 || version == 2, "{}", answer.body);
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.write_script("version.lua", &version_script(2));
    let took = until(&server, "/version", Duration::from_secs(1), |a| {
        a.body["version"] == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("every request succeeded");
    }
    assert!(sent.load(Ordering::Relaxed) > 20, "requests kept flowing");
    assert!(took < Duration::from_secs(1), "live after {took:?}");
    Arc::into_inner(server).unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_script_keeps_the_old_version_serving() {
    let server =
        TestServer::start(App::new(), CONFIG, &[("version.lua", &version_script(1))]).await;

    // A syntax error: logged with file and line; version 1 keeps answering.
    server.write_script(
        "version.lua",
        "service(\"test.version\", function() return {\n",
    );
    let file = server.services.join("version.lua").display().to_string();
    let line = wait_for_log(&[&file, "failed to load", "previous version keeps serving"]).await;
    assert!(line.contains("line=2"), "{line}");
    let answer = server.post("/version", "{}", &[]).await;
    assert_eq!(
        (answer.status, answer.body["version"].as_u64()),
        (200, Some(1))
    );

    // An error at load time, after the service was defined: nothing of it is kept.
    server.write_script(
        "version.lua",
        &format!("{}error(\"cannot start\")\n", version_script(9)),
    );
    wait_for_log(&[&format!("{file}:2: cannot start")]).await;
    let answer = server.post("/version", "{}", &[]).await;
    assert_eq!(
        (answer.status, answer.body["version"].as_u64()),
        (200, Some(1))
    );

    // Fixed: the new version is live.
    server.write_script("version.lua", &version_script(3));
    until(&server, "/version", Duration::from_secs(1), |a| {
        a.body["version"] == 3
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_service_answers_503_until_it_is_back() {
    let server = TestServer::start(
        App::new(),
        CONFIG,
        &[
            ("version.lua", &version_script(1)),
            ("other.lua", "service('test.other', function() end)"),
        ],
    )
    .await;
    server.remove_script("version.lua");
    until(&server, "/version", Duration::from_secs(1), |a| {
        a.status == 503
    })
    .await;
    let answer = server.post("/version", "{}", &[]).await;
    assert_eq!(answer.body["error"], "service test.version is not deployed");
    assert_eq!(answer.body["cid"], answer.cid.as_str());

    server.write_script("version.lua", &version_script(4));
    until(&server, "/version", Duration::from_secs(1), |a| {
        a.body["version"] == 4
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_cannot_take_a_name_another_file_uses() {
    let server =
        TestServer::start(App::new(), CONFIG, &[("version.lua", &version_script(1))]).await;
    server.write_script("zz_dupe.lua", &version_script(5));
    let file = server.services.join("zz_dupe.lua").display().to_string();
    let line = wait_for_log(&[&file, "is already defined in"]).await;
    assert!(line.contains("services are not deployed"), "{line}");
    let answer = server.post("/version", "{}", &[]).await;
    assert_eq!(answer.body["version"], 1);
    server.stop().await;
}
