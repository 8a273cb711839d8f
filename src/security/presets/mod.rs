//! Provider presets: `type = "github"`, `type = "stripe"`, … Each is either a signed scheme
//! from [`table`], run by the one engine, or one of the static checks in [`static_auth`]
//! for providers that send no signature. A preset also knows its provider's handshake and
//! its delivery-id header (the default dedup key).

pub mod handshake;
mod static_auth;
pub mod table;

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;

use super::Failure;
use super::Reply;
use super::config::PresetConfig;
use super::engine::{self, Field, Key, Message, ReplayEntry};
use super::ip_allow;
use crate::config::expand::Secret;

pub use super::config::Preset;

/// A request as a preset check sees it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub method: &'a str,
    /// The URL the provider called, when the caller knows it (`inlet verify --url`). A
    /// definition with `url` set builds it from that instead.
    pub url: Option<&'a str>,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// `None` offline, where no network check applies.
    pub peer: Option<IpAddr>,
}

/// What a passed check yields besides "valid".
#[derive(Debug, Default)]
pub struct Outcome {
    /// An answer that replaces the service (a handshake).
    pub handshake: Option<Reply>,
    /// An answer that replaces the service's answer once it succeeded (Salesforce's Ack).
    pub acknowledgement: Option<Reply>,
    /// The id to hold in the replay cache, for timestamped schemes.
    pub replay: Option<ReplayEntry>,
}

#[derive(Debug)]
enum Kind {
    Signed {
        scheme: engine::Scheme,
        keys: Vec<Key>,
    },
    Token {
        header: HeaderName,
        secrets: Vec<Secret>,
    },
    ClientState {
        secrets: Vec<Secret>,
    },
    Organization {
        secrets: Vec<Secret>,
    },
    Basic {
        secrets: Vec<Secret>,
    },
}

/// A built preset.
#[derive(Debug)]
pub struct PresetCheck {
    preset: Preset,
    kind: Kind,
    url: Option<String>,
    networks: Vec<IpNet>,
}

