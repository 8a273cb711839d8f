//! Per-call overhead of a Lua service against the same service in Rust, without HTTP.
//!
//! Serves `bench.loop`, which invokes a target service 50 000 times and answers the CPU
//! time per call of the thread that ran the loop (from /proc, so other processes on the
//! machine do not inflate it) and the wall time per call. See `bench/overhead/`.
//!
//! ```text
//! cargo build --release --example lua_overhead
//! INLET_LOG=warn target/release/examples/lua_overhead serve --config bench/overhead/inlet.toml &
//! curl -s -X POST localhost:11260/loop -d '{"target": "lua.jira"}'
//! curl -s -X POST localhost:11260/loop -d '{"target": "webhooks.jira.receive"}'
//! ```

#[path = "seed/jira.rs"]
mod jira;

use std::time::Instant;

use inlet::{App, Context, Request, Response, Service, ServiceError};
use serde_json::json;

const CALLS: u32 = 50_000;

struct Loop;

impl Service for Loop {
    fn name(&self) -> &str {
        "bench.loop"
    }

    async fn handle(&self, request: Request, ctx: Context) -> Result<Response, ServiceError> {
        let target = request.payload()?["target"]
            .as_str()
            .ok_or_else(|| ServiceError::unprocessable("missing field `target`"))?
            .to_string();
        let payload = json!({"webhookEvent": "jira:issue_created", "issue": {"key": "PROJ-123"}});
        let started = Instant::now();
        let cpu_before = thread_cpu_ns();
        for _ in 0..CALLS {
            ctx.invoke(&target, &payload).await?;
        }
        let per_call = |total: f64| total / f64::from(CALLS);
        Ok(Response::json(json!({
            "cpu_us": thread_cpu_ns().zip(cpu_before).map(|(after, before)| per_call(after - before) / 1e3),
            "wall_us": per_call(started.elapsed().as_secs_f64() * 1e6),
        })))
    }
}

/// CPU time of the current thread, in nanoseconds (Linux only).
fn thread_cpu_ns() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn main() -> std::process::ExitCode {
    App::new().service(Loop).service(jira::JiraWebhook).main()
}
