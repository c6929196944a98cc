//! [`Provider`]: one configured provider at run time, with its clients,
//! breaker and cache slots, and the rules its requests follow: where its
//! token may go, what a 401 means, and how it asks for a new token (where
//! that request goes is [`route`](super::route)'s).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::FutureExt as _;
use reqwest::{StatusCode, Url};
use tracing::Instrument as _;

use super::cache::{Grant, KeyedSlots, Request, Slot, TokenId, digest};
use super::discovery::Discovery;
use super::error::OAuth2Error;
use super::provider_config::ProviderConfig;
use super::shared_tier::{Context, SharedTier};
use super::token_params::ParamsView;
use super::token_request::{OwnedTokenRequest, TokenRequest};
use super::url::{is_loopback, redacted_url};
use crate::dpop::{DpopKey, NonceCache};
use crate::oauth2::cache::token::TokenData;
use crate::oauth2::endpoint::breaker::Breaker;
use crate::oauth2::endpoint::response::{Expected, jwt_lifetime};
use crate::oauth2::endpoint::{TokenEndpoint, request_token};
use crate::oauth2::grant::{self, token_exchange};
use crate::oauth2::provider_config::GrantType;
use crate::oauth2::telemetry::{CacheCounts, names};
use crate::oauth2::time::clock::Clock;

/// One configured provider with its cache entries.
pub(crate) struct Provider {
    pub(crate) name: Arc<str>,
    pub(crate) config: ProviderConfig,
    /// Client for the token endpoint: the provider's timeouts, no redirects.
    pub(crate) token_http: reqwest::Client,
    /// Client for upstream calls when no client was given and the provider
    /// confines its tokens to allowed origins (it follows a redirect only
    /// to an allowed origin), presents a TLS client certificate or trusts
    /// its own CAs. `None`: the service's client.
    pub(crate) upstream_http: Option<reqwest::Client>,
    /// Set by [`OAuth2Service::shutdown`]: no token request starts after it.
    pub(crate) closed: AtomicBool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) refresh_buffer: Duration,
    pub(crate) breaker: Breaker,
    pub(crate) client_credentials: Arc<Slot>,
    pub(crate) keyed: KeyedSlots,
    /// What the provider's slots served, counted per thread.
    pub(crate) cache_counts: Arc<CacheCounts>,
    /// The issuer's metadata, for a provider configured by its issuer.
    pub(crate) discovery: Option<Discovery>,
    /// Set once the discovered endpoint and method have been logged.
    pub(crate) announced: AtomicBool,
    /// The DPoP key and the nonces servers gave (RFC 9449), for a provider
    /// whose tokens are bound to a key.
    pub(crate) dpop: Option<Dpop>,
    /// The store the replicas share tokens through, when one is configured.
    pub(crate) shared: Option<SharedTier>,
}

/// A provider's DPoP state: its key and the last nonce of each origin,
/// kept apart for the authorization server and for the upstreams (RFC
/// 9449 §8, §9): an upstream on the token endpoint's origin cannot replace
/// the nonce a token request retries with.
pub(crate) struct Dpop {
    pub(crate) key: DpopKey,
    /// The token endpoint's nonces.
    pub(crate) token_nonces: NonceCache,
    /// The upstreams' nonces.
    pub(crate) nonces: NonceCache,
}

/// What a request does after the upstream answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Hand the answer to the caller.
    Return,
    /// Send the request once more, with a new token.
    Retry,
    /// Send the request once more with the same token and the DPoP nonce
    /// the upstream asked for (RFC 9449 §9).
    RetryNonce,
    /// Fail with `unauthorized`: the forced refresh budget is spent.
    Unauthorized,
    /// Fail with `dpop_nonce_rejected`: the upstream asked for a nonce it
    /// had been given, or gave none.
    NonceRejected,
}

impl Answer {
    /// A request that cannot be replayed hands its 401 to the caller, as
    /// it is (the token was still dropped, within the budget).
    pub(crate) fn filter_replay(self, replayable: bool, provider: &str, sent: &Url) -> Self {
        match self {
            Self::Retry if replayable => {
                tracing::info!(provider, url = %redacted_url(sent), "upstream answered 401; retrying once with a new token");
                names::upstream_401_retry(provider);
                Self::Retry
            }
            Self::RetryNonce if replayable => {
                tracing::info!(provider, url = %redacted_url(sent), "upstream asks for a DPoP nonce; retrying once with it");
                names::upstream_401_retry(provider);
                Self::RetryNonce
            }
            Self::Retry | Self::RetryNonce | Self::Unauthorized if !replayable => {
                tracing::info!(provider, url = %redacted_url(sent), "upstream answered 401; the body cannot be replayed");
                Self::Return
            }
            other => other,
        }
    }
}

impl Provider {
    /// `shutting_down` once the service has been shut down.
    #[inline]
    pub(crate) fn check_open(&self) -> Result<(), OAuth2Error> {
        if self.closed.load(Ordering::Acquire) {
            return Err(OAuth2Error::ShuttingDown {
                provider: self.name.to_string(),
            });
        }
        Ok(())
    }

