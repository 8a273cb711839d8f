//! Data formats: how a channel reads its body into a service's payload.
//!
//! [`check_body`] runs before the service, so that malformed input gets a 400 that says what
//! is wrong and never reaches the service. [`parse_payload`] builds the payload itself, on
//! the service's first call to `payload()`.

use serde::Deserialize;
use serde_json::Value;

/// How a channel reads its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// The body is JSON, whatever the Content-Type says (`curl -d` sends a form type).
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`: the payload is an object of fields.
    Form,
    /// UTF-8 text: the payload is a string.
    Text,
    /// A well-formed XML document: the payload is its text.
    Xml,
    /// Any bytes: the payload is null and the service reads the raw body.
    Raw,
}

/// Checks that `body` is what `format` promises; the error is shown to the client.
pub fn check_body(format: DataFormat, body: &[u8]) -> Result<(), String> {
    match format {
        DataFormat::Json if is_blank(body) => Ok(()),
        // Validating without building a `Value` is cheap, and services that map the body to
        // their own type with `payload_as` never pay for one.
        DataFormat::Json => serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .map(drop)
            .map_err(|err| format!("the body is not valid JSON: {err}")),
        DataFormat::Form | DataFormat::Text => parse_payload(format, body).map(drop),
        DataFormat::Xml => check_xml(body),
        DataFormat::Raw => Ok(()),
    }
}

/// Turns a body into the payload its channel's format promises. An empty JSON body is null.
pub fn parse_payload(format: DataFormat, body: &[u8]) -> Result<Value, String> {
    match format {
        DataFormat::Json if is_blank(body) => Ok(Value::Null),
        DataFormat::Json => {
            serde_json::from_slice(body).map_err(|err| format!("the body is not valid JSON: {err}"))
        }
        DataFormat::Form => form_payload(body),
        DataFormat::Text | DataFormat::Xml => std::str::from_utf8(body)
            .map(|text| Value::String(text.to_string()))
            .map_err(|err| format!("the body is not valid UTF-8: {err}")),
        DataFormat::Raw => Ok(Value::Null),
    }
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// A form body as an object; a field given more than once becomes an array of its values.
fn form_payload(body: &[u8]) -> Result<Value, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|err| format!("the body is not a valid form: {err}"))?;
    let mut object = serde_json::Map::new();
    for (key, value) in pairs {
        match object.get_mut(&key) {
            None => {
                object.insert(key, Value::String(value));
            }
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value)]);
            }
        }
    }
    Ok(Value::Object(object))
}

/// Checks that `body` is one well-formed XML document.
fn check_xml(body: &[u8]) -> Result<(), String> {
    use quick_xml::events::Event;
    std::str::from_utf8(body).map_err(|err| format!("the body is not valid UTF-8: {err}"))?;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut depth: usize = 0;
    let mut roots = 0;
    let mut buffer = Vec::new();
    loop {
        let position = reader.buffer_position();
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(_)) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Empty(_)) if depth == 0 => roots += 1,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(err) => {
                return Err(format!(
                    "the body is not well-formed XML (near byte {position}): {err}"
                ));
            }
        }
        buffer.clear();
    }
    match (roots, depth) {
        (1, 0) => Ok(()),
        (0, _) => Err("the body is not an XML document: it has no root element".to_string()),
        (_, 0) => {
            Err("the body is not well-formed XML: it has more than one root element".to_string())
        }
        _ => Err("the body is not well-formed XML: an element is not closed".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_give_line_and_column() {
        let err = check_body(DataFormat::Json, b"{\"a\": ").unwrap_err();
        assert!(err.contains("line 1 column 6"), "{err}");
        assert!(check_body(DataFormat::Json, b"  ").is_ok());
    }

    #[test]
    fn form_fields_become_an_object_and_repeats_an_array() {
        let value = parse_payload(DataFormat::Form, b"a=1&b=x+y&a=2").unwrap();
        assert_eq!(value, serde_json::json!({"a": ["1", "2"], "b": "x y"}));
    }

    #[test]
    fn invalid_utf8_text_is_an_error() {
        assert!(check_body(DataFormat::Text, &[0xff]).is_err());
    }

    #[test]
    fn xml_must_be_one_well_formed_document() {
        assert!(check_body(DataFormat::Xml, b"<?xml version=\"1.0\"?><a><b/></a>").is_ok());
        assert!(check_body(DataFormat::Xml, b"<a><b></a>").is_err());
        assert!(
            check_body(DataFormat::Xml, b"<a>")
                .unwrap_err()
                .contains("not closed")
        );
        assert!(
            check_body(DataFormat::Xml, b"<a/><b/>")
                .unwrap_err()
                .contains("more than one root")
        );
        assert!(
            check_body(DataFormat::Xml, b"hello")
                .unwrap_err()
                .contains("no root")
        );
    }
}
