//! Component identifiers (RFC 9421 §2): a derived component name such as
//! `@method`, or a lowercased field name, plus parameters (`sf`, `key`, `bs`,
//! `req`, `name`; §6.5).

use std::fmt;
use std::str::FromStr;

use sfv::{BareItem, Parser, Version};

/// The derived components of RFC 9421 §2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Derived {
    Method,
    TargetUri,
    Authority,
    Scheme,
    RequestTarget,
    Path,
    Query,
    QueryParam,
    Status,
}

impl Derived {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "@method" => Derived::Method,
            "@target-uri" => Derived::TargetUri,
            "@authority" => Derived::Authority,
            "@scheme" => Derived::Scheme,
            "@request-target" => Derived::RequestTarget,
            "@path" => Derived::Path,
            "@query" => Derived::Query,
            "@query-param" => Derived::QueryParam,
            "@status" => Derived::Status,
            _ => return None,
        })
    }
}

/// A parameter value of a component identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ParamValue {
    /// A boolean `true` flag (`;sf`).
    Flag,
    /// A string value (`;key="a"`).
    Text(String),
}

/// A component identifier (RFC 9421 §2): what a signature covers.
///
/// Parse one from configuration text with [`str::parse`] or
/// [`ComponentId::parse_list`]. The text is either the bare name with
/// optional parameters (`@method`, `content-type`, `@query-param;name="id"`,
/// `example-dict;key="a"`) or the quoted form used on the wire
/// (`"content-type";sf`). Field names are lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ComponentId {
    name: String,
    params: Vec<(String, ParamValue)>,
}

/// A component identifier is not valid (RFC 9421 §2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid component {component:?}: {reason}")]
pub struct ComponentError {
    component: String,
    reason: &'static str,
}

impl ComponentError {
    fn new(component: &str, reason: &'static str) -> Self {
        Self {
            // Bounded: the text may come from a hostile Signature-Input.
            component: component.chars().take(64).collect(),
            reason,
        }
    }

    pub(crate) fn for_requests(id: &ComponentId) -> Self {
        Self::new(&id.serialize(), "applies only to responses")
    }

