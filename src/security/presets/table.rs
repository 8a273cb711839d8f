//! The signed presets as data: each is a [`Scheme`] for the one engine, plus how its secrets
//! become keys. Adding a provider that signs in a known shape is a table entry, not code.

use http::HeaderName;

use crate::security::engine::{
    Field, KeyFormat, Layout, Scheme, SigAlg, Template, TimeFormat, UrlForms,
};
use crate::security::hmac::{Algorithm, Encoding};

use super::Preset;

/// A signed preset: its scheme and its key rule.
#[derive(Debug, Clone)]
pub struct Signed {
    pub scheme: Scheme,
    pub key_format: KeyFormat,
}

const SECONDS: i64 = 1000;

/// The scheme of `preset`, or `None` for presets that send no signature (Okta, Graph, …).
pub fn signed(preset: Preset) -> Option<Signed> {
    use Algorithm::{Sha1, Sha256};
    use Encoding::{Base64, Hex};
    let hmac = |alg| vec![(String::new(), SigAlg::Hmac(alg))];
    let utf8 = |scheme| Signed {
        scheme,
        key_format: KeyFormat::Utf8,
    };
    let signed = match preset {
        Preset::Github => utf8(single(
            &["x-hub-signature-256"],
            "sha256=",
            hmac(Sha256),
            Hex,
            "{body}",
        )),
        Preset::Shopify => utf8(single(
            &["x-shopify-hmac-sha256", "shopify-hmac-sha256"],
            "",
            hmac(Sha256),
            Base64,
            "{body}",
        )),
        Preset::Typeform => utf8(single(
            &["typeform-signature"],
            "sha256=",
            hmac(Sha256),
            Base64,
            "{body}",
        )),
        Preset::Intercom => utf8(single(
            &["x-hub-signature"],
            "sha1=",
            hmac(Sha1),
            Hex,
            "{body}",
        )),
        Preset::Bitbucket | Preset::Jira => utf8(single(
            &["x-hub-signature"],
            "sha256=",
            hmac(Sha256),
            Hex,
            "{body}",
        )),
        Preset::Square => utf8(single(
            &["x-square-hmacsha256-signature"],
            "",
            hmac(Sha256),
            Base64,
            "{url}{body}",
        )),
        Preset::Twilio => {
            let mut scheme = single(
                &["x-twilio-signature"],
                "",
                hmac(Sha1),
                Base64,
                "{url}{params}",
            );
            scheme.url_forms = UrlForms::WithAndWithoutPort;
            scheme.body_hash_query = Some("bodySHA256".to_string());
            utf8(scheme)
        }
        Preset::Hubspot => utf8(timed(
            single(
                &["x-hubspot-signature-v3"],
                "",
                hmac(Sha256),
                Base64,
                "{method}{url}{body}{timestamp}",
            ),
            Field::header("x-hubspot-request-timestamp"),
            TimeFormat::Milliseconds,
            300,
        )),
        Preset::Slack => utf8(timed(
            single(
                &["x-slack-signature"],
                "v0=",
                hmac(Sha256),
                Hex,
                "v0:{timestamp}:{body}",
            ),
            Field::header("x-slack-request-timestamp"),
            TimeFormat::Seconds,
            300,
        )),
        Preset::Zoom => utf8(timed(
            single(
                &["x-zm-signature"],
                "v0=",
                hmac(Sha256),
                Hex,
                "v0:{timestamp}:{body}",
            ),
            Field::header("x-zm-request-timestamp"),
            TimeFormat::Seconds,
            300,
        )),
        Preset::Zendesk => utf8(timed(
            single(
                &["x-zendesk-webhook-signature"],
                "",
                hmac(Sha256),
                Base64,
                "{timestamp}{body}",
            ),
            Field::header("x-zendesk-webhook-signature-timestamp"),
            TimeFormat::Iso8601,
            300,
        )),
        Preset::Twitch => {
            let mut scheme = timed(
                single(
                    &["twitch-eventsub-message-signature"],
                    "sha256=",
                    hmac(Sha256),
                    Hex,
                    "{id}{timestamp}{body}",
                ),
                Field::header("twitch-eventsub-message-timestamp"),
                TimeFormat::Rfc3339,
                600,
            );
            scheme.id = Some(Field::header("twitch-eventsub-message-id"));
            utf8(scheme)
        }
        Preset::Linear => utf8(timed(
            single(&["linear-signature"], "", hmac(Sha256), Hex, "{body}"),
            Field::Json("/webhookTimestamp".to_string()),
            TimeFormat::Milliseconds,
            60,
        )),
        Preset::Mailgun => {
            let mut scheme = timed(
                single(&[], "", hmac(Sha256), Hex, "{timestamp}{id}"),
                Field::Json("/signature/timestamp".to_string()),
                TimeFormat::Seconds,
                300,
            );
            scheme.signature = Field::Json("/signature/signature".to_string());
            scheme.id = Some(Field::Json("/signature/token".to_string()));
            utf8(scheme)
        }
        Preset::Stripe => utf8(stripe_like("stripe-signature", 300)),
        Preset::Calendly => utf8(stripe_like("calendly-webhook-signature", 180)),
        Preset::Paddle => utf8(timed(
            list(
                &["paddle-signature"],
                ';',
                '=',
                Some("ts"),
                "h1",
                Hex,
                "{timestamp}:{body}",
            ),
            Field::SignatureKey,
            TimeFormat::Seconds,
            5,
        )),
        Preset::Pagerduty => utf8(list(
            &["x-pagerduty-signature"],
            ',',
            '=',
            None,
            "v1",
            Hex,
            "{body}",
        )),
        Preset::StandardWebhooks => standard_webhooks(""),
        Preset::Svix => standard_webhooks("svix"),
        Preset::Discord => Signed {
            scheme: timed(
                single(
                    &["x-signature-ed25519"],
                    "",
                    vec![(String::new(), SigAlg::Ed25519)],
                    Hex,
                    "{timestamp}{body}",
                ),
                Field::header("x-signature-timestamp"),
                TimeFormat::Seconds,
                300,
            ),
            key_format: KeyFormat::Ed25519Hex,
        },
        Preset::Sendgrid => Signed {
            scheme: timed(
                single(
                    &["x-twilio-email-event-webhook-signature"],
                    "",
                    vec![(String::new(), SigAlg::EcdsaP256)],
                    Base64,
                    "{timestamp}{body}",
                ),
                Field::header("x-twilio-email-event-webhook-timestamp"),
                TimeFormat::Seconds,
                300,
            ),
            key_format: KeyFormat::P256Der,
        },
        Preset::GitlabToken
        | Preset::Okta
        | Preset::Msgraph
        | Preset::Salesforce
        | Preset::Servicenow => return None,
    };
    Some(signed)
}

