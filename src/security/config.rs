//! What a user writes in `[security.NAME]`, before it is checked and built into a verifier.
//!
//! `type` selects the kind: one of the generic kinds (`hmac`, `basic`, `apikey`,
//! `ip_allow`) or a provider preset (`github`, `stripe`, …). Every preset takes the same
//! [`PresetConfig`]; [`Preset`] lists them, and its variants' docs say what each checks.

use serde::Deserialize;

use crate::config::expand::{Secret, Text};
use crate::config::units::HumanDuration;

use super::engine::{KeyFormat, TimeFormat};
use super::hmac::{Algorithm, Encoding};

/// Declares the presets once: the [`Preset`] enum with its names and docs, and the
/// [`SecurityConfig`] variants that select them, so the two lists can never disagree.
macro_rules! security_kinds {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)*) => {
        /// One `[security.NAME]` table. `type` selects the kind.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(tag = "type", deny_unknown_fields)]
        pub enum SecurityConfig {
            /// An HMAC of the raw request, carried in a header.
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
            $(
                $(#[doc = $doc])*
                #[serde(rename = $name)]
                $variant(PresetConfig),
            )*
        }

        /// A provider preset: a provider's documented scheme, ready to use.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Preset {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Preset {
            /// Every preset, in the order of the docs.
            pub const ALL: &[Preset] = &[$(Preset::$variant,)*];

            /// The name used for `type = "…"`, `--scheme` and `--provider`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Preset::$variant => $name,)*
                }
            }
        }

        impl SecurityConfig {
            /// The preset this table selects, with its settings; `None` for a generic kind.
            pub fn preset(&self) -> Option<(Preset, &PresetConfig)> {
                match self {
                    $(SecurityConfig::$variant(config) => Some((Preset::$variant, config)),)*
                    _ => None,
                }
            }
        }
    };
}

security_kinds! {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(body)>`. The legacy SHA-1
    /// `X-Hub-Signature` is never consulted, so a request cannot downgrade to it. No
    /// timestamp; dedup key `X-GitHub-Delivery`.
    Github = "github",
    /// GitLab classic secret token: `X-Gitlab-Token` equals a secret (constant-time). No
    /// integrity or replay protection; dedup key `Idempotency-Key`. For GitLab's signing
    /// tokens use `standard-webhooks`.
    GitlabToken = "gitlab-token",
    /// Standard Webhooks v1.0: `webhook-signature` holds space-separated `v1,<b64 HMAC>`
    /// (secret `whsec_<b64>`) or `v1a,<b64 Ed25519>` (public key `whpk_<b64>`) entries over
    /// `{webhook-id}.{webhook-timestamp}.{body}`; 300 s tolerance; replay cache on `webhook-id`.
    StandardWebhooks = "standard-webhooks",
    /// Svix (Clerk, Resend…): Standard Webhooks with `svix-id`, `svix-timestamp` and
    /// `svix-signature` headers (the `webhook-*` names are accepted too).
    Svix = "svix",
    /// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]` over `{t}.{body}`, keyed with the
    /// whole `whsec_…` string (not base64-decoded); `v0` and unknown entries are ignored;
    /// 300 s tolerance; dedup key: the event `id` in the body.
    Stripe = "stripe",
    /// Slack: `X-Slack-Signature: v0=<hex>` over `v0:{X-Slack-Request-Timestamp}:{body}`;
    /// 300 s tolerance. Answers `url_verification` with its `challenge`.
    Slack = "slack",
    /// Shopify: `X-Shopify-Hmac-Sha256: <b64 HMAC-SHA256(body)>` (also `Shopify-Hmac-Sha256`).
    /// No timestamp; dedup key `X-Shopify-Webhook-Id`.
    Shopify = "shopify",
    /// Twilio: `X-Twilio-Signature: <b64 HMAC-SHA1>` over the public URL plus the sorted form
    /// parameters, or, for JSON bodies, the URL whose `bodySHA256` must hash the body. Ports
    /// are tried with and without. Needs `url`. Dedup key `I-Twilio-Idempotency-Token`.
    Twilio = "twilio",
    /// Square: `x-square-hmacsha256-signature: <b64>` over `{url}{body}`, the notification URL
    /// exactly as configured. Needs `url`. The legacy SHA-1 header is never consulted. Dedup
    /// key: `event_id` in the body.
    Square = "square",
    /// HubSpot v3: `X-HubSpot-Signature-v3: <b64>` over `{method}{url}{body}{timestamp}` with
    /// `X-HubSpot-Request-Timestamp` in milliseconds; 300 s tolerance. Needs `url`. v1/v2
    /// (plain hashes) are not accepted.
    Hubspot = "hubspot",
    /// Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=…]` over `{ts}:{body}`;
    /// unknown keys ignored; 5 s tolerance, as in Paddle's SDKs. Dedup key `event_id`.
    Paddle = "paddle",
    /// SendGrid Event Webhook: ECDSA P-256 (`X-Twilio-Email-Event-Webhook-Signature`, b64 DER)
    /// over `{X-Twilio-Email-Event-Webhook-Timestamp}{body}`; the secret is the base64 DER
    /// public key; 300 s policy tolerance.
    Sendgrid = "sendgrid",
    /// Discord interactions: Ed25519 (`X-Signature-Ed25519`, hex) over
    /// `{X-Signature-Timestamp}{body}`; the secret is the hex public key; 300 s policy
    /// tolerance. Answers PING (`type` 1) with `{"type":1}`.
    Discord = "discord",
    /// Zendesk: `X-Zendesk-Webhook-Signature: <b64>` over `{timestamp}{body}` with the ISO 8601
    /// `X-Zendesk-Webhook-Signature-Timestamp`; secret used as text; 300 s policy tolerance.
    Zendesk = "zendesk",
    /// PagerDuty v3: `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>]` over the body; any `v1`
    /// entry may match. No timestamp; dedup key `event.id` in the body.
    Pagerduty = "pagerduty",
    /// Linear: `Linear-Signature: <hex>` over the body; `webhookTimestamp` (ms) in the signed
    /// body must be within 60 s. Dedup key `Linear-Delivery`.
    Linear = "linear",
    /// Mailgun: the body's `signature.signature` is hex HMAC-SHA256 of
    /// `{signature.timestamp}{signature.token}`. The event data is NOT signed, so the token
    /// replay cache is the real protection; 300 s policy tolerance.
    Mailgun = "mailgun",
    /// Calendly: `Calendly-Webhook-Signature: t=<unix>,v1=<hex>` over `{t}.{body}`; 180 s
    /// tolerance.
    Calendly = "calendly",
    /// Twitch EventSub: `Twitch-Eventsub-Message-Signature: sha256=<hex>` over
    /// `{message id}{RFC 3339 timestamp}{body}`; 600 s tolerance; replay cache on the message
    /// id. Answers `webhook_callback_verification` with its `challenge` (text/plain).
    Twitch = "twitch",
    /// Zoom: `x-zm-signature: v0=<hex>` over `v0:{x-zm-request-timestamp}:{body}`; 300 s
    /// policy tolerance. Answers `endpoint.url_validation` with `plainToken` and
    /// `encryptedToken` (after verifying the request).
    Zoom = "zoom",
    /// Typeform: `Typeform-Signature: sha256=<b64>` (base64, not hex) over the body.
    Typeform = "typeform",
    /// Intercom: `X-Hub-Signature: sha1=<hex HMAC-SHA1(body)>`, keyed with the client secret.
    Intercom = "intercom",
    /// Bitbucket Cloud/Data Center: `X-Hub-Signature: sha256=<hex>` over the body. Dedup key
    /// `X-Request-UUID`.
    Bitbucket = "bitbucket",
    /// Jira Cloud admin webhooks with a secret: `X-Hub-Signature: sha256=<hex>` over the body.
    /// Dedup key `X-Atlassian-Webhook-Identifier`. (Connect/OAuth apps send a JWT instead.)
    Jira = "jira",
    /// Okta event hooks: `Authorization` equals a secret exactly (constant-time). Answers the
    /// one-time verification (GET with `X-Okta-Verification-Challenge`) with
    /// `{"verification": …}`, after the same check; the channel's `methods` must include GET.
    Okta = "okta",
    /// Microsoft Graph change notifications: every `value[].clientState` equals a secret.
    /// Answers subscription validation (`?validationToken=…`) by echoing the token as
    /// text/plain. Rich-notification JWTs are not validated.
    Msgraph = "msgraph",
    /// Salesforce Outbound Messages: the SOAP body's `OrganizationId` equals a secret (your
    /// org id, 15 or 18 characters), optionally from `cidrs` only; once the service succeeds
    /// the answer is the SOAP `<Ack>true</Ack>` Salesforce needs.
    Salesforce = "salesforce",
    /// ServiceNow outbound REST: basic auth, each secret being `user:password`, optionally
    /// from `cidrs` only. ServiceNow sends no signature.
    Servicenow = "servicenow",
}