    /// The stable snake_case code of this error: `invalid_component`, as
    /// [`VerifyErrorKind::InvalidComponent`](crate::http_signature::VerifyErrorKind::InvalidComponent).
    #[must_use]
    pub fn code(&self) -> &'static str {
        "invalid_component"
    }

    /// The component text that was rejected (at most 64 characters).
    #[must_use]
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Why it was rejected.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl ComponentId {
    /// Parses a list of identifiers separated by spaces and/or commas, e.g.
    /// `"@method @target-uri content-digest"` or `"@method, content-type"`.
    ///
    /// # Errors
    /// [`ComponentError`] naming the first entry that is not valid, or when
    /// an identifier appears twice.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, ComponentError> {
        let mut out: Vec<Self> = Vec::new();
        let mut current = String::new();
        let mut in_quotes = false;
        let mut escaped = false;
        let mut flush = |current: &mut String| -> Result<(), ComponentError> {
            if !current.is_empty() {
                let id: ComponentId = current.parse()?;
                if out.contains(&id) {
                    return Err(ComponentError::new(current, "listed twice"));
                }
                out.push(id);
                current.clear();
            }
            Ok(())
        };
        for c in text.chars() {
            if in_quotes {
                current.push(c);
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_quotes = false;
                }
            } else if c == ',' || c.is_whitespace() {
                flush(&mut current)?;
            } else {
                if c == '"' {
                    in_quotes = true;
                }
                current.push(c);
            }
        }
        if in_quotes {
            return Err(ComponentError::new(&current, "unterminated quoted string"));
        }
        flush(&mut current)?;
        Ok(out)
    }

    /// Builds an identifier from a parsed Signature-Input item (§4.1).
    pub(crate) fn from_item(item: &sfv::Item) -> Result<Self, ComponentError> {
        let BareItem::String(name) = &item.bare_item else {
            return Err(ComponentError::new(
                "",
                "component identifier is not a string",
            ));
        };
        let name = name.as_str();
        let mut params = Vec::with_capacity(item.params.len());
        for (key, value) in &item.params {
            let key = key.as_str();
            let value = match (key, value) {
                ("sf" | "bs" | "req" | "tr", BareItem::Boolean(true)) => ParamValue::Flag,
                ("key" | "name", BareItem::String(text)) => {
                    ParamValue::Text(text.as_str().to_owned())
                }
                ("sf" | "bs" | "req" | "tr" | "key" | "name", _) => {
                    return Err(ComponentError::new(name, "parameter has the wrong type"));
                }
                _ => return Err(ComponentError::new(name, "unknown component parameter")),
            };
            params.push((key.to_owned(), value));
        }
        let id = ComponentId {
            name: name.to_owned(),
            params,
        };
        id.validate()?;
        Ok(id)
    }

    fn validate(&self) -> Result<(), ComponentError> {
        let name = self.name.as_str();
        let err = |reason| Err(ComponentError::new(name, reason));
        if name.is_empty() {
            return err("empty component name");
        }
        if name == "@signature-params" {
            return err("@signature-params cannot be covered");
        }
        let known = |k: &str| self.params.iter().any(|(key, _)| key == k);
        if let Some(derived) = Derived::from_name(name) {
            if self
                .params
                .iter()
                .any(|(k, _)| k != "req" && !(k == "name" && derived == Derived::QueryParam))
            {
                return err(
                    "derived components take only the req (and for @query-param, name) parameters",
                );
            }
            if derived == Derived::QueryParam && !known("name") {
                return err("@query-param needs a name parameter");
            }
            if derived == Derived::Status && known("req") {
                return err("@status cannot be taken from the request");
            }
            return Ok(());
        }
        if name.starts_with('@') {
            return err("unknown derived component");
        }
        if !name.bytes().all(|b| is_tchar(b) && !b.is_ascii_uppercase()) {
            return err("field names must be lowercase tokens");
        }
        if known("name") {
            return err("the name parameter only applies to @query-param");
        }
        if known("tr") {
            return err("trailer fields are not supported");
        }
        if known("bs") && (known("sf") || known("key")) {
            return err("bs cannot be combined with sf or key");
        }
        Ok(())
    }

    /// The component name: a derived name such as `@method`, or a field name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn derived(&self) -> Option<Derived> {
        Derived::from_name(&self.name)
    }

    pub(crate) fn has_flag(&self, key: &str) -> bool {
        self.params
            .iter()
            .any(|(k, v)| k == key && *v == ParamValue::Flag)
    }

    pub(crate) fn text_param(&self, key: &str) -> Option<&str> {
        self.params.iter().find_map(|(k, v)| match v {
            ParamValue::Text(text) if k == key => Some(text.as_str()),
            _ => None,
        })
    }

    /// Whether the component is taken from the request of a response (`;req`).
    pub(crate) fn is_req(&self) -> bool {
        self.has_flag("req")
    }

    /// Whether this is the message's own `content-digest` field (not the
    /// request's, `;req`), which signing must create and verifying check
    /// against the body.
    pub(crate) fn is_own_content_digest(&self) -> bool {
        self.name() == "content-digest" && !self.is_req()
    }

    /// The serialized identifier (RFC 8941 §4.1.1 item: sf-string plus parameters).
    #[must_use]
    pub fn serialize(&self) -> String {
        let mut out = String::with_capacity(self.name.len() + 8);
        push_sf_string(&mut out, &self.name);
        for (key, value) in &self.params {
            out.push(';');
            out.push_str(key);
            if let ParamValue::Text(text) = value {
                out.push('=');
                push_sf_string(&mut out, text);
            }
        }
        out
    }
}

