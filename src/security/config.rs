//! What a user writes in `[security.NAME]`, before it is checked and built into a verifier.

use serde::Deserialize;

use crate::config::expand::{Secret, Text};

use super::hmac::{Algorithm, Encoding};

/// One `[security.NAME]` table. `type` selects the kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum SecurityConfig {
    /// An HMAC of the raw body, carried in a header.
    #[serde(rename = "hmac")]
    Hmac(HmacConfig),
    /// HTTP basic authentication.
    #[serde(rename = "basic")]
    Basic(BasicConfig),
    /// A shared key in a header or a query parameter.
    #[serde(rename = "apikey")]
    ApiKey(ApiKeyConfig),
    /// The peer address must fall in one of the listed networks.
    #[serde(rename = "ip_allow")]
    IpAllow(IpAllowConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacConfig {
    #[serde(default)]
    pub algorithm: Algorithm,
    /// The header that carries the signature, as in `X-Hub-Signature-256`.
    pub header: Text,
    #[serde(default)]
    pub encoding: Encoding,
    /// Text before the signature in the header, as in `sha256=`; it must be present.
    #[serde(default)]
    pub prefix: Option<Text>,
    /// Every secret that may have signed the request; more than one while a secret is rotated.
    pub secrets: Vec<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicConfig {
    pub username: Text,
    pub password: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The header that carries the key. Exactly one of `header` and `query` is set.
    #[serde(default)]
    pub header: Option<Text>,
    /// The query parameter that carries the key.
    #[serde(default)]
    pub query: Option<Text>,
    /// Every key that is accepted; more than one while a key is rotated.
    pub values: Vec<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpAllowConfig {
    /// Networks in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`) or single addresses.
    pub cidrs: Vec<Text>,
}
