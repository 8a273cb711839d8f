//! Security definitions: the named checks that a channel runs over the raw request.
//!
//! A request enters as [`Unverified`]. Only [`verify`] turns it into [`Verified`], and only a
//! `Verified` request can become a service's `Request`, so no unchecked bytes reach a service
//! or the store. A failed check gives the client a generic 401 (403 for `ip_allow`); the
//! [`Rejected`] value says exactly which check failed, for the operator's log.

mod apikey;
mod basic;
mod compare;
pub mod config;
pub mod hmac;
mod ip_allow;
mod signed_hmac;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

pub use self::compare::{equals_any, secrets_equal};
pub use self::config::SecurityConfig;
pub use self::hmac::{Algorithm, Encoding, signature_matches};

/// Why a check failed. It goes to the operator's log, never to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A header (or query parameter) the check needs is absent.
    MissingHeader(String),
    /// The credential is present but cannot be parsed.
    Malformed(String),
    /// The credential is well-formed but matches no secret.
    NoMatch(String),
}

impl Failure {
    /// A short, stable name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::MissingHeader(_) => "missing_header",
            Failure::Malformed(_) => "malformed",
            Failure::NoMatch(_) => "no_match",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::MissingHeader(what) => write!(f, "missing {what}"),
            Failure::Malformed(detail) | Failure::NoMatch(detail) => f.write_str(detail),
        }
    }
}

#[derive(Debug)]
enum Check {
    Hmac(signed_hmac::HmacCheck),
    Basic(basic::BasicCheck),
    ApiKey(apikey::ApiKeyCheck),
    IpAllow(ip_allow::IpAllowCheck),
}

/// A built security definition, ready to check requests. Its `Debug` never shows secrets.
#[derive(Debug)]
pub struct SecurityDef {
    name: String,
    check: Check,
}

impl SecurityDef {
    /// Builds the definition named `name`; the error says which key is wrong and why.
    pub fn build(name: &str, config: &SecurityConfig) -> Result<Self, String> {
        let check = match config {
            SecurityConfig::Hmac(c) => Check::Hmac(signed_hmac::HmacCheck::build(c)?),
            SecurityConfig::Basic(c) => Check::Basic(basic::BasicCheck::build(c)?),
            SecurityConfig::ApiKey(c) => Check::ApiKey(apikey::ApiKeyCheck::build(c)?),
            SecurityConfig::IpAllow(c) => Check::IpAllow(ip_allow::IpAllowCheck::build(c)?),
        };
        Ok(SecurityDef {
            name: name.to_string(),
            check,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The status a client gets when this check fails.
    fn rejection_status(&self) -> StatusCode {
        match self.check {
            Check::IpAllow(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn check(&self, request: &Unverified) -> Result<(), Failure> {
        match &self.check {
            Check::Hmac(c) => c.check(&request.head.headers, &request.body),
            Check::Basic(c) => c.check(&request.head.headers),
            Check::ApiKey(c) => c.check(
                &request.head.headers,
                request.head.uri.query().unwrap_or(""),
            ),
            Check::IpAllow(c) => c.check(request.peer.ip()),
        }
    }
}

/// A request whose body has been read in full but not yet checked.
#[derive(Debug)]
pub struct Unverified {
    pub(crate) head: http::request::Parts,
    pub(crate) body: Bytes,
    pub(crate) peer: SocketAddr,
}

impl Unverified {
    pub(crate) fn new(head: http::request::Parts, body: Bytes, peer: SocketAddr) -> Self {
        Unverified { head, body, peer }
    }
}

/// A request that passed every security definition of its channel.
#[derive(Debug)]
pub struct Verified(Unverified);

impl Verified {
    pub(crate) fn into_parts(self) -> (http::request::Parts, Bytes, SocketAddr) {
        (self.0.head, self.0.body, self.0.peer)
    }
}

/// Which definition rejected a request, and why.
#[derive(Debug)]
pub struct Rejected {
    pub definition: String,
    pub status: StatusCode,
    pub failure: Failure,
}

/// Runs every definition over `request`; all of them must pass.
pub fn verify(definitions: &[Arc<SecurityDef>], request: Unverified) -> Result<Verified, Rejected> {
    for definition in definitions {
        if let Err(failure) = definition.check(&request) {
            return Err(Rejected {
                definition: definition.name.clone(),
                status: definition.rejection_status(),
                failure,
            });
        }
    }
    Ok(Verified(request))
}
