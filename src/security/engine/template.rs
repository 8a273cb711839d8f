//! Signed-content templates: which bytes a provider signs, as in `{id}.{timestamp}.{body}`.
//!
//! A template is parsed once from config (or a preset's table) into parts, and rendered per
//! request from the raw values. Placeholders: `{id}`, `{timestamp}`, `{body}`, `{url}`,
//! `{method}` and `{params}` (Twilio's sorted form parameters); any other text is literal.

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(Vec<u8>),
    Id,
    Timestamp,
    Body,
    Url,
    Method,
    Params,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

/// The values a template is rendered from, all exactly as received.
#[derive(Debug, Default, Clone, Copy)]
pub struct Values<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub body: &'a [u8],
    pub url: &'a str,
    pub method: &'a str,
    pub params: &'a [u8],
}

impl Template {
    /// Parses `text`; an unknown or unclosed placeholder is an error.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest.as_bytes()[..open].to_vec()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("template {text:?}: `{{` without `}}`"))?;
            parts.push(match &after[..close] {
                "id" => Part::Id,
                "timestamp" => Part::Timestamp,
                "body" => Part::Body,
                "url" => Part::Url,
                "method" => Part::Method,
                "params" => Part::Params,
                other => {
                    return Err(format!(
                        "template {text:?}: unknown placeholder `{{{other}}}`; use {{id}}, {{timestamp}}, {{body}}, {{url}}, {{method}} or {{params}}"
                    ));
                }
            });
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.as_bytes().to_vec()));
        }
        if !parts.contains(&Part::Body) && !parts.contains(&Part::Params) {
            // Only Mailgun signs no body, and it has its own preset; a custom scheme that
            // leaves the body out would let anyone change the body undetected.
            if !parts.contains(&Part::Id) {
                return Err(format!("template {text:?} must include {{body}}"));
            }
        }
        Ok(Template(parts))
    }

    pub fn uses(&self, part: &Part) -> bool {
        self.0.contains(part)
    }

    /// The bytes to sign, as slices in order: no copy of the body is made, and nothing is
    /// collected, so a MAC consumes them one after the other (cloning the iterator for
    /// another MAC).
    pub fn slices<'a>(
        &'a self,
        values: Values<'a>,
    ) -> impl Iterator<Item = &'a [u8]> + Clone + use<'a> {
        self.0.iter().map(move |part| match part {
            Part::Literal(bytes) => bytes.as_slice(),
            Part::Id => values.id.as_bytes(),
            Part::Timestamp => values.timestamp.as_bytes(),
            Part::Body => values.body,
            Part::Url => values.url.as_bytes(),
            Part::Method => values.method.as_bytes(),
            Part::Params => values.params,
        })
    }

    /// The bytes to sign, in one buffer (for signatures that need the whole message at once).
    pub fn render(&self, values: &Values) -> Vec<u8> {
        self.slices(*values).collect::<Vec<_>>().concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_standard_webhooks_content() {
        let template = Template::parse("{id}.{timestamp}.{body}").unwrap();
        let values = Values {
            id: "msg_1",
            timestamp: "12",
            body: b"{}",
            ..Values::default()
        };
        assert_eq!(template.render(&values), b"msg_1.12.{}");
        assert!(template.uses(&Part::Id));
        assert!(!template.uses(&Part::Url));
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_errors() {
        assert!(
            Template::parse("{bodies}")
                .unwrap_err()
                .contains("{bodies}")
        );
        assert!(Template::parse("{body").is_err());
        assert!(Template::parse("{timestamp}").is_err());
    }
}
