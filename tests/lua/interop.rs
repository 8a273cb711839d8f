//! Lua and Rust services invoking each other, in both directions and nested.

use std::time::Duration;

use inlet::{App, Context, Request, Response, Service, ServiceError};
use serde_json::{Value, json};

use crate::support::TestServer;

/// Doubles `n`.
struct Double;

impl Service for Double {
    fn name(&self) -> &str {
        "rust.double"
    }

    async fn handle(&self, request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        let n = request.payload()?["n"]
            .as_i64()
            .ok_or_else(|| ServiceError::unprocessable("missing field `n`"))?;
        Ok(Response::json(json!({ "n": n * 2 })))
    }
}

/// Invokes the service named in the payload with `{"n": n}` and answers what it got.
struct CallsLua;

impl Service for CallsLua {
    fn name(&self) -> &str {
        "rust.calls"
    }

    async fn handle(&self, request: Request, ctx: Context) -> Result<Response, ServiceError> {
        let payload = request.payload()?;
        let target = payload["service"]
            .as_str()
            .unwrap_or("lua.square")
            .to_string();
        let answer = ctx.invoke(&target, json!({ "n": payload["n"] })).await?;
        Ok(Response::json(json!({
            "via": "rust",
            "got": answer.payload().cloned().unwrap_or(Value::Null),
        })))
    }
}

const SCRIPTS: &str = r#"
service("lua.square", function(req) return { n = req.payload.n * req.payload.n } end)
service("lua.add_one_then_double", function(req, ctx)
    local doubled, meta = ctx:invoke("rust.double", { n = req.payload.n + 1 })
    return { n = doubled.n, status = meta.status }
end)
-- ctx:invoke inside the script's own coroutine still reaches Inlet.
service("lua.in_coroutine", function(req, ctx)
    local co = coroutine.wrap(function(n) return (ctx:invoke("rust.double", { n = n })).n end)
    local ok, doubled = coroutine.resume(coroutine.create(function()
        return (ctx:invoke("rust.double", { n = 100 })).n
    end))
    return { wrapped = co(21), resumed = doubled, ok = ok }
end)
-- Lua → Rust → Lua, nested: the inner call runs in the state the outer one holds.
service("lua.round_trip", function(req, ctx)
    local answer = ctx:invoke("rust.calls", { service = "lua.square", n = req.payload.n })
    return { via = "lua", inner = answer }
end)
"#;

fn config() -> String {
    // One state: a nested Lua call that waited for a second state would deadlock here.
    let mut config = String::from("[lua]\nstates = 1\n[server]\nservice_timeout = \"5s\"\n");
    for (name, service) in [
        ("lua_to_rust", "lua.add_one_then_double"),
        ("rust_to_lua", "rust.calls"),
        ("round_trip", "lua.round_trip"),
        ("in_coroutine", "lua.in_coroutine"),
    ] {
        config.push_str(&format!(
            "[[channel]]\nname = \"{name}\"\npath = \"/{name}\"\nservice = \"{service}\"\n"
        ));
    }
    config
}

fn app() -> App {
    App::new().service(Double).service(CallsLua)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lua_calls_rust() {
    let server = TestServer::start(app(), &config(), &[("interop.lua", SCRIPTS)]).await;
    let answer = server.post("/lua_to_rust", r#"{"n": 4}"#, &[]).await;
    assert_eq!(answer.body, json!({"n": 10, "status": 200}));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_works_inside_a_scripts_own_coroutines() {
    let server = TestServer::start(app(), &config(), &[("interop.lua", SCRIPTS)]).await;
    let answer = server.post("/in_coroutine", "{}", &[]).await;
    assert_eq!(
        answer.body,
        json!({"wrapped": 42, "resumed": 200, "ok": true})
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_calls_lua() {
    let server = TestServer::start(app(), &config(), &[("interop.lua", SCRIPTS)]).await;
    let answer = server.post("/rust_to_lua", r#"{"n": 7}"#, &[]).await;
    assert_eq!(answer.body, json!({"via": "rust", "got": {"n": 49}}));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_calls_share_the_held_state_and_never_deadlock() {
    let server = TestServer::start(app(), &config(), &[("interop.lua", SCRIPTS)]).await;
    let requests = (0..8).map(|n| {
        let server = &server;
        async move {
            let body = format!(r#"{{"n": {n}}}"#);
            let answer = tokio::time::timeout(
                Duration::from_secs(10),
                server.post("/round_trip", &body, &[]),
            )
            .await
            .expect("no deadlock");
            assert_eq!(
                answer.body,
                json!({"via": "lua", "inner": {"via": "rust", "got": {"n": n * n}}})
            );
        }
    });
    futures_util::future::join_all(requests).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_cannot_replace_a_compiled_in_service() {
    let server = TestServer::start(app(), &config(), &[("interop.lua", SCRIPTS)]).await;
    server.write_script(
        "evil.lua",
        "service('rust.double', function() return 0 end)",
    );
    let file = server.services.join("evil.lua").display().to_string();
    crate::support::wait_for_log(&[&file, "compiled into this server"]).await;
    let answer = server.post("/lua_to_rust", r#"{"n": 1}"#, &[]).await;
    assert_eq!(answer.body["n"], 4);
    server.stop().await;
}
