//! The one place that POSTs to a token endpoint and reads its answer
//! (RFC 6749 §3.2, §5.1, §5.2).
//!
//! Every grant builds its form parameters and hands them here; this module
//! adds client authentication (§2.3.1), sends the request, reads at most
//! [`MAX_RESPONSE_BYTES`] of the answer, and turns it into a cached token or
//! an [`OAuth2Error`].

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use std::sync::Arc;
use std::time::SystemTime;

use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use url::form_urlencoded;
use zeroize::Zeroizing;

use super::body::{ReadError, read_capped};
use super::client_auth::{ClientAuth, authenticate};
use super::response::{Expected, jwt_lifetime, parse_token_response};
use super::retry;
use crate::dpop::{DPOP, dpop_header, is_use_dpop_nonce};
use crate::oauth2::cache::token::{TokenData, schedule};
use crate::oauth2::cache::token_header::TokenHeader;
use crate::oauth2::error::{OAuth2Error, TokenEndpointErrorBody};
use crate::oauth2::grant::jwt_bearer;
use crate::oauth2::provider::Dpop;
use crate::oauth2::provider_config::{AuthMethod, ProviderConfig};
use crate::oauth2::time::clock::Clock;
use crate::oauth2::tls::confirmation::{check_certificate_binding, check_key_binding};

/// The largest token endpoint answer read; a longer one is refused while
/// it is being read, so a hostile server cannot make the client buffer
/// megabytes.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// A provider's token endpoint and what talking to it needs.
#[derive(Clone, Copy)]
pub(crate) struct TokenEndpoint<'a> {
    /// The provider's client: its timeouts, no redirects.
    pub(crate) http: &'a reqwest::Client,
    /// The provider's name, for errors and logs.
    pub(crate) provider: &'a str,
    pub(crate) config: &'a ProviderConfig,
    /// Where the token endpoint is: configured, or discovered.
    pub(crate) token_url: &'a Url,
    /// How the client authenticates there: configured, or chosen from the
    /// issuer's metadata.
    pub(crate) method: AuthMethod,
    /// Whether the request is the JWT bearer grant (RFC 7523 §2.1), whose
    /// assertion is signed for each attempt.
    pub(crate) jwt_bearer: bool,
    /// The provider's DPoP key and nonces, when its tokens are bound to a
    /// key (RFC 9449 §5).
    pub(crate) dpop: Option<&'a Dpop>,
    /// The issuer identifier, when one is configured (an assertion `aud`).
    pub(crate) issuer: Option<&'a str>,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) refresh_buffer: Duration,
    /// Set once the service shuts down: no further attempt starts.
    pub(crate) closed: &'a AtomicBool,
}

/// Requests a token with the grant's `params` and returns it ready to cache,
/// retrying transient failures as the provider's
/// [`RetryPolicy`](super::retry::RetryPolicy) says.
///
/// A JWT access token bound to another certificate than the provider's
/// TLS identity (`cnf.x5t#S256`, RFC 8705 §3.1) is refused.
///
/// The lifetime is `expires_in`, else the `exp` claim when the token is a
/// JWT, else the provider's default, and never more than `max_lifetime`
/// (an exchanged token does not outlive its subject token); it is measured
/// from the moment the request was sent, so the time spent waiting for the
/// answer never makes a token look fresher than it is.
pub(crate) async fn request_token(
    endpoint: &TokenEndpoint<'_>,
    params: &[(&str, &str)],
    expected: Expected<'_>,
    max_lifetime: Option<Duration>,
) -> Result<TokenData, OAuth2Error> {
    let attempts = retry::Attempts {
        policy: &endpoint.config.retry,
        clock: endpoint.clock,
        provider: endpoint.provider,
        timeout: endpoint.config.timeout,
        closed: endpoint.closed,
        what: retry::TOKEN,
    };
    retry::with_retries(attempts, |timeout| {
        attempt_token(endpoint, params, expected, timeout, max_lifetime)
    })
    .await
}

