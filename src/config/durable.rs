//! `[store]`, `[workers]`, `[retry]`, `[retention]` and `[service."NAME"]`: where events and
//! jobs are kept, and how background jobs run and retry.
//!
//! The checked forms are plain data for [`crate::store`] and [`crate::jobs`], so that those
//! modules never see the TOML.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::Problem;
use super::error::line_of_span;
use super::expand::Text;
use super::units::HumanDuration;
use crate::jobs::{RetryPolicy, ServicePolicy};
use crate::store::{StoreOptions, Synchronous};

/// The store file used when the config names none, beside the config file.
pub const DEFAULT_STORE_FILE: &str = "inlet.db";

/// `[store]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub url: Option<Spanned<Text>>,
    pub synchronous: Option<Spanned<String>>,
    pub busy_timeout: Option<HumanDuration>,
}

/// `[workers]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkers {
    pub enabled: Option<bool>,
    pub concurrency: Option<Spanned<usize>>,
    pub poll_interval: Option<HumanDuration>,
    pub owner: Option<Spanned<Text>>,
}

/// `[retry]`, a channel's `retry`, or a `[service."NAME"]` table as written. Every key is
/// optional: what is not set comes from the level above (service, then `[retry]`, then the
/// built-in default).
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub max_attempts: Option<u32>,
    pub base: Option<HumanDuration>,
    pub cap: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
}

/// `[retention]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetention {
    pub events: Option<HumanDuration>,
    pub interval: Option<HumanDuration>,
}

/// `[store]`, checked.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// As `Store::open` takes it: `sqlite://PATH`, the path already resolved.
    pub url: String,
    pub options: StoreOptions,
}

/// `[workers]`, checked.
#[derive(Debug, Clone)]
pub struct WorkersConfig {
    /// False for an instance that only accepts events (another instance runs the jobs).
    pub enabled: bool,
    pub concurrency: usize,
    pub poll_interval: Duration,
    /// The lease owner; stable across restarts of one instance. `None`: derived from the
    /// host name and the config file's path.
    pub owner: Option<String>,
}

/// `[retention]`, checked.
#[derive(Debug, Clone, Copy)]
pub struct RetentionSettings {
    /// Finished events older than this are purged. Dead jobs are kept.
    pub events: Duration,
    /// How often the purge runs.
    pub interval: Duration,
}

/// How background jobs are retried: the default, and overrides per service and per channel.
#[derive(Debug, Clone, Default)]
pub struct RetryConfig {
    pub default: ServicePolicy,
    pub services: HashMap<String, ServicePolicy>,
    pub channels: HashMap<String, ServicePolicy>,
}

pub(crate) fn store_config(
    raw: RawStore,
    base_dir: &Path,
    source: &str,
    problems: &mut Vec<Problem>,
) -> StoreConfig {
    let mut options = StoreOptions::default();
    if let Some(spanned) = &raw.synchronous {
        match spanned.get_ref().to_ascii_lowercase().as_str() {
            "full" => options.synchronous = Synchronous::Full,
            "normal" => options.synchronous = Synchronous::Normal,
            other => problems.push(Problem {
                line: Some(line_of_span(source, spanned.span())),
                key: "store.synchronous".to_string(),
                message: format!(
                    "{other:?} is not a mode; use \"full\" (an acknowledged event survives a power cut) or \"normal\" (it survives a crash of the process)"
                ),
            }),
        }
    }
    if let Some(timeout) = raw.busy_timeout {
        options.busy_timeout = timeout.0;
    }
    let url = match &raw.url {
        None => sqlite_url(&base_dir.join(DEFAULT_STORE_FILE)),
        Some(spanned) => {
            let text = spanned.get_ref().as_str();
            match text.strip_prefix("sqlite://") {
                Some(path) if !path.is_empty() => sqlite_url(&base_dir.join(path)),
                _ => {
                    problems.push(Problem {
                        line: Some(line_of_span(source, spanned.span())),
                        key: "store.url".to_string(),
                        message: format!(
                            "{text:?} is not a store URL; use \"sqlite://PATH\" (relative to this file's folder)"
                        ),
                    });
                    sqlite_url(&base_dir.join(DEFAULT_STORE_FILE))
                }
            }
        }
    };
    StoreConfig { url, options }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

pub(crate) fn workers_config(
    raw: RawWorkers,
    source: &str,
    problems: &mut Vec<Problem>,
) -> WorkersConfig {
    let concurrency = match &raw.concurrency {
        Some(spanned) if *spanned.get_ref() == 0 => {
            problems.push(Problem {
                line: Some(line_of_span(source, spanned.span())),
                key: "workers.concurrency".to_string(),
                message:
                    "must be at least 1 (set `enabled = false` for an instance that runs no jobs)"
                        .to_string(),
            });
            1
        }
        Some(spanned) => *spanned.get_ref(),
        None => 64,
    };
    WorkersConfig {
        enabled: raw.enabled.unwrap_or(true),
        concurrency,
        poll_interval: raw.poll_interval.map_or(Duration::from_secs(1), |d| d.0),
        owner: raw.owner.map(|o| o.into_inner().0),
    }
}

pub(crate) fn retention(raw: RawRetention) -> RetentionSettings {
    RetentionSettings {
        events: raw.events.map_or(crate::jobs::DEFAULT_RETENTION, |d| d.0),
        interval: raw.interval.map_or(Duration::from_secs(3600), |d| d.0),
    }
}

/// `raw` on top of `below`; the error names what is wrong.
pub(crate) fn layer(raw: &RawRetry, below: &ServicePolicy) -> Result<ServicePolicy, String> {
    let policy = ServicePolicy {
        timeout: raw.timeout.map_or(below.timeout, |d| d.0),
        retry: RetryPolicy {
            max_attempts: raw.max_attempts.unwrap_or(below.retry.max_attempts),
            base: raw.base.map_or(below.retry.base, |d| d.0),
            cap: raw.cap.map_or(below.retry.cap, |d| d.0),
        },
    };
    if policy.retry.max_attempts == 0 {
        return Err("`max_attempts` must be at least 1".to_string());
    }
    if policy.retry.base.is_zero() {
        return Err("`base` must be longer than zero".to_string());
    }
    if policy.retry.cap < policy.retry.base {
        return Err(format!(
            "`cap` ({:?}) is shorter than `base` ({:?})",
            policy.retry.cap, policy.retry.base
        ));
    }
    if policy.timeout.is_zero() {
        return Err("`timeout` must be longer than zero".to_string());
    }
    Ok(policy)
}
