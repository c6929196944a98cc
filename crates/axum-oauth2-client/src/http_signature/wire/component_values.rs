//! The component values of one message (RFC 9421 §2.1, §2.2), each source
//! read once per signing or verification.
//!
//! A field's lines are combined once and parsed as a structured field at
//! most once per type (RFC 8941); the query is decoded once. However many
//! signatures and components cover them, a request with 8 signatures of 64
//! components over one large field costs one read and one parse of that
//! field: the verifier's work stays bounded whatever a sender covers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use http::HeaderMap;
use sfv::{FieldType as _, Parser, Version};

use super::components::{ComponentId, Derived};
use super::message::{MessageView, RequestParts, ValueError};

/// How much reading and parsing one message took (read by the tests and
/// the fuzz target, which check that every source is read once).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
pub(crate) struct Work {
    /// Field names whose lines were read and combined.
    pub(crate) fields_read: usize,
    /// Structured-field parses of a combined field value.
    pub(crate) structured_parses: usize,
    /// Decodings of a query into its parameters (§2.2.8).
    pub(crate) query_decodes: usize,
}

/// Why a dictionary field such as `Signature-Input` cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DictionaryError {
    /// A field line is not visible ASCII.
    NotAscii,
    /// The combined value is not a structured dictionary (RFC 8941 §3.2).
    NotDictionary,
}

/// The structured type of well-known fields (§2.1.1 needs the type to
/// re-serialize strictly). Other fields are tried as dictionary, list, item.
#[derive(Clone, Copy)]
enum SfType {
    Dictionary,
    List,
    Item,
}

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

fn parser(text: &str) -> Parser<'_> {
    Parser::new(text).with_version(Version::Rfc8941)
}

/// One field of the message and what has been derived from it so far.
#[derive(Debug)]
struct Field {
    /// Each field line with outer whitespace trimmed (§2.1); empty when the
    /// field is absent, `None` when a line is not visible ASCII.
    lines: Option<Vec<String>>,
    /// The lines joined with `", "` (§2.1).
    combined: String,
    /// The combined value parsed as a dictionary, once asked for.
    dictionary: Option<Option<Arc<sfv::Dictionary>>>,
    /// The strict re-serialization for `;sf` (§2.1.1), once asked for.
    strict: Option<Option<String>>,
    /// Each line wrapped as a byte sequence for `;bs` (§2.1.3), once asked for.
    byte_sequences: Option<String>,
}

impl Field {
    fn read(headers: &HeaderMap, name: &str) -> Self {
        let mut lines = Some(Vec::new());
        for value in headers.get_all(name) {
            let bytes = value.as_bytes();
            if !bytes
                .iter()
                .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
            {
                lines = None;
                break;
            }
            if let Some(lines) = lines.as_mut() {
                let text = String::from_utf8_lossy(bytes);
                lines.push(text.trim_matches([' ', '\t']).to_owned());
            }
        }
        let combined = lines.as_ref().map(|l| l.join(", ")).unwrap_or_default();
        Field {
            lines,
            combined,
            dictionary: None,
            strict: None,
            byte_sequences: None,
        }
    }

    fn dictionary(&mut self, work: &mut Work) -> Option<Arc<sfv::Dictionary>> {
        let combined = &self.combined;
        self.dictionary
            .get_or_insert_with(|| {
                work.structured_parses += 1;
                parser(combined)
                    .parse::<sfv::Dictionary>()
                    .ok()
                    .map(Arc::new)
            })
            .clone()
    }

    fn strict(&mut self, name: &str, work: &mut Work) -> Option<&str> {
        if self.strict.is_none() {
            let dictionary = |field: &mut Field, work: &mut Work| {
                field
                    .dictionary(work)
                    .map(|dict| dict.serialize().unwrap_or_default())
            };
            let list = |field: &Field, work: &mut Work| {
                work.structured_parses += 1;
                parser(&field.combined)
                    .parse::<sfv::List>()
                    .ok()
                    .map(|list| list.serialize().unwrap_or_default())
            };
            let item = |field: &Field, work: &mut Work| {
                work.structured_parses += 1;
                parser(&field.combined)
                    .parse::<sfv::Item>()
                    .ok()
                    .map(|item| item.serialize())
            };
            let value = match known_sf_type(name) {
                Some(SfType::Dictionary) => dictionary(self, work),
                Some(SfType::List) => list(self, work),
                Some(SfType::Item) => item(self, work),
                None => dictionary(self, work)
                    .or_else(|| list(self, work))
                    .or_else(|| item(self, work)),
            };
            self.strict = Some(value);
        }
        self.strict.as_ref().and_then(Option::as_deref)
    }

