//! Component values taken from an HTTP message: header fields (RFC 9421
//! §2.1, with the `sf`, `key`, `bs` and `req` parameters) and derived
//! components (§2.2).

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use sfv::{FieldType as _, Parser, Version};

use super::components::{ComponentId, Derived};

/// Why a component value could not be produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueError {
    /// The message does not have the component (§2.5: the base cannot be built).
    Missing(String),
    /// The component exists but cannot be canonicalised.
    Invalid(String, &'static str),
}

impl ValueError {
    pub(crate) fn describe(&self) -> String {
        match self {
            ValueError::Missing(id) => format!("covered component {id} is not in the message"),
            ValueError::Invalid(id, why) => format!("covered component {id}: {why}"),
        }
    }
}

/// The request data components are derived from (§2.2).
#[derive(Debug, Clone)]
pub(crate) struct RequestParts<'a> {
    method: &'a str,
    scheme: String,
    authority: String,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Lowercases the host and drops user info and a default port (§2.2.3).
fn normalize_authority(scheme: &str, raw: &str) -> Option<String> {
    let raw = raw
        .rsplit_once('@')
        .map_or(raw, |(_, host)| host)
        .to_ascii_lowercase();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    // A port follows the last ':' unless that colon is inside an IPv6 literal.
    if let Some((host, port)) = raw.rsplit_once(':') {
        if !port.contains(']') {
            let port: u16 = port.parse().ok()?;
            if Some(port) == default_port(scheme) {
                return Some(host.to_owned());
            }
        }
    }
    Some(raw)
}

impl<'a> RequestParts<'a> {
    /// From an absolute URL, as an HTTP client holds it (reqwest).
    pub(crate) fn from_url(
        method: &'a http::Method,
        url: &'a url::Url,
        headers: &'a HeaderMap,
    ) -> Option<Self> {
        let host = url.host_str()?;
        let scheme = url.scheme().to_ascii_lowercase();
        let authority = match url.port() {
            Some(port) if Some(port) != default_port(&scheme) => format!("{host}:{port}"),
            _ => host.to_owned(),
        };
        Some(Self {
            method: method.as_str(),
            authority: authority.to_ascii_lowercase(),
            scheme,
            path: url.path(),
            query: url.query(),
            headers,
        })
    }

    /// From a request as a server sees it: the authority comes from the
    /// URI (HTTP/2 `:authority`) or else the `Host` header; the scheme from
    /// the URI or else `default_scheme` (a server behind a TLS terminator
    /// cannot see it).
    pub(crate) fn from_http<B>(
        request: &'a http::Request<B>,
        default_scheme: &str,
    ) -> Option<Self> {
        let uri = request.uri();
        let scheme = uri
            .scheme_str()
            .unwrap_or(default_scheme)
            .to_ascii_lowercase();
        let raw_authority = match uri.authority() {
            Some(authority) => authority.as_str(),
            None => {
                let mut hosts = request.headers().get_all(http::header::HOST).iter();
                let host = hosts.next()?;
                if hosts.next().is_some() {
                    return None;
                }
                host.to_str().ok()?
            }
        };
        Some(Self {
            method: request.method().as_str(),
            authority: normalize_authority(&scheme, raw_authority)?,
            scheme,
            path: uri.path(),
            query: uri.query(),
            headers: request.headers(),
        })
    }

    fn path(&self) -> &str {
        if self.path.is_empty() { "/" } else { self.path }
    }

    fn target_uri(&self) -> String {
        let mut uri = format!("{}://{}{}", self.scheme, self.authority, self.path());
        if let Some(query) = self.query {
            uri.push('?');
            uri.push_str(query);
        }
        uri
    }
}

/// A message that components are read from.
#[derive(Debug, Clone)]
pub(crate) enum MessageView<'a> {
    Request(RequestParts<'a>),
    Response {
        status: u16,
        headers: &'a HeaderMap,
        /// The request this response answers, for `;req` components (§2.4).
        request: Option<RequestParts<'a>>,
    },
}

