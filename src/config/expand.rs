//! `${env:NAME}`, `${env:NAME:-default}` and `${file:PATH}` expansion for config values.
//!
//! Expansion happens while the TOML is deserialised, inside the `Deserialize` impls of
//! [`Text`] and [`Secret`], so that an error (an unset variable, an unreadable file) is
//! reported by the TOML parser at the line and column of the value that caused it. The
//! folder that relative `${file:…}` paths resolve against is passed through a thread-local
//! that [`with_base_dir`] sets for the duration of one parse; outside such a parse, relative
//! paths resolve against the process's working directory.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

thread_local! {
    static BASE_DIR: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// Runs `parse` with `base_dir` as the folder that relative `${file:…}` paths resolve against.
pub(crate) fn with_base_dir<T>(base_dir: &Path, parse: impl FnOnce() -> T) -> T {
    let previous = BASE_DIR.with(|dir| dir.replace(Some(base_dir.to_path_buf())));
    let result = parse();
    BASE_DIR.with(|dir| *dir.borrow_mut() = previous);
    result
}

fn current_base_dir() -> PathBuf {
    BASE_DIR
        .with(|dir| dir.borrow().clone())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Expands every `${…}` reference in `input`.
///
/// `lookup_env` is a parameter so that tests need not touch the process environment.
/// A literal `$` that is not followed by `{` is kept as it is, and `$${` escapes a `${`.
pub fn expand(
    input: &str,
    base_dir: &Path,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(escaped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = escaped;
            continue;
        }
        let Some(body_and_rest) = after.strip_prefix("${") else {
            out.push('$');
            rest = &after[1..];
            continue;
        };
        let Some(end) = body_and_rest.find('}') else {
            return Err(format!("unterminated `${{` in {input:?}: expected `}}`"));
        };
        let reference = &body_and_rest[..end];
        out.push_str(&resolve(reference, base_dir, lookup_env)?);
        rest = &body_and_rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(
    reference: &str,
    base_dir: &Path,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    if let Some(spec) = reference.strip_prefix("env:") {
        let (name, default) = match spec.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (spec, None),
        };
        if name.is_empty() {
            return Err("`${env:}` needs a variable name, as in `${env:NAME}`".to_string());
        }
        return match (lookup_env(name), default) {
            (Some(value), _) => Ok(value),
            (None, Some(default)) => Ok(default.to_string()),
            (None, None) => Err(format!(
                "environment variable {name} is not set (give a default with `${{env:{name}:-…}}`)"
            )),
        };
    }
    if let Some(path) = reference.strip_prefix("file:") {
        if path.is_empty() {
            return Err("`${file:}` needs a path, as in `${file:secrets/github}`".to_string());
        }
        let full = base_dir.join(path);
        let contents = std::fs::read_to_string(&full)
            .map_err(|err| format!("cannot read {}: {err}", full.display()))?;
        // Secret files are usually written by `echo`, which adds a newline that is not part of the secret.
        return Ok(contents.trim_end_matches(['\n', '\r']).to_string());
    }
    Err(format!(
        "unknown reference `${{{reference}}}`: use `${{env:NAME}}`, `${{env:NAME:-default}}` or `${{file:PATH}}`"
    ))
}

fn expand_for_deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let raw = String::deserialize(deserializer)?;
    expand(&raw, &current_base_dir(), &|name| std::env::var(name).ok())
        .map_err(serde::de::Error::custom)
}

/// A config string in which `${env:…}` and `${file:…}` references have been expanded.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(pub String);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        expand_for_deserialize(deserializer).map(Text)
    }
}

/// A secret from the config: expanded like [`Text`], but never shown by `Debug` or `Display`.
///
/// The only way to read it is [`Secret::expose`], so every place that touches key material
/// is easy to find.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret's text. Callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"***\")")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        expand_for_deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr3t".to_string()),
            _ => None,
        }
    }

    fn expand_here(input: &str) -> Result<String, String> {
        expand(input, Path::new("/nonexistent"), &env)
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(expand_here("a $ b").unwrap(), "a $ b");
    }

    #[test]
    fn env_references_expand_with_and_without_defaults() {
        assert_eq!(expand_here("x-${env:TOKEN}-y").unwrap(), "x-s3cr3t-y");
        assert_eq!(expand_here("${env:MISSING:-fallback}").unwrap(), "fallback");
        assert_eq!(expand_here("${env:TOKEN:-fallback}").unwrap(), "s3cr3t");
        assert_eq!(expand_here("${env:MISSING:-}").unwrap(), "");
    }

    #[test]
    fn unset_variable_without_default_is_an_error_naming_it() {
        let err = expand_here("${env:MISSING}").unwrap_err();
        assert!(err.contains("MISSING"), "{err}");
    }

    #[test]
    fn escaped_reference_is_kept_literally() {
        assert_eq!(expand_here("$${env:TOKEN}").unwrap(), "${env:TOKEN}");
    }

    #[test]
    fn unknown_and_unterminated_references_are_errors() {
        assert!(
            expand_here("${vault:x}")
                .unwrap_err()
                .contains("unknown reference")
        );
        assert!(
            expand_here("${env:TOKEN")
                .unwrap_err()
                .contains("unterminated")
        );
    }

    #[test]
    fn file_reference_reads_relative_to_base_dir_and_trims_newline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), "abc\n").unwrap();
        assert_eq!(expand("${file:key}", dir.path(), &env).unwrap(), "abc");
        let err = expand("${file:nope}", dir.path(), &env).unwrap_err();
        assert!(err.contains("cannot read"), "{err}");
    }

    #[test]
    fn secret_debug_hides_the_value() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(\"***\")");
    }
}
