//! The seed page's curl commands, against the seed example's config and services.

use inlet::security::{Algorithm, Encoding};
use serde_json::Value;

use crate::seed_access_request as access_request;
use crate::seed_jira as jira;
use crate::seed_salesforce as salesforce;
use crate::seed_servicenow as servicenow;
use crate::support::{Logs, TestServer, error_json, post};

fn seed_app() -> inlet::App {
    inlet::App::new()
        .service(jira::JiraWebhook)
        .service(access_request::AccessRequestWebhook)
        .service(access_request::ProcessAccessRequest)
        .service(servicenow::ServiceNowWebhook)
        .service(servicenow::ProcessIncident)
        .service(salesforce::SalesforceWebhook)
}

async fn seed_server() -> TestServer {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed/inlet.toml");
    let config = inlet::Config::load(std::path::Path::new(path)).expect("the seed config is valid");
    TestServer::start_with(seed_app(), config).await
}

#[tokio::test(flavor = "current_thread")]
async fn jira_issue_created_is_logged() {
    let (logs, _guard) = Logs::capture();
    let server = seed_server().await;
    // curl -X POST http://localhost:11223/webhooks/jira -d '{"webhookEvent": "jira:issue_created", "issue": {"key": "PROJ-123"}}'
    let (status, headers, body) = post(
        &server,
        "/webhooks/jira",
        r#"{"webhookEvent": "jira:issue_created", "issue": {"key": "PROJ-123"}}"#,
        &[("content-type", "application/x-www-form-urlencoded")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, "");
    assert!(headers.contains_key("x-inlet-cid"));
    assert!(
        logs.wait_for("Received Jira event: jira:issue_created")
            .await
    );
    assert!(
        logs.wait_for("New issue created: PROJ-123").await,
        "{}",
        logs.text()
    );
    server.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn access_request_maps_and_invokes_processing() {
    let (logs, _guard) = Logs::capture();
    let server = seed_server().await;
    let body = r#"{"issueKey": "ACC-7", "email": "ann@example.com", "companyName": "Acme", "requestType": "vpn"}"#;
    let (status, _, _) = post(&server, "/webhooks/access-request", body, &[]).await;
    assert_eq!(status, 200);
    assert!(
        logs.wait_for("Processing vpn access request ACC-7 for ann@example.com at Acme")
            .await,
        "{}",
        logs.text()
    );

    let (status, _, text) = post(
        &server,
        "/webhooks/access-request",
        r#"{"issueKey": "ACC-7"}"#,
        &[],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        error_json(&text)["error"]
            .as_str()
            .unwrap()
            .contains("`email`"),
        "{text}"
    );

    let (status, _, text) = post(
        &server,
        "/webhooks/access-request",
        r#"{"issueKey": "ACC-7", "email": 5, "companyName": "Acme", "requestType": "vpn"}"#,
        &[],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        error_json(&text)["error"]
            .as_str()
            .unwrap()
            .starts_with("field `email`"),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn servicenow_answers_at_once_and_processes_in_background() {
    let (logs, _guard) = Logs::capture();
    let server = seed_server().await;
    // curl -X POST http://localhost:11223/webhooks/servicenow -d '{"event_type": "incident.created", "incident": {"number": "INC0010001", "priority": "2"}}'
    let (status, headers, body) = post(
        &server,
        "/webhooks/servicenow",
        r#"{"event_type": "incident.created", "incident": {"number": "INC0010001", "priority": "2"}}"#,
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        serde_json::json!({"status": "received"})
    );
    assert!(
        logs.wait_for("Processing ServiceNow incident INC0010001 (incident.created)")
            .await,
        "{}",
        logs.text()
    );
    // The background job logs under the request's cid.
    let cid = headers["x-inlet-cid"].to_str().unwrap();
    let job_line = logs
        .text()
        .lines()
        .find(|line| line.contains("Processing ServiceNow incident"))
        .unwrap()
        .to_string();
    assert!(job_line.contains(cid), "{job_line}");
    server.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn salesforce_rejects_the_test_signature_and_accepts_a_real_one() {
    let (logs, _guard) = Logs::capture();
    let server = seed_server().await;
    let body = r#"{"type": "opportunity.closed_won", "data": {"opportunity_id": "006xxx", "amount": 50000}}"#;
    // curl … -H "X-Salesforce-Signature: your-test-signature" -d '…'
    let (status, _, text) = post(
        &server,
        "/webhooks/salesforce",
        body,
        &[("X-Salesforce-Signature", "your-test-signature")],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        serde_json::json!({"error": "Invalid signature"})
    );

    // No header at all is also a 401.
    let (status, _, _) = post(&server, "/webhooks/salesforce", body, &[]).await;
    assert_eq!(status, 401);

    // The example's default secret, since SALESFORCE_WEBHOOK_SECRET is unset in tests.
    let secret = std::env::var("SALESFORCE_WEBHOOK_SECRET")
        .unwrap_or_else(|_| "local-test-secret".to_string());
    let mac =
        inlet::security::hmac::compute(Algorithm::Sha256, secret.as_bytes(), &[body.as_bytes()]);
    let signature = Encoding::Hex.encode(&mac);
    let (status, _, _) = post(
        &server,
        "/webhooks/salesforce",
        body,
        &[("X-Salesforce-Signature", &signature)],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        logs.wait_for("Processing Salesforce event: opportunity.closed_won")
            .await
    );
    server.stop().await;
}
