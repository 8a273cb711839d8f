//! The counters behind `/metrics`, in the Prometheus text format.
//!
//! Hand-written rather than taken from the `metrics` crate: every request increments a
//! counter, and here that is one relaxed atomic add in a table indexed by channel and status,
//! where a keyed registry would build and hash a label set per request. The rarer events
//! (security rejections, job attempts) go through a mutex-guarded map.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Statuses 100 to 599 each get a counter.
const FIRST_STATUS: u16 = 100;
const STATUSES: usize = 500;

/// How a background job's attempt ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AttemptOutcome {
    Succeeded,
    Failed,
    FailedPermanently,
}

impl AttemptOutcome {
    fn label(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::FailedPermanently => "failed_permanently",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Metrics {
    channels: Vec<String>,
    /// One row of [`STATUSES`] counters per channel, then one for requests no channel served.
    requests: Box<[AtomicU64]>,
    rejections: Mutex<BTreeMap<(String, &'static str), u64>>,
    attempts: Mutex<BTreeMap<(String, AttemptOutcome), u64>>,
}

impl Metrics {
    /// Counters for the channels named, in the order of their indexes.
    pub fn new(channels: Vec<String>) -> Metrics {
        let requests = (0..(channels.len() + 1) * STATUSES)
            .map(|_| AtomicU64::new(0))
            .collect();
        Metrics {
            channels,
            requests,
            rejections: Mutex::default(),
            attempts: Mutex::default(),
        }
    }

    /// Counts a request answered with `status`, by the channel at `channel` (an index into
    /// the names given to [`Metrics::new`]) or by none (404, 405).
    pub fn request(&self, channel: Option<usize>, status: u16) {
        let row = channel
            .filter(|index| *index < self.channels.len())
            .unwrap_or(self.channels.len());
        let column = usize::from(status.saturating_sub(FIRST_STATUS)).min(STATUSES - 1);
        self.requests[row * STATUSES + column].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request that a security definition rejected, by the check that failed.
    pub fn rejection(&self, definition: &str, check: &'static str) {
        let mut rejections = self.rejections.lock().unwrap_or_else(|e| e.into_inner());
        *rejections
            .entry((definition.to_string(), check))
            .or_default() += 1;
    }

    /// Counts one attempt of a background job of `service`.
    pub fn attempt(&self, service: &str, outcome: AttemptOutcome) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        *attempts.entry((service.to_string(), outcome)).or_default() += 1;
    }

    /// Every counter, in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP inlet_build_info The running version of Inlet.\n");
        out.push_str("# TYPE inlet_build_info gauge\n");
        let _ = writeln!(
            out,
            "inlet_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );

        out.push_str(
            "# HELP inlet_requests_total Requests answered, by channel (empty when none matched) and status.\n",
        );
        out.push_str("# TYPE inlet_requests_total counter\n");
        for (row, counters) in self.requests.chunks(STATUSES).enumerate() {
            let channel = self.channels.get(row).map(String::as_str).unwrap_or("");
            for (column, counter) in counters.iter().enumerate() {
                let count = counter.load(Ordering::Relaxed);
                if count > 0 {
                    let status = usize::from(FIRST_STATUS) + column;
                    let _ = writeln!(
                        out,
                        "inlet_requests_total{{channel=\"{}\",status=\"{status}\"}} {count}",
                        Escaped(channel)
                    );
                }
            }
        }

        out.push_str(
            "# HELP inlet_security_rejections_total Requests a security definition rejected, by the check that failed.\n",
        );
        out.push_str("# TYPE inlet_security_rejections_total counter\n");
        let rejections = self.rejections.lock().unwrap_or_else(|e| e.into_inner());
        for ((definition, check), count) in rejections.iter() {
            let _ = writeln!(
                out,
                "inlet_security_rejections_total{{definition=\"{}\",check=\"{check}\"}} {count}",
                Escaped(definition)
            );
        }
        drop(rejections);

        out.push_str(
            "# HELP inlet_job_attempts_total Attempts of background jobs, by service and outcome.\n",
        );
        out.push_str("# TYPE inlet_job_attempts_total counter\n");
        let attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        for ((service, outcome), count) in attempts.iter() {
            let _ = writeln!(
                out,
                "inlet_job_attempts_total{{service=\"{}\",outcome=\"{}\"}} {count}",
                Escaped(service),
                outcome.label()
            );
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped, as the text format requires.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for ch in self.0.chars() {
            match ch {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                ch => f.write_char(ch)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_by_label_and_skip_zeroes() {
        let metrics = Metrics::new(vec!["jira".to_string(), "odd \"name\"".to_string()]);
        metrics.request(Some(0), 200);
        metrics.request(Some(0), 200);
        metrics.request(Some(0), 401);
        metrics.request(Some(1), 202);
        metrics.request(None, 404);
        // Out-of-range values are counted at the edges rather than lost or panicking.
        metrics.request(Some(7), 42);
        metrics.rejection("github", "no_match");
        metrics.rejection("github", "no_match");
        metrics.attempt("servicenow.incident.process", AttemptOutcome::Succeeded);
        metrics.attempt("x", AttemptOutcome::FailedPermanently);
        let text = metrics.render();
        for line in [
            "inlet_requests_total{channel=\"jira\",status=\"200\"} 2",
            "inlet_requests_total{channel=\"jira\",status=\"401\"} 1",
            "inlet_requests_total{channel=\"odd \\\"name\\\"\",status=\"202\"} 1",
            "inlet_requests_total{channel=\"\",status=\"404\"} 1",
            "inlet_requests_total{channel=\"\",status=\"100\"} 1",
            "inlet_security_rejections_total{definition=\"github\",check=\"no_match\"} 2",
            "inlet_job_attempts_total{service=\"servicenow.incident.process\",outcome=\"succeeded\"} 1",
            "inlet_job_attempts_total{service=\"x\",outcome=\"failed_permanently\"} 1",
            "# TYPE inlet_requests_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("status=\"500\""), "{text}");
    }
}
