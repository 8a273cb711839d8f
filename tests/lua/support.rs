//! A test server on 127.0.0.1:0 with a services folder of its own, a client, and the log
//! lines the server wrote, captured so that tests can look for a cid's lines.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use inlet::{App, Config};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Every log line written by any test in this binary.
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&buffer);
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .event_format(inlet::telemetry::TextFormat)
            .fmt_fields(inlet::telemetry::TextFields)
            .with_writer(move || Capture(Arc::clone(&writer)))
            .try_init();
        buffer
    });
}

/// The captured log lines that contain every one of `needles`.
pub fn log_lines(needles: &[&str]) -> Vec<String> {
    let logs = LOGS.get().expect("init ran").lock().unwrap();
    String::from_utf8_lossy(&logs)
        .lines()
        .filter(|line| needles.iter().all(|needle| line.contains(needle)))
        .map(str::to_string)
        .collect()
}

/// Waits up to five seconds (generous, for a loaded machine) for a log line containing
/// every one of `needles`.
pub async fn wait_for_log(needles: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(line) = log_lines(needles).pop() {
            return line;
        }
        assert!(Instant::now() < deadline, "no log line with {needles:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    /// The folder of the server's scripts, when the test made one.
    pub services: PathBuf,
    _dir: Option<tempfile::TempDir>,
    _store_dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// An answer: status, cid and body as JSON (null when empty or not JSON).
pub struct Answer {
    pub status: u16,
    pub cid: String,
    pub body: Value,
}

impl TestServer {
    /// A server for `config` (TOML text, given `services_dir = "services"`), with `scripts`
    /// written into that folder first.
    pub async fn start(app: App, config: &str, scripts: &[(&str, &str)]) -> TestServer {
        init();
        let dir = tempfile::tempdir().unwrap();
        let services = dir.path().join("services");
        std::fs::create_dir(&services).unwrap();
        for (name, source) in scripts {
            std::fs::write(services.join(name), source).unwrap();
        }
        let file = dir.path().join("inlet.toml");
        std::fs::write(&file, format!("services_dir = \"services\"\n{config}")).unwrap();
        let config = Config::load(&file).unwrap_or_else(|err| panic!("{err}"));
        let mut server = TestServer::serve(app, config).await;
        server.services = services;
        server._dir = Some(dir);
        server
    }

    /// A server for the config file at `path`, as `inlet serve` would run it.
    pub async fn from_file(app: App, path: &Path) -> TestServer {
        init();
        let config = Config::load(path).unwrap_or_else(|err| panic!("{err}"));
        TestServer::serve(app, config).await
    }

    async fn serve(app: App, mut config: Config) -> TestServer {
        let store_dir = tempfile::tempdir().unwrap();
        config.set_store_path(&store_dir.path().join("inlet.db"));
        let server = app.build(config).unwrap_or_else(|err| panic!("{err:#}"));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
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
            base: format!("http://{address}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            services: PathBuf::new(),
            _dir: None,
            _store_dir: store_dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// POSTs `body` to `path` as `curl -d` would (form content type), with extra headers.
    pub async fn post(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let cid = response
            .headers()
            .get("x-inlet-cid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, cid, body }
    }

    /// Writes a script into the server's services folder (replacing it atomically, as
    /// editors do, so that the watcher never sees a half-written file).
    pub fn write_script(&self, name: &str, source: &str) {
        let temporary = self.services.join(format!(".{name}.tmp"));
        std::fs::write(&temporary, source).unwrap();
        std::fs::rename(&temporary, self.services.join(name)).unwrap();
    }

    pub fn remove_script(&self, name: &str) {
        std::fs::remove_file(self.services.join(name)).unwrap();
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
    }
}

/// Posts until `check` accepts an answer, for at most `within`; returns how long it took.
pub async fn until(
    server: &TestServer,
    path: &str,
    within: Duration,
    check: impl Fn(&Answer) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let answer = server.post(path, "{}", &[]).await;
        if check(&answer) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "not seen within {within:?}; last answer {} {}",
            answer.status,
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