fn headers(names: &[&'static str]) -> Field {
    Field::Header(names.iter().map(|n| HeaderName::from_static(n)).collect())
}

fn template(text: &str) -> Template {
    Template::parse(text).expect("preset templates are valid")
}

fn single(
    names: &[&'static str],
    prefix: &str,
    versions: Vec<(String, SigAlg)>,
    encoding: Encoding,
    content: &str,
) -> Scheme {
    Scheme {
        signature: headers(names),
        layout: Layout::Single {
            prefix: prefix.to_string(),
        },
        versions,
        encoding,
        content: template(content),
        timestamp: None,
        id: None,
        tolerance_ms: None,
        url_forms: UrlForms::Exact,
        body_hash_query: None,
    }
}

fn list(
    names: &[&'static str],
    separator: char,
    pair: char,
    timestamp_key: Option<&str>,
    version: &str,
    encoding: Encoding,
    content: &str,
) -> Scheme {
    let mut scheme = single(
        names,
        "",
        vec![(version.to_string(), SigAlg::Hmac(Algorithm::Sha256))],
        encoding,
        content,
    );
    scheme.layout = Layout::List {
        separator,
        pair,
        timestamp_key: timestamp_key.map(str::to_string),
    };
    scheme
}

fn timed(mut scheme: Scheme, field: Field, format: TimeFormat, tolerance_s: i64) -> Scheme {
    scheme.timestamp = Some((field, format));
    scheme.tolerance_ms = Some(tolerance_s * SECONDS);
    scheme
}

fn stripe_like(header: &'static str, tolerance_s: i64) -> Scheme {
    timed(
        list(
            &[header],
            ',',
            '=',
            Some("t"),
            "v1",
            Encoding::Hex,
            "{timestamp}.{body}",
        ),
        Field::SignatureKey,
        TimeFormat::Seconds,
        tolerance_s,
    )
}

/// Standard Webhooks, or Svix when `prefix` is `svix` (whose libraries also accept the
/// `webhook-*` names, so both are read, Svix's first).
fn standard_webhooks(prefix: &str) -> Signed {
    let names = |suffix: &'static str| -> Field {
        let standard = HeaderName::from_static(suffix);
        match prefix {
            "svix" => {
                let svix = HeaderName::from_bytes(
                    format!("svix-{}", &suffix["webhook-".len()..]).as_bytes(),
                )
                .expect("a valid header name");
                Field::Header(vec![svix, standard])
            }
            _ => Field::Header(vec![standard]),
        }
    };
    let mut scheme = timed(
        list(
            &[],
            ' ',
            ',',
            None,
            "v1",
            Encoding::Base64,
            "{id}.{timestamp}.{body}",
        ),
        names("webhook-timestamp"),
        TimeFormat::Seconds,
        300,
    );
    scheme.signature = names("webhook-signature");
    scheme.timestamp = Some((names("webhook-timestamp"), TimeFormat::Seconds));
    scheme.id = Some(names("webhook-id"));
    scheme.versions.push(("v1a".to_string(), SigAlg::Ed25519));
    Signed {
        scheme,
        key_format: KeyFormat::StandardWebhooks,
    }
}
