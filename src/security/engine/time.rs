//! Timestamps as providers write them, and the tolerance window around `now`.
//!
//! Every function here is pure: the caller passes `now`, so tests pin the clock instead of
//! reading it. Times are milliseconds since the Unix epoch, because HubSpot and Linear write
//! milliseconds and a second-resolution type would round their windows.

use serde::Deserialize;

/// How a provider writes its timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeFormat {
    /// Unix seconds, digits only (Stripe, Slack, Standard Webhooks…).
    Seconds,
    /// Unix milliseconds, digits only (HubSpot, Linear).
    Milliseconds,
    /// RFC 3339, as in `2023-07-19T10:11:12.123456789Z` (Twitch).
    Rfc3339,
    /// ISO 8601 date-time: RFC 3339, also with a `+hhmm` offset (Zendesk).
    Iso8601,
}

/// The longest timestamp text accepted; anything longer is malformed, not parsed.
const MAX_TIMESTAMP_LEN: usize = 40;

impl TimeFormat {
    /// Parses `text` strictly into Unix milliseconds; `None` when it is not in this format.
    pub fn parse(self, text: &str) -> Option<i64> {
        if text.len() > MAX_TIMESTAMP_LEN {
            return None;
        }
        match self {
            TimeFormat::Seconds => digits(text)?.checked_mul(1000),
            TimeFormat::Milliseconds => digits(text),
            TimeFormat::Rfc3339 => parse_date_time(text, false),
            TimeFormat::Iso8601 => parse_date_time(text, true),
        }
    }

    /// Writes `unix_ms` as a provider would (used when signing test requests).
    pub fn format(self, unix_ms: i64) -> String {
        match self {
            TimeFormat::Seconds => unix_ms.div_euclid(1000).to_string(),
            TimeFormat::Milliseconds => unix_ms.to_string(),
            TimeFormat::Rfc3339 => format_date_time(unix_ms, true),
            TimeFormat::Iso8601 => format_date_time(unix_ms, false),
        }
    }
}

/// Where a verified timestamp lies relative to the window `now ± tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skew {
    Within,
    /// Older than the window, by this many milliseconds past `now`.
    TooOld(i64),
    /// Newer than the window, by this many milliseconds ahead of `now`.
    TooNew(i64),
}

/// Checks `timestamp` against `now` in both directions; the boundary itself is accepted,
/// as the Standard Webhooks libraries do.
pub fn skew(timestamp_ms: i64, now_ms: i64, tolerance_ms: i64) -> Skew {
    let age = now_ms.saturating_sub(timestamp_ms);
    if age > tolerance_ms {
        Skew::TooOld(age)
    } else if -age > tolerance_ms {
        Skew::TooNew(-age)
    } else {
        Skew::Within
    }
}

fn digits(text: &str) -> Option<i64> {
    // `parse` would accept a leading `+`; providers never send one.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; with `loose`, also `±HHMM` and a lower-case
/// `t`/`z`.
fn parse_date_time(text: &str, loose: bool) -> Option<i64> {
    let bytes = text.as_bytes();
    // Only ASCII is valid, and checking it first makes every byte index a char boundary.
    if bytes.len() < 20 || !text.is_ascii() {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let separator_ok = |at: usize, want: u8| bytes.get(at) == Some(&want);
    if !(separator_ok(4, b'-')
        && separator_ok(7, b'-')
        && separator_ok(13, b':')
        && separator_ok(16, b':'))
    {
        return None;
    }
    let t = bytes[10];
    if !(t == b'T' || (loose && t == b't')) {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    // A leap second (60) is allowed by RFC 3339; it counts as the next second.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 || end > 9 {
            return None;
        }
        let first_three = format!("{:0<3}", &fraction[..end.min(3)]);
        millis = first_three.parse::<i64>().ok()?;
        rest = &fraction[end..];
    }
    let offset_minutes = match rest {
        "Z" => 0,
        "z" if loose => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let zone = &rest[1..];
            let (hours, minutes) = match zone.len() {
                5 if zone.as_bytes()[2] == b':' => (&zone[..2], &zone[3..]),
                4 if loose => (&zone[..2], &zone[2..]),
                _ => return None,
            };
            let both = |s: &str| {
                s.bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| s.parse::<i64>().ok())?
            };
            let (hours, minutes) = (both(hours)?, both(minutes)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 60 + minutes)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

fn format_date_time(unix_ms: i64, nanos: bool) -> String {
    let seconds = unix_ms.div_euclid(1000);
    let millis = unix_ms.rem_euclid(1000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    let (hour, minute, second) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    let base = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if nanos {
        // Twitch writes nanoseconds; we only have milliseconds, so pad with zeros.
        format!("{base}.{millis:03}000000Z")
    } else {
        format!("{base}Z")
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_formats_are_digits_only() {
        assert_eq!(
            TimeFormat::Seconds.parse("1614265330"),
            Some(1_614_265_330_000)
        );
        assert_eq!(TimeFormat::Milliseconds.parse("15000000"), Some(15_000_000));
        for bad in ["", "+1", "-1", "1.5", " 1", "1e9", "99999999999999999999"] {
            assert_eq!(TimeFormat::Seconds.parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_with_fraction_and_offsets() {
        let zendesk = TimeFormat::Rfc3339.parse("2021-07-25T10:00:00Z").unwrap();
        assert_eq!(zendesk, 1_627_207_200_000);
        let twitch = TimeFormat::Rfc3339
            .parse("2021-07-25T10:00:00.123456789Z")
            .unwrap();
        assert_eq!(twitch, zendesk + 123);
        let offset = TimeFormat::Rfc3339
            .parse("2021-07-25T12:00:00+02:00")
            .unwrap();
        assert_eq!(offset, zendesk);
        assert_eq!(TimeFormat::Rfc3339.parse("2021-07-25T12:00:00+0200"), None);
        assert_eq!(
            TimeFormat::Iso8601.parse("2021-07-25T12:00:00+0200"),
            Some(zendesk)
        );
        for bad in [
            "2021-02-29T10:00:00Z",
            "2021-07-25 10:00:00Z",
            "2021-07-25T10:00:00",
            "2021-13-25T10:00:00Z",
            "2021-07-25T10:00:00.Z",
            "2021-07-25T10:00:00.1234567890Z",
            "２021-07-25T10:00:00Z",
        ] {
            assert_eq!(TimeFormat::Iso8601.parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for ms in [0, 1_627_207_200_123, 951_782_400_000, 4_102_444_800_000] {
            for format in [TimeFormat::Rfc3339, TimeFormat::Iso8601] {
                let text = format.format(ms);
                let back = format.parse(&text).unwrap();
                let expected = if format == TimeFormat::Iso8601 {
                    ms - ms % 1000
                } else {
                    ms
                };
                assert_eq!(back, expected, "{text}");
            }
        }
        assert_eq!(
            TimeFormat::Iso8601.format(1_627_207_200_000),
            "2021-07-25T10:00:00Z"
        );
    }

    #[test]
    fn skew_is_checked_both_ways_boundary_included() {
        assert_eq!(skew(1000, 301_000, 300_000), Skew::Within);
        assert_eq!(skew(1000, 301_001, 300_000), Skew::TooOld(300_001));
        assert_eq!(skew(301_000, 1000, 300_000), Skew::Within);
        assert_eq!(skew(301_001, 1000, 300_000), Skew::TooNew(300_001));
    }
}
