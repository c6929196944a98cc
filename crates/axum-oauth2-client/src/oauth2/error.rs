//! [`OAuth2Error`]: every way getting a token or calling an upstream can fail.

use std::error::Error as StdError;
use std::sync::Arc;

use reqwest::StatusCode;

use crate::http_signature::SignError;

/// The longest server-supplied text (`error`, `error_description`) kept.
const MAX_SERVER_TEXT: usize = 256;

/// The RFC 6749 §5.2 error body of a token endpoint that refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TokenEndpointErrorBody {
    /// The `error` code, such as `invalid_client` or `invalid_grant`.
    pub error: Option<String>,
    /// The human-readable `error_description`.
    pub error_description: Option<String>,
    /// The `error_uri`.
    pub error_uri: Option<String>,
    /// Microsoft Entra ID's numeric `error_codes` (`AADSTS` numbers), when sent.
    pub error_codes: Vec<u64>,
}

impl TokenEndpointErrorBody {
    /// Reads the §5.2 fields from a JSON body; anything else yields all `None`.
    ///
    /// Server text is cut to 256 characters and stripped of control
    /// characters before it can reach a log line.
    pub(crate) fn parse(body: &[u8]) -> Self {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
        else {
            return Self::default();
        };
        let field = |name: &str| map.get(name).and_then(|v| v.as_str()).map(sanitize);
        let error_codes = match map.get("error_codes") {
            Some(serde_json::Value::Array(codes)) => codes
                .iter()
                .filter_map(serde_json::Value::as_u64)
                .take(8)
                .collect(),
            _ => Vec::new(),
        };
        Self {
            error: field("error"),
            error_description: field("error_description"),
            error_uri: field("error_uri"),
            error_codes,
        }
    }
}

/// Keeps server-supplied text printable and short.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_SERVER_TEXT)
        .collect()
}

