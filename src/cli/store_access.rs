//! What the store commands share: opening the store a config names, and reading and
//! writing times.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};

use crate::config::Config;
use crate::security::unix_millis;
use crate::store::{Store, UnixMs};

/// Opens the store of the config at `path`. Works while a server uses the same store.
pub(super) async fn open(path: &std::path::Path) -> anyhow::Result<Store> {
    let config = Config::load(path).map_err(|err| anyhow::anyhow!("{err}"))?;
    Store::open_with(&config.store.url, &config.store.options)
        .await
        .with_context(|| format!("cannot open the store at {}", config.store.url))
}

/// A point in time given as RFC 3339 (`2026-11-26T10:00:00Z`) or as a duration ago
/// (`90m`, `2h`, `7d`).
pub(super) fn parse_since(text: &str) -> Result<UnixMs, String> {
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(unix_millis(time));
    }
    match humantime::parse_duration(text) {
        Ok(ago) => Ok(unix_millis(SystemTime::now()) - millis(ago)),
        Err(_) => Err(format!(
            "{text:?} is neither a time such as 2026-11-26T10:00:00Z nor a duration ago such as 2h or 7d"
        )),
    }
}

pub(super) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A Unix time in milliseconds as RFC 3339, UTC.
pub(super) fn format_time(ms: UnixMs) -> String {
    let Ok(ms) = u64::try_from(ms) else {
        return ms.to_string();
    };
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

pub(super) fn require_yes(yes: bool, what: &str) -> anyhow::Result<()> {
    if !yes {
        bail!("{what} cannot be undone; add --yes to confirm");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_times_and_durations_ago() {
        assert_eq!(parse_since("1970-01-01T00:00:01Z").unwrap(), 1000);
        let two_hours_ago = parse_since("2h").unwrap();
        let expected = unix_millis(SystemTime::now()) - 7_200_000;
        assert!((two_hours_ago - expected).abs() < 5_000);
        assert!(parse_since("yesterday").unwrap_err().contains("yesterday"));
    }

    #[test]
    fn times_print_as_rfc3339() {
        assert_eq!(format_time(1500), "1970-01-01T00:00:01.500Z");
    }
}
