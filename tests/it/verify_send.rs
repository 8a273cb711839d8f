//! The `inlet verify` and `inlet send` commands, run as a user runs them.

use std::process::{Command, Output};

use inlet::security::Preset;

use crate::provider_support::{TestServer, all_presets_config, signing_secret};

fn inlet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn verify_says_valid_or_why_not_with_exit_codes() {
    let github = [
        "verify",
        "--scheme",
        "github",
        "--secret",
        "It's a Secret to Everybody",
        "--header",
        "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "--body",
        "Hello, World!",
    ];
    let output = inlet(&github);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "valid\n");

    let mut tampered = github;
    tampered[8] = "Hello, World?";
    let output = inlet(&tampered);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("invalid: no_match"),
        "{}",
        stdout(&output)
    );

    let slack = [
        "verify",
        "--scheme",
        "slack",
        "--secret",
        "8f742231b10e8888abcd99yyyzzz85a5",
        "-H",
        "X-Slack-Signature: v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "-H",
        "X-Slack-Request-Timestamp: 1531420618",
        "--body",
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
        "--now",
        "1531420618",
    ];
    assert_eq!(inlet(&slack).status.code(), Some(0));
    let mut late = slack.to_vec();
    let last = late.len() - 1;
    late[last] = "1531421000";
    let output = inlet(&late);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).starts_with("invalid: stale_timestamp"));
    late.extend(["--tolerance", "600"]);
    assert_eq!(inlet(&late).status.code(), Some(0));

    // Usage errors: an unknown scheme, no body, a bad header, a missing --url.
    assert_eq!(
        inlet(&["verify", "--scheme", "nope", "--secret", "s", "--body", ""])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        inlet(&["verify", "--scheme", "github", "--secret", "s"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        inlet(&[
            "verify", "--scheme", "github", "--secret", "s", "-H", "nocolon", "--body", ""
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        inlet(&[
            "verify", "--scheme", "square", "--secret", "s", "--body", ""
        ])
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn verify_prints_the_handshake_reply() {
    let output = inlet(&[
        "verify",
        "--scheme",
        "okta",
        "--secret",
        "Bearer t",
        "--method",
        "GET",
        "-H",
        "Authorization: Bearer t",
        "-H",
        "X-Okta-Verification-Challenge: abc",
        "--body",
        "",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(
        text.contains("handshake reply: 200 application/json"),
        "{text}"
    );
    assert!(text.contains(r#"{"verification":"abc"}"#), "{text}");
}

#[tokio::test]
async fn send_signs_as_the_provider_and_the_channel_accepts_it() {
    let server = TestServer::start(all_presets_config).await;
    let base = server.base.clone();
    for preset in [
        Preset::Stripe,
        Preset::Twilio,
        Preset::Sendgrid,
        Preset::StandardWebhooks,
    ] {
        let base = base.clone();
        let output = tokio::task::spawn_blocking(move || {
            let url = format!("{base}/hooks/{}", preset.name());
            let secret = signing_secret(preset);
            let mut args = vec![
                "send",
                "--provider",
                preset.name(),
                "--secret",
                &secret,
                &url,
            ];
            if preset == Preset::Twilio {
                args.extend([
                    "--data",
                    "Body=hello&From=%2B1555",
                    "-H",
                    "Content-Type: application/x-www-form-urlencoded",
                ]);
            } else {
                args.extend(["--data", r#"{"id":"evt_cli","n":1}"#]);
            }
            inlet(&args)
        })
        .await
        .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {}{}",
            preset.name(),
            stdout(&output),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // A pinned --now an hour ago is outside Stripe's window.
    let url = format!("{base}/hooks/stripe");
    let output = tokio::task::spawn_blocking(move || {
        let now = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 3600)
            .to_string();
        inlet(&[
            "send",
            "--provider",
            "stripe",
            "--secret",
            "stripe-secret",
            &url,
            "--data",
            "{}",
            "--now",
            &now,
        ])
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("401"), "{}", stdout(&output));
    server.stop().await;
}
