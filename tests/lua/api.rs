//! The Lua API: request, response, helpers, and the sandbox.

use inlet::App;
use serde_json::json;

use crate::support::{TestServer, wait_for_log};

const SCRIPTS: &str = r#"
service("test.request", function(req, ctx)
    return {
        method = req.method, path = req.path, params = req.params, query = req.query,
        query_string = req.query_string, header = req.headers["X-Custom"],
        same_header = req:header("x-custom"), body = req.body, payload = req.payload,
        cid_matches = #ctx.cid == 32, peer_is_local = req.peer:match("^127%.0%.0%.1:") ~= nil,
        secret = ctx.config.app.greeting,
    }
end)

service("test.response", function(req, ctx)
    return inlet.response(201, { created = true }, { ["X-Made-By"] = "lua", ["Set-Cookie"] = { "a=1", "b=2" } })
end)

service("test.raw", function()
    return inlet.raw_response(202, "<ok/>", "application/xml")
end)

service("test.helpers", function(req, ctx)
    local mac = inlet.hmac("sha256", "Jefe", "what do ya want for nothing?")
    local decoded, err = inlet.json.decode("{not json")
    return {
        hmac_hex = mac,
        hmac_b64 = inlet.hmac("sha1", "key", "msg", "base64"),
        hmac512_len = #inlet.hmac("sha512", "key", "msg", "raw"),
        verify = inlet.hmac_verify("sha256", "hex", "Jefe", "what do ya want for nothing?", mac),
        verify_bad = inlet.hmac_verify("sha256", "hex", "Jefe", "tampered", mac),
        equal = inlet.secrets_equal("abc", "abc"), unequal = inlet.secrets_equal("abc", nil),
        b64 = inlet.base64.encode("hello"), unb64 = inlet.base64.decode("aGVsbG8="),
        url = inlet.base64.url_encode("\255\254"), hex = inlet.hex.encode("\1\171"),
        json = inlet.json.encode({ list = inlet.json.array(), n = inlet.json.null }),
        decode_error = err ~= nil and decoded == nil,
        round = inlet.json.decode('{"a":[1,null,3]}').a[2] == inlet.json.null,
        now_is_recent = inlet.time.now() > 1.7e9 and inlet.time.now_ms() > 1.7e12,
        rfc3339 = inlet.time.rfc3339(0),
        parsed = inlet.time.parse_rfc3339("2024-01-02T03:04:05Z"),
    }
end)

service("test.sandbox", function()
    local binary_ok = pcall(load, string.dump(function() end), "x", "b")
    return {
        os = type(os), io = type(io), package = type(package), require = type(require),
        debug = type(debug), dofile = type(dofile), loadfile = type(loadfile),
        binary_load_refused = not binary_ok,
        inlet_read_only = not pcall(function() inlet.json = nil end),
        gc_stop_refused = not pcall(collectgarbage, "stop"),
    }
end)

service("test.check", function(req) return req:payload_as { "name:string", "count:integer?" } end)
service("test.fail_structured", function() error(inlet.client_error(409, "already there")) end)
service("test.bad_return", function() return { f = print } end)

service("test.shapes", function(req)
    local p = req.payload
    return {
        absent = p.gone == nil, null_item = p.list[1] == inlet.json.null, length = #p.list,
        encoded = inlet.json.encode({ empty = p.empty, list = p.list, nested = p.nested }),
        text = p.text, big = p.big, float = p.float, same = req.payload == p,
    }
end)

local kept, kept_ctx
service("test.calls", function(req, ctx)
    log.info("call %d for %s", 1, req.payload.name)
    log.warn(setmetatable({}, { __tostring = function() return "a table, logged" end }))
    log.info("%s and %s make 100%%", "this", "that", "ignored")
    log.info("%s%% and n=%d", "50", 3)
    log.info("%s%s|%%%s.", "a", "b", "c")
    local stale_refused = kept ~= nil and not pcall(function() return kept.method end)
        and not pcall(function() return kept_ctx.cid end)
    kept, kept_ctx = req, ctx
    return { name = req.payload.name, stale_refused = stale_refused }
end)
"#;