    fn byte_sequences(&mut self) -> &str {
        let lines = self.lines.as_deref().unwrap_or_default();
        self.byte_sequences.get_or_insert_with(|| {
            let engine = base64::engine::general_purpose::STANDARD;
            lines
                .iter()
                .map(|line| format!(":{}:", engine.encode(line)))
                .collect::<Vec<_>>()
                .join(", ")
        })
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

/// Query parameters by re-encoded name, each with its re-encoded values in
/// order, so that equivalent encodings compare equal (§2.2.8).
fn decode_query(query: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        params
            .entry(encode_query_part(&key))
            .or_default()
            .push(encode_query_part(&value));
    }
    params
}

/// The fields (and, for a request, the query) of one message.
#[derive(Debug)]
struct Source<'m> {
    headers: &'m HeaderMap,
    /// The request data derived components come from; `None` for a
    /// response's own fields.
    request: Option<&'m RequestParts<'m>>,
    fields: HashMap<String, Field>,
    query: Option<HashMap<String, Vec<String>>>,
}

impl<'m> Source<'m> {
    fn new(headers: &'m HeaderMap, request: Option<&'m RequestParts<'m>>) -> Self {
        Self {
            headers,
            request,
            fields: HashMap::new(),
            query: None,
        }
    }

    fn field(&mut self, name: &str, work: &mut Work) -> &mut Field {
        let headers = self.headers;
        self.fields.entry(name.to_owned()).or_insert_with(|| {
            work.fields_read += 1;
            Field::read(headers, name)
        })
    }

    /// A header field component (§2.1) with its `bs`, `key` and `sf` forms.
    fn field_value(
        &mut self,
        id: &ComponentId,
        work: &mut Work,
    ) -> Result<Cow<'_, str>, ValueError> {
        let field = self.field(id.name(), work);
        match field.lines.as_deref() {
            None => {
                return Err(ValueError::Invalid(
                    id.serialize(),
                    "field value is not ASCII",
                ));
            }
            Some([]) => return Err(ValueError::Missing(id.serialize())),
            Some(_) => {}
        }
        if id.has_flag("bs") {
            return Ok(Cow::Borrowed(field.byte_sequences()));
        }
        if let Some(key) = id.text_param("key") {
            // §2.1.2: one member of a dictionary field.
            let dict = field.dictionary(work).ok_or_else(|| {
                ValueError::Invalid(id.serialize(), "field is not a structured dictionary")
            })?;
            let member = dict
                .get(key)
                .cloned()
                .ok_or_else(|| ValueError::Missing(id.serialize()))?;
            let single: sfv::List = vec![member];
            return Ok(Cow::Owned(single.serialize().unwrap_or_default()));
        }
        if id.has_flag("sf") {
            return field
                .strict(id.name(), work)
                .map(Cow::Borrowed)
                .ok_or_else(|| {
                    ValueError::Invalid(id.serialize(), "field is not a structured field")
                });
        }
        Ok(Cow::Borrowed(&field.combined))
    }

    /// `@query-param` (§2.2.8): every value of the named parameter.
    fn query_param(
        &mut self,
        id: &ComponentId,
        work: &mut Work,
    ) -> Result<Vec<Cow<'_, str>>, ValueError> {
        let query = self.request.and_then(RequestParts::query);
        let params = self.query.get_or_insert_with(|| {
            work.query_decodes += 1;
            decode_query(query)
        });
        let name = id.text_param("name").unwrap_or_default();
        match params.get(name) {
            Some(values) if !values.is_empty() => {
                Ok(values.iter().map(|v| Cow::Borrowed(v.as_str())).collect())
            }
            _ => Err(ValueError::Missing(id.serialize())),
        }
    }
}

/// The component values of one message, computed on demand and kept.
#[derive(Debug)]
pub(crate) struct ComponentValues<'m> {
    own: Source<'m>,
    /// The request a response answers, for `;req` components (§2.4).
    related: Option<Source<'m>>,
    /// The status of a response; `None` for a request.
    status: Option<u16>,
    work: Work,
}

