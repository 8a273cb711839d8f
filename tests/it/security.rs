//! Each generic security kind: valid, invalid, rotated secret, missing credential.

use base64::Engine as _;
use inlet::security::{Algorithm, Encoding, hmac::compute};

use crate::support::{Logs, TestServer, client, error_json, post};

const CONFIG: &str = r#"
[security.signed]
type = "hmac"
algorithm = "sha256"
header = "X-Hub-Signature-256"
prefix = "sha256="
secrets = ["new-secret", "old-secret"]

[security.signed-b64]
type = "hmac"
algorithm = "sha512"
header = "X-Signature"
encoding = "base64"
secrets = ["k"]

[security.user]
type = "basic"
username = "jira"
password = "pa:ss"

[security.key-header]
type = "apikey"
header = "X-API-Key"
values = ["key-1", "key-2"]

[security.key-query]
type = "apikey"
query = "token"
values = ["t0k"]

[security.loopback]
type = "ip_allow"
cidrs = ["127.0.0.0/8", "::1"]

[security.office]
type = "ip_allow"
cidrs = ["10.0.0.0/8"]

[[channel]]
name = "signed"
path = "/signed"
service = "inlet.echo"
security = ["signed"]

[[channel]]
name = "signed-b64"
path = "/signed-b64"
service = "inlet.echo"
security = ["signed-b64"]

[[channel]]
name = "basic"
path = "/basic"
service = "inlet.echo"
security = ["user"]

[[channel]]
name = "key-header"
path = "/key-header"
service = "inlet.echo"
security = ["key-header"]

[[channel]]
name = "key-query"
path = "/key-query"
service = "inlet.echo"
security = ["key-query"]

[[channel]]
name = "loopback"
path = "/loopback"
service = "inlet.echo"
security = ["loopback", "key-header"]

[[channel]]
name = "office"
path = "/office"
service = "inlet.echo"
security = ["office"]
"#;

const BODY: &str = r#"{"action":"opened"}"#;

fn sign(secret: &str, body: &str) -> String {
    let mac = compute(Algorithm::Sha256, secret.as_bytes(), &[body.as_bytes()]);
    format!("sha256={}", Encoding::Hex.encode(&mac))
}

async fn server() -> TestServer {
    TestServer::start(inlet::App::new(), CONFIG).await
}

fn assert_unauthorized(status: u16, text: &str) {
    assert_eq!(status, 401, "{text}");
    // The client learns nothing about which check failed.
    assert_eq!(error_json(text)["error"], "unauthorized");
}

#[tokio::test]
async fn hmac_valid_rotated_invalid_and_missing() {
    let (logs, _guard) = Logs::capture();
    let server = server().await;
    let header = "X-Hub-Signature-256";
    let (status, _, text) = post(
        &server,
        "/signed",
        BODY,
        &[(header, &sign("new-secret", BODY))],
    )
    .await;
    assert_eq!((status, text.as_str()), (200, BODY));
    let (status, _, _) = post(
        &server,
        "/signed",
        BODY,
        &[(header, &sign("old-secret", BODY))],
    )
    .await;
    assert_eq!(
        status, 200,
        "a rotated-out secret that is still listed must pass"
    );

    let (status, _, text) = post(&server, "/signed", BODY, &[(header, &sign("wrong", BODY))]).await;
    assert_unauthorized(status, &text);
    // One changed byte of the body.
    let tampered = BODY.replace("opened", "closed");
    let (status, _, text) = post(
        &server,
        "/signed",
        &tampered,
        &[(header, &sign("new-secret", BODY))],
    )
    .await;
    assert_unauthorized(status, &text);
    // Without the prefix.
    let bare = sign("new-secret", BODY).replace("sha256=", "");
    let (status, _, text) = post(&server, "/signed", BODY, &[(header, &bare)]).await;
    assert_unauthorized(status, &text);
    let (status, _, text) = post(&server, "/signed", BODY, &[]).await;
    assert_unauthorized(status, &text);

    let log = logs.text();
    assert!(log.contains("check=\"no_match\""), "{log}");
    assert!(log.contains("check=\"malformed\""), "{log}");
    assert!(log.contains("check=\"missing_header\""), "{log}");
    assert!(
        !log.contains("new-secret") && !log.contains("old-secret"),
        "a secret reached the log"
    );
    server.stop().await;
}

#[tokio::test]
async fn hmac_sha512_base64() {
    let server = server().await;
    let mac = compute(Algorithm::Sha512, b"k", &[BODY.as_bytes()]);
    let good = Encoding::Base64.encode(&mac);
    let (status, _, _) = post(&server, "/signed-b64", BODY, &[("X-Signature", &good)]).await;
    assert_eq!(status, 200);
    let (status, _, text) = post(
        &server,
        "/signed-b64",
        BODY,
        &[("X-Signature", "not base64!")],
    )
    .await;
    assert_unauthorized(status, &text);
    server.stop().await;
}

#[tokio::test]
async fn basic_auth() {
    let server = server().await;
    let auth = |user: &str, pass: &str| {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        format!("Basic {token}")
    };
    let (status, _, _) = post(
        &server,
        "/basic",
        BODY,
        &[("Authorization", &auth("jira", "pa:ss"))],
    )
    .await;
    assert_eq!(status, 200);
    for wrong in [
        auth("jira", "nope"),
        auth("root", "pa:ss"),
        "Bearer x".to_string(),
        "Basic !!".to_string(),
    ] {
        let (status, _, text) = post(&server, "/basic", BODY, &[("Authorization", &wrong)]).await;
        assert_unauthorized(status, &text);
    }
    let (status, _, text) = post(&server, "/basic", BODY, &[]).await;
    assert_unauthorized(status, &text);
    server.stop().await;
}

#[tokio::test]
async fn api_key_in_header_and_query() {
    let server = server().await;
    for key in ["key-1", "key-2"] {
        let (status, _, _) = post(&server, "/key-header", BODY, &[("X-API-Key", key)]).await;
        assert_eq!(status, 200, "{key}");
    }
    let (status, _, text) = post(&server, "/key-header", BODY, &[("X-API-Key", "key-3")]).await;
    assert_unauthorized(status, &text);
    let (status, _, text) = post(&server, "/key-header", BODY, &[]).await;
    assert_unauthorized(status, &text);

    let response = client()
        .post(server.url("/key-query?token=t0k"))
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client()
        .post(server.url("/key-query?token=bad"))
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = client()
        .post(server.url("/key-query"))
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn ip_allow_is_403_and_all_definitions_must_pass() {
    let server = server().await;
    let (status, _, text) =
        post(&server, "/office", BODY, &[("X-Forwarded-For", "10.1.1.1")]).await;
    assert_eq!(status, 403, "X-Forwarded-For must not be trusted");
    assert_eq!(error_json(&text)["error"], "forbidden");

    let (status, _, _) = post(&server, "/loopback", BODY, &[("X-API-Key", "key-1")]).await;
    assert_eq!(status, 200);
    let (status, _, text) = post(&server, "/loopback", BODY, &[]).await;
    assert_unauthorized(status, &text);
    server.stop().await;
}