/// An error from the OAuth2 extension.
///
/// Every variant has a stable [`code`](Self::code) for callers and metrics,
/// the [`provider`](Self::provider) it concerns and, where an HTTP answer
/// caused it, the [`status`](Self::status). Messages never contain a client
/// secret, an access token, a subject token or a URL's query string.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OAuth2Error {
    /// No provider of that name is configured. Code `unknown_provider`.
    #[error("no OAuth2 provider named `{provider}` is configured")]
    UnknownProvider {
        /// The name that was asked for.
        provider: String,
    },

    /// The configuration passed to the service is unusable. Code `invalid_config`.
    #[error("OAuth2 provider `{provider}` is misconfigured: {reason}")]
    InvalidConfig {
        /// The provider concerned.
        provider: String,
        /// What is wrong.
        reason: String,
    },

    /// The token request could not be sent or its answer not read
    /// (connection refused, DNS failure, timeout). Code `token_request_failed`.
    #[error("token request for provider `{provider}` failed: {source}")]
    TokenRequestFailed {
        /// The provider concerned.
        provider: String,
        /// The transport error (its URL removed).
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// The token endpoint answered with a non-2xx status.
    /// Code `token_endpoint_error`.
    #[error(
        "token endpoint of provider `{provider}` answered {status}{}",
        describe(body)
    )]
    TokenEndpointError {
        /// The provider concerned.
        provider: String,
        /// The HTTP status of the answer.
        status: StatusCode,
        /// The RFC 6749 §5.2 fields, when the body carried them (boxed:
        /// every `Result` of the crate carries this error's size).
        body: Box<TokenEndpointErrorBody>,
        /// The wait its `Retry-After` header asked for, if any.
        retry_after: Option<std::time::Duration>,
    },

    /// The provider's circuit breaker is open after repeated failures and
    /// no valid token is cached: the call fails at once.
    /// Code `token_endpoint_unavailable`.
    #[error("token endpoint of provider `{provider}` is unavailable; next attempt in {} ms", retry_in.as_millis())]
    TokenEndpointUnavailable {
        /// The provider concerned.
        provider: String,
        /// When the next token request will be let through.
        retry_in: std::time::Duration,
    },

    /// `fetch` was asked to send the token to an origin outside the
    /// provider's allowed origins. Code `origin_not_allowed`.
    #[error("provider `{provider}` may not send its token to {origin}")]
    OriginNotAllowed {
        /// The provider concerned.
        provider: String,
        /// The refused origin (scheme, host, port).
        origin: String,
    },

    /// The token endpoint answered 2xx with a body that is not a usable
    /// token response. Code `invalid_token_response`.
    #[error("token endpoint of provider `{provider}` sent an invalid token response: {reason}")]
    InvalidTokenResponse {
        /// The provider concerned.
        provider: String,
        /// The HTTP status of the answer.
        status: StatusCode,
        /// What is wrong with it (never the token itself).
        reason: String,
    },

    /// The JWT the client signs to authenticate or as its grant could not
    /// be made (a key that cannot sign, a client secret too short for its
    /// algorithm). Code `assertion_failed`.
    #[error("provider `{provider}` cannot sign its client assertion: {reason}")]
    AssertionFailed {
        /// The provider concerned.
        provider: String,
        /// What is wrong (never key material).
        reason: String,
    },

    /// The server asked for a DPoP nonce (RFC 9449 §8) and refused the
    /// proof that carried the one it gave: no third request is made.
    /// Code `dpop_nonce_rejected`.
    #[error("provider `{provider}` refused the DPoP nonce it asked for ({status})")]
    DpopNonceRejected {
        /// The provider concerned.
        provider: String,
        /// The HTTP status of the refusal.
        status: StatusCode,
    },

    /// The upstream API refused the request with 401 even though a fresh
    /// token was tried: this request's one retry, or a token another
    /// request forced within the forced refresh interval. Code
    /// `unauthorized`.
    #[error(
        "upstream refused the request for provider `{provider}` with {status}, and a fresh token was already tried (by this request, or by another within the forced refresh interval)"
    )]
    Unauthorized {
        /// The provider concerned.
        provider: String,
        /// The upstream's status (401).
        status: StatusCode,
    },

    /// The request could not be signed. Code `signing_failed`.
    #[error("signing the request for provider `{provider}` failed: {source}")]
    SigningFailed {
        /// The provider concerned.
        provider: String,
        /// What the signer reported.
        #[source]
        source: Arc<SignError>,
    },

    /// The caller's request is malformed (URL, header, body). Code `invalid_request`.
    #[error("invalid request for provider `{provider}`: {reason}")]
    InvalidRequest {
        /// The provider concerned.
        provider: String,
        /// What is wrong.
        reason: String,
    },

    /// Sending the request to the upstream API failed. Code `request_failed`.
    #[error("request to the upstream of provider `{provider}` failed: {source}")]
    RequestFailed {
        /// The provider concerned.
        provider: String,
        /// The transport error (its URL removed).
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// A token request stopped unexpectedly (it panicked, or its task was
    /// cancelled). Its waiters get this error; the next call starts afresh.
    /// Code `internal`.
    #[error("internal error for provider `{provider}`: {reason}")]
    Internal {
        /// The provider concerned.
        provider: String,
        /// What happened.
        reason: String,
    },

    /// The upstream URL is plain `http` on a host that is not loopback, and
    /// the provider does not allow insecure http: the bearer token would
    /// cross the network in clear. Code `insecure_url`.
    #[error(
        "provider `{provider}` refuses to send its token over plain http to {host}; use https or allow insecure http for the provider"
    )]
    InsecureUrl {
        /// The provider concerned.
        provider: String,
        /// The host of the refused URL (never its path or query).
        host: String,
    },

    /// The authorization server metadata (RFC 8414 §3, OpenID Connect
    /// Discovery 1.0 §4) could not be requested or its answer not read
    /// (connection refused, DNS failure, timeout). Code
    /// `discovery_request_failed`.
    #[error("metadata request of provider `{provider}` to {url} failed: {source}")]
    DiscoveryRequestFailed {
        /// The provider concerned.
        provider: String,
        /// The metadata URL (scheme, host, port and path only).
        url: String,
        /// The transport error (its URL removed).
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// No metadata URL of the issuer gave the metadata: the last one tried
    /// answered `status`, the ones before it a status that means "not
    /// here". A redirect is not followed: its 3xx ends up here. Code
    /// `discovery_failed`.
    #[error(
        "metadata discovery of provider `{provider}` failed: {}",
        describe_discovery(*status, tried)
    )]
    DiscoveryFailed {
        /// The provider concerned.
        provider: String,
        /// The metadata URLs asked, in order (scheme, host, port and path
        /// only).
        tried: Vec<String>,
        /// The HTTP status of the last answer.
        status: StatusCode,
        /// The wait its `Retry-After` header asked for, if any.
        retry_after: Option<std::time::Duration>,
    },

    /// The authorization server's metadata document is unusable: not a
    /// JSON object, a field of the wrong type, no `token_endpoint`, an
    /// endpoint that is not an acceptable URL, or a body over the size
    /// cap. Code `invalid_metadata`.
    #[error(
        "the metadata of provider `{provider}` from {url} is invalid: {}",
        describe_metadata(*field, reason)
    )]
    InvalidMetadata {
        /// The provider concerned.
        provider: String,
        /// The metadata URL (scheme, host, port and path only).
        url: String,
        /// The metadata field at fault, when one is.
        field: Option<&'static str>,
        /// What is wrong (never a URL's query string).
        reason: String,
    },

    /// The metadata names another issuer than the configured one (RFC 8414
    /// §3.3, OpenID Connect Discovery 1.0 §4.3): it is not this
    /// authorization server's, and is not used. Code `issuer_mismatch`.
    #[error(
        "the metadata of provider `{provider}` names issuer `{found}`, not the configured `{expected}`"
    )]
    IssuerMismatch {
        /// The provider concerned.
        provider: String,
        /// The configured issuer (without user info, query or fragment).
        expected: String,
        /// The issuer the metadata names (the same parts removed, cut to
        /// 256 characters).
        found: String,
    },

    /// The service is shutting down: no token is handed out and no token
    /// request starts. Code `shutting_down`.
    #[error("the OAuth2 service is shutting down; provider `{provider}` hands out no token")]
    ShuttingDown {
        /// The provider concerned.
        provider: String,
    },
}