    /// Whether this provider may send its token to `url`: http(s) without
    /// user info, https unless the host is loopback or the provider allows
    /// insecure http, and in its allowed origins if it has any. Checked
    /// before any token is fetched.
    pub(crate) fn check_upstream_url(&self, url: &Url) -> Result<(), OAuth2Error> {
        let name = &*self.name;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OAuth2Error::invalid_request(
                name,
                "the URL must be http or https",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Credentials in a URL end up in connection-pool logs and proxies.
            return Err(OAuth2Error::invalid_request(
                name,
                "the URL must not carry user info",
            ));
        }
        if url.scheme() == "http" && !self.config.allow_insecure_http && !is_loopback(url) {
            // RFC 6750 §5.3: bearer tokens only over TLS.
            return Err(OAuth2Error::InsecureUrl {
                provider: name.to_owned(),
                host: url.host_str().unwrap_or_default().to_owned(),
            });
        }
        self.check_origin(url)
    }

    /// What a request that carried token `used` to `sent` does next, given
    /// the status of the answer and the URL that gave it.
    ///
    /// A 401 from the URL that was sent drops the token (within the forced
    /// refresh budget, [`Slot::refused`]) and asks for one retry; a 401
    /// from a redirect hop says nothing of the token and is returned as it
    /// is, and so is every other status.
    pub(crate) fn after_status(
        &self,
        slot: &Slot,
        used: TokenId,
        sent: &Url,
        status: StatusCode,
        answered: &Url,
    ) -> Answer {
        let name = &*self.name;
        if status != StatusCode::UNAUTHORIZED {
            return Answer::Return;
        }
        if answered != sent {
            // A hop answered, not the URL the token was meant for (and a
            // hop to another origin did not even get the token).
            tracing::info!(provider = name, url = %redacted_url(sent), "upstream answered 401 after a redirect; not retried");
            return Answer::Return;
        }
        if self.refuse(slot, used) {
            Answer::Retry
        } else {
            Answer::Unauthorized
        }
    }

    /// The upstream refused the token `used`: the slot drops it within the
    /// forced refresh budget ([`Slot::refused`]), and the shared tier
    /// will not hand it out again. Whether a retry may go ahead.
    pub(crate) fn refuse(&self, slot: &Slot, used: TokenId) -> bool {
        slot.refused(used, self.config.forced_refresh_interval, |dropped| {
            if let Some(shared) = &self.shared {
                shared.refused(dropped.secret());
            }
        })
    }

    /// `origin_not_allowed` when the provider confines its tokens and `url`
    /// is elsewhere.
    pub(crate) fn check_origin(&self, url: &Url) -> Result<(), OAuth2Error> {
        if let Some(allowed) = &self.config.allowed_origins {
            let origin = url.origin();
            if !allowed.contains(&origin) {
                return Err(OAuth2Error::OriginNotAllowed {
                    provider: self.name.to_string(),
                    origin: origin.ascii_serialization(),
                });
            }
        }
        Ok(())
    }

