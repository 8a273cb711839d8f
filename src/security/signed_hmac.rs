//! The generic `hmac` kind: any HMAC scheme described in config, run by the same engine as
//! the presets. With only `header` and `secrets` it is an HMAC-SHA256 of the body in hex;
//! `template`, `list`, `timestamp_header`, `id_header` and `key` describe everything else.

use http::HeaderName;

use super::Failure;
use super::config::HmacConfig;
use super::engine::{
    self, Field, Key, KeyFormat, Layout, Message, Part, ReplayEntry, Scheme, SigAlg, Template,
    TimeFormat, UrlForms,
};

/// The tolerance when a timestamped `hmac` definition sets none.
const DEFAULT_TOLERANCE_MS: i64 = 300_000;

#[derive(Debug)]
pub struct HmacCheck {
    scheme: Scheme,
    keys: Vec<Key>,
    url: Option<String>,
}

fn header_name(key: &str, text: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(text.as_bytes())
        .map_err(|_| format!("`{key}`: {text:?} is not a valid header name"))
}

impl HmacCheck {
    pub fn build(config: &HmacConfig) -> Result<Self, String> {
        let header = header_name("header", config.header.as_str())?;
        if config.secrets.is_empty() {
            return Err("`secrets`: give at least one secret".to_string());
        }
        if let Some(empty) = config.secrets.iter().position(|s| s.expose().is_empty()) {
            return Err(format!("`secrets`: secret #{} is empty", empty + 1));
        }
        let content = Template::parse(config.template.as_ref().map_or("{body}", |t| t.as_str()))
            .map_err(|why| format!("`template`: {why}"))?;
        let alg = SigAlg::Hmac(config.algorithm);
        let (layout, versions) = match (&config.list, &config.prefix) {
            (Some(_), Some(_)) => return Err("set `prefix` or `list`, not both".to_string()),
            (Some(list), None) => (
                Layout::List {
                    separator: list.separator,
                    pair: list.pair,
                    timestamp_key: list.timestamp_key.clone(),
                },
                vec![(list.version.clone(), alg)],
            ),
            (None, prefix) => (
                Layout::Single {
                    prefix: prefix
                        .as_ref()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default(),
                },
                vec![(String::new(), alg)],
            ),
        };
        let in_list = matches!(&config.list, Some(list) if list.timestamp_key.is_some());
        let timestamp_field = match (&config.timestamp_header, in_list) {
            (Some(_), true) => {
                return Err("set `timestamp_header` or `list.timestamp_key`, not both".to_string());
            }
            (Some(name), false) => Some(Field::Header(vec![header_name(
                "timestamp_header",
                name.as_str(),
            )?])),
            (None, true) => Some(Field::SignatureKey),
            (None, false) => None,
        };
        if content.uses(&Part::Timestamp) && timestamp_field.is_none() {
            return Err(
                "`template` uses {timestamp}: set `timestamp_header` or `list.timestamp_key`"
                    .to_string(),
            );
        }
        let id = match &config.id_header {
            Some(name) => Some(Field::Header(vec![header_name(
                "id_header",
                name.as_str(),
            )?])),
            None if content.uses(&Part::Id) => {
                return Err("`template` uses {id}: set `id_header`".to_string());
            }
            None => None,
        };
        if content.uses(&Part::Url) != config.url.is_some() {
            return Err("set `url` exactly when `template` uses {url}".to_string());
        }
        let timestamp = timestamp_field.map(|field| {
            (
                field,
                config.timestamp_format.unwrap_or(TimeFormat::Seconds),
            )
        });
        let tolerance_ms = match (&timestamp, config.tolerance) {
            (None, Some(_)) => return Err("`tolerance` needs a timestamp".to_string()),
            (None, None) => None,
            (Some(_), None) => Some(DEFAULT_TOLERANCE_MS),
            (Some(_), Some(d)) => Some(i64::try_from(d.0.as_millis()).unwrap_or(i64::MAX)),
        };
        let key_format = config.key.unwrap_or(KeyFormat::Utf8);
        if !matches!(key_format, KeyFormat::Utf8 | KeyFormat::Whsec) {
            return Err("`key`: the hmac kind takes `utf8` or `whsec`".to_string());
        }
        let keys = config
            .secrets
            .iter()
            .enumerate()
            .map(|(index, s)| {
                key_format
                    .decode(s.expose())
                    .map_err(|why| format!("`secrets`: secret #{}: {why}", index + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HmacCheck {
            scheme: Scheme {
                signature: Field::Header(vec![header]),
                layout,
                versions,
                encoding: config.encoding,
                content,
                timestamp,
                id,
                tolerance_ms,
                url_forms: UrlForms::Exact,
                body_hash_query: None,
            },
            keys,
            url: config.url.as_ref().map(|u| u.as_str().to_string()),
        })
    }

    pub fn is_timestamped(&self) -> bool {
        self.scheme.tolerance_ms.is_some()
    }

    pub fn check(
        &self,
        method: &str,
        query: &str,
        headers: &http::HeaderMap,
        body: &[u8],
        now_ms: i64,
    ) -> Result<Option<ReplayEntry>, Failure> {
        let url = self
            .url
            .as_deref()
            .map(|base| engine::url::public_url(base, query));
        let message = Message {
            method,
            url: url.as_deref(),
            headers,
            body,
        };
        engine::verify(&self.scheme, &self.keys, &message, now_ms).map(|m| m.replay)
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::*;
    use crate::security::config::SecurityConfig;
    use crate::security::hmac::{Algorithm, compute};

    fn build(toml_text: &str) -> Result<HmacCheck, String> {
        match toml::from_str::<SecurityConfig>(toml_text).unwrap() {
            SecurityConfig::Hmac(config) => HmacCheck::build(&config),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_custom_timestamped_list_scheme_is_only_config() {
        let check = build(
            r#"
            type = "hmac"
            header = "X-Acme-Signature"
            list = { separator = ",", pair = "=", version = "v1", timestamp_key = "t" }
            template = "{timestamp}.{body}"
            tolerance = "1m"
            secrets = ["acme"]
            "#,
        )
        .unwrap();
        assert!(check.is_timestamped());
        let mac = hex::encode(compute(Algorithm::Sha256, b"acme", &[b"1000.{}"]));
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-acme-signature",
            HeaderValue::from_str(&format!("t=1000,v1={mac}")).unwrap(),
        );
        assert!(
            check
                .check("POST", "", &headers, b"{}", 1_000_000 + 60_000)
                .is_ok()
        );
        let stale = check.check("POST", "", &headers, b"{}", 1_000_000 + 60_001);
        assert!(matches!(stale, Err(Failure::StaleTimestamp(_))));
    }

    #[test]
    fn the_plain_form_still_works_and_inconsistent_configs_are_refused() {
        let check =
            build("type = \"hmac\"\nheader = \"X-Sig\"\nprefix = \"sha256=\"\nsecrets = [\"k\"]\n")
                .unwrap();
        let mac = hex::encode(compute(Algorithm::Sha256, b"k", &[b"body"]));
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-sig",
            HeaderValue::from_str(&format!("sha256={mac}")).unwrap(),
        );
        assert!(check.check("POST", "", &headers, b"body", 0).is_ok());
        assert!(check.check("POST", "", &headers, b"bodY", 0).is_err());
        let missing_ts = build(
            "type = \"hmac\"\nheader = \"X\"\ntemplate = \"{timestamp}{body}\"\nsecrets = [\"k\"]\n",
        );
        assert!(missing_ts.unwrap_err().contains("{timestamp}"));
        let no_body =
            build("type = \"hmac\"\nheader = \"X\"\ntemplate = \"{method}\"\nsecrets = [\"k\"]\n");
        assert!(no_body.unwrap_err().contains("{body}"));
    }
}