fn describe_discovery(status: StatusCode, tried: &[String]) -> String {
    let redirect = if status.is_redirection() {
        ", a redirect, which is not followed"
    } else {
        ""
    };
    format!("answered {status}{redirect} (tried {})", tried.join(", "))
}

fn describe_metadata(field: Option<&'static str>, reason: &str) -> String {
    match field {
        Some(field) => format!("`{field}` {reason}"),
        None => reason.to_owned(),
    }
}

fn describe(body: &TokenEndpointErrorBody) -> String {
    match (&body.error, &body.error_description) {
        (Some(e), Some(d)) => format!(": {e} ({d})"),
        (Some(e), None) => format!(": {e}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    }
}

impl OAuth2Error {
    /// A stable snake_case code for callers, logs and metrics.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownProvider { .. } => "unknown_provider",
            Self::InvalidConfig { .. } => "invalid_config",
            Self::AssertionFailed { .. } => "assertion_failed",
            Self::DpopNonceRejected { .. } => "dpop_nonce_rejected",
            Self::TokenRequestFailed { .. } => "token_request_failed",
            Self::TokenEndpointError { .. } => "token_endpoint_error",
            Self::TokenEndpointUnavailable { .. } => "token_endpoint_unavailable",
            Self::OriginNotAllowed { .. } => "origin_not_allowed",
            Self::InvalidTokenResponse { .. } => "invalid_token_response",
            Self::Unauthorized { .. } => "unauthorized",
            Self::SigningFailed { .. } => "signing_failed",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::RequestFailed { .. } => "request_failed",
            Self::Internal { .. } => "internal",
            Self::InsecureUrl { .. } => "insecure_url",
            Self::DiscoveryRequestFailed { .. } => "discovery_request_failed",
            Self::DiscoveryFailed { .. } => "discovery_failed",
            Self::InvalidMetadata { .. } => "invalid_metadata",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::ShuttingDown { .. } => "shutting_down",
        }
    }

    /// The provider the error concerns.
    #[must_use]
    pub fn provider(&self) -> &str {
        match self {
            Self::UnknownProvider { provider }
            | Self::InvalidConfig { provider, .. }
            | Self::AssertionFailed { provider, .. }
            | Self::DpopNonceRejected { provider, .. }
            | Self::TokenRequestFailed { provider, .. }
            | Self::TokenEndpointError { provider, .. }
            | Self::TokenEndpointUnavailable { provider, .. }
            | Self::OriginNotAllowed { provider, .. }
            | Self::InvalidTokenResponse { provider, .. }
            | Self::Unauthorized { provider, .. }
            | Self::SigningFailed { provider, .. }
            | Self::InvalidRequest { provider, .. }
            | Self::RequestFailed { provider, .. }
            | Self::Internal { provider, .. }
            | Self::InsecureUrl { provider, .. }
            | Self::DiscoveryRequestFailed { provider, .. }
            | Self::DiscoveryFailed { provider, .. }
            | Self::InvalidMetadata { provider, .. }
            | Self::IssuerMismatch { provider, .. }
            | Self::ShuttingDown { provider } => provider,
        }
    }

    /// The HTTP status that caused the error, when one did.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::TokenEndpointError { status, .. }
            | Self::DpopNonceRejected { status, .. }
            | Self::InvalidTokenResponse { status, .. }
            | Self::Unauthorized { status, .. }
            | Self::DiscoveryFailed { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The token endpoint's RFC 6749 §5.2 `error` code, when it sent one.
    #[must_use]
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            Self::TokenEndpointError { body, .. } => body.error.as_deref(),
            _ => None,
        }
    }

    /// The token endpoint's whole error body, when it answered with one
    /// (Entra ID's `error_codes` included).
    #[must_use]
    pub fn error_body(&self) -> Option<&TokenEndpointErrorBody> {
        match self {
            Self::TokenEndpointError { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The token endpoint's RFC 6749 §5.2 `error_description`, when it sent one.
    #[must_use]
    pub fn error_description(&self) -> Option<&str> {
        match self {
            Self::TokenEndpointError { body, .. } => body.error_description.as_deref(),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: transport failures, 5xx,
    /// 408, 429 and an open circuit are; a refused client or grant is not.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        self.is_unavailable() || matches!(self, Self::RequestFailed { .. })
    }

    /// Whether the token endpoint, or the metadata that names it, could
    /// not be reached or did not answer in time (as opposed to answering
    /// with a refusal or unusable content); a token or metadata request
    /// that failed so is retried.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::TokenRequestFailed { .. }
            | Self::TokenEndpointUnavailable { .. }
            | Self::DiscoveryRequestFailed { .. } => true,
            Self::TokenEndpointError { status, .. } | Self::DiscoveryFailed { status, .. } => {
                crate::oauth2::endpoint::retry::retryable_status(*status)
            }
            _ => false,
        }
    }

    /// Whether a request (to the token endpoint or to the upstream) ran
    /// out of time.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::TokenRequestFailed { source, .. }
            | Self::RequestFailed { source, .. }
            | Self::DiscoveryRequestFailed { source, .. } => source.is_timeout(),
            _ => false,
        }
    }

    /// The wait the server's `Retry-After` asked for, when it sent one
    /// with a non-2xx answer.
    pub(crate) fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::TokenEndpointError { retry_after, .. }
            | Self::DiscoveryFailed { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn transport(provider: &str, error: reqwest::Error) -> Self {
        Self::TokenRequestFailed {
            provider: provider.to_owned(),
            source: Arc::new(error.without_url()),
        }
    }

    pub(crate) fn invalid_response(
        provider: &str,
        status: StatusCode,
        reason: impl Into<String>,
    ) -> Self {
        Self::InvalidTokenResponse {
            provider: provider.to_owned(),
            status,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_request(provider: &str, reason: impl Into<String>) -> Self {
        Self::InvalidRequest {
            provider: provider.to_owned(),
            reason: reason.into(),
        }
    }

    /// The whole source chain as one line, for logs.
    #[must_use]
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = StdError::source(self);
        while let Some(s) = source {
            out.push_str(": ");
            out.push_str(&s.to_string());
            source = s.source();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc6749_error_body_and_sanitizes_it() {
        let body = br#"{"error":"invalid_client","error_description":"bad\ncreds","error_uri":"https://e/x"}"#;
        let parsed = TokenEndpointErrorBody::parse(body);
        assert_eq!(parsed.error.as_deref(), Some("invalid_client"));
        assert_eq!(parsed.error_description.as_deref(), Some("badcreds"));
        assert_eq!(parsed.error_uri.as_deref(), Some("https://e/x"));
        assert_eq!(
            TokenEndpointErrorBody::parse(b"<html>"),
            TokenEndpointErrorBody::default()
        );
        let long = format!(r#"{{"error":"{}"}}"#, "x".repeat(10_000));
        assert_eq!(
            TokenEndpointErrorBody::parse(long.as_bytes())
                .error
                .map(|e| e.len()),
            Some(256)
        );
    }

    #[test]
    fn entra_error_codes_are_kept() {
        let body = TokenEndpointErrorBody::parse(
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215],"trace_id":"t","correlation_id":"c"}"#,
        );
        assert_eq!(body.error.as_deref(), Some("invalid_client"));
        assert_eq!(body.error_codes, [7000215]);
        assert!(
            TokenEndpointErrorBody::parse(br#"{"error_codes":"x"}"#)
                .error_codes
                .is_empty()
        );
    }

    #[test]
    fn codes_are_stable_and_messages_name_the_status() {
        let err = OAuth2Error::TokenEndpointError {
            provider: "payments".into(),
            status: StatusCode::BAD_REQUEST,
            body: Box::new(TokenEndpointErrorBody {
                error: Some("invalid_client".into()),
                error_description: Some("unknown client".into()),
                error_uri: None,
                error_codes: Vec::new(),
            }),
            retry_after: None,
        };
        assert_eq!(err.code(), "token_endpoint_error");
        assert_eq!(err.provider(), "payments");
        assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
        assert_eq!(err.oauth_error(), Some("invalid_client"));
        assert!(!err.is_retryable());
        assert_eq!(
            err.to_string(),
            "token endpoint of provider `payments` answered 400 Bad Request: invalid_client (unknown client)"
        );
        let unknown = OAuth2Error::UnknownProvider {
            provider: "x".into(),
        };
        assert_eq!(unknown.code(), "unknown_provider");
        assert_eq!(unknown.status(), None);
    }

    #[test]
    fn discovery_errors_have_codes_and_say_whether_they_are_transient() {
        let failed = |status: u16| OAuth2Error::DiscoveryFailed {
            provider: "idp".into(),
            tried: vec![
                "https://a.example/.well-known/oauth-authorization-server/t".into(),
                "https://a.example/t/.well-known/openid-configuration".into(),
            ],
            status: StatusCode::from_u16(status).expect("status"),
            retry_after: Some(std::time::Duration::from_secs(3)),
        };
        let not_found = failed(404);
        assert_eq!(not_found.code(), "discovery_failed");
        assert_eq!(not_found.provider(), "idp");
        assert_eq!(not_found.status(), Some(StatusCode::NOT_FOUND));
        assert!(!not_found.is_unavailable());
        assert_eq!(
            not_found.to_string(),
            "metadata discovery of provider `idp` failed: answered 404 Not Found (tried https://a.example/.well-known/oauth-authorization-server/t, https://a.example/t/.well-known/openid-configuration)"
        );
        assert!(
            failed(302)
                .to_string()
                .contains("a redirect, which is not followed")
        );
        for status in [500, 503, 408, 429] {
            assert!(failed(status).is_unavailable(), "{status}");
            assert!(failed(status).is_retryable(), "{status}");
        }
        assert_eq!(
            failed(503).retry_after(),
            Some(std::time::Duration::from_secs(3))
        );

        let invalid = OAuth2Error::InvalidMetadata {
            provider: "idp".into(),
            url: "https://a.example/.well-known/openid-configuration".into(),
            field: Some("token_endpoint"),
            reason: "is missing".into(),
        };
        assert_eq!(invalid.code(), "invalid_metadata");
        assert!(!invalid.is_unavailable());
        assert_eq!(
            invalid.to_string(),
            "the metadata of provider `idp` from https://a.example/.well-known/openid-configuration is invalid: `token_endpoint` is missing"
        );

        let mismatch = OAuth2Error::IssuerMismatch {
            provider: "idp".into(),
            expected: "https://a.example".into(),
            found: "https://a.example/".into(),
        };
        assert_eq!(mismatch.code(), "issuer_mismatch");
        assert_eq!(mismatch.provider(), "idp");
        assert!(!mismatch.is_unavailable());
        assert_eq!(
            mismatch.to_string(),
            "the metadata of provider `idp` names issuer `https://a.example/`, not the configured `https://a.example`"
        );
    }
}
