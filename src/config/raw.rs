//! The config file exactly as written: serde structs that mirror the TOML, with unknown keys
//! rejected. [`super::Config::parse`] checks these and turns them into the validated `Config`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::delivery::{Mode, RawDedup};
use super::durable::{RawRetention, RawRetry, RawStore, RawWorkers};
use super::expand::Text;
use super::lua::RawLua;
use super::units::{ByteSize, HumanDuration};
use super::user::UserValue;
use crate::security::SecurityConfig;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default, rename = "channel")]
    pub channels: Vec<Spanned<RawChannel>>,
    #[serde(default)]
    pub security: BTreeMap<String, Spanned<SecurityConfig>>,
    #[serde(default)]
    pub config: BTreeMap<String, UserValue>,
    /// The folder of `*.lua` services, relative to the config file.
    pub services_dir: Option<Spanned<Text>>,
    #[serde(default)]
    pub lua: RawLua,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub workers: RawWorkers,
    /// The default retry policy of background jobs.
    #[serde(default)]
    pub retry: RawRetry,
    #[serde(default)]
    pub retention: RawRetention,
    /// Per-service overrides of `[retry]`, as in `[service."servicenow.incident.process"]`.
    #[serde(default)]
    pub service: BTreeMap<String, Spanned<RawRetry>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub listen: Option<Spanned<Text>>,
    pub admin_listen: Option<Spanned<Text>>,
    pub max_body: Option<ByteSize>,
    pub header_read_timeout: Option<HumanDuration>,
    pub body_read_timeout: Option<HumanDuration>,
    pub service_timeout: Option<HumanDuration>,
    pub shutdown_grace: Option<HumanDuration>,
    pub max_connections: Option<Spanned<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChannel {
    pub name: Spanned<String>,
    pub path: Spanned<String>,
    pub methods: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub data_format: super::DataFormat,
    pub service: Spanned<String>,
    #[serde(default)]
    pub security: Vec<Spanned<String>>,
    pub max_body: Option<ByteSize>,
    #[serde(default)]
    pub mode: Mode,
    pub dedup: Option<Spanned<RawDedup>>,
    pub retry: Option<Spanned<RawRetry>>,
}