impl PresetCheck {
    pub fn build(preset: Preset, config: &PresetConfig) -> Result<Self, String> {
        if config.secrets.is_empty() {
            return Err("`secrets`: give at least one secret".to_string());
        }
        if let Some(empty) = config.secrets.iter().position(|s| s.expose().is_empty()) {
            return Err(format!("`secrets`: secret #{} is empty", empty + 1));
        }
        let secrets = config.secrets.clone();
        let kind = match table::signed(preset) {
            Some(signed) => {
                let mut scheme = signed.scheme;
                match (&mut scheme.tolerance_ms, config.tolerance) {
                    (Some(tolerance), Some(configured)) => {
                        *tolerance = i64::try_from(configured.0.as_millis()).unwrap_or(i64::MAX);
                    }
                    (None, Some(_)) => {
                        return Err(format!(
                            "`tolerance`: {} requests carry no timestamp",
                            preset.name()
                        ));
                    }
                    _ => {}
                }
                let keys = secrets
                    .iter()
                    .enumerate()
                    .map(|(index, secret)| {
                        signed
                            .key_format
                            .decode(secret.expose())
                            .map_err(|why| format!("`secrets`: secret #{}: {why}", index + 1))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Kind::Signed { scheme, keys }
            }
            None => {
                if config.tolerance.is_some() {
                    return Err(format!(
                        "`tolerance`: {} requests carry no timestamp",
                        preset.name()
                    ));
                }
                match preset {
                    Preset::GitlabToken => Kind::Token {
                        header: HeaderName::from_static("x-gitlab-token"),
                        secrets,
                    },
                    Preset::Okta => Kind::Token {
                        header: http::header::AUTHORIZATION,
                        secrets,
                    },
                    Preset::Msgraph => Kind::ClientState { secrets },
                    Preset::Salesforce => Kind::Organization { secrets },
                    Preset::Servicenow => {
                        if let Some(bad) = secrets.iter().position(|s| !s.expose().contains(':')) {
                            return Err(format!(
                                "`secrets`: secret #{} must be `user:password`",
                                bad + 1
                            ));
                        }
                        Kind::Basic { secrets }
                    }
                    other => unreachable!("{} has a signed scheme", other.name()),
                }
            }
        };
        let needs_url =
            matches!(&kind, Kind::Signed { scheme, .. } if scheme.content.uses(&engine::Part::Url));
        let url = config.url.as_ref().map(|u| u.as_str().to_string());
        match (&url, needs_url) {
            (Some(url), true) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                return Err(format!(
                    "`url`: {url:?} must be the full public URL, as in \"https://example.com/webhooks/{}\"",
                    preset.name()
                ));
            }
            (Some(_), false) => {
                return Err(format!("`url`: {} does not sign the URL", preset.name()));
            }
            _ => {}
        }
        let networks = config
            .cidrs
            .iter()
            .map(|text| ip_allow::parse_network(text.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PresetCheck {
            preset,
            kind,
            url,
            networks,
        })
    }

    pub fn preset(&self) -> Preset {
        self.preset
    }

    /// True when the preset signs the URL, so it needs `url` (or `--url` offline).
    pub fn needs_url(&self) -> bool {
        matches!(&self.kind, Kind::Signed { scheme, .. } if scheme.content.uses(&engine::Part::Url))
    }

    /// True when a configured `url` is missing although the preset signs it.
    pub fn missing_url(&self) -> bool {
        self.needs_url() && self.url.is_none()
    }

    /// True for presets whose timestamp window makes a replay cache meaningful.
    pub fn is_timestamped(&self) -> bool {
        matches!(&self.kind, Kind::Signed { scheme, .. } if scheme.tolerance_ms.is_some())
    }

    /// Checks one request at `now_ms`. Pure: no clock, no state.
    pub fn check(&self, request: &Incoming, now_ms: i64) -> Result<Outcome, Failure> {
        if let Some(peer) = request.peer
            && !self.networks.is_empty()
            && !ip_allow::contains(&self.networks, peer)
        {
            return Err(Failure::NoMatch(format!(
                "peer {peer} is in none of `cidrs`"
            )));
        }
        let mut outcome = Outcome::default();
        match &self.kind {
            Kind::Signed { scheme, keys } => {
                let configured = self
                    .url
                    .as_deref()
                    .map(|base| engine::url::public_url(base, request.query));
                let message = Message {
                    method: request.method,
                    url: configured.as_deref().or(request.url),
                    headers: request.headers,
                    body: request.body,
                };
                let matched = engine::verify(scheme, keys, &message, now_ms)?;
                outcome.replay = matched.replay;
                let key = &keys[matched.key_index];
                outcome.handshake = match self.preset {
                    Preset::Zoom => handshake::zoom(request.body, key),
                    Preset::Twitch => handshake::twitch(request.headers, request.body),
                    Preset::Discord => handshake::discord(request.body),
                    Preset::Slack => handshake::slack(request.body),
                    _ => None,
                };
            }
            Kind::Token { header, secrets } => {
                static_auth::token(request.headers, header, secrets)?;
                if self.preset == Preset::Okta {
                    outcome.handshake = handshake::okta(request.method, request.headers);
                }
            }
            Kind::ClientState { secrets } => {
                // Graph's validation request carries no clientState: there is nothing to
                // check, and the echo only repeats what the caller sent, as text/plain.
                match handshake::msgraph(request.query) {
                    Some(reply) => outcome.handshake = Some(reply),
                    None => static_auth::client_state(request.body, secrets)?,
                }
            }
            Kind::Organization { secrets } => {
                static_auth::organization(request.body, secrets)?;
                outcome.acknowledgement = Some(handshake::salesforce_ack());
            }
            Kind::Basic { secrets } => static_auth::basic(request.headers, secrets)?,
        }
        Ok(outcome)
    }

    /// The provider's delivery id, the default dedup key, when the request carries one.
    pub fn delivery_id(&self, headers: &HeaderMap, body: &[u8]) -> Option<String> {
        delivery_id(self.preset, headers, body)
    }
}

/// The longest delivery id returned; longer values are not ids.
const MAX_DELIVERY_ID_LEN: usize = 256;

/// Where each provider puts the id that stays the same across its retries.
pub fn delivery_id_field(preset: Preset) -> Option<Field> {
    let json = |pointer: &str| Some(Field::Json(pointer.to_string()));
    let header = |name: &'static str| Some(Field::header(name));
    match preset {
        Preset::Github => header("x-github-delivery"),
        Preset::GitlabToken => header("idempotency-key"),
        Preset::StandardWebhooks => header("webhook-id"),
        Preset::Svix => Some(Field::Header(vec![
            HeaderName::from_static("svix-id"),
            HeaderName::from_static("webhook-id"),
        ])),
        Preset::Stripe | Preset::Discord | Preset::Intercom => json("/id"),
        Preset::Slack => json("/event_id"),
        Preset::Shopify => Some(Field::Header(vec![
            HeaderName::from_static("x-shopify-webhook-id"),
            HeaderName::from_static("shopify-webhook-id"),
        ])),
        Preset::Twilio => header("i-twilio-idempotency-token"),
        Preset::Square | Preset::Paddle | Preset::Typeform => json("/event_id"),
        Preset::Pagerduty => json("/event/id"),
        Preset::Linear => header("linear-delivery"),
        Preset::Mailgun => json("/signature/token"),
        Preset::Twitch => header("twitch-eventsub-message-id"),
        Preset::Bitbucket => header("x-request-uuid"),
        Preset::Jira => header("x-atlassian-webhook-identifier"),
        Preset::Okta => json("/eventId"),
        // These send batches (SendGrid, HubSpot) or no stable id at all.
        Preset::Hubspot
        | Preset::Sendgrid
        | Preset::Zendesk
        | Preset::Calendly
        | Preset::Zoom
        | Preset::Msgraph
        | Preset::Salesforce
        | Preset::Servicenow => None,
    }
}

/// The delivery id of a request for `preset`, read from its header or body.
pub fn delivery_id(preset: Preset, headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let id = match delivery_id_field(preset)? {
        Field::Header(names) => names
            .iter()
            .find_map(|name| headers.get(name))?
            .to_str()
            .ok()?
            .trim()
            .to_string(),
        Field::Json(pointer) => {
            let value: serde_json::Value = serde_json::from_slice(body).ok()?;
            match value.pointer(&pointer)? {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Number(number) => number.to_string(),
                _ => return None,
            }
        }
        Field::SignatureKey => return None,
    };
    (!id.is_empty() && id.len() <= MAX_DELIVERY_ID_LEN).then_some(id)
}

#[cfg(test)]
pub(crate) mod tests;
