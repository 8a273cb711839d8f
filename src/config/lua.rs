//! `services_dir` and `[lua]`: where Lua services are deployed from, and the limits every
//! Lua state runs under.
//!
//! The limits exist because a script is code that an operator drops into a folder while the
//! server runs: a mistake in it (an endless loop, a table that grows forever) must cost one
//! request, never the process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::Problem;
use super::error::line_of_span;
use super::expand::Text;
use super::units::{ByteSize, HumanDuration};

/// Standard libraries that scripts get only when `[lua] grant` names them.
pub const GRANTABLE: [&str; 5] = ["os", "io", "package", "debug", "native"];

/// `[lua]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLua {
    pub states: Option<Spanned<usize>>,
    pub max_instructions: Option<Spanned<u64>>,
    pub time_limit: Option<HumanDuration>,
    pub memory_limit: Option<Spanned<ByteSize>>,
    #[serde(default)]
    pub grant: Vec<Spanned<String>>,
}

/// Extra standard libraries granted to scripts. All are off by default: a webhook handler
/// needs none of them, and each one opens a way out of the sandbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants {
    /// `os`: clock, environment, `os.execute`, `os.remove`, `os.exit`.
    pub os: bool,
    /// `io`: files and processes (`io.popen`).
    pub io: bool,
    /// `package` and `require`, limited to Lua files in the services folder.
    pub package: bool,
    /// `debug`: can read and change any local, upvalue and metatable.
    pub debug: bool,
    /// C modules through `require` and `package.loadlib`; implies `package`.
    pub native: bool,
}

/// `[lua]`, checked: how Lua services run.
#[derive(Debug, Clone)]
pub struct LuaConfig {
    /// Lua states per deployed version of the scripts. A request holds one state while its
    /// Lua service runs, so this caps how many Lua calls run at once.
    pub states: usize,
    /// Lua VM instructions one call may execute, nested calls included.
    pub max_instructions: u64,
    /// Time one call may spend running Lua; time spent waiting in `invoke` does not count.
    pub time_limit: Duration,
    /// Memory one Lua state may hold, in bytes.
    pub memory_limit: usize,
    pub grants: Grants,
}

impl Default for LuaConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        LuaConfig {
            // States wait in `invoke` as well as run, so more states than cores keeps every
            // core busy; they are created on demand, so an idle server pays for one.
            states: (cores * 2).max(4),
            max_instructions: 10_000_000,
            time_limit: Duration::from_secs(1),
            memory_limit: 64 << 20,
            grants: Grants::default(),
        }
    }
}

/// Checks `[lua]`, adding what is wrong to `problems`.
pub(crate) fn lua_config(raw: RawLua, source: &str, problems: &mut Vec<Problem>) -> LuaConfig {
    let mut config = LuaConfig::default();
    let line = |span: std::ops::Range<usize>| Some(line_of_span(source, span));
    if let Some(states) = raw.states {
        if *states.get_ref() == 0 {
            problems.push(Problem {
                line: line(states.span()),
                key: "lua.states".to_string(),
                message: "must be at least 1".to_string(),
            });
        } else {
            config.states = *states.get_ref();
        }
    }
    if let Some(max) = raw.max_instructions {
        if *max.get_ref() < 1000 {
            problems.push(Problem {
                line: line(max.span()),
                key: "lua.max_instructions".to_string(),
                message: "must be at least 1000".to_string(),
            });
        } else {
            config.max_instructions = *max.get_ref();
        }
    }
    if let Some(limit) = raw.time_limit {
        config.time_limit = limit.0;
    }
    if let Some(memory) = raw.memory_limit {
        // Below this the standard library and the prelude do not fit.
        const FLOOR: u64 = 1 << 20;
        match usize::try_from(memory.get_ref().0) {
            Ok(bytes) if bytes as u64 >= FLOOR => config.memory_limit = bytes,
            _ => problems.push(Problem {
                line: line(memory.span()),
                key: "lua.memory_limit".to_string(),
                message: "must be at least 1MiB".to_string(),
            }),
        }
    }
    for grant in &raw.grant {
        let flag = match grant.get_ref().as_str() {
            "os" => &mut config.grants.os,
            "io" => &mut config.grants.io,
            "package" => &mut config.grants.package,
            "debug" => &mut config.grants.debug,
            "native" => &mut config.grants.native,
            other => {
                problems.push(Problem {
                    line: line(grant.span()),
                    key: "lua.grant".to_string(),
                    message: format!(
                        "{other:?} cannot be granted; choose from {}",
                        GRANTABLE.join(", ")
                    ),
                });
                continue;
            }
        };
        *flag = true;
    }
    if config.grants.native {
        config.grants.package = true;
    }
    config
}

/// Resolves `services_dir` against the config file's folder and checks that it is a folder.
pub(crate) fn services_dir(
    raw: Option<Spanned<Text>>,
    base_dir: &Path,
    source: &str,
    problems: &mut Vec<Problem>,
) -> Option<PathBuf> {
    let raw = raw?;
    let line = Some(line_of_span(source, raw.span()));
    let written = raw.into_inner().0;
    if written.trim().is_empty() {
        problems.push(Problem {
            line,
            key: "services_dir".to_string(),
            message: "give the folder that holds the *.lua services, as in \"services\""
                .to_string(),
        });
        return None;
    }
    let dir = base_dir.join(&written);
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        problems.push(Problem {
            line,
            key: "services_dir".to_string(),
            message: format!(
                "{written:?} ({}) {what}; create it, or fix the path (it is relative to the config file's folder)",
                dir.display()
            ),
        });
        return None;
    }
    Some(dir)
}