/// Appends `text` as an sf-string (RFC 8941 §4.1.6). The caller guarantees
/// printable ASCII (it came through the sfv parser or validation).
pub(crate) fn push_sf_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serialize())
    }
}

impl FromStr for ComponentId {
    type Err = ComponentError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let quoted = if text.starts_with('"') {
            text.to_owned()
        } else {
            let (name, params) = text.split_once(';').map_or((text, ""), |(n, p)| (n, p));
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| is_tchar(b) || (b == b'@' && name.starts_with('@')))
            {
                return Err(ComponentError::new(text, "not a component name"));
            }
            if params.is_empty() {
                format!("\"{name}\"")
            } else {
                // Allow `name=Pet` as well as `name="Pet"` in configuration.
                let params = params
                    .split(';')
                    .map(|param| match param.split_once('=') {
                        Some((k, v)) if !v.starts_with('"') => format!("{}=\"{v}\"", k.trim()),
                        _ => param.trim().to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join(";");
                format!("\"{name}\";{params}")
            }
        };
        let item: sfv::Item = Parser::new(&quoted)
            .with_version(Version::Rfc8941)
            .parse()
            .map_err(|_| ComponentError::new(text, "not a valid component identifier"))?;
        ComponentId::from_item(&item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> Result<ComponentId, ComponentError> {
        text.parse()
    }

    #[test]
    fn config_forms_parse_to_wire_forms() -> Result<(), ComponentError> {
        assert_eq!(id("@method")?.serialize(), r#""@method""#);
        assert_eq!(id("Content-Type")?.serialize(), r#""content-type""#);
        assert_eq!(
            id("@query-param;name=Pet")?.serialize(),
            r#""@query-param";name="Pet""#
        );
        assert_eq!(
            id(r#""example-dict";key="a""#)?.serialize(),
            r#""example-dict";key="a""#
        );
        assert_eq!(
            id(r#""signature";req;key="sig1""#)?.serialize(),
            r#""signature";req;key="sig1""#
        );
        Ok(())
    }

    #[test]
    fn lists_split_on_spaces_and_commas_but_not_inside_quotes() -> Result<(), ComponentError> {
        let list = ComponentId::parse_list(
            r#"@method, @target-uri  "@query-param";name="a b,c" content-digest"#,
        )?;
        let shown: Vec<String> = list.iter().map(ComponentId::serialize).collect();
        assert_eq!(
            shown,
            [
                r#""@method""#,
                r#""@target-uri""#,
                r#""@query-param";name="a b,c""#,
                r#""content-digest""#
            ]
        );
        Ok(())
    }

    #[test]
    fn invalid_identifiers_say_why() {
        for (text, reason) in [
            ("@signature-params", "@signature-params cannot be covered"),
            ("@nope", "unknown derived component"),
            ("@query-param", "@query-param needs a name parameter"),
            (
                "@method;sf",
                "derived components take only the req (and for @query-param, name) parameters",
            ),
            ("content-type;bs;sf", "bs cannot be combined with sf or key"),
            ("content-type;foo", "unknown component parameter"),
            ("content-type;tr", "trailer fields are not supported"),
            ("@status;req", "@status cannot be taken from the request"),
        ] {
            assert_eq!(id(text).err().map(|e| e.reason()), Some(reason), "{text}");
            assert_eq!(id(text).err().map(|e| e.code()), Some("invalid_component"));
        }
        assert!(ComponentId::parse_list("@method @method").is_err());
        assert!(ComponentId::parse_list(r#""open"#).is_err());
        assert!(id("bad name").is_err());
        assert!(id("").is_err());
    }

    #[test]
    fn wire_identifiers_must_be_lowercase() {
        let item: Result<sfv::Item, _> = Parser::new(r#""Content-Type""#).parse();
        assert!(
            item.map(|i| ComponentId::from_item(&i).is_err())
                .unwrap_or(false)
        );
    }
}
