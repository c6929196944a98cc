//! Authorization server metadata (RFC 8414 §2; OpenID Connect Discovery
//! 1.0 §3): the fields a machine-to-machine client uses, read and checked.

use reqwest::Url;
use serde_json::{Map, Value};

use crate::oauth2::url::check_token_url;

/// What an authorization server publishes about itself (RFC 8414 §2,
/// OpenID Connect Discovery 1.0 §3), as far as this crate uses it.
///
/// Only metadata that passed every check exists: its `issuer` is the
/// configured one, and its `token_endpoint` is an absolute `https` URL
/// (plain `http` only on a loopback host or where the provider allows
/// insecure http). Fields this crate does not use are ignored; the ones
/// that OpenID Connect requires of an OpenID Provider but a token request
/// does not need (`authorization_endpoint`, `jwks_uri`, …) are not
/// required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationServerMetadata {
    issuer: String,
    token_endpoint: Url,
    token_endpoint_auth_methods_supported: Vec<String>,
    token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    grant_types_supported: Option<Vec<String>>,
    mtls_token_endpoint: Option<Url>,
    dpop_signing_alg_values_supported: Option<Vec<String>>,
}

/// Why a metadata document was refused, before the provider and the URL
/// are known to name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MetadataError {
    /// The document or one of its fields is unusable.
    Invalid {
        field: Option<&'static str>,
        reason: String,
    },
    /// The document names another issuer (RFC 8414 §3.3).
    IssuerMismatch {
        /// The `issuer` it names, as sent.
        found: String,
    },
}

impl MetadataError {
    fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field),
            reason: reason.into(),
        }
    }
}

impl AuthorizationServerMetadata {
    /// The authorization server's issuer identifier (`issuer`), equal to
    /// the configured one.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The token endpoint (`token_endpoint`, RFC 6749 §3.2).
    #[must_use]
    pub fn token_endpoint(&self) -> &Url {
        &self.token_endpoint
    }

    /// The client authentication methods the token endpoint accepts
    /// (`token_endpoint_auth_methods_supported`), by their registered
    /// names. When the metadata omits it, RFC 8414 §2's default:
    /// `client_secret_basic` alone.
    #[must_use]
    pub fn token_endpoint_auth_methods_supported(&self) -> &[String] {
        &self.token_endpoint_auth_methods_supported
    }

    /// The JWS algorithms the token endpoint accepts for `private_key_jwt`
    /// and `client_secret_jwt` assertions
    /// (`token_endpoint_auth_signing_alg_values_supported`); `None` when
    /// the metadata omits it. `none`, which RFC 8414 §2 forbids here, is
    /// dropped.
    #[must_use]
    pub fn token_endpoint_auth_signing_alg_values_supported(&self) -> Option<&[String]> {
        self.token_endpoint_auth_signing_alg_values_supported
            .as_deref()
    }

    /// The grant types the server supports (`grant_types_supported`);
    /// `None` when the metadata omits it. RFC 8414 §2 gives
    /// `authorization_code` and `implicit` as the default then, but servers
    /// that omit the field rarely mean it literally, so absence is left as
    /// "not stated" rather than read as "no client credentials".
    #[must_use]
    pub fn grant_types_supported(&self) -> Option<&[String]> {
        self.grant_types_supported.as_deref()
    }

    /// The token endpoint to use with mutual-TLS client authentication or
    /// certificate-bound tokens (`mtls_endpoint_aliases.token_endpoint`,
    /// RFC 8705 §5); `None` when the metadata names none.
    #[must_use]
    pub fn mtls_token_endpoint(&self) -> Option<&Url> {
        self.mtls_token_endpoint.as_ref()
    }

    /// The JWS algorithms the server accepts for DPoP proofs
    /// (`dpop_signing_alg_values_supported`, RFC 9449 §5.1); `None` when
    /// the metadata omits it.
    #[must_use]
    pub fn dpop_signing_alg_values_supported(&self) -> Option<&[String]> {
        self.dpop_signing_alg_values_supported.as_deref()
    }

