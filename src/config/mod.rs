//! Configuration: one TOML file, read in two phases.
//!
//! [`raw`] mirrors the file with serde and rejects unknown keys; [`Config::parse`] then checks
//! the whole of it (paths, methods, security references, collisions, CIDRs) and builds the
//! parts that are used at run time: the routing table and the security verifiers. Every
//! error names the file, the line and the key. Checks that need to know which services exist
//! run later, in [`Config::check_services`], because services are registered by the binary.

pub mod delivery;
pub mod durable;
pub mod error;
pub mod expand;
pub mod lua;
mod raw;
pub mod units;
pub mod user;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::routes::{RouteSpec, RouteTable};
use crate::security::SecurityDef;

pub use self::delivery::{DedupRule, DedupSource, Mode};
pub use self::durable::{RetentionSettings, RetryConfig, StoreConfig, WorkersConfig};
use self::error::line_of_span;
pub use self::error::{ConfigError, Problem};
pub use self::lua::{Grants, LuaConfig};
pub use self::user::UserConfig;
pub use crate::format::DataFormat;

/// The address served when neither the file nor `--listen` names one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:11223";
/// The largest body accepted when neither the server nor the channel sets `max_body`.
pub const DEFAULT_MAX_BODY: u64 = 1 << 20;

/// `[server]`: the listener and its limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where `/metrics`, `/healthz` and `/readyz` are served; none unless configured.
    pub admin_listen: Option<SocketAddr>,
    /// Default body limit for channels that set none.
    pub max_body: u64,
    /// How long a client may take to send the request line and headers.
    pub header_read_timeout: Duration,
    /// How long a client may take to send the body.
    pub body_read_timeout: Duration,
    /// How long a sync service may run before the client gets 504.
    pub service_timeout: Duration,
    /// How long in-flight requests may take to finish after a stop signal.
    pub shutdown_grace: Duration,
    /// Connections served at once; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
}

/// One `[[channel]]`, checked.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub name: String,
    pub path: String,
    pub methods: Vec<Method>,
    pub data_format: DataFormat,
    pub service: String,
    pub security: Vec<Arc<SecurityDef>>,
    pub max_body: u64,
    /// Sync (answer with the service's response) or async (store, 202, run later).
    pub mode: Mode,
    /// Which deliveries count as one event; async channels only.
    pub dedup: Option<DedupRule>,
    /// Line of `service = …`, to report a service that does not exist.
    service_line: usize,
}