fn config(extra: &str) -> String {
    let mut config = format!("{extra}\n[config.app]\ngreeting = \"hi\"\n");
    for (name, path) in [
        ("request", "/req/{tenant}"),
        ("response", "/response"),
        ("raw", "/raw"),
        ("helpers", "/helpers"),
        ("sandbox", "/sandbox"),
        ("check", "/check"),
        ("fail_structured", "/fail_structured"),
        ("bad_return", "/bad_return"),
        ("calls", "/calls"),
        ("shapes", "/shapes"),
    ] {
        config.push_str(&format!(
            "[[channel]]\nname = \"{name}\"\npath = \"{path}\"\nservice = \"test.{name}\"\n"
        ));
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_shows_every_part_of_the_http_request() {
    let server = TestServer::start(App::new(), &config(""), &[("api.lua", SCRIPTS)]).await;
    let answer = server
        .post(
            "/req/acme?x=1&y=two%20words&x=3",
            r#"{"k": [1, 2]}"#,
            &[("X-Custom", "yes")],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({
            "method": "POST", "path": "/req/acme", "params": {"tenant": "acme"},
            "query": {"x": "1", "y": "two words"}, "query_string": "x=1&y=two%20words&x=3",
            "header": "yes", "same_header": "yes", "body": r#"{"k": [1, 2]}"#,
            "payload": {"k": [1, 2]}, "cid_matches": true, "peer_is_local": true, "secret": "hi",
        })
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_status_headers_and_bodies() {
    let server = TestServer::start(App::new(), &config(""), &[("api.lua", SCRIPTS)]).await;
    let response = server
        .client
        .post(format!("{}/response", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-made-by"], "lua");
    assert_eq!(response.headers().get_all("set-cookie").iter().count(), 2);
    assert_eq!(response.text().await.unwrap(), r#"{"created":true}"#);

    let response = server
        .client
        .post(format!("{}/raw", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["content-type"], "application/xml");
    assert_eq!(response.text().await.unwrap(), "<ok/>");

    let answer = server.post("/fail_structured", "{}", &[]).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (409, Some("already there"))
    );
    let answer = server.post("/bad_return", "{}", &[]).await;
    assert_eq!(answer.status, 500);
    let line = wait_for_log(&[&answer.cid, "service failed"]).await;
    assert!(line.contains("cannot be encoded as JSON"), "{line}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpers_compute_what_webhook_code_needs() {
    let server = TestServer::start(App::new(), &config(""), &[("api.lua", SCRIPTS)]).await;
    let answer = server.post("/helpers", "{}", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({
            // RFC 4231, test case 2.
            "hmac_hex": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "hmac_b64": "ECkAtyt78QMe7Ha0gEtmBSN2iWs=", "hmac512_len": 64,
            "verify": true, "verify_bad": false, "equal": true, "unequal": false,
            "b64": "aGVsbG8=", "unb64": "hello", "url": "__4", "hex": "01ab",
            "json": r#"{"list":[],"n":null}"#, "decode_error": true, "round": true,
            "now_is_recent": true, "rfc3339": "1970-01-01T00:00:00.000Z", "parsed": 1704164645,
        })
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_as_names_the_first_missing_or_mistyped_field() {
    let server = TestServer::start(App::new(), &config(""), &[("api.lua", SCRIPTS)]).await;
    let answer = server.post("/check", r#"{"count": 2}"#, &[]).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (422, Some("missing field `name`"))
    );
    let answer = server
        .post("/check", r#"{"name": "n", "count": 1.5}"#, &[])
        .await;
    assert_eq!(
        answer.body["error"],
        "field `count`: invalid type: floating point `1.5`, expected an integer"
    );
    let answer = server.post("/check", r#"[1]"#, &[]).await;
    assert_eq!(
        answer.body["error"],
        "invalid type: sequence, expected an object"
    );
    let answer = server.post("/check", r#"{"name": "n"}"#, &[]).await;
    assert_eq!((answer.status, answer.body), (200, json!({"name": "n"})));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_hides_os_io_package_and_debug_unless_granted() {
    let server = TestServer::start(App::new(), &config(""), &[("api.lua", SCRIPTS)]).await;
    let answer = server.post("/sandbox", "{}", &[]).await;
    assert_eq!(
        answer.body,
        json!({
            "os": "nil", "io": "nil", "package": "nil", "require": "nil", "debug": "nil",
            "dofile": "nil", "loadfile": "nil", "binary_load_refused": true,
            "inlet_read_only": true, "gc_stop_refused": true,
        })
    );
    server.stop().await;

    let granted = config("[lua]\ngrant = [\"os\", \"package\"]");
    let server = TestServer::start(App::new(), &granted, &[("api.lua", SCRIPTS)]).await;
    let answer = server.post("/sandbox", "{}", &[]).await;
    assert_eq!(answer.body["os"], "table");
    assert_eq!(answer.body["require"], "function");
    assert_eq!(answer.body["io"], "nil");
    server.stop().await;
}

/// Later calls of a service that read its payload get it handed over with the call; a `req`
/// kept from an earlier call can read nothing, even though its slot is reused; loggers
/// format and apply `tostring`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_hand_over_payloads_and_forget_their_requests() {
    let server = TestServer::start(App::new(), &config(""), &[("api.lua", SCRIPTS)]).await;
    // One request at a time, so each call reuses the one idle state and its `kept`.
    let first = server.post("/calls", r#"{"name": "a"}"#, &[]).await;
    assert_eq!(
        (first.status, first.body),
        (200, json!({"name": "a", "stale_refused": false}))
    );
    for name in ["b", "c"] {
        let answer = server
            .post("/calls", &format!(r#"{{"name": "{name}"}}"#), &[])
            .await;
        assert_eq!(
            (answer.status, answer.body),
            (200, json!({"name": name, "stale_refused": true}))
        );
    }
    wait_for_log(&[&first.cid, "call 1 for a"]).await;
    wait_for_log(&[&first.cid, "WARN", "a table, logged"]).await;
    wait_for_log(&[&first.cid, "this and that make 100%"]).await;
    wait_for_log(&[&first.cid, "50% and n=3"]).await;
    wait_for_log(&[&first.cid, "ab|%c."]).await;
    server.stop().await;
}

/// A payload handed over with the call (from the second call on) is the same Lua value as
/// the one read lazily on the first: null fields absent, null items kept, arrays marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handed_over_payload_reads_as_the_lazy_one() {
    let server = TestServer::start(App::new(), &config(""), &[("api.lua", SCRIPTS)]).await;
    let body = r#"{"gone": null, "list": [null, 2, "three"], "empty": [],
        "nested": {"a": {"b": [{}]}}, "text": "tab\t\u2603", "big": 9223372036854775807,
        "float": 2.5}"#;
    let expected = json!({
        "absent": true, "null_item": true, "length": 3,
        "encoded": r#"{"empty":[],"list":[null,2,"three"],"nested":{"a":{"b":[{}]}}}"#,
        "text": "tab\t\u{2603}", "big": 9223372036854775807_i64, "float": 2.5, "same": true,
    });
    for _ in 0..3 {
        let answer = server.post("/shapes", body, &[]).await;
        assert_eq!((answer.status, &answer.body), (200, &expected));
    }
    server.stop().await;
}

/// A script's globals are its own: unsetting `type` or changing `log` changes nothing for
/// another script, and an unset global reads the sandbox's again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripts_globals_are_its_own() {
    let meddler = r#"
type, print = nil, nil
log.info = function() error("replaced") end
service("test.meddler", function() return { t = type(1), p = type(print) } end)
"#;
    let bystander = r#"
service("test.bystander", function()
    log.info("bystander %s", "logs")
    return { same = log ~= inlet.log and log.info == inlet.log.info, t = type(log) }
end)
"#;
    let config = "[[channel]]\nname = \"meddler\"\npath = \"/meddler\"\nservice = \"test.meddler\"\n\
                  [[channel]]\nname = \"bystander\"\npath = \"/bystander\"\nservice = \"test.bystander\"\n";
    let scripts = [("a_meddler.lua", meddler), ("b_bystander.lua", bystander)];
    let server = TestServer::start(App::new(), config, &scripts).await;
    let answer = server.post("/meddler", "{}", &[]).await;
    assert_eq!(
        (answer.status, answer.body),
        (200, json!({"t": "number", "p": "function"}))
    );
    let answer = server.post("/bystander", "{}", &[]).await;
    assert_eq!(
        (answer.status, answer.body),
        (200, json!({"same": true, "t": "table"}))
    );
    wait_for_log(&[&answer.cid, "bystander logs"]).await;
    server.stop().await;
}