    /// Reads a metadata document and checks it against the configured
    /// issuer.
    ///
    /// The `issuer` must be `expected_issuer` exactly, compared as strings
    /// (RFC 8414 §3.3; OpenID Connect Discovery 1.0 §4.3): neither side is
    /// normalised. It is checked first, so that a document from another
    /// server is refused as such whatever else is wrong with it. A field
    /// of the wrong type is refused with its name; a `null` is taken as
    /// the field's absence, and unknown fields are ignored.
    pub(crate) fn parse(
        body: &[u8],
        expected_issuer: &str,
        allow_insecure_http: bool,
    ) -> Result<Self, MetadataError> {
        let document: Value = serde_json::from_slice(body).map_err(|_| MetadataError::Invalid {
            field: None,
            reason: "the document is not JSON".into(),
        })?;
        let Value::Object(map) = document else {
            return Err(MetadataError::Invalid {
                field: None,
                reason: "the document is not a JSON object".into(),
            });
        };

        let issuer =
            string(&map, "issuer")?.ok_or_else(|| MetadataError::field("issuer", "is missing"))?;
        if issuer != expected_issuer {
            return Err(MetadataError::IssuerMismatch {
                found: issuer.to_owned(),
            });
        }
        let token_endpoint = string(&map, "token_endpoint")?
            .ok_or_else(|| MetadataError::field("token_endpoint", "is missing"))?;
        // An `https` issuer's metadata may not send the client's
        // credentials over plain `http`, loopback included.
        let https_only = issuer.starts_with("https:") && !allow_insecure_http;
        let token_endpoint = endpoint(token_endpoint, "token_endpoint", allow_insecure_http)?;
        if https_only && token_endpoint.scheme() != "https" {
            return Err(MetadataError::field(
                "token_endpoint",
                "must be https, as the issuer is",
            ));
        }

        let mtls_token_endpoint = match map.get("mtls_endpoint_aliases") {
            None | Some(Value::Null) => None,
            Some(Value::Object(aliases)) => string(aliases, "token_endpoint")
                .map_err(|_| {
                    MetadataError::field("mtls_endpoint_aliases.token_endpoint", "must be a string")
                })?
                .map(|url| {
                    endpoint(
                        url,
                        "mtls_endpoint_aliases.token_endpoint",
                        allow_insecure_http,
                    )
                    .and_then(|url| {
                        if https_only && url.scheme() != "https" {
                            Err(MetadataError::field(
                                "mtls_endpoint_aliases.token_endpoint",
                                "must be https, as the issuer is",
                            ))
                        } else {
                            Ok(url)
                        }
                    })
                })
                .transpose()?,
            Some(_) => {
                return Err(MetadataError::field(
                    "mtls_endpoint_aliases",
                    "must be a JSON object",
                ));
            }
        };

        Ok(Self {
            issuer: issuer.to_owned(),
            token_endpoint,
            token_endpoint_auth_methods_supported: strings(
                &map,
                "token_endpoint_auth_methods_supported",
            )?
            .unwrap_or_else(|| vec!["client_secret_basic".to_owned()]),
            token_endpoint_auth_signing_alg_values_supported: strings(
                &map,
                "token_endpoint_auth_signing_alg_values_supported",
            )?
            .map(|mut algs| {
                algs.retain(|alg| !alg.eq_ignore_ascii_case("none"));
                algs
            }),
            grant_types_supported: strings(&map, "grant_types_supported")?,
            mtls_token_endpoint,
            dpop_signing_alg_values_supported: strings(&map, "dpop_signing_alg_values_supported")?,
        })
    }
}

/// An optional string field.
fn string<'a>(
    map: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, MetadataError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(MetadataError::field(field, "must be a string")),
    }
}

/// An optional array of strings.
fn strings(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<Vec<String>>, MetadataError> {
    let wrong = || MetadataError::field(field, "must be an array of strings");
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(values)) => values
            .iter()
            .map(|value| value.as_str().map(str::to_owned).ok_or_else(wrong))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong()),
    }
}