impl MessageView<'_> {
    pub(crate) fn headers(&self) -> &HeaderMap {
        match self {
            MessageView::Request(request) => request.headers,
            MessageView::Response { headers, .. } => headers,
        }
    }

    /// The values of `id` in this message: one per signature base line
    /// (several only for a repeated `@query-param`).
    pub(crate) fn component_values(&self, id: &ComponentId) -> Result<Vec<String>, ValueError> {
        let shown = || id.serialize();
        if id.is_req() {
            return match self {
                MessageView::Response {
                    request: Some(request),
                    ..
                } => MessageView::Request(request.clone()).component_values(&id.without_req()),
                MessageView::Response { request: None, .. } => Err(ValueError::Missing(shown())),
                MessageView::Request(_) => Err(ValueError::Invalid(
                    shown(),
                    "req applies only to responses",
                )),
            };
        }
        match id.derived() {
            Some(derived) => self.derived_values(id, derived),
            None => field_value(self.headers(), id).map(|value| vec![value]),
        }
    }

    fn derived_values(
        &self,
        id: &ComponentId,
        derived: Derived,
    ) -> Result<Vec<String>, ValueError> {
        let request = match (self, derived) {
            (MessageView::Response { status, .. }, Derived::Status) => {
                return Ok(vec![format!("{status:03}")]);
            }
            (MessageView::Request(_), Derived::Status) => {
                return Err(ValueError::Invalid(
                    id.serialize(),
                    "@status applies only to responses",
                ));
            }
            (MessageView::Request(request), _) => request,
            (MessageView::Response { .. }, _) => {
                return Err(ValueError::Invalid(
                    id.serialize(),
                    "request components of a response need the req parameter",
                ));
            }
        };
        let value = match derived {
            Derived::Method => request.method.to_owned(),
            Derived::TargetUri => request.target_uri(),
            Derived::Authority => request.authority.clone(),
            Derived::Scheme => request.scheme.clone(),
            Derived::RequestTarget => match request.query {
                Some(query) => format!("{}?{query}", request.path()),
                None => request.path().to_owned(),
            },
            Derived::Path => request.path().to_owned(),
            Derived::Query => format!("?{}", request.query.unwrap_or("")),
            Derived::QueryParam => return query_param_values(id, request.query),
            Derived::Status => return Err(ValueError::Invalid(id.serialize(), "unreachable")),
        };
        Ok(vec![value])
    }
}

/// Percent-encodes with the application/x-www-form-urlencoded set (§2.2.8).
fn encode_query_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"*-._".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `@query-param` (§2.2.8): every value of the named parameter, decoded and
/// re-encoded so that equivalent encodings compare equal.
fn query_param_values(id: &ComponentId, query: Option<&str>) -> Result<Vec<String>, ValueError> {
    let name = id.text_param("name").unwrap_or_default();
    let values: Vec<String> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(key, _)| encode_query_part(key) == name)
        .map(|(_, value)| encode_query_part(&value))
        .collect();
    if values.is_empty() {
        return Err(ValueError::Missing(id.serialize()));
    }
    Ok(values)
}

/// A field line value as bytes (§2.1): visible ASCII only, outer whitespace trimmed.
fn field_line(id: &ComponentId, value: &HeaderValue) -> Result<String, ValueError> {
    let bytes = value.as_bytes();
    if !bytes
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Err(ValueError::Invalid(
            id.serialize(),
            "field value is not ASCII",
        ));
    }
    let text = String::from_utf8_lossy(bytes);
    Ok(text.trim_matches([' ', '\t']).to_owned())
}

#[derive(Clone, Copy)]
enum SfType {
    Dictionary,
    List,
    Item,
}

/// The structured type of well-known fields (§2.1.1 needs the type to
/// re-serialize strictly). Other fields are tried as dictionary, list, item.
fn known_sf_type(name: &str) -> Option<SfType> {
    match name {
        "signature"
        | "signature-input"
        | "accept-signature"
        | "content-digest"
        | "repr-digest"
        | "want-content-digest"
        | "want-repr-digest"
        | "priority"
        | "cache-control-sf" => Some(SfType::Dictionary),
        "cache-status" | "proxy-status" | "accept-ch" | "client-cert-chain" => Some(SfType::List),
        "client-cert" | "sec-ch-ua-mobile" | "origin-agent-cluster" => Some(SfType::Item),
        _ => None,
    }
}

fn reserialize(kind: SfType, text: &str) -> Option<String> {
    let parser = Parser::new(text).with_version(Version::Rfc8941);
    match kind {
        SfType::Dictionary => parser
            .parse::<sfv::Dictionary>()
            .ok()
            .map(|dict| dict.serialize().unwrap_or_default()),
        SfType::List => parser
            .parse::<sfv::List>()
            .ok()
            .map(|list| list.serialize().unwrap_or_default()),
        SfType::Item => parser
            .parse::<sfv::Item>()
            .ok()
            .map(|item| item.serialize()),
    }
}

