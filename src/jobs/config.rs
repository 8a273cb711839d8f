//! What the workers are told: how many jobs at once, how they claim, and each service's
//! timeout and retry policy.

use std::collections::HashMap;
use std::time::Duration;

use super::clock::Clock;
use super::retry::RetryPolicy;
use crate::store::{ClaimedJob, JobInput};

/// Timeout and retry policy for one service (or the default for all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServicePolicy {
    /// How long one attempt may run; past it the attempt fails with outcome `timeout`.
    pub timeout: Duration,
    /// Backoff base and cap. `max_attempts` here is what new jobs should be created with
    /// (see [`WorkerConfig::max_attempts`]); a job already stored keeps its own.
    pub retry: RetryPolicy,
}

impl Default for ServicePolicy {
    fn default() -> Self {
        ServicePolicy {
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// Configuration of a worker pool.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The lease owner. Keep it stable across restarts of one instance (say, derived from
    /// the host name and config path): at start the pool takes back jobs its previous run
    /// left behind instead of waiting for their leases to run out.
    pub owner: String,
    /// Jobs running at once, at most.
    pub concurrency: usize,
    /// Jobs taken per claim, at most; bounded by free slots as well.
    pub claim_batch: u32,
    /// The longest an idle pool sleeps before looking for due jobs again. Commits that make
    /// jobs due wake it at once; this covers retries coming due, expired leases and jobs
    /// enqueued by another process.
    pub poll_interval: Duration,
    /// Added to the longest service timeout to make the lease, so that a lease outlives any
    /// attempt by a healthy worker and only a lost worker lets it expire.
    pub lease_margin: Duration,
    /// On shutdown, how long running jobs may take to finish; the rest are released to be
    /// claimed again after restart.
    pub grace: Duration,
    /// The policy of services without their own.
    pub default_policy: ServicePolicy,
    /// Per-service policies, by service name.
    pub services: HashMap<String, ServicePolicy>,
    /// Per-channel policies, by channel name; they win over the service's for jobs that
    /// process an event of that channel.
    pub channels: HashMap<String, ServicePolicy>,
    pub clock: Clock,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            owner: format!("wrk_{}", uuid::Uuid::now_v7().simple()),
            concurrency: 64,
            claim_batch: 256,
            poll_interval: Duration::from_secs(1),
            lease_margin: Duration::from_secs(30),
            grace: Duration::from_secs(10),
            default_policy: ServicePolicy::default(),
            services: HashMap::new(),
            channels: HashMap::new(),
            clock: Clock::System,
        }
    }
}

impl WorkerConfig {
    /// The policy of `service`.
    pub fn policy(&self, service: &str) -> &ServicePolicy {
        self.services.get(service).unwrap_or(&self.default_policy)
    }

    /// The policy of a job: its channel's when it processes an event of a channel with
    /// one, else its service's.
    pub fn policy_for(&self, job: &ClaimedJob) -> &ServicePolicy {
        match &job.input {
            JobInput::Event(event) => self
                .channels
                .get(&event.channel)
                .unwrap_or_else(|| self.policy(&job.service)),
            JobInput::Payload(_) => self.policy(&job.service),
        }
    }

    /// What `max_attempts` a new job for `service` should be stored with.
    pub fn max_attempts(&self, service: &str) -> u32 {
        self.policy(service).retry.max_attempts
    }

    /// What `max_attempts` a new job for an event of `channel`, run by `service`, should be
    /// stored with.
    pub fn max_attempts_for_channel(&self, channel: &str, service: &str) -> u32 {
        self.channels
            .get(channel)
            .unwrap_or_else(|| self.policy(service))
            .retry
            .max_attempts
    }

    /// How long a claim's lease lasts.
    pub fn lease(&self) -> Duration {
        let longest = self
            .services
            .values()
            .chain(self.channels.values())
            .map(|policy| policy.timeout)
            .fold(self.default_policy.timeout, Duration::max);
        longest.saturating_add(self.lease_margin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_service_policy_overrides_the_default() {
        let slow = ServicePolicy {
            timeout: Duration::from_secs(300),
            retry: RetryPolicy {
                max_attempts: 3,
                ..RetryPolicy::default()
            },
        };
        let config = WorkerConfig {
            services: HashMap::from([("slow".to_string(), slow)]),
            ..WorkerConfig::default()
        };
        assert_eq!(config.policy("slow"), &slow);
        assert_eq!(config.policy("other"), &config.default_policy);
        assert_eq!(config.max_attempts("slow"), 3);
        assert_eq!(config.max_attempts("other"), 12);
        assert_eq!(
            config.lease(),
            Duration::from_secs(330),
            "longest timeout plus margin"
        );
    }
}