impl<'m> ComponentValues<'m> {
    pub(crate) fn new(view: &'m MessageView<'m>) -> Self {
        match view {
            MessageView::Request(parts) => Self {
                own: Source::new(parts.headers(), Some(parts)),
                related: None,
                status: None,
                work: Work::default(),
            },
            MessageView::Response {
                status,
                headers,
                request,
            } => Self {
                own: Source::new(headers, None),
                related: request
                    .as_ref()
                    .map(|parts| Source::new(parts.headers(), Some(parts))),
                status: Some(*status),
                work: Work::default(),
            },
        }
    }

    /// The reading and parsing done so far.
    #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code))]
    pub(crate) fn work(&self) -> Work {
        self.work
    }

    /// A dictionary field of the message itself (`Signature-Input`,
    /// `Signature`, `Content-Digest`), parsed once; `Ok(None)` when absent.
    pub(crate) fn dictionary(
        &mut self,
        name: &str,
    ) -> Result<Option<Arc<sfv::Dictionary>>, DictionaryError> {
        let field = self.own.field(name, &mut self.work);
        match field.lines.as_deref() {
            None => Err(DictionaryError::NotAscii),
            Some([]) => Ok(None),
            Some(_) => field
                .dictionary(&mut self.work)
                .map(Some)
                .ok_or(DictionaryError::NotDictionary),
        }
    }

    /// The values of `id`: one per signature base line (several only for a
    /// repeated `@query-param`).
    pub(crate) fn values(&mut self, id: &ComponentId) -> Result<Vec<Cow<'_, str>>, ValueError> {
        let shown = || id.serialize();
        let status = self.status;
        let work = &mut self.work;
        let source = if id.is_req() {
            if status.is_none() {
                return Err(ValueError::Invalid(
                    shown(),
                    "req applies only to responses",
                ));
            }
            match self.related.as_mut() {
                Some(source) => source,
                None => return Err(ValueError::Missing(shown())),
            }
        } else {
            &mut self.own
        };
        let Some(derived) = id.derived() else {
            return source.field_value(id, work).map(|value| vec![value]);
        };
        if derived == Derived::Status {
            return match status {
                Some(status) if !id.is_req() => Ok(vec![Cow::Owned(format!("{status:03}"))]),
                _ => Err(ValueError::Invalid(
                    shown(),
                    "@status applies only to responses",
                )),
            };
        }
        let Some(request) = source.request else {
            return Err(ValueError::Invalid(
                shown(),
                "request components of a response need the req parameter",
            ));
        };
        if derived == Derived::QueryParam {
            return source.query_param(id, work);
        }
        request
            .derived_value(derived)
            .map(|value| vec![Cow::Owned(value)])
            .ok_or_else(|| ValueError::Invalid(shown(), "not a request component"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(view: &MessageView<'_>, id: &str) -> Result<Vec<String>, ValueError> {
        let id: ComponentId = id
            .parse()
            .map_err(|_| ValueError::Invalid(id.to_owned(), "bad test identifier"))?;
        let mut values = ComponentValues::new(view);
        values
            .values(&id)
            .map(|v| v.into_iter().map(Cow::into_owned).collect())
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

        let Some(parts) = RequestParts::from_http(&req, "https") else {
            panic!("request parts");
        };
        let view = MessageView::Request(parts);
        assert!(values(&view, "@status").is_err());
        assert!(values(&view, "@method;req").is_err());
    }

    #[test]
    fn each_field_and_the_query_are_read_and_parsed_once() -> Result<(), ValueError> {
        let req = request(
            "/p?a=1&b=2&a=3",
            &[
                ("host", "example.com"),
                ("example-dict", "a=1, b=(x y)"),
                ("example-dict", "c=:AAAA:"),
                ("x-other", "plain"),
            ],
        );
        let Some(parts) = RequestParts::from_http(&req, "https") else {
            panic!("request parts");
        };
        let view = MessageView::Request(parts);
        let mut values = ComponentValues::new(&view);
        let ids: Vec<ComponentId> = ComponentId::parse_list(
            r#"example-dict example-dict;sf example-dict;bs example-dict;key=a example-dict;key=b
               example-dict;key=c x-other @query-param;name=a @query-param;name=b"#,
        )
        .map_err(|_| ValueError::Invalid(String::new(), "bad test identifiers"))?;
        for _ in 0..8 {
            for id in &ids {
                values.values(id)?;
            }
        }
        assert_eq!(
            values.work(),
            Work {
                fields_read: 2,
                structured_parses: 1,
                query_decodes: 1,
            }
        );
        Ok(())
    }
}
