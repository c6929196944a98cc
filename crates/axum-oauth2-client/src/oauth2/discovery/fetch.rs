//! Fetching an issuer's metadata: a GET of each well-known URL in turn
//! (RFC 8414 §3.1, then OpenID Connect Discovery 1.0 §4), with the token
//! endpoint's retries, redirect rule and size cap.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use reqwest::header::ACCEPT;
use reqwest::{StatusCode, Url};
use zeroize::Zeroizing;

use super::issuer::{Issuer, shown_issuer};
use super::metadata::{AuthorizationServerMetadata, MetadataError};
use super::well_known::metadata_urls;
use crate::oauth2::endpoint::body::{ReadError, read_capped};
use crate::oauth2::endpoint::retry::{self, Attempts, RetryPolicy};
use crate::oauth2::error::OAuth2Error;
use crate::oauth2::time::clock::Clock;
use crate::oauth2::url::redacted_url;

/// The largest metadata document read, as for a token endpoint answer; a
/// longer one is refused while it is being read.
pub(crate) const MAX_METADATA_BYTES: usize = 64 * 1024;

/// What a metadata request needs: the provider's client and policies.
#[derive(Clone, Copy)]
pub(crate) struct MetadataRequest<'a> {
    /// The provider's token endpoint client: its timeouts, no redirects.
    /// A client that follows redirects anyway gets its answer refused.
    pub(crate) http: &'a reqwest::Client,
    /// The provider's name, for errors and logs.
    pub(crate) provider: &'a str,
    pub(crate) clock: &'a dyn Clock,
    /// The provider's token request retries, used as they are.
    pub(crate) retry: &'a RetryPolicy,
    /// The bound on one metadata request.
    pub(crate) timeout: Duration,
    /// Set once the service shuts down: no further request starts.
    pub(crate) closed: &'a AtomicBool,
}

/// Whether a metadata URL's answer means "not published here", so that the
/// next URL is tried: any 4xx but 408 and 429.
///
/// 404 and 410 say so in the words of RFC 9110; servers with strict
/// routing say it with 400, 405 or 406, and gateways that guard unknown
/// paths with 401 or 403. Trying the next URL costs one request, at
/// discovery only, so every such answer counts. 408 and 429 are transient
/// and retried like 5xx; a 3xx is final, since a redirect is not followed.
fn not_published_here(status: StatusCode) -> bool {
    status.is_client_error()
        && status != StatusCode::REQUEST_TIMEOUT
        && status != StatusCode::TOO_MANY_REQUESTS
}

/// Fetches and checks the metadata of `issuer`.
///
/// The RFC 8414 URL is tried first; when its answer means "not published
/// here" (see [`not_published_here`]), the OpenID Connect one. Each URL
/// gets the provider's retry policy. A 2xx answer is final: its document is
/// the metadata or an error. When no URL gives one, the error is
/// `discovery_failed` and names every URL tried, with the last status.
pub(crate) async fn discover(
    request: &MetadataRequest<'_>,
    issuer: &Issuer,
    allow_insecure_http: bool,
) -> Result<AuthorizationServerMetadata, OAuth2Error> {
    let attempts = Attempts {
        policy: request.retry,
        clock: request.clock,
        provider: request.provider,
        timeout: request.timeout,
        closed: request.closed,
        what: "metadata",
    };
    let mut tried = Vec::new();
    let mut last = None;
    for url in &metadata_urls(issuer.url()) {
        match retry::with_retries(attempts, |timeout| get(request, url, timeout)).await {
            Ok(body) => {
                let metadata =
                    AuthorizationServerMetadata::parse(&body, issuer.as_str(), allow_insecure_http)
                        .map_err(|e| refused(request.provider, issuer, url, e))?;
                tracing::debug!(
                    provider = request.provider,
                    url = %redacted_url(url),
                    "authorization server metadata fetched"
                );
                return Ok(metadata);
            }
            Err(OAuth2Error::DiscoveryFailed {
                tried: here,
                status,
                retry_after,
                ..
            }) => {
                tried.extend(here);
                if !not_published_here(status) {
                    return Err(OAuth2Error::DiscoveryFailed {
                        provider: request.provider.to_owned(),
                        tried,
                        status,
                        retry_after,
                    });
                }
                tracing::debug!(
                    provider = request.provider,
                    url = %redacted_url(url),
                    status = status.as_u16(),
                    "no authorization server metadata at this URL"
                );
                last = Some(status);
            }
            Err(other) => return Err(other),
        }
    }
    Err(OAuth2Error::DiscoveryFailed {
        provider: request.provider.to_owned(),
        tried,
        status: last.unwrap_or(StatusCode::NOT_FOUND),
        retry_after: None,
    })
}

/// One GET of a metadata URL, bounded by `timeout`: its 2xx body, at most
/// [`MAX_METADATA_BYTES`] of it.
async fn get(
    request: &MetadataRequest<'_>,
    url: &Url,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, OAuth2Error> {
    let provider = request.provider;
    let transport = |e: reqwest::Error| OAuth2Error::DiscoveryRequestFailed {
        provider: provider.to_owned(),
        url: redacted_url(url),
        source: Arc::new(e.without_url()),
    };
    let invalid = |reason: String| OAuth2Error::InvalidMetadata {
        provider: provider.to_owned(),
        url: redacted_url(url),
        field: None,
        reason,
    };
    let response = request
        .http
        .get(url.clone())
        .header(ACCEPT, "application/json")
        .timeout(timeout)
        .send()
        .await
        .map_err(transport)?;
    if response.url() != url {
        // Only a client that follows redirects gets here: the answer of
        // another URL is not this issuer's metadata URL's.
        return Err(invalid(
            "the answer came from another URL (metadata requests must not follow redirects)".into(),
        ));
    }
    let status = response.status();
    if !status.is_success() {
        return Err(OAuth2Error::DiscoveryFailed {
            provider: provider.to_owned(),
            tried: vec![redacted_url(url)],
            status,
            retry_after: retry::retry_after(response.headers()),
        });
    }
    read_capped(response, MAX_METADATA_BYTES)
        .await
        .map_err(|e| match e {
            ReadError::Transport(e) => transport(e),
            ReadError::TooLarge => invalid(format!("the body exceeds {MAX_METADATA_BYTES} bytes")),
        })
}

/// A refused document as the error that names the provider and the URL.
fn refused(provider: &str, issuer: &Issuer, url: &Url, error: MetadataError) -> OAuth2Error {
    match error {
        MetadataError::Invalid { field, reason } => OAuth2Error::InvalidMetadata {
            provider: provider.to_owned(),
            url: redacted_url(url),
            field,
            reason,
        },
        MetadataError::IssuerMismatch { found } => OAuth2Error::IssuerMismatch {
            provider: provider.to_owned(),
            expected: shown_issuer(issuer.as_str()),
            found: shown_issuer(&found),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_but_408_and_429_mean_not_published_here() {
        for status in [400, 401, 403, 404, 405, 406, 410] {
            assert!(
                not_published_here(StatusCode::from_u16(status).expect("status")),
                "{status}"
            );
        }
        for status in [200, 301, 302, 307, 308, 408, 429, 500, 503] {
            assert!(
                !not_published_here(StatusCode::from_u16(status).expect("status")),
                "{status}"
            );
        }
    }
}