/// One token request, bounded by `timeout`.
async fn attempt_token(
    endpoint: &TokenEndpoint<'_>,
    params: &[(&str, &str)],
    expected: Expected<'_>,
    timeout: Duration,
    max_lifetime: Option<Duration>,
) -> Result<TokenData, OAuth2Error> {
    let TokenEndpoint {
        provider,
        config,
        clock,
        refresh_buffer,
        ..
    } = *endpoint;
    // RFC 9449 §8: a server that wants a nonce answers 400
    // `use_dpop_nonce` with one; the request goes once more with it.
    let mut nonce_retried = false;
    let (sent_at, status, body) = loop {
        let (request, body, nonce_sent) = build_request(endpoint, params)?;
        let request = request.timeout(timeout);
        let sent_at = clock.now();
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| OAuth2Error::transport(provider, e))?;
        let status = response.status();
        if response.url() != endpoint.token_url {
            // Only a client given to the builder follows redirects; the
            // answer of another URL is no token endpoint's.
            return Err(OAuth2Error::invalid_response(
                provider,
                status,
                "the answer came from another URL than the token URL (token requests must not follow redirects)",
            ));
        }
        if let Some(dpop) = endpoint.dpop {
            dpop.token_nonces
                .update(endpoint.token_url, response.headers());
        }
        let retry_after = retry::retry_after(response.headers());
        let body = read_capped(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                ReadError::Transport(e) => OAuth2Error::transport(provider, e),
                ReadError::TooLarge => OAuth2Error::invalid_response(
                    provider,
                    status,
                    format!("body exceeds {MAX_RESPONSE_BYTES} bytes"),
                ),
            })?;
        if status.is_success() {
            break (sent_at, status, body);
        }
        if let Some(dpop) = endpoint.dpop
            && status == reqwest::StatusCode::BAD_REQUEST
            && is_use_dpop_nonce(&body)
        {
            let fresh = dpop.token_nonces.get(endpoint.token_url);
            if !nonce_retried && fresh.is_some() && fresh != nonce_sent {
                if endpoint.closed.load(std::sync::atomic::Ordering::Acquire) {
                    return Err(OAuth2Error::ShuttingDown {
                        provider: provider.to_owned(),
                    });
                }
                nonce_retried = true;
                continue;
            }
            // A nonce it gave, refused again (or none given): no third try.
            return Err(OAuth2Error::DpopNonceRejected {
                provider: provider.to_owned(),
                status,
            });
        }
        return Err(OAuth2Error::TokenEndpointError {
            provider: provider.to_owned(),
            status,
            body: Box::new(TokenEndpointErrorBody::parse(&body)),
            retry_after,
        });
    };

    let expected = Expected {
        dpop: endpoint.dpop.is_some(),
        dpop_allow_bearer: config.dpop_allow_bearer,
        ..expected
    };
    let parsed = parse_token_response(&body, expected)
        .map_err(|reason| OAuth2Error::invalid_response(provider, status, reason))?;
    if let Some(identity) = &config.tls_identity {
        check_certificate_binding(parsed.access_token.expose_secret(), identity.x5t_s256())
            .map_err(|reason| OAuth2Error::invalid_response(provider, status, reason))?;
    }
    if let Some(dpop) = endpoint.dpop.filter(|_| parsed.dpop) {
        check_key_binding(parsed.access_token.expose_secret(), dpop.key.thumbprint())
            .map_err(|reason| OAuth2Error::invalid_response(provider, status, reason))?;
    }
    let mut lifetime = parsed
        .expires_in
        .or_else(|| {
            let lifetime = jwt_lifetime(parsed.access_token.expose_secret())?;
            tracing::debug!(
                provider,
                lifetime_secs = lifetime.as_secs(),
                "token lifetime taken from the JWT exp claim"
            );
            Some(lifetime)
        })
        .unwrap_or(config.default_lifetime);
    if let Some(max) = max_lifetime.filter(|max| *max < lifetime) {
        tracing::debug!(
            provider,
            lifetime_secs = lifetime.as_secs(),
            max_secs = max.as_secs(),
            "token lifetime cut to what its subject token has left"
        );
        lifetime = max;
    }
    let (expires_at, refresh_at) = schedule(sent_at, lifetime, refresh_buffer, rand::random());
    tracing::debug!(
        provider,
        lifetime_secs = lifetime.as_secs(),
        expires_in_sent = parsed.expires_in.is_some(),
        "token issued"
    );
    let header = if parsed.dpop {
        TokenHeader::dpop(&parsed.access_token)
    } else {
        TokenHeader::bearer(&parsed.access_token)
    }
    .ok_or_else(|| {
        OAuth2Error::invalid_response(provider, status, "access_token cannot be sent in a header")
    })?;
    Ok(TokenData::new(header, expires_at, refresh_at)
        .with_scope(parsed.scope.map(String::into_boxed_str))
        .with_issued_token_type(parsed.issued_token_type.map(intern_token_type))
        .with_access_token(!parsed.not_access_token))
}

