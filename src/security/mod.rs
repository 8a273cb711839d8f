//! Security definitions: the named checks that a channel runs over the raw request.
//!
//! A request enters as [`Unverified`]. Only [`verify`] turns it into [`Verified`], and only a
//! `Verified` request can become a service's `Request`, so no unchecked bytes reach a service
//! or the store. A failed check gives the client a generic 401 (403 for `ip_allow`); the
//! [`Rejected`] value says exactly which check failed, for the operator's log.
//!
//! # Layout
//!
//! - [`engine`]: the one verification engine; a signing scheme is data ([`engine::Scheme`]).
//! - [`presets`]: the provider presets over that engine, their handshakes and delivery ids.
//! - [`replay`]: the bounded replay cache of timestamped schemes.
//! - [`sign`]: signing as a provider would, for `inlet send` and tests.
//! - `signed_hmac`, `basic`, `apikey`, `ip_allow`: the generic kinds.

mod apikey;
mod basic;
mod compare;
pub mod config;
pub mod engine;
pub mod hmac;
mod ip_allow;
pub mod presets;
#[cfg(test)]
mod proptests;
pub mod replay;
pub mod sign;
mod signed_hmac;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

pub use self::compare::{equals_any, secrets_equal};
pub use self::config::{Preset, SecurityConfig};
pub use self::hmac::{Algorithm, Encoding, signature_matches};
use self::presets::{Incoming, Outcome, PresetCheck};
use self::replay::{ReplayCache, ReplayMark};

/// Why a check failed. It goes to the operator's log, never to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A header (or query parameter, or body field) the check needs is absent.
    MissingHeader(String),
    /// The credential is present but cannot be parsed.
    Malformed(String),
    /// The signature is valid but its timestamp is outside the tolerance, either way.
    StaleTimestamp(String),
    /// The credential is well-formed but matches no secret.
    NoMatch(String),
    /// A valid message whose id was already seen within its window.
    Replayed(String),
}

impl Failure {
    /// A short, stable name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::MissingHeader(_) => "missing_header",
            Failure::Malformed(_) => "malformed",
            Failure::StaleTimestamp(_) => "stale_timestamp",
            Failure::NoMatch(_) => "no_match",
            Failure::Replayed(_) => "replayed",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::MissingHeader(what) => write!(f, "missing {what}"),
            Failure::Malformed(detail)
            | Failure::StaleTimestamp(detail)
            | Failure::NoMatch(detail)
            | Failure::Replayed(detail) => f.write_str(detail),
        }
    }
}

/// An answer the channel gives itself instead of its service's: a handshake reply, or
/// Salesforce's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
}

#[derive(Debug)]
enum Check {
    Hmac(signed_hmac::HmacCheck),
    Basic(basic::BasicCheck),
    ApiKey(apikey::ApiKeyCheck),
    IpAllow(ip_allow::IpAllowCheck),
    Preset(PresetCheck),
}

/// A built security definition, ready to check requests. Its `Debug` never shows secrets.
#[derive(Debug)]
pub struct SecurityDef {
    name: String,
    check: Check,
    /// Present for timestamped schemes: ids seen within the window.
    replay: Option<Arc<ReplayCache>>,
}

