//! [`AppError`]: how handler failures become HTTP answers.
//!
//! The client gets an RFC 9457 problem document with a stable `code` and
//! little else; the full error (never a secret) goes to the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use axum_oauth2_client::OAuth2Error;

/// A handler failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The OAuth2 extension failed.
    #[error(transparent)]
    OAuth2(#[from] OAuth2Error),
    /// The upstream answered with an error status.
    #[error("upstream answered {0}")]
    Upstream(StatusCode),
    /// The upstream's body could not be read or parsed.
    #[error("upstream body unreadable: {0}")]
    UpstreamBody(#[source] reqwest::Error),
    /// The caller sent no usable bearer token.
    #[error("missing bearer token")]
    MissingBearer,
    /// The upstream body is larger than `UPSTREAM_MAX_BODY_BYTES`.
    #[error("upstream body exceeds {limit} bytes")]
    UpstreamTooLarge {
        /// The bound that was passed.
        limit: usize,
    },
    /// The upstream body is not the JSON the handler expects.
    #[error("upstream body is not JSON")]
    UpstreamNotJson,
}

impl From<reqwest::Error> for AppError {
    fn from(error: reqwest::Error) -> Self {
        Self::UpstreamBody(error.without_url())
    }
}

impl AppError {
    /// The HTTP status and stable code the client sees.
    #[must_use]
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::OAuth2(e @ OAuth2Error::RequestFailed { .. }) if e.is_timeout() => {
                (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
            }
            Self::OAuth2(e) => (oauth2_status(e), e.code()),
            Self::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream_error"),
            Self::UpstreamBody(e) if e.is_timeout() => {
                (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
            }
            Self::UpstreamBody(_) | Self::UpstreamNotJson => {
                (StatusCode::BAD_GATEWAY, "upstream_invalid_body")
            }
            Self::UpstreamTooLarge { .. } => (StatusCode::BAD_GATEWAY, "upstream_body_too_large"),
            Self::MissingBearer => (StatusCode::UNAUTHORIZED, "missing_bearer_token"),
        }
    }
}

/// Token endpoint outages are 503 (try later); a refusal or garbage from a
/// token endpoint or upstream is 502; our own misconfiguration is 500.
fn oauth2_status(error: &OAuth2Error) -> StatusCode {
    if error.is_unavailable() {
        // A token endpoint or an issuer that is down, slow or rate
        // limiting: worth trying again later.
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match error {
        OAuth2Error::TokenRequestFailed { .. }
        | OAuth2Error::TokenEndpointUnavailable { .. }
        | OAuth2Error::ShuttingDown { .. } => StatusCode::SERVICE_UNAVAILABLE,
        OAuth2Error::TokenEndpointError { status, .. }
            if status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS =>
        {
            StatusCode::SERVICE_UNAVAILABLE
        }
        OAuth2Error::TokenEndpointError { .. }
        | OAuth2Error::InvalidTokenResponse { .. }
        | OAuth2Error::Unauthorized { .. }
        | OAuth2Error::RequestFailed { .. }
        | OAuth2Error::DiscoveryFailed { .. }
        | OAuth2Error::InvalidMetadata { .. }
        | OAuth2Error::IssuerMismatch { .. } => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let provider = match &self {
            Self::OAuth2(e) => Some(e.provider().to_owned()),
            _ => None,
        };
        if status.is_server_error() {
            let detail = match &self {
                Self::OAuth2(e) => e.chain(),
                other => other.to_string(),
            };
            tracing::error!(code, provider = provider.as_deref(), error = %detail, "request failed");
        } else {
            tracing::info!(code, "request refused");
        }
        let body = json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "code": code,
            "provider": provider,
        });
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if matches!(self, Self::MissingBearer) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
