//! Deploying the `*.lua` files of `services_dir`: the first load at start, and every hot
//! reload after it.
//!
//! A deployment builds a new [`Generation`] from the folder as it is now, and swaps its
//! services into the registry in one step. At start every script must load, as every config
//! key must be valid. On a reload, a script that fails to load (a syntax error, an error at
//! its top level, a service name another file already uses) is logged with its file and line,
//! and the last version of it that loaded is deployed in its place, so its services keep
//! serving. A deleted file's services disappear, and channels that name them answer 503
//! until they come back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::call::LuaService;
use super::pool::{Generation, Script};
use super::state::{LuaState, StateSettings};
use crate::config::LuaConfig;
use crate::service::{DynService, Services};

/// The Lua services of one server, and what it knows about the folder they come from.
pub struct Deployment {
    dir: PathBuf,
    settings: Arc<StateSettings>,
    services: Services,
    tracked: Mutex<Tracked>,
}

#[derive(Default)]
struct Tracked {
    /// The folder's contents at the last scan, to skip reloads that would change nothing.
    seen: Vec<Script>,
    /// The last version of each file that loaded, by path.
    good: BTreeMap<String, Arc<str>>,
    current: Option<Arc<Generation>>,
    next_id: u64,
}

/// What one build of a generation produced.
struct Built {
    state: LuaState,
    used: Vec<Script>,
    names: Vec<String>,
    failures: Vec<Failure>,
}

struct Failure {
    path: String,
    /// The content that failed.
    source: Arc<str>,
    message: String,
    /// True when an earlier version of the file was deployed in its place.
    kept_previous: bool,
}

impl Deployment {
    /// Loads every script in `dir` and deploys their services into `services`. Fails, naming
    /// each file and line, if any script does not load.
    pub fn start(
        dir: &Path,
        config: &LuaConfig,
        services: Services,
    ) -> anyhow::Result<Arc<Deployment>> {
        let reserved: BTreeSet<String> = services
            .names()
            .into_iter()
            .filter(|name| services.is_fixed(name))
            .collect();
        let deployment = Deployment {
            dir: dir.to_path_buf(),
            settings: Arc::new(StateSettings {
                config: config.clone(),
                reserved,
                services_dir: dir.to_path_buf(),
            }),
            services,
            tracked: Mutex::new(Tracked::default()),
        };
        let scanned = scan(dir)
            .map_err(|err| anyhow::anyhow!("cannot read services_dir {}: {err}", dir.display()))?;
        let built = deployment
            .build(&scanned, &BTreeMap::new())
            .map_err(|message| anyhow::anyhow!(message))?;
        if !built.failures.is_empty() {
            let lines: Vec<String> = built.failures.into_iter().map(|f| f.message).collect();
            anyhow::bail!("Lua scripts failed to load:\n{}", lines.join("\n"));
        }
        let mut tracked = deployment.lock();
        tracked.seen = scanned;
        deployment.swap(&mut tracked, built);
        drop(tracked);
        Ok(Arc::new(deployment))
    }

    /// The folder the scripts come from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The names of the services the scripts define now, sorted.
    pub fn service_names(&self) -> Vec<String> {
        self.services
            .names()
            .into_iter()
            .filter(|name| !self.services.is_fixed(name))
            .collect()
    }

    /// Scans the folder again and deploys what changed. Never fails: problems are logged,
    /// and whatever cannot be loaded keeps its previous version.
    pub fn reload(&self) {
        let scanned = match scan(&self.dir) {
            Ok(scanned) => scanned,
            Err(err) => {
                tracing::error!(dir = %self.dir.display(), error = %err, "cannot read services_dir; the deployed Lua services stay");
                return;
            }
        };
        let mut tracked = self.lock();
        if tracked.seen == scanned {
            return;
        }
        let built = match self.build(&scanned, &tracked.good) {
            Ok(built) => built,
            Err(message) => {
                tracing::error!(error = %message, "cannot deploy Lua services; the deployed ones stay");
                return;
            }
        };
        let previous_scan = std::mem::replace(&mut tracked.seen, scanned);
        for failure in &built.failures {
            // A file that failed with this same content at the last scan was reported then.
            let already_reported = previous_scan
                .iter()
                .any(|seen| seen.path == failure.path && seen.source == failure.source);
            if already_reported {
                continue;
            }
            let line = line_of(&failure.message, &failure.path);
            if failure.kept_previous {
                tracing::error!(file = failure.path, line, error = %failure.message, "Lua script failed to load; its previous version keeps serving");
            } else {
                tracing::error!(file = failure.path, line, error = %failure.message, "Lua script failed to load; its services are not deployed");
            }
        }
        let unchanged = tracked
            .current
            .as_ref()
            .is_some_and(|current| current.scripts() == built.used.as_slice());
        if !unchanged {
            self.swap(&mut tracked, built);
        }
    }