impl SecurityDef {
    /// Builds the definition named `name`; the error says which key is wrong and why.
    pub fn build(name: &str, config: &SecurityConfig) -> Result<Self, String> {
        let (check, replay_capacity) = match config {
            SecurityConfig::Hmac(c) => {
                let check = signed_hmac::HmacCheck::build(c)?;
                if c.replay_cache.is_some() && !check.is_timestamped() {
                    return Err("`replay_cache`: needs a timestamp (`timestamp_header` or `list.timestamp_key`)".to_string());
                }
                let capacity = check.is_timestamped().then_some(c.replay_cache);
                (Check::Hmac(check), capacity)
            }
            SecurityConfig::Basic(c) => (Check::Basic(basic::BasicCheck::build(c)?), None),
            SecurityConfig::ApiKey(c) => (Check::ApiKey(apikey::ApiKeyCheck::build(c)?), None),
            SecurityConfig::IpAllow(c) => (Check::IpAllow(ip_allow::IpAllowCheck::build(c)?), None),
            other => {
                let (preset, c) = other.preset().expect("every other kind is a preset");
                let check = PresetCheck::build(preset, c)?;
                if check.missing_url() {
                    return Err(format!(
                        "`url`: {} signs the URL it calls; set `url` to your public URL for this channel, as in \"https://example.com/webhooks/{}\"",
                        preset.name(),
                        preset.name()
                    ));
                }
                if c.replay_cache.is_some() && !check.is_timestamped() {
                    return Err(format!(
                        "`replay_cache`: {} requests carry no timestamp; use the channel's dedup key",
                        preset.name()
                    ));
                }
                let capacity = check.is_timestamped().then_some(c.replay_cache);
                (Check::Preset(check), capacity)
            }
        };
        if replay_capacity == Some(Some(0)) {
            return Err("`replay_cache`: must be at least 1".to_string());
        }
        Ok(SecurityDef {
            name: name.to_string(),
            check,
            replay: replay_capacity
                .map(|capacity| ReplayCache::new(capacity.unwrap_or(replay::DEFAULT_CAPACITY))),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The provider's delivery id of a request (the id that stays the same across the
    /// provider's retries), for use as the channel's default dedup key. `None` for generic
    /// kinds and for providers without one.
    pub fn delivery_id(&self, headers: &HeaderMap, body: &[u8]) -> Option<String> {
        match &self.check {
            Check::Preset(check) => check.delivery_id(headers, body),
            _ => None,
        }
    }

    /// The status a client gets when this check fails.
    fn rejection_status(&self) -> StatusCode {
        match self.check {
            Check::IpAllow(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The stateless part of the check, at `now_ms`.
    fn check(&self, request: &Unverified, now_ms: i64) -> Result<Outcome, Failure> {
        let headers = &request.head.headers;
        let query = request.head.uri.query().unwrap_or("");
        match &self.check {
            Check::Hmac(c) => c
                .check(
                    request.head.method.as_str(),
                    query,
                    headers,
                    &request.body,
                    now_ms,
                )
                .map(|replay| Outcome {
                    replay,
                    ..Outcome::default()
                }),
            Check::Basic(c) => c.check(headers).map(|()| Outcome::default()),
            Check::ApiKey(c) => c.check(headers, query).map(|()| Outcome::default()),
            Check::IpAllow(c) => c.check(request.peer.ip()).map(|()| Outcome::default()),
            Check::Preset(c) => c.check(
                &Incoming {
                    method: request.head.method.as_str(),
                    url: None,
                    query,
                    headers,
                    body: &request.body,
                    peer: Some(request.peer.ip()),
                },
                now_ms,
            ),
        }
    }
}

/// A request whose body has been read in full but not yet checked.
///
/// The head is boxed: the request moves into `verify`, into a `Verified` and out again, and
/// through the futures of the request's flow; each move of the head itself (224 bytes) was
/// a `memcpy`.
#[derive(Debug)]
pub struct Unverified {
    pub(crate) head: Box<http::request::Parts>,
    pub(crate) body: Bytes,
    pub(crate) peer: SocketAddr,
}

impl Unverified {
    pub(crate) fn new(head: Box<http::request::Parts>, body: Bytes, peer: SocketAddr) -> Self {
        Unverified { head, body, peer }
    }
}

/// A request that passed every security definition of its channel.
#[derive(Debug)]
pub struct Verified {
    request: Unverified,
    settlement: Settlement,
}

impl Verified {
    /// The handshake reply to send instead of calling the service, if this is a handshake.
    pub fn handshake(&self) -> Option<&Reply> {
        self.settlement.handshake.as_ref()
    }

    pub(crate) fn into_parts(self) -> (Box<http::request::Parts>, Bytes, SocketAddr, Settlement) {
        let Unverified { head, body, peer } = self.request;
        (head, body, peer, self.settlement)
    }
}

/// What the request flow must do once it knows how a verified request ended: send a
/// handshake or an acknowledgement, and keep or release the request's replay-cache ids.
///
/// Dropping it without [`Settlement::settle`]`(true)` releases the ids, so a delivery that
/// failed is processed when the provider retries it.
#[derive(Debug, Default)]
pub struct Settlement {
    handshake: Option<Reply>,
    acknowledgement: Option<Reply>,
    marks: Vec<ReplayMark>,
}

impl Settlement {
    /// The reply that replaces the service (a handshake).
    pub fn handshake(&self) -> Option<&Reply> {
        self.handshake.as_ref()
    }

    /// The reply that replaces the service's answer once it succeeded (Salesforce's Ack).
    pub fn acknowledgement(&self) -> Option<&Reply> {
        self.acknowledgement.as_ref()
    }

    /// Records the outcome: `acknowledged` means the client got a 2xx.
    pub fn settle(self, acknowledged: bool) {
        if acknowledged {
            self.marks.into_iter().for_each(ReplayMark::commit);
        }
    }
}

/// Which definition rejected a request, and why.
#[derive(Debug)]
pub struct Rejected {
    pub definition: String,
    /// 401 or 403; 200 for a replay, which is answered as a duplicate (see [`verify_at`]).
    pub status: StatusCode,
    pub failure: Failure,
}

/// Runs every definition over `request` at the current time; all of them must pass.
pub fn verify(definitions: &[Arc<SecurityDef>], request: Unverified) -> Result<Verified, Rejected> {
    verify_at(definitions, request, unix_millis(SystemTime::now()))
}

/// The first delivery id that any of a channel's definitions finds: the channel's default
/// dedup key.
pub fn delivery_id(
    definitions: &[Arc<SecurityDef>],
    headers: &HeaderMap,
    body: &[u8],
) -> Option<String> {
    definitions
        .iter()
        .find_map(|definition| definition.delivery_id(headers, body))
}

/// Milliseconds since the Unix epoch (negative before it).
pub fn unix_millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// [`verify`] at `now_ms`. A message whose id is already in a definition's replay cache is
/// rejected with [`Failure::Replayed`] and status 200: the provider sees a delivered duplicate
/// and stops retrying, and the service never sees it twice.
pub fn verify_at(
    definitions: &[Arc<SecurityDef>],
    request: Unverified,
    now_ms: i64,
) -> Result<Verified, Rejected> {
    let mut settlement = Settlement::default();
    for definition in definitions {
        let reject = |failure: Failure, status| Rejected {
            definition: definition.name.clone(),
            status,
            failure,
        };
        let outcome = definition
            .check(&request, now_ms)
            .map_err(|failure| reject(failure, definition.rejection_status()))?;
        // The cache is consulted only after the signature verified, so forged requests can
        // neither fill it nor reserve a genuine message's id ahead of it.
        if let (Some(cache), Some(entry)) = (&definition.replay, outcome.replay) {
            let mark = cache.reserve(entry, now_ms).ok_or_else(|| {
                let id = definition
                    .delivery_id(&request.head.headers, &request.body)
                    .unwrap_or_else(|| "(no delivery id)".to_string());
                reject(
                    Failure::Replayed(format!("message {id} was already received")),
                    StatusCode::OK,
                )
            })?;
            settlement.marks.push(mark);
        }
        settlement.handshake = settlement.handshake.or(outcome.handshake);
        settlement.acknowledgement = settlement.acknowledgement.or(outcome.acknowledgement);
    }
    Ok(Verified {
        request,
        settlement,
    })
}
