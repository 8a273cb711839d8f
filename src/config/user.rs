//! `[config.SECTION]`: free-form settings that services read, such as
//! `config.salesforce.webhook_secret` in the seed.
//!
//! Values are kept as JSON so that a service can read one key or map a whole section to its
//! own type. Strings are expanded (`${env:…}`, `${file:…}`) like every other config value.
//! Any value may be a secret, so `Debug` shows the keys only.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::expand::Text;

/// The user's config sections, by name.
#[derive(Clone, Default)]
pub struct UserConfig {
    sections: BTreeMap<String, Value>,
}

impl UserConfig {
    pub(crate) fn new(sections: BTreeMap<String, UserValue>) -> Self {
        UserConfig {
            sections: sections.into_iter().map(|(k, v)| (k, v.0)).collect(),
        }
    }

    /// The value at a dotted path, as in `salesforce.webhook_secret`.
    pub fn get(&self, dotted: &str) -> Option<&Value> {
        let mut parts = dotted.split('.');
        let mut value = self.sections.get(parts.next()?)?;
        for part in parts {
            value = value.get(part)?;
        }
        Some(value)
    }

    /// The string at a dotted path; the error names the path when it is absent or not a string.
    pub fn str(&self, dotted: &str) -> Result<&str, UserConfigError> {
        match self.get(dotted) {
            Some(Value::String(text)) => Ok(text),
            Some(_) => Err(UserConfigError(format!(
                "config value `{dotted}` is not a string"
            ))),
            None => Err(UserConfigError(format!(
                "config value `{dotted}` is not set"
            ))),
        }
    }

    /// A whole section mapped to the service's own type.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<T, UserConfigError> {
        let value = self
            .sections
            .get(name)
            .ok_or_else(|| UserConfigError(format!("config section `{name}` is not set")))?;
        serde_json::from_value(value.clone())
            .map_err(|err| UserConfigError(format!("config section `{name}`: {err}")))
    }

    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.keys().map(String::as_str)
    }
}

impl fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserConfig")
            .field("sections", &self.sections.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A `[config]` value that a service asked for is absent or has the wrong type.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct UserConfigError(String);

/// A TOML value turned into JSON, with its strings expanded.
pub(crate) struct UserValue(pub Value);

/// How the TOML deserialiser presents a datetime: a one-entry map under this key.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for UserValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UserValueVisitor)
            .map(UserValue)
    }
}

struct UserValueVisitor;

impl<'de> Visitor<'de> for UserValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("NaN and infinite numbers cannot be used in [config]"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        let text = Text::deserialize(de::value::StrDeserializer::<E>::new(v))?;
        Ok(Value::String(text.0))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.visit_str(&v)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UserValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == TOML_DATETIME_KEY {
                let datetime: String = map.next_value()?;
                return Ok(Value::String(datetime));
            }
            let UserValue(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}
