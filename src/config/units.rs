//! Human-friendly durations (`"30s"`, `"500ms"`, `"72h"`) and sizes (`"1MiB"`, `"512 KiB"`, `1048576`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

/// A duration written as text with a unit, as in `"30s"`, `"1m 30s"` or `"7d"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map(HumanDuration).map_err(|err| {
            de::Error::custom(format!(
                "invalid duration {text:?} ({err}): write a number with a unit, as in \"30s\", \"500ms\" or \"72h\""
            ))
        })
    }
}

/// A size in bytes, written as an integer or as text with a unit (`"1MiB"`, `"64 KiB"`, `"10MB"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: u64 = number.parse().map_err(|_| {
            format!("invalid size {text:?}: expected a number such as 1048576 or \"1MiB\"")
        })?;
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "kib" | "k" => 1 << 10,
            "mb" => 1_000_000,
            "mib" | "m" => 1 << 20,
            "gb" => 1_000_000_000,
            "gib" | "g" => 1 << 30,
            other => {
                return Err(format!(
                    "invalid size {text:?}: unknown unit {other:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
                ));
            }
        };
        number
            .checked_mul(multiplier)
            .map(ByteSize)
            .ok_or_else(|| format!("invalid size {text:?}: too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes, such as 1048576 or \"1MiB\"")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<ByteSize, E> {
                u64::try_from(value)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(value))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<ByteSize, E> {
                ByteSize::parse(value).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_and_without_units() {
        assert_eq!(ByteSize::parse("1048576").unwrap(), ByteSize(1 << 20));
        assert_eq!(ByteSize::parse("1MiB").unwrap(), ByteSize(1 << 20));
        assert_eq!(ByteSize::parse("64 KiB").unwrap(), ByteSize(64 << 10));
        assert_eq!(ByteSize::parse("10MB").unwrap(), ByteSize(10_000_000));
    }

    #[test]
    fn bad_sizes_say_what_is_wrong() {
        assert!(
            ByteSize::parse("ten")
                .unwrap_err()
                .contains("expected a number")
        );
        assert!(
            ByteSize::parse("10 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(ByteSize::parse("99999999999999999999GiB").is_err());
    }
}