/// A whole config file, checked and ready to serve.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub server: ServerConfig,
    pub channels: Vec<ChannelConfig>,
    pub security: BTreeMap<String, Arc<SecurityDef>>,
    pub user: UserConfig,
    /// The folder of Lua services (`services_dir`), resolved; `None` when Lua is not used.
    pub services_dir: Option<PathBuf>,
    /// `[lua]`: limits and grants for Lua services.
    pub lua: LuaConfig,
    /// `[store]`: where events and jobs are kept.
    pub store: StoreConfig,
    /// `[workers]`: the pool that runs background jobs.
    pub workers: WorkersConfig,
    /// `[retry]`, `[service."NAME"]` and channels' `retry`: timeouts and retries of jobs.
    pub retry: RetryConfig,
    /// `[retention]`: how long finished events are kept.
    pub retention: RetentionSettings,
    /// Line of each `[service."NAME"]` table, to report one naming an unknown service.
    service_policy_lines: BTreeMap<String, usize>,
    pub(crate) routes: Arc<RouteTable>,
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let source = std::fs::read_to_string(path).map_err(|err| {
            ConfigError::single(
                path,
                None,
                "",
                format!("cannot read the config file: {err}"),
            )
        })?;
        Config::parse(path, &source)
    }

    /// Checks `source` as if it were the contents of `file`; relative paths in it resolve
    /// against `file`'s folder.
    pub fn parse(file: &Path, source: &str) -> Result<Config, ConfigError> {
        let base_dir = file.parent().unwrap_or(Path::new("."));
        let raw: raw::RawConfig = expand::with_base_dir(base_dir, || toml::from_str(source))
            .map_err(|err| ConfigError::from_toml(file, source, err))?;
        let mut problems = Vec::new();
        let line = |span: std::ops::Range<usize>| Some(line_of_span(source, span));

        let server = server_config(raw.server, source, &mut problems);
        let services_dir = lua::services_dir(raw.services_dir, base_dir, source, &mut problems);
        let lua = lua::lua_config(raw.lua, source, &mut problems);
        let store = durable::store_config(raw.store, base_dir, source, &mut problems);
        let workers = durable::workers_config(raw.workers, source, &mut problems);
        let retention = durable::retention(raw.retention);
        let mut retry = RetryConfig::default();
        match durable::layer(&raw.retry, &retry.default) {
            Ok(policy) => retry.default = policy,
            Err(message) => problems.push(Problem {
                line: None,
                key: "retry".to_string(),
                message,
            }),
        }
        let mut service_policy_lines = BTreeMap::new();
        for (name, spanned) in &raw.service {
            service_policy_lines.insert(name.clone(), line_of_span(source, spanned.span()));
            match durable::layer(spanned.get_ref(), &retry.default) {
                Ok(policy) => {
                    retry.services.insert(name.clone(), policy);
                }
                Err(message) => problems.push(Problem {
                    line: line(spanned.span()),
                    key: format!("service.\"{name}\""),
                    message,
                }),
            }
        }

        let mut security = BTreeMap::new();
        for (name, spanned) in &raw.security {
            match SecurityDef::build(name, spanned.get_ref()) {
                Ok(def) => {
                    security.insert(name.clone(), Arc::new(def));
                }
                Err(message) => problems.push(Problem {
                    line: line(spanned.span()),
                    key: format!("security.{name}"),
                    message,
                }),
            }
        }

        let mut channels = Vec::with_capacity(raw.channels.len());
        let mut seen_names: BTreeMap<String, usize> = BTreeMap::new();
        for (index, spanned) in raw.channels.into_iter().enumerate() {
            let key = |field: &str| format!("channel[{index}].{field}");
            let channel = spanned.into_inner();
            let name = channel.name.get_ref().trim().to_string();
            if name.is_empty() {
                problems.push(Problem {
                    line: line(channel.name.span()),
                    key: key("name"),
                    message: "a channel needs a non-empty name".to_string(),
                });
            } else if let Some(first) = seen_names.insert(name.clone(), index) {
                problems.push(Problem {
                    line: line(channel.name.span()),
                    key: key("name"),
                    message: format!("channel name `{name}` is already used by channel[{first}]"),
                });
            }
            let methods = match &channel.methods {
                None => vec![Method::POST],
                Some(spanned) => {
                    let parsed = parse_methods(spanned.get_ref());
                    match parsed {
                        Ok(methods) => methods,
                        Err(message) => {
                            problems.push(Problem {
                                line: line(spanned.span()),
                                key: key("methods"),
                                message,
                            });
                            Vec::new()
                        }
                    }
                }
            };
            let mut defs = Vec::new();
            for reference in &channel.security {
                match security.get(reference.get_ref()) {
                    Some(def) => defs.push(Arc::clone(def)),
                    None if raw.security.contains_key(reference.get_ref()) => {} // reported above
                    None => problems.push(Problem {
                        line: line(reference.span()),
                        key: key("security"),
                        message: format!(
                            "security definition `{}` is not defined; add a [security.{}] table{}",
                            reference.get_ref(),
                            reference.get_ref(),
                            known_list(raw.security.keys()),
                        ),
                    }),
                }
            }
            let service = channel.service.get_ref().trim().to_string();
            if service.is_empty() {
                problems.push(Problem {
                    line: line(channel.service.span()),
                    key: key("service"),
                    message: "a channel needs the name of a service".to_string(),
                });
            }
            let dedup = match (&channel.dedup, channel.mode) {
                (Some(spanned), Mode::Sync) => {
                    problems.push(Problem {
                        line: line(spanned.span()),
                        key: key("dedup"),
                        message: "dedup needs `mode = \"async\"`: a sync channel cannot record a delivery before its service has finished, so a failed first try would turn the provider's retry into a lost event".to_string(),
                    });
                    None
                }
                (Some(spanned), Mode::Async) => match spanned.get_ref() {
                    delivery::RawDedup::Off => None,
                    delivery::RawDedup::Rule(rule) => Some(rule.clone()),
                },
                // An async channel behind a provider preset deduplicates on the provider's
                // delivery id unless told otherwise.
                (None, Mode::Async) if !defs.is_empty() => Some(DedupRule {
                    source: DedupSource::Provider,
                    window: crate::store::DEFAULT_DEDUP_WINDOW,
                }),
                (None, _) => None,
            };
            if let Some(spanned) = &channel.retry {
                if channel.mode == Mode::Sync {
                    problems.push(Problem {
                        line: line(spanned.span()),
                        key: key("retry"),
                        message: "retry needs `mode = \"async\"`: a sync channel's service runs once, while the client waits".to_string(),
                    });
                } else {
                    let below = retry.services.get(&service).unwrap_or(&retry.default);
                    match durable::layer(spanned.get_ref(), below) {
                        Ok(policy) => {
                            retry.channels.insert(name.clone(), policy);
                        }
                        Err(message) => problems.push(Problem {
                            line: line(spanned.span()),
                            key: key("retry"),
                            message,
                        }),
                    }
                }
            }
            channels.push((
                line(channel.path.span()),
                ChannelConfig {
                    name,
                    path: channel.path.get_ref().clone(),
                    methods,
                    data_format: channel.data_format,
                    service,
                    security: defs,
                    max_body: channel.max_body.map(|s| s.0).unwrap_or(server.max_body),
                    mode: channel.mode,
                    dedup,
                    service_line: line_of_span(source, channel.service.span()),
                },
            ));
        }

        let names: Vec<&str> = channels.iter().map(|(_, c)| c.name.as_str()).collect();
        let routes = RouteTable::build(
            channels.iter().map(|(_, c)| RouteSpec {
                path: &c.path,
                methods: &c.methods,
            }),
            &names,
        );
        let routes = match routes {
            Ok(routes) => Some(routes),
            Err(conflicts) => {
                for conflict in conflicts {
                    problems.push(Problem {
                        line: channels[conflict.channel].0,
                        key: format!("channel[{}].path", conflict.channel),
                        message: conflict.message,
                    });
                }
                None
            }
        };

        match routes {
            Some(routes) if problems.is_empty() => Ok(Config {
                file: file.to_path_buf(),
                server,
                channels: channels.into_iter().map(|(_, c)| c).collect(),
                security,
                user: UserConfig::new(raw.config),
                services_dir,
                lua,
                store,
                workers,
                retry,
                retention,
                service_policy_lines,
                routes: Arc::new(routes),
            }),
            _ => {
                problems.sort_by_key(|p| p.line);
                Err(ConfigError {
                    file: file.to_path_buf(),
                    problems,
                })
            }
        }
    }

    /// Keeps events and jobs in the SQLite file at `path` (tests and tools point a config at
    /// a temporary store this way).
    pub fn set_store_path(&mut self, path: &Path) {
        self.store.url = format!("sqlite://{}", path.display());
    }

    /// Checks that every channel's service is one that `is_known` recognises.
    pub fn check_services(
        &self,
        is_known: impl Fn(&str) -> bool,
        known: &[&str],
    ) -> Result<(), ConfigError> {
        let mut problems: Vec<Problem> = self
            .channels
            .iter()
            .enumerate()
            .filter(|(_, channel)| !is_known(&channel.service))
            .map(|(index, channel)| Problem {
                line: Some(channel.service_line),
                key: format!("channel[{index}].service"),
                message: format!(
                    "channel `{}` names service `{}`, which is not registered{}",
                    channel.name,
                    channel.service,
                    known_list(known.iter())
                ),
            })
            .collect();
        for (name, line) in &self.service_policy_lines {
            if !is_known(name) {
                problems.push(Problem {
                    line: Some(*line),
                    key: format!("service.\"{name}\""),
                    message: format!(
                        "retry settings for service `{name}`, which is not registered{}",
                        known_list(known.iter())
                    ),
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                file: self.file.clone(),
                problems,
            })
        }
    }
}

