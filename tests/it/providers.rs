//! Round trips for every preset: a request signed as the provider would sign it (the same
//! function `inlet send --provider` uses) is accepted by a channel secured by that preset,
//! over real HTTP; the same request with one byte changed is rejected.

use std::time::SystemTime;

use inlet::security::sign::{Outgoing, sign};
use inlet::security::{Preset, unix_millis};

use crate::provider_support::{TestServer, all_presets_config, body, signing_secret};

fn client() -> reqwest::Client {
    // reqwest is built without a bundled TLS provider; plain HTTP still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn signed(
    server: &TestServer,
    preset: Preset,
    method: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Outgoing {
    let mut out = Outgoing {
        method: method.to_string(),
        url: format!("{}/hooks/{}?q=1", server.base, preset.name()),
        headers: vec![("content-type".to_string(), content_type.to_string())],
        body,
    };
    sign(
        preset,
        &signing_secret(preset),
        &mut out,
        unix_millis(SystemTime::now()),
    )
    .unwrap();
    out
}

async fn send(out: &Outgoing) -> (u16, String, String) {
    let mut request = client()
        .request(out.method.parse().unwrap(), &out.url)
        .body(out.body.clone());
    for (name, value) in &out.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// Changes one byte that the preset's check covers.
fn change_one_byte(preset: Preset, out: &mut Outgoing) {
    let flip = |bytes: &mut [u8], at: usize| {
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    };
    let find = |haystack: &[u8], needle: &[u8]| {
        haystack
            .windows(needle.len())
            .rposition(|w| w == needle)
            .map(|at| at + needle.len())
    };
    match preset {
        // Their bodies are not covered, so change the credential instead.
        Preset::GitlabToken | Preset::Okta | Preset::Servicenow => {
            let (_, value) = out
                .headers
                .iter_mut()
                .find(|(n, _)| n != "content-type")
                .unwrap();
            let mut bytes = value.clone().into_bytes();
            let last = bytes.len() - 1;
            bytes[last] ^= 0x01;
            *value = String::from_utf8(bytes).unwrap();
        }
        Preset::Mailgun => {
            let at = find(&out.body, br#""signature":""#).unwrap();
            flip(&mut out.body, at);
        }
        Preset::Msgraph => {
            let at = find(&out.body, br#""clientState":""#).unwrap();
            out.body[at] ^= 0x01;
        }
        Preset::Salesforce => {
            let at = find(&out.body, b"<OrganizationId>00D").unwrap();
            flip(&mut out.body, at);
        }
        Preset::Twilio => {
            let last = out.body.len() - 1;
            flip(&mut out.body, last);
        }
        _ => {
            let at = find(&out.body, br#""n":"#).unwrap();
            flip(&mut out.body, at);
        }
    }
}

#[tokio::test]
async fn every_preset_accepts_its_providers_request_and_rejects_one_changed_byte() {
    let server = TestServer::start(all_presets_config).await;
    for &preset in Preset::ALL {
        let (content_type, body) = body(preset);
        let out = signed(&server, preset, "POST", body, content_type);
        let (status, _, text) = send(&out).await;
        assert_eq!(status, 200, "{}: {text}", preset.name());
        let mut changed = out.clone();
        change_one_byte(preset, &mut changed);
        let (status, _, text) = send(&changed).await;
        assert_eq!(status, 401, "{}: {text}", preset.name());
        assert!(text.contains("unauthorized"), "{}: {text}", preset.name());
    }
    assert_eq!(server.calls(), Preset::ALL.len());
    server.stop().await;
}

#[tokio::test]
async fn a_replayed_message_is_a_duplicate_and_runs_the_service_once() {
    let server = TestServer::start(all_presets_config).await;
    let (content_type, body) = body(Preset::Stripe);
    let out = signed(&server, Preset::Stripe, "POST", body, content_type);
    assert_eq!(send(&out).await.0, 200);
    let (status, _, text) = send(&out).await;
    assert_eq!(status, 200);
    assert!(text.contains(r#""status":"duplicate""#), "{text}");
    assert_eq!(server.calls(), 1);
    server.stop().await;
}

#[tokio::test]
async fn handshakes_are_answered_by_the_channel() {
    let server = TestServer::start(all_presets_config).await;

    let ping = signed(
        &server,
        Preset::Discord,
        "POST",
        br#"{"type":1}"#.to_vec(),
        "application/json",
    );
    // Sent twice: a handshake holds no replay id, so a repeat gets the same answer.
    for _ in 0..2 {
        let (status, content_type, text) = send(&ping).await;
        assert_eq!(
            (status, content_type.as_str(), text.as_str()),
            (200, "application/json", r#"{"type":1}"#)
        );
    }

    let slack = signed(
        &server,
        Preset::Slack,
        "POST",
        br#"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#.to_vec(),
        "application/json",
    );
    let (status, _, text) = send(&slack).await;
    assert_eq!(
        (status, text.as_str()),
        (200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    );

    let mut okta = signed(&server, Preset::Okta, "GET", Vec::new(), "application/json");
    okta.headers.push((
        "x-okta-verification-challenge".to_string(),
        "c0ffee".to_string(),
    ));
    let (status, _, text) = send(&okta).await;
    assert_eq!(
        (status, text.as_str()),
        (200, r#"{"verification":"c0ffee"}"#)
    );

    let graph = Outgoing {
        method: "POST".to_string(),
        url: format!(
            "{}/hooks/msgraph?validationToken=Validation%3A%20Testing",
            server.base
        ),
        headers: vec![("content-type".to_string(), "text/plain".to_string())],
        body: Vec::new(),
    };
    let (status, content_type, text) = send(&graph).await;
    assert_eq!((status, text.as_str()), (200, "Validation: Testing"));
    assert!(content_type.starts_with("text/plain"));

    // None of them reached the service.
    assert_eq!(server.calls(), 0);

    // Salesforce: the service runs, and the answer is the SOAP acknowledgement.
    let (content_type, body) = body(Preset::Salesforce);
    let message = signed(&server, Preset::Salesforce, "POST", body, content_type);
    let (status, content_type, text) = send(&message).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert!(text.contains("<Ack>true</Ack>"), "{text}");
    assert_eq!(server.calls(), 1);
    server.stop().await;
}
