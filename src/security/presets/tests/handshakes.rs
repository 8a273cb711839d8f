//! Handshakes, delivery ids and config errors.

use http::HeaderMap;

use super::*;
use crate::security::hmac::{Algorithm, compute};

// ---- Handshakes and delivery ids ---------------------------------------------------------

#[test]
fn handshakes_are_answered_only_when_verified() {
    // Twitch: a signed verification request gets its challenge back as text/plain.
    let fixture = fixture(Preset::Twitch);
    let check = build(Preset::Twitch, &[&fixture.verifying]);
    let mut out = Outgoing {
        method: "POST".to_string(),
        url: fixture.url.to_string(),
        headers: vec![(
            "twitch-eventsub-message-type".to_string(),
            "webhook_callback_verification".to_string(),
        )],
        body: br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{}}"#.to_vec(),
    };
    sign::sign(Preset::Twitch, &fixture.signing, &mut out, NOW).unwrap();
    let reply = ok(fixture.check(&check, &out, NOW)).handshake.unwrap();
    assert_eq!(reply.body, "pogchamp-kappa-360noscope-vohiyo");
    assert!(reply.content_type.starts_with("text/plain"));
    let forged = fixture.signed(&fixture.other_signing, NOW);
    assert!(fixture.check(&check, &forged, NOW).is_err());

    // Okta: a GET with the challenge, and the right Authorization.
    let okta = build(Preset::Okta, &["Bearer t"]);
    let headers = [
        ("authorization", "Bearer t"),
        ("x-okta-verification-challenge", "abc"),
    ];
    let reply = ok(check_parts(&okta, "GET", None, &headers, b"", NOW))
        .handshake
        .unwrap();
    assert_eq!(reply.body, r#"{"verification":"abc"}"#);
    let wrong = [
        ("authorization", "Bearer x"),
        ("x-okta-verification-challenge", "abc"),
    ];
    assert_eq!(
        kind(check_parts(&okta, "GET", None, &wrong, b"", NOW)),
        "no_match"
    );

    // Graph: validation carries no clientState; the token is echoed as text/plain.
    let graph = build(Preset::Msgraph, &["state"]);
    let reply = ok(check_parts(
        &graph,
        "POST",
        Some("https://x/y?validationToken=Validation%3A%20Testing"),
        &[],
        b"",
        NOW,
    ))
    .handshake
    .unwrap();
    assert_eq!(reply.body, "Validation: Testing");

    // Salesforce: no handshake, but an acknowledgement for after the service.
    let sf = build(Preset::Salesforce, &[ORG_ID]);
    let (_, body) = test_body(Preset::Salesforce);
    let outcome = ok(check_parts(&sf, "POST", None, &[], &body, NOW));
    assert!(outcome.handshake.is_none());
    assert!(
        std::str::from_utf8(&outcome.acknowledgement.unwrap().body)
            .unwrap()
            .contains("<Ack>true</Ack>")
    );
}

#[test]
fn delivery_ids_come_from_each_providers_header_or_body() {
    let headers = header_map(&[("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")]);
    assert_eq!(
        delivery_id(Preset::Github, &headers, b"").as_deref(),
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    );
    let headers = header_map(&[("webhook-id", "msg_1")]);
    assert_eq!(
        delivery_id(Preset::Svix, &headers, b"").as_deref(),
        Some("msg_1")
    );
    assert_eq!(
        delivery_id(Preset::Github, &HeaderMap::new(), b"").as_deref(),
        None
    );
    assert_eq!(
        delivery_id(
            Preset::Pagerduty,
            &HeaderMap::new(),
            br#"{"event":{"id":"01"}}"#
        )
        .as_deref(),
        Some("01")
    );
    let long = format!("{{\"id\":\"{}\"}}", "x".repeat(300));
    assert_eq!(
        delivery_id(Preset::Stripe, &HeaderMap::new(), long.as_bytes()),
        None
    );
}

#[test]
fn zoom_validation_is_answered_with_the_matching_secret() {
    let check = build(Preset::Zoom, &["old-secret", "new-secret"]);
    let mut out = Outgoing {
        method: "POST".to_string(),
        url: "https://example.com/zoom".to_string(),
        headers: Vec::new(),
        body: br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"}}"#.to_vec(),
    };
    sign::sign(Preset::Zoom, "new-secret", &mut out, NOW).unwrap();
    let headers: Vec<(&str, &str)> = out
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let reply = ok(check_parts(&check, "POST", None, &headers, &out.body, NOW))
        .handshake
        .unwrap();
    let expected = hex::encode(compute(
        Algorithm::Sha256,
        b"new-secret",
        &[b"qgg8vlvZRS6UYooatFL8Aw"],
    ));
    assert!(
        std::str::from_utf8(&reply.body)
            .unwrap()
            .contains(&expected)
    );
}

#[test]
fn config_errors_name_the_key() {
    let err = PresetCheck::build(Preset::Discord, &config(&["not hex"])).unwrap_err();
    assert!(err.contains("secret #1"), "{err}");
    let mut c = config(&["x"]);
    c.tolerance = Some(crate::config::units::HumanDuration(
        std::time::Duration::from_secs(1),
    ));
    assert!(
        PresetCheck::build(Preset::Github, &c)
            .unwrap_err()
            .contains("tolerance")
    );
    let err = PresetCheck::build(Preset::Servicenow, &config(&["nopassword"])).unwrap_err();
    assert!(err.contains("user:password"), "{err}");
}