fn server_config(raw: raw::RawServer, source: &str, problems: &mut Vec<Problem>) -> ServerConfig {
    let listen = match &raw.listen {
        None => DEFAULT_LISTEN
            .parse()
            .expect("the default address is valid"),
        Some(spanned) => spanned.get_ref().as_str().parse().unwrap_or_else(|_| {
            problems.push(Problem {
                line: Some(line_of_span(source, spanned.span())),
                key: "server.listen".to_string(),
                message: format!(
                    "{:?} is not an address such as \"127.0.0.1:11223\" or \"[::]:11223\"",
                    spanned.get_ref().as_str()
                ),
            });
            DEFAULT_LISTEN
                .parse()
                .expect("the default address is valid")
        }),
    };
    let admin_listen = raw.admin_listen.as_ref().and_then(|spanned| {
        let parsed = spanned.get_ref().as_str().parse().ok();
        if parsed.is_none() {
            problems.push(Problem {
                line: Some(line_of_span(source, spanned.span())),
                key: "server.admin_listen".to_string(),
                message: format!(
                    "{:?} is not an address such as \"127.0.0.1:11224\"",
                    spanned.get_ref().as_str()
                ),
            });
        }
        if parsed.is_some() && parsed == Some(listen) {
            problems.push(Problem {
                line: Some(line_of_span(source, spanned.span())),
                key: "server.admin_listen".to_string(),
                message: "is the same address as server.listen; give the operations endpoints their own port".to_string(),
            });
        }
        parsed
    });
    let max_connections = match &raw.max_connections {
        Some(spanned) if *spanned.get_ref() == 0 => {
            problems.push(Problem {
                line: Some(line_of_span(source, spanned.span())),
                key: "server.max_connections".to_string(),
                message: "must be at least 1".to_string(),
            });
            1
        }
        Some(spanned) => *spanned.get_ref(),
        None => 1024,
    };
    let seconds = |value: Option<units::HumanDuration>, default: u64| {
        value.map(|d| d.0).unwrap_or(Duration::from_secs(default))
    };
    ServerConfig {
        listen,
        admin_listen,
        max_body: raw.max_body.map(|s| s.0).unwrap_or(DEFAULT_MAX_BODY),
        header_read_timeout: seconds(raw.header_read_timeout, 10),
        body_read_timeout: seconds(raw.body_read_timeout, 30),
        service_timeout: seconds(raw.service_timeout, 30),
        shutdown_grace: seconds(raw.shutdown_grace, 10),
        max_connections,
    }
}

fn parse_methods(names: &[String]) -> Result<Vec<Method>, String> {
    if names.is_empty() {
        return Err("give at least one method, as in [\"POST\"]".to_string());
    }
    let mut methods = Vec::with_capacity(names.len());
    for name in names {
        let upper = name.trim().to_ascii_uppercase();
        let method = Method::from_bytes(upper.as_bytes())
            .map_err(|_| format!("{name:?} is not an HTTP method"))?;
        if methods.contains(&method) {
            return Err(format!("{upper} is listed twice"));
        }
        methods.push(method);
    }
    Ok(methods)
}

fn known_list<'a>(names: impl Iterator<Item = impl AsRef<str> + 'a>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{}`", n.as_ref())).collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(" (known: {})", names.join(", "))
    }
}

#[cfg(test)]
mod tests;
