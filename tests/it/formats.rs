//! Data formats: what the service sees as payload, and what is refused before it.

use crate::support::{TestServer, error_json, post};

const CONFIG: &str = r#"
[[channel]]
name = "form"
path = "/form"
data_format = "form"
service = "inlet.echo"

[[channel]]
name = "text"
path = "/text"
data_format = "text"
service = "inlet.echo"

[[channel]]
name = "xml"
path = "/xml"
data_format = "xml"
service = "inlet.echo"

[[channel]]
name = "raw"
path = "/raw"
data_format = "raw"
service = "inlet.echo"

[[channel]]
name = "json"
path = "/json"
service = "inlet.echo"
"#;

#[tokio::test]
async fn each_format_gives_its_payload_or_a_400() {
    let server = TestServer::start(inlet::App::new(), CONFIG).await;

    let (status, _, text) = post(&server, "/form", "a=1&b=two+words&a=3", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        serde_json::json!({"a": ["1", "3"], "b": "two words"})
    );

    let (status, _, text) = post(&server, "/text", "héllo", &[]).await;
    assert_eq!((status, text.as_str()), (200, "\"héllo\""));

    let (status, _, text) = post(&server, "/xml", "<a><b>1</b></a>", &[]).await;
    assert_eq!((status, text.as_str()), (200, "\"<a><b>1</b></a>\""));
    let (status, _, text) = post(&server, "/xml", "<a><b>1</a>", &[]).await;
    assert_eq!(status, 400);
    assert!(
        error_json(&text)["error"].as_str().unwrap().contains("XML"),
        "{text}"
    );

    let (status, _, text) = post(&server, "/raw", "\u{1}binary{", &[]).await;
    assert_eq!((status, text.as_str()), (200, "null"));

    // A JSON channel ignores the Content-Type that `curl -d` sends.
    let (status, _, text) = post(
        &server,
        "/json",
        r#"{"k":"v"}"#,
        &[("content-type", "application/x-www-form-urlencoded")],
    )
    .await;
    assert_eq!((status, text.as_str()), (200, r#"{"k":"v"}"#));
    // An empty JSON body is null.
    let (status, _, text) = post(&server, "/json", "", &[]).await;
    assert_eq!((status, text.as_str()), (200, "null"));
    server.stop().await;
}
