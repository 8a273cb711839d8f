//! A test server on a free port, with a service that counts its calls.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use inlet::security::Preset;
use inlet::{App, Config, Context, Request, Response, Service, ServiceError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// `test.count`: answers 200 and counts how often it ran.
pub struct Counter(pub Arc<AtomicUsize>);

impl Service for Counter {
    fn name(&self) -> &str {
        "test.count"
    }

    async fn handle(&self, _request: Request, _ctx: Context) -> Result<Response, ServiceError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Response::json(serde_json::json!({ "processed": true })))
    }
}

pub struct TestServer {
    pub base: String,
    pub calls: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _store_dir: tempfile::TempDir,
}

impl TestServer {
    /// Serves the config that `config_for(port)` writes, on a free port.
    pub async fn start(config_for: impl FnOnce(u16) -> String) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let text = config_for(port);
        let mut config = Config::parse(Path::new("inlet.toml"), &text)
            .unwrap_or_else(|err| panic!("{err}\n---\n{text}"));
        let store_dir = tempfile::tempdir().unwrap();
        config.set_store_path(&store_dir.path().join("inlet.db"));
        let calls = Arc::new(AtomicUsize::new(0));
        let server = App::new()
            .service(Counter(Arc::clone(&calls)))
            .build(config)
            .unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("the server runs");
        });
        TestServer {
            _store_dir: store_dir,
            base: format!("http://127.0.0.1:{port}"),
            calls,
            stop: Some(stop),
            task,
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// The signing secret used for `preset` in these tests.
pub fn signing_secret(preset: Preset) -> String {
    match preset {
        Preset::Discord => hex::encode([7u8; 32]),
        Preset::Sendgrid => hex::encode([9u8; 32]),
        Preset::StandardWebhooks => "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=".to_string(),
        Preset::Svix => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(),
        Preset::Servicenow => "inlet:pa55word".to_string(),
        Preset::Salesforce => ORG_ID.to_string(),
        Preset::Okta => "Bearer okta-token".to_string(),
        other => format!("{}-secret", other.name()),
    }
}

pub const ORG_ID: &str = "00D000000000062EAA";

/// A body `preset` accepts, and its content type.
pub fn body(preset: Preset) -> (&'static str, Vec<u8>) {
    match preset {
        Preset::Salesforce => (
            "text/xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{ORG_ID}</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>"#
            )
            .into_bytes(),
        ),
        Preset::Twilio => (
            "application/x-www-form-urlencoded",
            b"CallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309".to_vec(),
        ),
        Preset::Msgraph => (
            "application/json",
            br#"{"value":[{"subscriptionId":"s1","changeType":"created","n":1}]}"#.to_vec(),
        ),
        _ => (
            "application/json",
            br#"{"id":"evt_1","event_id":"evt_1","type":2,"event":{"id":"evt_1"},"data":{"n":1}}"#
                .to_vec(),
        ),
    }
}

/// A config with one channel per preset at `/hooks/<preset>`, each secured by that preset.
pub fn all_presets_config(port: u16) -> String {
    let mut text = String::new();
    for preset in Preset::ALL {
        let name = preset.name();
        let verifying =
            inlet::security::sign::verifying_secret(*preset, &signing_secret(*preset)).unwrap();
        text.push_str(&format!(
            "[[channel]]\nname = {name:?}\npath = \"/hooks/{name}\"\nmethods = [\"POST\", \"GET\"]\ndata_format = \"raw\"\nservice = \"test.count\"\nsecurity = [{name:?}]\n\n"
        ));
        text.push_str(&format!(
            "[security.{name}]\ntype = {name:?}\nsecrets = [{verifying:?}]\n"
        ));
        if matches!(preset, Preset::Twilio | Preset::Square | Preset::Hubspot) {
            text.push_str(&format!("url = \"http://127.0.0.1:{port}/hooks/{name}\"\n"));
        }
        text.push('\n');
    }
    text
}