    /// Loads `scanned` into a fresh state, falling back to the good version of any file
    /// that fails. Err only when no state can be created at all.
    fn build(
        &self,
        scanned: &[Script],
        good: &BTreeMap<String, Arc<str>>,
    ) -> Result<Built, String> {
        let state = LuaState::new(&self.settings)?;
        let mut built = Built {
            state,
            used: Vec::new(),
            names: Vec::new(),
            failures: Vec::new(),
        };
        for script in scanned {
            let message = match built.state.load_script(&script.path, &script.source) {
                Ok(names) => {
                    built.names.extend(names);
                    built.used.push(script.clone());
                    continue;
                }
                Err(message) => message,
            };
            let previous = good
                .get(&script.path)
                .filter(|previous| **previous != script.source);
            let mut kept_previous = false;
            if let Some(previous) = previous
                && let Ok(names) = built.state.load_script(&script.path, previous)
            {
                built.names.extend(names);
                built.used.push(Script {
                    path: script.path.clone(),
                    source: Arc::clone(previous),
                });
                kept_previous = true;
            }
            built.failures.push(Failure {
                path: script.path.clone(),
                source: Arc::clone(&script.source),
                message,
                kept_previous,
            });
        }
        Ok(built)
    }

    /// Makes `built` the current generation and puts its services in the registry.
    fn swap(&self, tracked: &mut Tracked, built: Built) {
        tracked.good = built
            .used
            .iter()
            .map(|script| (script.path.clone(), Arc::clone(&script.source)))
            .collect();
        tracked.next_id += 1;
        let generation = Generation::new(
            tracked.next_id,
            built.used,
            Arc::clone(&self.settings),
            built.state,
        );
        let before: BTreeSet<String> = tracked
            .current
            .as_ref()
            .map(|_| self.services.names().into_iter().collect())
            .unwrap_or_default();
        self.services.deploy(built.names.iter().map(|name| {
            Arc::new(LuaService::new(name.clone(), Arc::clone(&generation))) as Arc<dyn DynService>
        }));
        let after: BTreeSet<String> = built.names.iter().cloned().collect();
        let removed: Vec<&String> = before
            .iter()
            .filter(|name| !after.contains(*name) && !self.services.is_fixed(name))
            .collect();
        tracing::info!(
            generation = generation.id(),
            files = generation.scripts().len(),
            services = ?built.names,
            removed = ?removed,
            "Lua services deployed"
        );
        tracked.current = Some(generation);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.tracked.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The `*.lua` files directly in `dir`, sorted by name. Hidden files (editors' swap and
/// lock files) are skipped.
fn scan(dir: &Path) -> std::io::Result<Vec<Script>> {
    let mut scripts = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".lua") {
            continue;
        }
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        // A file that vanished between listing and reading is simply not there; the
        // watcher reports the removal and the next scan agrees.
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        scripts.push(Script {
            path: path.display().to_string(),
            source: Arc::from(String::from_utf8_lossy(&bytes).as_ref()),
        });
    }
    scripts.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(scripts)
}

/// The line number in a Lua message of the form `path:LINE: …`, for a structured log field.
fn line_of(message: &str, path: &str) -> Option<u64> {
    let rest = message.split_once(path)?.1.strip_prefix(':')?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_is_read_from_lua_messages() {
        assert_eq!(
            line_of("s/jira.lua:12: unexpected symbol near 'x'", "s/jira.lua"),
            Some(12)
        );
        assert_eq!(line_of("something else", "s/jira.lua"), None);
    }
}
