//! Presets for providers that send no signature: a static token (GitLab classic, Okta), the
//! Microsoft Graph `clientState`, the Salesforce organisation id, ServiceNow basic auth.
//!
//! These authenticate the sender but protect neither integrity nor against replay; the docs
//! say so, and the channel's dedup key is their replay protection.

use http::{HeaderMap, HeaderName};
use quick_xml::events::Event;

use crate::config::expand::Secret;
use crate::security::Failure;
use crate::security::compare::equals_any;

/// The most notifications checked in one Graph request; Graph batches far fewer.
const MAX_NOTIFICATIONS: usize = 1000;

fn any_secret(given: &[u8], secrets: &[Secret]) -> bool {
    equals_any(given, secrets.iter().map(|s| s.expose().as_bytes()))
}

/// A header whose whole value must equal a secret (Okta's `Authorization`, `X-Gitlab-Token`).
pub fn token(headers: &HeaderMap, name: &HeaderName, secrets: &[Secret]) -> Result<(), Failure> {
    let value = headers
        .get(name)
        .ok_or_else(|| Failure::MissingHeader(name.to_string()))?;
    if any_secret(value.as_bytes(), secrets) {
        Ok(())
    } else {
        Err(Failure::NoMatch(format!(
            "{name} matched none of the {} secret(s)",
            secrets.len()
        )))
    }
}

/// Basic auth where each secret is `user:password` (ServiceNow).
pub fn basic(headers: &HeaderMap, secrets: &[Secret]) -> Result<(), Failure> {
    let decoded = crate::security::basic::credentials(headers)?;
    if any_secret(&decoded, secrets) {
        Ok(())
    } else {
        Err(Failure::NoMatch("wrong username or password".to_string()))
    }
}

/// Every notification in a Graph `value` array must carry a `clientState` equal to a secret.
pub fn client_state(body: &[u8], secrets: &[Secret]) -> Result<(), Failure> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| Failure::Malformed("the body is not JSON".to_string()))?;
    let notifications = value
        .get("value")
        .and_then(serde_json::Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or_else(|| Failure::Malformed("the body has no `value` notifications".to_string()))?;
    if notifications.len() > MAX_NOTIFICATIONS {
        return Err(Failure::Malformed("too many notifications".to_string()));
    }
    for (index, notification) in notifications.iter().enumerate() {
        let state = notification
            .get("clientState")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| Failure::MissingHeader(format!("value[{index}].clientState")))?;
        if !any_secret(state.as_bytes(), secrets) {
            return Err(Failure::NoMatch(format!(
                "value[{index}].clientState matched none of the {} secret(s)",
                secrets.len()
            )));
        }
    }
    Ok(())
}

/// The `OrganizationId` of a Salesforce outbound message must equal a secret.
pub fn organization(body: &[u8], secrets: &[Secret]) -> Result<(), Failure> {
    let id = organization_id(body)?
        .ok_or_else(|| Failure::MissingHeader("OrganizationId in the SOAP body".to_string()))?;
    if any_secret(id.as_bytes(), secrets) {
        Ok(())
    } else {
        Err(Failure::NoMatch(format!(
            "OrganizationId matched none of the {} configured id(s)",
            secrets.len()
        )))
    }
}

/// The text of the first `OrganizationId` element, whatever its namespace prefix.
pub fn organization_id(body: &[u8]) -> Result<Option<String>, Failure> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut inside = false;
    let mut buffer = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|_| Failure::Malformed("the body is not XML".to_string()))?;
        match event {
            Event::Start(start) => inside = start.local_name().as_ref() == "OrganizationId",
            Event::Text(text) if inside => {
                let text: &str = text.as_ref();
                let text = text.trim().to_string();
                return Ok(Some(text));
            }
            Event::End(_) => inside = false,
            Event::Eof => return Ok(None),
            _ => {}
        }
        buffer.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(values: &[&str]) -> Vec<Secret> {
        values.iter().map(|v| Secret::new(*v)).collect()
    }

    #[test]
    fn organization_id_is_found_under_any_prefix() {
        let body = br#"<soapenv:Envelope xmlns:soapenv="x"><soapenv:Body><notifications xmlns="y"><OrganizationId>00D000000000062EAA</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>"#;
        assert!(organization(body, &secrets(&["00D000000000062EAA"])).is_ok());
        assert!(matches!(
            organization(body, &secrets(&["00D000000000999EAA"])),
            Err(Failure::NoMatch(_))
        ));
        assert!(matches!(
            organization(b"<a><b>1</b></a>", &secrets(&["x"])),
            Err(Failure::MissingHeader(_))
        ));
        assert!(organization(b"<a><b", &secrets(&["x"])).is_err());
    }

    #[test]
    fn every_graph_notification_needs_the_client_state() {
        let s = secrets(&["state-1"]);
        assert!(client_state(br#"{"value":[{"clientState":"state-1"}]}"#, &s).is_ok());
        assert!(
            client_state(
                br#"{"value":[{"clientState":"state-1"},{"clientState":"x"}]}"#,
                &s
            )
            .is_err()
        );
        assert!(client_state(br#"{"value":[{}]}"#, &s).is_err());
        assert!(client_state(br#"{"value":[]}"#, &s).is_err());
    }
}