    /// What a slot calls when it needs a new token: the request's grant,
    /// owning what it needs so that it can run in its own task, through
    /// the shared tier when there is one.
    pub(crate) fn request_fn<'a>(
        self: &'a Arc<Self>,
        request: TokenRequest<'a>,
    ) -> impl FnOnce() -> Request + 'a {
        move || {
            let provider = Arc::clone(self);
            let request = request.to_owned();
            async move {
                // A caller past the service's own check when `shutdown`
                // ran starts its request after the cache was cleared:
                // nothing, the shared store included, may fill it again.
                provider.check_open()?;
                let data = match &provider.shared {
                    Some(shared) => {
                        let digest = provider.digest(request.view());
                        let cx = Context {
                            provider: &provider.name,
                            clock: &*provider.clock,
                            refresh_buffer: provider.refresh_buffer,
                            dpop: provider.dpop.is_some(),
                            bearer: provider.dpop.is_none() || provider.config.dpop_allow_bearer,
                            request_bound: provider
                                .config
                                .retry
                                .budget
                                .saturating_add(provider.config.timeout),
                        };
                        shared
                            .token(cx, &digest, || provider.fetch_token(&request))
                            .await?
                    }
                    None => provider.fetch_token(&request).await?,
                };
                Ok(match request {
                    // Every request to the provider carries this token:
                    // one header copy per core keeps callers off each
                    // other's cache lines.
                    OwnedTokenRequest::Configured => data.per_core(),
                    _ => data,
                })
            }
            .boxed()
        }
    }

    /// Requests the token `request` names from the token endpoint.
    async fn fetch_token(&self, request: &OwnedTokenRequest) -> Result<TokenData, OAuth2Error> {
        let (fields, own, expected, max): (Vec<(&str, &str)>, _, _, _) = match request {
            OwnedTokenRequest::Configured => (
                self.own_fields(ParamsView::NONE).collect(),
                true,
                Expected::default(),
                None,
            ),
            OwnedTokenRequest::With(params) => (
                self.own_fields(params.view()).collect(),
                true,
                Expected::default(),
                None,
            ),
            OwnedTokenRequest::Exchange(options) => (
                token_exchange::fields(options, self.config.params.view()).collect(),
                false,
                Expected {
                    exchange: true,
                    requested_token_type: options.requested_token_type.as_deref(),
                    ..Expected::default()
                },
                // An exchanged token does not outlive its subject.
                jwt_lifetime(options.subject_token.expose_secret()),
            ),
        };
        self.request(&fields, own, expected, max).await
    }

    /// The form fields of the provider's own grant with `own` over its
    /// configured parameters.
    fn own_fields<'a>(
        &'a self,
        own: ParamsView<'a>,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + Clone {
        grant::own_fields(self.config.grant, own, self.config.params.view())
    }

    /// Why a keyed request cannot be sent, naming the parameter.
    pub(crate) fn check_request(&self, request: TokenRequest<'_>) -> Result<(), String> {
        match request {
            TokenRequest::Configured => Ok(()),
            TokenRequest::With(params) => params.check(),
            TokenRequest::Exchange(options) => token_exchange::validate(options),
        }
    }

    /// The cache key of a keyed request: the digest of exactly the fields
    /// [`request_fn`](Self::request_fn) sends.
    ///
    /// A token bound to a DPoP key is keyed by the key's thumbprint too
    /// (RFC 7638): another key, another token.
    pub(crate) fn digest(&self, request: TokenRequest<'_>) -> [u8; 32] {
        let jkt = self
            .dpop
            .as_ref()
            .map(|dpop| ("dpop_jkt", dpop.key.thumbprint()));
        match request {
            TokenRequest::Configured => {
                digest(jkt.into_iter().chain(self.own_fields(ParamsView::NONE)))
            }
            TokenRequest::With(params) => {
                digest(jkt.into_iter().chain(self.own_fields(params.view())))
            }
            TokenRequest::Exchange(options) => digest(
                jkt.into_iter()
                    .chain(token_exchange::fields(options, self.config.params.view())),
            ),
        }
    }

    /// The grant a request uses.
    pub(crate) fn grant(&self, request: TokenRequest<'_>) -> Grant {
        match request {
            TokenRequest::Configured | TokenRequest::With(_) => match self.config.grant {
                GrantType::ClientCredentials => Grant::ClientCredentials,
                GrantType::JwtBearer => Grant::JwtBearer,
            },
            TokenRequest::Exchange(_) => Grant::TokenExchange,
        }
    }

    /// A token request through the circuit breaker: refused at once while
    /// it is open, recorded when it ends.
    /// `own`: the request is the provider's own grant (not an exchange),
    /// so a JWT bearer grant's assertion goes with it.
    ///
    /// Each request, its retries included, is a `token_request` span
    /// (provider, grant, then the attempts made and the outcome: `ok` or
    /// the error's code) and is counted and timed by provider, grant and
    /// outcome ([`names::token_request`]).
    async fn request(
        &self,
        params: &[(&str, &str)],
        own: bool,
        expected: Expected<'_>,
        max_lifetime: Option<Duration>,
    ) -> Result<TokenData, OAuth2Error> {
        let grant = if own {
            self.grant(TokenRequest::Configured)
        } else {
            Grant::TokenExchange
        };
        let span = tracing::info_span!(
            "token_request",
            provider = &*self.name,
            grant = grant.as_str(),
            attempts = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        // Real time, whatever clock the cache runs on.
        let started = std::time::Instant::now();
        let result = self
            .request_through_breaker(params, own, expected, max_lifetime)
            .instrument(span.clone())
            .await;
        let outcome = result.as_ref().map_or_else(OAuth2Error::code, |_| "ok");
        span.record("outcome", outcome);
        names::token_request(&self.name, grant.as_str(), outcome, started.elapsed());
        result
    }

    async fn request_through_breaker(
        &self,
        params: &[(&str, &str)],
        own: bool,
        expected: Expected<'_>,
        max_lifetime: Option<Duration>,
    ) -> Result<TokenData, OAuth2Error> {
        self.check_open()?;
        let admission = self.breaker.admit(self.clock.now()).map_err(|retry_in| {
            OAuth2Error::TokenEndpointUnavailable {
                provider: self.name.to_string(),
                retry_in,
            }
        })?;
        let result = match self.route().await {
            Ok(route) => {
                let endpoint = TokenEndpoint {
                    http: &self.token_http,
                    provider: &self.name,
                    config: &self.config,
                    token_url: &route.token_url,
                    method: route.method,
                    jwt_bearer: own && self.config.grant == GrantType::JwtBearer,
                    dpop: self.dpop.as_ref(),
                    issuer: self.config.issuer.as_deref(),
                    clock: &*self.clock,
                    refresh_buffer: self.refresh_buffer,
                    closed: &self.closed,
                };
                request_token(&endpoint, params, expected, max_lifetime).await
            }
            Err(error) => Err(error),
        };
        let unavailable = result
            .as_ref()
            .err()
            .is_some_and(OAuth2Error::is_unavailable);
        admission.record(self.clock.now(), unavailable);
        result
    }
}
