//! The `inlet` binary: `check`, `serve` with signals, `send`, and usage errors.

use std::path::Path;
use std::process::{Command, Output};

use crate::process::{INLET, spawn_server, terminate};

fn inlet(args: &[&str]) -> Output {
    Command::new(INLET)
        .args(args)
        .env_remove("INLET_LOG")
        .output()
        .expect("the inlet binary runs")
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("inlet.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn check(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), text);
    let output = inlet(&["check", "--config", &path]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap(), stderr)
}

const GOOD: &str = r#"
[security.key]
type = "apikey"
header = "X-Key"
values = ["${env:INLET_TEST_UNSET_KEY:-dev}"]

[[channel]]
name = "echo"
path = "/echo"
service = "inlet.echo"
security = ["key"]
"#;

#[test]
fn check_accepts_a_good_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), GOOD);
    let output = inlet(&["check", "--config", &path]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok (1 channel(s)"));
}

#[test]
fn check_names_each_kind_of_error_with_its_line() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[[channel]]\nname = \"a\"\npath = \"/a\"\nservice = \"no.such.service\"\n",
            "inlet.toml:4: `channel[0].service`",
            "not registered",
        ),
        (
            "[[channel]]\nname = \"a\"\npath = \"/a\"\nservice = \"inlet.echo\"\nsecurity = [\"github\"]\n",
            "inlet.toml:5: `channel[0].security`",
            "`github` is not defined",
        ),
        (
            "[[channel]]\nname = \"a\"\npath = \"/a\"\nservice = \"inlet.echo\"\n\n[[channel]]\nname = \"b\"\npath = \"/a\"\nservice = \"inlet.ping\"\n",
            "inlet.toml:8: `channel[1].path`",
            "POST /a is already served by channel `a`",
        ),
        (
            "[security.office]\ntype = \"ip_allow\"\ncidrs = [\"300.1.1.0/24\"]\n",
            "inlet.toml:1: `security.office`",
            "300.1.1.0/24",
        ),
        (
            "[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n",
            "inlet.toml:3: `lisen`",
            "unknown field `lisen`",
        ),
    ];
    for (text, location, message) in cases {
        let (code, stderr) = check(text);
        assert_eq!(code, 1, "{text}");
        assert!(
            stderr.contains(location),
            "expected {location:?} in {stderr:?}"
        );
        assert!(
            stderr.contains(message),
            "expected {message:?} in {stderr:?}"
        );
    }
}

#[test]
fn missing_config_file_and_usage_errors() {
    let output = inlet(&["check", "--config", "/nonexistent/inlet.toml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read the config file"));

    let output = inlet(&["serve"]);
    assert_eq!(output.status.code(), Some(2));
    let output = inlet(&["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn serve_answers_then_exits_zero_on_sigterm_and_send_prints_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), GOOD);
    let (mut child, address) = spawn_server(&config);
    let url = format!("http://{address}/echo");

    let output = inlet(&[
        "send",
        &url,
        "--data",
        r#"{"hello":"world"}"#,
        "-H",
        "X-Key: dev",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("HTTP/1.1 200 OK"), "{stdout}");
    assert!(stdout.contains("x-inlet-cid: "), "{stdout}");
    assert!(stdout.contains(r#"{"hello":"world"}"#), "{stdout}");

    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, b"{\"from\":\"file\"}").unwrap();
    let output = inlet(&[
        "send",
        &url,
        "--data",
        &format!("@{}", body_file.display()),
        "-H",
        "X-Key: dev",
    ]);
    assert!(String::from_utf8_lossy(&output.stdout).contains(r#"{"from":"file"}"#));

    let output = inlet(&["send", &url, "--data", "{}"]);
    assert_eq!(output.status.code(), Some(1), "a 401 is a failure exit");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("HTTP/1.1 401"));

    assert_eq!(terminate(&mut child), 0);
}

#[test]
fn send_signs_with_hmac_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        r#"
[security.sig]
type = "hmac"
header = "X-Salesforce-Signature"
secrets = ["s3cret"]

[[channel]]
name = "sf"
path = "/sf"
service = "inlet.noop"
security = ["sig"]
"#,
    );
    let (mut child, address) = spawn_server(&config);
    let url = format!("http://{address}/sf");
    let signed = inlet(&[
        "send",
        &url,
        "--data",
        r#"{"type":"x"}"#,
        "--hmac-sha256",
        "s3cret",
        "--signature-header",
        "X-Salesforce-Signature",
    ]);
    assert_eq!(
        signed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&signed.stdout)
    );
    let wrong = inlet(&[
        "send",
        &url,
        "--data",
        r#"{"type":"x"}"#,
        "--hmac-sha256",
        "other",
        "--signature-header",
        "X-Salesforce-Signature",
    ]);
    assert_eq!(wrong.status.code(), Some(1));
    // --hmac-sha256 without --signature-header is a usage error.
    let usage = inlet(&["send", &url, "--data", "{}", "--hmac-sha256", "s3cret"]);
    assert_eq!(usage.status.code(), Some(2));
    assert_eq!(terminate(&mut child), 0);
}