fn field_value(headers: &HeaderMap, id: &ComponentId) -> Result<String, ValueError> {
    let mut lines = Vec::new();
    for value in headers.get_all(id.name()) {
        lines.push(field_line(id, value)?);
    }
    if lines.is_empty() {
        return Err(ValueError::Missing(id.serialize()));
    }
    if id.has_flag("bs") {
        // §2.1.3: each field line wrapped as a byte sequence.
        let engine = base64::engine::general_purpose::STANDARD;
        let wrapped: Vec<String> = lines
            .iter()
            .map(|line| format!(":{}:", engine.encode(line)))
            .collect();
        return Ok(wrapped.join(", "));
    }
    let combined = lines.join(", ");
    if let Some(key) = id.text_param("key") {
        // §2.1.2: one member of a dictionary field.
        let dict: sfv::Dictionary = Parser::new(&combined)
            .with_version(Version::Rfc8941)
            .parse()
            .map_err(|_| {
                ValueError::Invalid(id.serialize(), "field is not a structured dictionary")
            })?;
        let member = dict
            .iter()
            .find(|(name, _)| name.as_str() == key)
            .map(|(_, entry)| entry.clone())
            .ok_or_else(|| ValueError::Missing(id.serialize()))?;
        let single: sfv::List = vec![member];
        return Ok(single.serialize().unwrap_or_default());
    }
    if id.has_flag("sf") {
        // §2.1.1: strict re-serialization.
        let value = match known_sf_type(id.name()) {
            Some(kind) => reserialize(kind, &combined),
            None => [SfType::Dictionary, SfType::List, SfType::Item]
                .into_iter()
                .find_map(|kind| reserialize(kind, &combined)),
        };
        return value
            .ok_or_else(|| ValueError::Invalid(id.serialize(), "field is not a structured field"));
    }
    Ok(combined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(view: &MessageView<'_>, id: &str) -> Result<Vec<String>, ValueError> {
        let id: ComponentId = id
            .parse()
            .map_err(|_| ValueError::Invalid(id.to_owned(), "bad test identifier"))?;
        view.component_values(&id)
    }

    fn one(view: &MessageView<'_>, id: &str) -> String {
        values(view, id)
            .map(|v| v.join("|"))
            .unwrap_or_else(|e| e.describe())
    }

    fn request(uri: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut builder = http::Request::post(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap_or_default()
    }

    #[test]
    fn rfc9421_section_2_1_field_examples() {
        // RFC 9421 §2.1 (the obs-fold line cannot be built with the http crate).
        let req = request(
            "/xyz",
            &[
                ("host", "www.example.com"),
                ("x-ows-header", "   Leading and trailing whitespace.   "),
                ("cache-control", "max-age=60"),
                ("x-empty-header", ""),
                ("cache-control", "   must-revalidate"),
                ("example-dict", " a=1,    b=2;x=1;y=2,   c=(a   b   c)"),
                ("example-header", "value, with, lots"),
                ("example-dict", "d"),
                ("example-header", "of, commas"),
            ],
        );
        let parts = RequestParts::from_http(&req, "https");
        let Some(parts) = parts else {
            panic!("request parts");
        };
        let view = MessageView::Request(parts);
        assert_eq!(
            one(&view, "x-ows-header"),
            "Leading and trailing whitespace."
        );
        assert_eq!(one(&view, "cache-control"), "max-age=60, must-revalidate");
        assert_eq!(one(&view, "x-empty-header"), "");
        assert_eq!(
            one(&view, "example-header"),
            "value, with, lots, of, commas"
        );
        assert_eq!(
            one(&view, "example-dict"),
            "a=1,    b=2;x=1;y=2,   c=(a   b   c), d"
        );
        assert_eq!(
            one(&view, "example-dict;sf"),
            "a=1, b=2;x=1;y=2, c=(a b c), d"
        );
        assert_eq!(one(&view, "example-dict;key=a"), "1");
        assert_eq!(one(&view, "example-dict;key=d"), "?1");
        assert_eq!(one(&view, "example-dict;key=b"), "2;x=1;y=2");
        assert_eq!(one(&view, "example-dict;key=c"), "(a b c)");
        assert_eq!(
            one(&view, "example-header;bs"),
            ":dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:"
        );
        assert!(matches!(
            values(&view, "x-absent"),
            Err(ValueError::Missing(_))
        ));
        assert!(matches!(
            values(&view, "example-dict;key=zz"),
            Err(ValueError::Missing(_))
        ));
    }

    #[test]
    fn rfc9421_section_2_2_derived_examples() {
        let req = request(
            "/path?param=value&foo=bar&baz=bat%2Dman",
            &[("host", "www.example.com")],
        );
        let Some(parts) = RequestParts::from_http(&req, "https") else {
            panic!("request parts");
        };
        let view = MessageView::Request(parts);
        assert_eq!(one(&view, "@method"), "POST");
        assert_eq!(
            one(&view, "@target-uri"),
            "https://www.example.com/path?param=value&foo=bar&baz=bat%2Dman"
        );
        assert_eq!(one(&view, "@authority"), "www.example.com");
        assert_eq!(one(&view, "@scheme"), "https");
        assert_eq!(
            one(&view, "@request-target"),
            "/path?param=value&foo=bar&baz=bat%2Dman"
        );
        assert_eq!(one(&view, "@path"), "/path");
        assert_eq!(one(&view, "@query"), "?param=value&foo=bar&baz=bat%2Dman");
        assert_eq!(one(&view, "@query-param;name=baz"), "bat-man");

        let req = request("http://www.example.com:80/", &[]);
        let Some(parts) = RequestParts::from_http(&req, "https") else {
            panic!("request parts");
        };
        let view = MessageView::Request(parts);
        assert_eq!(one(&view, "@scheme"), "http");
        assert_eq!(one(&view, "@authority"), "www.example.com");
        assert_eq!(one(&view, "@query"), "?");
        assert_eq!(one(&view, "@target-uri"), "http://www.example.com/");
    }

    #[test]
    fn rfc9421_section_2_2_8_query_param_examples() {
        let req = request(
            "/path?param=value&foo=bar&baz=batman&qux=",
            &[("host", "www.example.com")],
        );
        let Some(parts) = RequestParts::from_http(&req, "https") else {
            panic!("request parts");
        };
        let view = MessageView::Request(parts);
        assert_eq!(one(&view, "@query-param;name=baz"), "batman");
        assert_eq!(one(&view, "@query-param;name=qux"), "");
        assert_eq!(one(&view, "@query-param;name=param"), "value");

        let req = request(
            "/path?var=this%20is%20a%20big%0Amultiline%20value&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something",
            &[("host", "www.example.com")],
        );
        let Some(parts) = RequestParts::from_http(&req, "https") else {
            panic!("request parts");
        };
        let view = MessageView::Request(parts);
        assert_eq!(
            one(&view, "@query-param;name=var"),
            "this%20is%20a%20big%0Amultiline%20value"
        );
        assert_eq!(
            one(&view, "@query-param;name=bar"),
            "with%20plus%20whitespace"
        );
        assert_eq!(
            one(&view, r#""@query-param";name="fa%C3%A7ade%22%3A%20""#),
            "something"
        );

        let req = request(
            "/path?param=value&param=another",
            &[("host", "example.com")],
        );
        let Some(parts) = RequestParts::from_http(&req, "https") else {
            panic!("request parts");
        };
        let view = MessageView::Request(parts);
        assert_eq!(one(&view, "@query-param;name=param"), "value|another");
    }

    #[test]
    fn status_and_req_apply_to_responses() {
        let headers = HeaderMap::new();
        let req = request("/foo", &[("host", "example.com")]);
        let view = MessageView::Response {
            status: 200,
            headers: &headers,
            request: RequestParts::from_http(&req, "https"),
        };
        assert_eq!(one(&view, "@status"), "200");
        assert_eq!(one(&view, "@method;req"), "POST");
        assert_eq!(one(&view, "@authority;req"), "example.com");
        assert!(values(&view, "@method").is_err());
    }

    #[test]
    fn authority_normalisation() {
        assert_eq!(
            normalize_authority("https", "Example.COM:443"),
            Some("example.com".into())
        );
        assert_eq!(
            normalize_authority("http", "example.com:8080"),
            Some("example.com:8080".into())
        );
        assert_eq!(
            normalize_authority("https", "[::1]:443"),
            Some("[::1]".into())
        );
        assert_eq!(normalize_authority("https", "[::1]"), Some("[::1]".into()));
        assert_eq!(normalize_authority("https", "host:notaport"), None);
        assert_eq!(normalize_authority("https", ""), None);
    }
}