/// An endpoint URL: absolute, usable as a token URL (`https`, or `http`
/// where allowed; no user info), and without a fragment (RFC 6749 §3.2).
/// The reasons never repeat the URL, whose query is not for logs.
fn endpoint(
    text: &str,
    field: &'static str,
    allow_insecure_http: bool,
) -> Result<Url, MetadataError> {
    let url =
        Url::parse(text).map_err(|_| MetadataError::field(field, "is not an absolute URL"))?;
    check_token_url(&url, allow_insecure_http)
        .map_err(|reason| MetadataError::field(field, reason))?;
    if url.fragment().is_some() {
        return Err(MetadataError::field(
            field,
            "must not have a fragment (RFC 6749 §3.2)",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_issuer_never_sends_credentials_over_http() {
        let json = r#"{"issuer":"https://auth.example.com/tenant","token_endpoint":"http://127.0.0.1:9/token"}"#;
        let refused = AuthorizationServerMetadata::parse(json.as_bytes(), ISSUER, false);
        assert!(refused.is_err(), "{refused:?}");
        assert!(AuthorizationServerMetadata::parse(json.as_bytes(), ISSUER, true).is_ok());
    }

    const ISSUER: &str = "https://auth.example.com/tenant";

    fn parse(json: &str) -> Result<AuthorizationServerMetadata, MetadataError> {
        AuthorizationServerMetadata::parse(json.as_bytes(), ISSUER, false)
    }

    fn invalid(json: &str) -> (Option<&'static str>, String) {
        match parse(json) {
            Err(MetadataError::Invalid { field, reason }) => (field, reason),
            other => panic!("expected invalid metadata, got {other:?}"),
        }
    }

    #[test]
    fn a_full_document_is_read_and_unknown_fields_are_ignored() {
        let metadata = parse(
            r#"{
                "issuer": "https://auth.example.com/tenant",
                "token_endpoint": "https://auth.example.com/tenant/token?realm=a",
                "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
                "token_endpoint_auth_signing_alg_values_supported": ["ES256", "none", "RS256"],
                "grant_types_supported": ["client_credentials"],
                "mtls_endpoint_aliases": {
                    "token_endpoint": "https://mtls.auth.example.com/tenant/token",
                    "revocation_endpoint": 42
                },
                "dpop_signing_alg_values_supported": ["ES256"],
                "response_types_supported": ["code"],
                "x-vendor": {"anything": [1, 2, 3]}
            }"#,
        )
        .expect("valid metadata");
        assert_eq!(metadata.issuer(), ISSUER);
        assert_eq!(
            metadata.token_endpoint().as_str(),
            "https://auth.example.com/tenant/token?realm=a"
        );
        assert_eq!(
            metadata.token_endpoint_auth_methods_supported(),
            ["private_key_jwt", "client_secret_basic"]
        );
        assert_eq!(
            metadata.token_endpoint_auth_signing_alg_values_supported(),
            Some(&["ES256".to_owned(), "RS256".to_owned()][..]),
            "`none` is dropped"
        );
        assert_eq!(
            metadata.grant_types_supported(),
            Some(&["client_credentials".to_owned()][..])
        );
        assert_eq!(
            metadata.mtls_token_endpoint().map(Url::as_str),
            Some("https://mtls.auth.example.com/tenant/token")
        );
        assert_eq!(
            metadata.dpop_signing_alg_values_supported(),
            Some(&["ES256".to_owned()][..])
        );
    }

    #[test]
    fn absent_optional_fields_take_the_rfc8414_defaults() {
        let metadata = parse(
            r#"{"issuer": "https://auth.example.com/tenant",
                "token_endpoint": "https://auth.example.com/token",
                "grant_types_supported": null}"#,
        )
        .expect("valid metadata");
        assert_eq!(
            metadata.token_endpoint_auth_methods_supported(),
            ["client_secret_basic"]
        );
        assert_eq!(
            metadata.token_endpoint_auth_signing_alg_values_supported(),
            None
        );
        assert_eq!(metadata.grant_types_supported(), None);
        assert_eq!(metadata.mtls_token_endpoint(), None);
        assert_eq!(metadata.dpop_signing_alg_values_supported(), None);
    }

    #[test]
    fn the_issuer_must_match_exactly() {
        for found in [
            "https://auth.example.com/tenant/",
            "https://AUTH.example.com/tenant",
            "https://auth.example.com/other",
        ] {
            let json = format!(
                r#"{{"issuer": "{found}", "token_endpoint": "https://auth.example.com/token"}}"#
            );
            assert_eq!(
                parse(&json),
                Err(MetadataError::IssuerMismatch {
                    found: found.to_owned()
                })
            );
        }
    }

    #[test]
    fn a_mismatched_issuer_is_reported_before_other_faults() {
        assert!(matches!(
            parse(r#"{"issuer": "https://evil.example"}"#),
            Err(MetadataError::IssuerMismatch { .. })
        ));
    }

    #[test]
    fn a_missing_required_field_is_named() {
        assert_eq!(
            invalid(r#"{"token_endpoint": "https://auth.example.com/token"}"#),
            (Some("issuer"), "is missing".into())
        );
        assert_eq!(
            invalid(r#"{"issuer": "https://auth.example.com/tenant"}"#),
            (Some("token_endpoint"), "is missing".into())
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let base = r#""issuer": "https://auth.example.com/tenant", "token_endpoint": "https://auth.example.com/token""#;
        for (extra, field) in [
            (
                r#""token_endpoint_auth_methods_supported": "client_secret_basic""#,
                "token_endpoint_auth_methods_supported",
            ),
            (
                r#""token_endpoint_auth_signing_alg_values_supported": [1]"#,
                "token_endpoint_auth_signing_alg_values_supported",
            ),
            (r#""grant_types_supported": {}"#, "grant_types_supported"),
            (
                r#""dpop_signing_alg_values_supported": true"#,
                "dpop_signing_alg_values_supported",
            ),
            (
                r#""mtls_endpoint_aliases": ["https://mtls.example"]"#,
                "mtls_endpoint_aliases",
            ),
            (
                r#""mtls_endpoint_aliases": {"token_endpoint": 1}"#,
                "mtls_endpoint_aliases.token_endpoint",
            ),
        ] {
            let (got, _) = invalid(&format!("{{{base}, {extra}}}"));
            assert_eq!(got, Some(field), "{extra}");
        }
        assert_eq!(invalid(r#"{"issuer": 7}"#).0, Some("issuer"));
        assert_eq!(
            invalid(r#"{"issuer": "https://auth.example.com/tenant", "token_endpoint": ["x"]}"#).0,
            Some("token_endpoint")
        );
    }

    #[test]
    fn the_token_endpoint_must_be_an_absolute_https_url() {
        for (url, allow_insecure_http, ok) in [
            ("https://auth.example.com/token", false, true),
            // An https issuer keeps its credentials on https, loopback too.
            ("http://127.0.0.1:9000/token", false, false),
            ("http://auth.example.com/token", false, false),
            ("http://auth.example.com/token", true, true),
            ("/token", false, false),
            ("ftp://auth.example.com/token", false, false),
            ("https://user:pw@auth.example.com/token", false, false),
            ("https://auth.example.com/token#frag", false, false),
        ] {
            let json = format!(r#"{{"issuer": "{ISSUER}", "token_endpoint": "{url}"}}"#);
            let result =
                AuthorizationServerMetadata::parse(json.as_bytes(), ISSUER, allow_insecure_http);
            assert_eq!(
                result.is_ok(),
                ok,
                "{url} {allow_insecure_http}: {result:?}"
            );
            if let Err(MetadataError::Invalid { field, reason }) = result {
                assert_eq!(field, Some("token_endpoint"));
                assert!(!reason.contains("pw"), "{reason}");
            }
        }
    }

    #[test]
    fn a_document_that_is_no_json_object_is_refused() {
        for body in ["<html>", "[]", "\"issuer\"", ""] {
            assert_eq!(invalid(body).0, None, "{body}");
        }
    }
}