/// The POST with client authentication (RFC 6749 §2.3.1, RFC 7523 §2.2)
/// and the form body, made anew for each attempt: a JWT (a client
/// assertion, the JWT bearer grant's assertion) is signed for each.
///
/// The body and the `Basic` header hold the client secret, an assertion or
/// a subject token: both live in buffers that are zeroed when reqwest lets
/// go of them.
fn build_request(
    endpoint: &TokenEndpoint<'_>,
    params: &[(&str, &str)],
) -> Result<(reqwest::RequestBuilder, bytes::Bytes, Option<Arc<str>>), OAuth2Error> {
    let TokenEndpoint {
        http,
        provider,
        config,
        token_url,
        method,
        issuer,
        ..
    } = *endpoint;
    let now = SystemTime::now();
    let mut request = http
        .post(token_url.clone())
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    // RFC 9449 §5: a proof of the key the token is to be bound to, with
    // the server's last nonce.
    let mut nonce_sent = None;
    if let Some(dpop) = endpoint.dpop {
        nonce_sent = dpop.token_nonces.get(token_url);
        let proof = dpop
            .key
            .proof_at(
                &reqwest::Method::POST,
                token_url,
                None,
                nonce_sent.as_deref(),
                now,
            )
            .map_err(|e| OAuth2Error::AssertionFailed {
                provider: provider.to_owned(),
                reason: format!("the DPoP proof cannot be signed: {e}"),
            })?;
        request = request.header(DPOP, dpop_header(&proof));
    }
    let auth = authenticate(provider, config, method, token_url, issuer, now)?;
    if let ClientAuth::Header(value) = &auth {
        request = request.header(AUTHORIZATION, value.clone());
    }
    // The JWT bearer grant's assertion is signed here, for this attempt,
    // with the scope inside when the provider wants it there.
    let grant_assertion = if endpoint.jwt_bearer {
        let scope = params.iter().find(|(n, _)| *n == "scope").map(|(_, v)| *v);
        Some(jwt_bearer::assertion(
            provider, config, token_url, issuer, scope, now,
        )?)
    } else {
        None
    };
    let scope_moved = grant_assertion.is_some() && config.assertion.scope_in_assertion;
    let form = form_body(
        params
            .iter()
            .copied()
            .filter(|(name, _)| !(scope_moved && *name == "scope"))
            .chain(
                grant_assertion
                    .as_ref()
                    .map(|a| ("assertion", a.expose_secret())),
            )
            .chain(auth.fields()),
    );
    Ok((request, bytes::Bytes::from_owner(form), nonce_sent))
}

/// `application/x-www-form-urlencoded` pairs in a buffer sized up front for
/// the worst case (every byte percent-encoded), so that it is never moved
/// while it grows and no copy of a secret is left behind; zeroed on drop.
pub(crate) fn form_body<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Zeroizing<Vec<u8>> {
    let worst: usize = pairs
        .clone()
        .map(|(name, value)| 3 * (name.len() + value.len()) + 2)
        .sum();
    let mut body = Zeroizing::new(Vec::with_capacity(worst));
    for (i, (name, value)) in pairs.enumerate() {
        if i > 0 {
            body.push(b'&');
        }
        body.extend(form_urlencoded::byte_serialize(name.as_bytes()).flat_map(str::bytes));
        body.push(b'=');
        body.extend(form_urlencoded::byte_serialize(value.as_bytes()).flat_map(str::bytes));
    }
    body
}

/// The token type URIs of RFC 8693 §3 as strings made once and shared by
/// every token that names them; any other is kept as sent.
pub(crate) fn intern_token_type(uri: String) -> Arc<Box<str>> {
    const KNOWN: [&str; 6] = [
        "urn:ietf:params:oauth:token-type:access_token",
        "urn:ietf:params:oauth:token-type:refresh_token",
        "urn:ietf:params:oauth:token-type:id_token",
        "urn:ietf:params:oauth:token-type:saml1",
        "urn:ietf:params:oauth:token-type:saml2",
        "urn:ietf:params:oauth:token-type:jwt",
    ];
    static SHARED: std::sync::OnceLock<[Arc<Box<str>>; 6]> = std::sync::OnceLock::new();
    match KNOWN.iter().position(|known| *known == uri) {
        Some(i) => Arc::clone(&SHARED.get_or_init(|| KNOWN.map(|k| Arc::new(k.into())))[i]),
        None => Arc::new(uri.into_boxed_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_token_type_is_shared_and_another_kept_as_sent() {
        let jwt = || intern_token_type("urn:ietf:params:oauth:token-type:jwt".to_owned());
        assert!(Arc::ptr_eq(&jwt(), &jwt()));
        assert_eq!(&**jwt(), "urn:ietf:params:oauth:token-type:jwt");
        assert_eq!(
            &**intern_token_type("urn:example:t".to_owned()),
            "urn:example:t"
        );
    }

    #[test]
    fn the_form_body_is_encoded_in_place_without_moving() {
        let secret = "s3cr3t &=%+ ü".repeat(50);
        let pairs = [
            ("grant_type", "client_credentials"),
            ("client_secret", &secret[..]),
        ];
        let body = form_body(pairs.iter().copied());
        let expected: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        assert_eq!(&body[..], expected.as_bytes());
        // Sized for the worst case up front: no reallocation left a copy.
        let worst: usize = pairs.iter().map(|(n, v)| 3 * (n.len() + v.len()) + 2).sum();
        assert_eq!(body.capacity(), worst);
    }
}