/// The settings every preset takes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetConfig {
    /// Every secret that may have signed a request: more than one while a secret is rotated.
    /// What a secret is depends on the preset (a signing secret, a public key, an org id…).
    pub secrets: Vec<Secret>,
    /// How far a timestamp may be from now, either way; each timestamped preset has a default.
    #[serde(default)]
    pub tolerance: Option<HumanDuration>,
    /// The public URL the provider calls (Twilio, Square and HubSpot sign it). The request's
    /// query string is appended when it has one. Never taken from `Host`, which anyone can set.
    #[serde(default)]
    pub url: Option<Text>,
    /// Networks the provider sends from; when given, other peers are rejected.
    #[serde(default)]
    pub cidrs: Vec<Text>,
    /// How many message ids the replay cache keeps (timestamped presets only).
    #[serde(default)]
    pub replay_cache: Option<usize>,
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
    /// The header holds a list of entries instead of one signature.
    #[serde(default)]
    pub list: Option<ListConfig>,
    /// Which bytes are signed, as in `{timestamp}.{body}`; the default is `{body}`.
    #[serde(default)]
    pub template: Option<Text>,
    /// The header that carries the timestamp, when not inside a signature list.
    #[serde(default)]
    pub timestamp_header: Option<Text>,
    #[serde(default)]
    pub timestamp_format: Option<TimeFormat>,
    /// The header that carries the message id used by `{id}` and the replay cache.
    #[serde(default)]
    pub id_header: Option<Text>,
    /// How far the timestamp may be from now, either way (default 5 minutes).
    #[serde(default)]
    pub tolerance: Option<HumanDuration>,
    /// The public URL, for templates that use `{url}`.
    #[serde(default)]
    pub url: Option<Text>,
    /// How secrets become keys: `utf8` (default) or `whsec` (base64 after `whsec_`).
    #[serde(default)]
    pub key: Option<KeyFormat>,
    #[serde(default)]
    pub replay_cache: Option<usize>,
    /// Every secret that may have signed the request; more than one while a secret is rotated.
    pub secrets: Vec<Secret>,
}

/// A signature list: `separator` between entries, `pair` between an entry's version and value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    pub separator: char,
    pub pair: char,
    /// The version whose entries are checked, as in `v1`.
    pub version: String,
    /// The entry that carries the timestamp, as in `t`.
    #[serde(default)]
    pub timestamp_key: Option<String>,
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

impl Preset {
    /// The preset called `name`.
    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.iter().copied().find(|p| p.name() == name)
    }
}
