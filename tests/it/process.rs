//! The real `inlet` binary as a child process: start it on a free port, stop it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const INLET: &str = env!("CARGO_BIN_EXE_inlet");

/// Starts `inlet serve` on a free port and returns the child and its address.
pub fn spawn_server(config: &str) -> (Child, String) {
    let mut child = Command::new(INLET)
        .args(["serve", "--config", config, "--listen", "127.0.0.1:0"])
        .env("INLET_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("address=").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let address = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the server logs its address");
    (child, address)
}

pub fn terminate(child: &mut Child) -> i32 {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop within 15 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
