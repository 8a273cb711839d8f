//! Test helpers: a server on a real socket (port 0), an HTTP client, raw TCP, and log capture.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inlet::{App, Config};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server serving `config` on 127.0.0.1 with an OS-chosen port.
pub struct TestServer {
    _store_dir: tempfile::TempDir,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(app: App, toml: &str) -> TestServer {
        let config = Config::parse(Path::new("test.toml"), toml).expect("test config is valid");
        TestServer::start_with(app, config).await
    }

    pub async fn start_with(app: App, mut config: Config) -> TestServer {
        let store_dir = tempfile::tempdir().unwrap();
        config.set_store_path(&store_dir.path().join("inlet.db"));
        TestServer::start_with_store(app, config, store_dir).await
    }

    /// Serves `config` as it is (its store included); `store_dir` is kept until the end.
    pub async fn start_with_store(
        app: App,
        config: Config,
        store_dir: tempfile::TempDir,
    ) -> TestServer {
        let server = app.build(config).expect("test config matches the app");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
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
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The server's store, opened a second time (as `inlet events` would).
    pub async fn store(&self) -> inlet::store::Store {
        let path = self._store_dir.path().join("inlet.db");
        inlet::store::Store::open(&format!("sqlite://{}", path.display()))
            .await
            .expect("the test store opens")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends the stop signal without waiting for the server to finish.
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the server and waits (at most 15 s) until it has finished.
    pub async fn stop(mut self) {
        self.signal_stop();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("server stops within 15 s")
                .expect("server task does not panic");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Posts `body` to `path` with extra headers; returns status, headers and body text.
pub async fn post(
    server: &TestServer,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = client().post(server.url(path)).body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request is sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (status, headers, text)
}

/// The JSON of an error body, checked to have the shape `{"error": …, "cid": …}`.
pub fn error_json(text: &str) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_str(text).expect("error bodies are JSON");
    assert!(value["error"].is_string(), "{value}");
    assert!(value["cid"].is_string(), "{value}");
    value
}

/// Writes raw bytes to the server and reads the whole answer until the server closes or
/// `wait` passes.
pub async fn raw_exchange(addr: SocketAddr, parts: &[&[u8]], wait: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    for part in parts {
        if stream.write_all(part).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Captures every log line of the current thread. With a current-thread runtime, that is
/// every line the server logs, including its background jobs.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        // tracing caches, per callsite, whether any subscriber wants it. With only scoped
        // subscribers, a callsite first hit on a thread that has none is cached as unwanted
        // and a capturing thread then misses it (a span without its cid, say). A global
        // subscriber that wants everything and writes nowhere keeps every callsite live.
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let sink = tracing_subscriber::fmt()
                .with_writer(std::io::sink)
                .with_max_level(tracing::Level::DEBUG)
                .finish();
            let _ = tracing::subscriber::set_global_default(sink);
        });
        let logs = Logs::default();
        let writer = logs.clone();
        // The format `inlet serve` writes to files and pipes, so that tests read real lines.
        let subscriber = tracing_subscriber::fmt()
            .event_format(inlet::telemetry::TextFormat)
            .fmt_fields(inlet::telemetry::TextFields)
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        (logs.clone(), tracing::subscriber::set_default(subscriber))
    }

    /// Like [`Logs::capture`], with `tracing-subscriber`'s own default format: what a
    /// program that embeds Inlet with a subscriber of its own would see.
    pub fn capture_foreign() -> (Logs, tracing::subscriber::DefaultGuard) {
        drop(Logs::capture());
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        (logs.clone(), tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Waits up to 5 s for `needle` to show up in the log.
    pub async fn wait_for(&self, needle: &str) -> bool {
        for _ in 0..100 {
            if self.text().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
