//! Runaway scripts: endless loops, memory exhaustion, and errors inside `invoke`. Each costs
//! one request, and the server keeps answering others meanwhile.

use std::time::{Duration, Instant};

use inlet::App;
use serde_json::json;

use crate::support::{TestServer, wait_for_log};

const SCRIPTS: &str = r#"
service("test.loop", function() while true do end end)
service("test.announced_loop", function()
    log.info("announced loop is running")
    while true do end
end)
service("test.sneaky_loop", function()
    -- pcall must not let a script catch its way past the limit.
    while true do pcall(function() while true do end end) end
end)
service("test.hog", function()
    local t = {}
    while true do t[#t + 1] = string.rep("x", 64 * 1024) .. #t end
end)
service("test.ok", function() return { ok = true } end)
-- Long enough to span several time slices, inside a script's own coroutine and a pcall.
local function sum(n) local total = 0 for i = 1, n do total = total + i end return total end
service("test.own_coroutine", function()
    local co = coroutine.wrap(function() return sum(3000000) end)
    local ok, pcalled = pcall(sum, 3000000)
    return { wrapped = co(), ok = ok, pcalled = pcalled }
end)

service("test.fails", function() error("boom in the callee") end)
service("test.rejects", function() error(inlet.bad_request("callee says no")) end)
service("test.invoke_fails", function(req, ctx) ctx:invoke("test.fails", {}) end)
service("test.invoke_rejects", function(req, ctx) ctx:invoke("test.rejects", {}) end)
service("test.invoke_loops", function(req, ctx) ctx:invoke("test.loop", {}) end)
service("test.invoke_missing", function(req, ctx) ctx:invoke("test.nowhere", {}) end)
service("test.invoke_caught", function(req, ctx)
    local ok, err = pcall(ctx.invoke, ctx, "test.rejects", {})
    return { ok = ok, status = err.status, message = err.message, kind = err.kind }
end)
"#;

fn config(limits: &str) -> String {
    let mut config = format!("[lua]\n{limits}\n");
    for name in [
        "loop",
        "announced_loop",
        "sneaky_loop",
        "hog",
        "ok",
        "own_coroutine",
        "invoke_fails",
        "invoke_rejects",
        "invoke_loops",
        "invoke_missing",
        "invoke_caught",
    ] {
        config.push_str(&format!(
            "[[channel]]\nname = \"{name}\"\npath = \"/{name}\"\nservice = \"test.{name}\"\n"
        ));
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loops_are_stopped_by_the_instruction_limit() {
    let server = TestServer::start(
        App::new(),
        &config("max_instructions = 2_000_000"),
        &[("s.lua", SCRIPTS)],
    )
    .await;
    for path in ["/loop", "/sneaky_loop", "/invoke_loops"] {
        let started = Instant::now();
        let answer = server.post(path, "{}", &[]).await;
        assert_eq!(answer.status, 504, "{path}: {}", answer.body);
        assert!(started.elapsed() < Duration::from_secs(5), "{path}");
        wait_for_log(&[&answer.cid, "max_instructions"]).await;
    }
    // The states that ran away were replaced; the service still works.
    assert_eq!(
        server.post("/ok", "{}", &[]).await.body,
        json!({"ok": true})
    );
    server.stop().await;
}

/// Starts a request to the announced loop and returns once the loop is known to run; the
/// task answers the loop's status and the moment it came.
async fn start_announced_loop(
    server: &TestServer,
) -> tokio::task::JoinHandle<(reqwest::Result<reqwest::StatusCode>, Instant)> {
    let client = server.client.clone();
    let url = format!("{}/announced_loop", server.base);
    let looping = tokio::spawn(async move {
        let status = client.post(url).body("{}").send().await.map(|r| r.status());
        (status, Instant::now())
    });
    wait_for_log(&["announced loop is running"]).await;
    looping
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stays_responsive_while_a_loop_runs_until_its_time_limit() {
    // The loop runs for 8 s; healthy requests take milliseconds. The test waits until the
    // loop is known to run (its log line) rather than sleeping, and compares moments rather
    // than durations, so that a loaded machine (the other tests run loops too) slows it
    // down without failing it.
    let limits = "max_instructions = 1_000_000_000_000\ntime_limit = \"8s\"";
    let server = TestServer::start(App::new(), &config(limits), &[("s.lua", SCRIPTS)]).await;
    let looping = start_announced_loop(&server).await;
    let mut healthy_done = Instant::now();
    for _ in 0..3 {
        let started = Instant::now();
        let answer = server.post("/ok", "{}", &[]).await;
        assert_eq!(answer.status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a healthy request waited {:?} for the loop",
            started.elapsed()
        );
        healthy_done = Instant::now();
    }
    let (status, loop_done) = looping.await.unwrap();
    assert_eq!(status.unwrap().as_u16(), 504);
    assert!(
        healthy_done < loop_done,
        "the healthy requests were answered only after the loop stopped"
    );
    wait_for_log(&["test.announced_loop", "time_limit"]).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_calls_keep_their_meaning_across_time_slices() {
    let limits = "max_instructions = 1_000_000_000";
    let server = TestServer::start(App::new(), &config(limits), &[("s.lua", SCRIPTS)]).await;
    let answer = server.post("/own_coroutine", "{}", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({"wrapped": 4_500_001_500_000u64, "ok": true, "pcalled": 4_500_001_500_000u64})
    );
    server.stop().await;
}

/// One tokio worker thread: a loop that held it would stall every other request (and the
/// test's own client) until its time limit. Time slices let the healthy requests through.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_loop_shares_its_thread_with_other_requests() {
    let limits = "max_instructions = 1_000_000_000_000\ntime_limit = \"4s\"";
    let server = TestServer::start(App::new(), &config(limits), &[("s.lua", SCRIPTS)]).await;
    let looping = start_announced_loop(&server).await;
    let started = Instant::now();
    for _ in 0..5 {
        let answer = server.post("/ok", "{}", &[]).await;
        assert_eq!(answer.status, 200);
    }
    let healthy_done = Instant::now();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "five healthy requests took {:?} beside the loop",
        started.elapsed()
    );
    let (status, loop_done) = looping.await.unwrap();
    assert_eq!(status.unwrap().as_u16(), 504);
    assert!(healthy_done < loop_done);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_exhaustion_is_a_500_and_the_state_is_replaced() {
    let server = TestServer::start(
        App::new(),
        &config("memory_limit = \"4MiB\""),
        &[("s.lua", SCRIPTS)],
    )
    .await;
    let answer = server.post("/hog", "{}", &[]).await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    wait_for_log(&[&answer.cid, "memory_limit"]).await;
    assert_eq!(server.post("/ok", "{}", &[]).await.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_inside_invoke_fail_the_caller_as_they_would_in_rust() {
    let server = TestServer::start(App::new(), &config(""), &[("s.lua", SCRIPTS)]).await;

    let answer = server.post("/invoke_fails", "{}", &[]).await;
    assert_eq!(answer.status, 500);
    assert!(
        !answer.body.to_string().contains("boom"),
        "no internals to the client"
    );
    let line = wait_for_log(&[&answer.cid, "service failed"]).await;
    assert!(line.contains("boom in the callee"), "{line}");

    let answer = server.post("/invoke_rejects", "{}", &[]).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["error"], "callee says no");

    let answer = server.post("/invoke_missing", "{}", &[]).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.body["error"], "service test.nowhere is not deployed");

    let answer = server.post("/invoke_caught", "{}", &[]).await;
    assert_eq!(
        answer.body,
        json!({"ok": false, "status": 400, "message": "callee says no", "kind": "client"})
    );
    server.stop().await;
}
