//! The seed page's curl commands against `examples/seed-lua`, exactly as against the Rust
//! example: same statuses, bodies and log lines.

use std::path::Path;

use inlet::App;
use inlet::security::{Algorithm, Encoding, hmac::compute};
use serde_json::json;

use crate::support::{TestServer, wait_for_log};

const SALESFORCE_BODY: &str =
    r#"{"type": "opportunity.closed_won", "data": {"opportunity_id": "006xxx", "amount": 50000}}"#;

async fn seed_server() -> TestServer {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed-lua/inlet.toml");
    TestServer::from_file(App::new(), &path).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_logs_the_new_issue() {
    let server = seed_server().await;
    let answer = server
        .post(
            "/webhooks/jira",
            r#"{"webhookEvent": "jira:issue_created", "issue": {"key": "PROJ-123"}}"#,
            &[],
        )
        .await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.is_null());
    wait_for_log(&[&answer.cid, "Received Jira event: jira:issue_created"]).await;
    wait_for_log(&[&answer.cid, "New issue created: PROJ-123"]).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_answers_at_once_and_processes_in_the_background() {
    let server = seed_server().await;
    let answer = server
        .post(
            "/webhooks/servicenow",
            r#"{"event_type": "incident.created", "incident": {"number": "INC0010001", "priority": "2"}}"#,
            &[],
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({"status": "received"}));
    let line = wait_for_log(&[
        &answer.cid,
        "Processing ServiceNow incident INC0010001 (incident.created)",
    ])
    .await;
    assert!(
        line.contains("job{"),
        "logged by the background job: {line}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_rejects_a_bogus_signature_and_accepts_a_real_one() {
    let server = seed_server().await;
    let bogus = server
        .post(
            "/webhooks/salesforce",
            SALESFORCE_BODY,
            &[("X-Salesforce-Signature", "your-test-signature")],
        )
        .await;
    assert_eq!(bogus.status, 401);
    assert_eq!(bogus.body, json!({"error": "Invalid signature"}));

    let secret = std::env::var("SALESFORCE_WEBHOOK_SECRET")
        .unwrap_or_else(|_| "local-test-secret".to_string());
    let mac = compute(
        Algorithm::Sha256,
        secret.as_bytes(),
        &[SALESFORCE_BODY.as_bytes()],
    );
    let signature = Encoding::Hex.encode(&mac);
    let signed = server
        .post(
            "/webhooks/salesforce",
            SALESFORCE_BODY,
            &[("X-Salesforce-Signature", &signature)],
        )
        .await;
    assert_eq!(signed.status, 200);
    wait_for_log(&[
        &signed.cid,
        "Processing Salesforce event: opportunity.closed_won",
    ])
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_request_maps_and_invokes_or_names_the_missing_field() {
    let server = seed_server().await;
    let ok = server
        .post(
            "/webhooks/access-request",
            r#"{"issueKey": "ACC-7", "email": "ann@example.com", "companyName": "Acme", "requestType": "vpn"}"#,
            &[],
        )
        .await;
    assert_eq!(ok.status, 200);
    wait_for_log(&[
        &ok.cid,
        "Processing vpn access request ACC-7 for ann@example.com at Acme",
    ])
    .await;

    let missing = server
        .post(
            "/webhooks/access-request",
            r#"{"issueKey": "ACC-7", "companyName": "Acme", "requestType": "vpn"}"#,
            &[],
        )
        .await;
    assert_eq!(missing.status, 422);
    assert_eq!(missing.body["error"], "missing field `email`");
    assert_eq!(missing.body["cid"], missing.cid.as_str());
    server.stop().await;
}
