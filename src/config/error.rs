//! Config errors that name the file, the line and the key, and say what is wrong.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the offending value, when known.
    pub line: Option<usize>,
    /// Dotted path of the key, as in `channel[2].service` or `security.github.secrets`.
    pub key: String,
    pub message: String,
}

/// Everything wrong with a config file; `inlet check` prints all of it.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl ConfigError {
    pub(crate) fn single(file: &Path, line: Option<usize>, key: &str, message: String) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            problems: vec![Problem {
                line,
                key: key.to_string(),
                message,
            }],
        }
    }

    /// Wraps the TOML parser's error, which knows the line but not always the key.
    pub(crate) fn from_toml(file: &Path, source: &str, err: toml::de::Error) -> Self {
        let line = err.span().map(|span| line_of(source, span.start));
        // The parser's own message repeats the line with a caret; keep only the explanation,
        // and name the key (or the table) written on the offending line.
        let message = err.message().trim().to_string();
        let key = line
            .and_then(|line| source.lines().nth(line - 1))
            .map(key_on_line)
            .unwrap_or_default();
        ConfigError::single(file, line, &key, message)
    }
}

/// The key assigned on a TOML line (`service = 4` gives `service`), or the table header.
fn key_on_line(line: &str) -> String {
    let line = line.trim();
    if line.starts_with('[') {
        return line
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string();
    }
    match line.split_once('=') {
        Some((key, _)) => key.trim().trim_matches('"').to_string(),
        None => String::new(),
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        if count > 1 {
            writeln!(f, "{}: {count} problems", self.file.display())?;
        }
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file.display())?;
            if let Some(line) = problem.line {
                write!(f, ":{line}")?;
            }
            if problem.key.is_empty() {
                write!(f, ": {}", problem.message)?;
            } else {
                write!(f, ": `{}`: {}", problem.key, problem.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The 1-based line on which byte `offset` of `source` sits.
pub(crate) fn line_of(source: &str, offset: usize) -> usize {
    let offset = offset.min(source.len());
    source.as_bytes()[..offset]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

/// The 1-based line of a span, for values wrapped in `toml::Spanned`.
pub(crate) fn line_of_span(source: &str, span: Range<usize>) -> usize {
    line_of(source, span.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_count_from_one() {
        let text = "a\nb\nc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 4), 3);
        assert_eq!(line_of(text, 99), 3);
    }

    #[test]
    fn display_names_file_line_and_key() {
        let err = ConfigError::single(
            Path::new("inlet.toml"),
            Some(7),
            "channel[0].service",
            "no service named `x`".to_string(),
        );
        assert_eq!(
            err.to_string(),
            "inlet.toml:7: `channel[0].service`: no service named `x`"
        );
    }
}
