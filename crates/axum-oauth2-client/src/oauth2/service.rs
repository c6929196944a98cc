//! [`OAuth2Service`]: tokens per provider, and requests that carry them.
//!
//! The service holds the providers; [`fetch`](OAuth2Service::fetch) lives in
//! `fetch.rs`, the builder in `builder.rs`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use reqwest::header::AUTHORIZATION;

use super::binding::not_access_token;
use super::builder::OAuth2ServiceBuilder;
use super::cache::{KeyedCache, KeyedPlace, Owner, Place, Request, TokenId};
use super::config::OAuth2Config;
use super::discovery::AuthorizationServerMetadata;
use super::error::OAuth2Error;
use super::exchange_options::TokenExchangeOptions;
use super::provider::Provider;
use super::token_params::TokenParams;
use super::token_request::TokenRequest;
use crate::dpop::DpopKey;
use crate::oauth2::cache::token::{AccessToken, TokenData};

/// Where the token of `$request` is cached, as a [`Place`]: the
/// provider's own slot, borrowed (cloning it would write a reference
/// count every caller shares), or the keyed entry of the digest of the
/// fields the request sends; `?` on the keyed entry's errors.
///
/// A macro, not a function: a function returns the place inside a
/// `Result`, which the caller's `?` took apart by copying it through
/// memory on every hit of the provider's own token, the keyed variant's
/// bytes included (+13 ns on `authorize`); built where it is used, the
/// provider's own place is a tag and a pointer.
macro_rules! place {
    ($service:expr, $provider:expr, $request:expr) => {
        match $request {
            TokenRequest::Configured => Place::Own(&$provider.client_credentials),
            keyed => Place::Keyed($service.keyed_place($provider, keyed)?),
        }
    };
}
pub(crate) use place;

/// Gets, caches, refreshes and attaches OAuth2 access tokens.
///
/// Cheap to clone (an `Arc` inside) and `Send + Sync`: build one at
/// start-up and share it. See the [crate docs](crate) for the cache's
/// behaviour.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use axum_oauth2_client::{FetchOptions, OAuth2Config, OAuth2Service, ProviderConfig};
///
/// let config = OAuth2Config::new().provider(
///     "payments",
///     ProviderConfig::new("https://auth.example.com/token".parse()?, "orders", "s3cr3t"),
/// );
/// let oauth2 = OAuth2Service::new(config)?;
/// let response = oauth2
///     .fetch("payments", "https://api.example.com/v1/orders", FetchOptions::default())
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OAuth2Service {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Sorted by name; looked up by scanning (a handful) or bisecting.
    pub(crate) providers: Vec<Arc<Provider>>,
    /// Client for upstream calls.
    pub(crate) http: reqwest::Client,
    /// The bound on keyed tokens, all providers together.
    pub(crate) keyed: KeyedCache,
}

impl OAuth2Service {
    /// A service for the providers of `config`, with the system clock and a
    /// default HTTP client.
    pub fn new(config: OAuth2Config) -> Result<Self, OAuth2Error> {
        Self::builder(config).build()
    }

    /// A builder, to set the clock or the HTTP client.
    pub fn builder(config: OAuth2Config) -> OAuth2ServiceBuilder {
        OAuth2ServiceBuilder::new(config)
    }

    /// The configured provider names.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.inner.providers.iter().map(|p| &*p.name)
    }

    /// A valid access token for `provider`: the client credentials token,
    /// or with `exchange` a token exchanged for the caller's subject token.
    ///
    /// A cache hit clones one `Arc` and takes no lock (a keyed token's
    /// read takes its map shard's shared lock); for the provider's own
    /// token the `Arc` is this core's copy, so callers on different cores
    /// write no shared counter. In the refresh window
    /// the cached token is returned while one background refresh runs; a
    /// missing or expired token makes the caller wait on the single request
    /// in flight for its key.
    pub async fn get_token(
        &self,
        provider: &str,
        exchange: Option<&TokenExchangeOptions>,
    ) -> Result<AccessToken, OAuth2Error> {
        // The whole hit path in this one future: a nested async call would
        // cost the hit a second state machine.
        let request = TokenRequest::of(exchange, None);
        let provider = self.provider(provider)?;
        // The place ends before the await: a local still in scope there
        // would be kept in the future, which a hit moves.
        let miss = {
            let place = place!(self, provider, request);
            if let Ok(token) = place.try_hit(provider.owner(), AccessToken::of) {
                return Ok(token);
            }
            // A miss after shutdown neither starts nor logs a request.
            provider.check_open()?;
            place.with_token(
                provider.owner(),
                provider.request_fn(request),
                AccessToken::of,
            )
        };
        miss.await
    }

    /// A valid access token for `provider`'s own grant with `params` over
    /// the provider's configured [`TokenParams`] (an `audience`, a
    /// `resource`, a `scope` of this call's own). Cached under every
    /// parameter sent, apart from the provider's own token.
    pub async fn get_token_with(
        &self,
        provider: &str,
        params: &TokenParams,
    ) -> Result<AccessToken, OAuth2Error> {
        let request = TokenRequest::of(None, Some(params));
        let provider = self.provider(provider)?;
        // As in `get_token`: the place ends before the await.
        let miss = {
            let place = place!(self, provider, request);
            if let Ok(token) = place.try_hit(provider.owner(), AccessToken::of) {
                return Ok(token);
            }
            provider.check_open()?;
            place.with_token(
                provider.owner(),
                provider.request_fn(request),
                AccessToken::of,
            )
        };
        miss.await
    }

    /// Sets `Authorization: Bearer …` (marked sensitive) on a request built
    /// elsewhere, with the provider's token or, with `exchange`, an
    /// exchanged one; for a DPoP-bound token, `Authorization: DPoP …` and
    /// the request's proof (RFC 9449 §7). The token comes from the same
    /// cache as [`get_token`](Self::get_token); on a hit no reference
    /// count is touched. Unlike [`fetch`](Self::fetch) this neither checks
    /// the allowed origins, nor signs, nor retries, and it never sees the
    /// answer: an upstream's DPoP nonce challenge needs `fetch` or a
    /// middleware.
    pub async fn authorize(
        &self,
        provider: &str,
        request: &mut reqwest::Request,
        exchange: Option<&TokenExchangeOptions>,
    ) -> Result<(), OAuth2Error> {
        let provider = self.provider(provider)?;
        let request_for = TokenRequest::of(exchange, None);
        // A hit completes here, before any nested future is built; the
        // place ends before the await (see `get_token`).
        let miss = {
            let place = place!(self, provider, request_for);
            match place.try_hit(provider.owner(), |token| set_authorization(request, token)) {
                Ok(Some(_)) if provider.dpop.is_none() => return Ok(()),
                Ok(Some(_)) => return prove(provider, request),
                Ok(None) => return Err(not_access_token(&provider.name)),
                Err(_) => {}
            }
            provider.check_open()?;
            let request_fn = provider.request_fn(request_for);
            attach(place, provider.owner(), request_fn, &mut *request)
        };
        match miss.await? {
            Some(_) => prove(provider, request),
            None => Err(not_access_token(&provider.name)),
        }
    }

    /// The authorization server metadata of `provider` (RFC 8414), for a
    /// provider configured by its issuer: fetched with the token
    /// request's retries (the first time, and once a day), else the copy
    /// held; `None` for a provider with a token URL. The first success
    /// logs the token endpoint and the authentication method in use, so
    /// calling this at start-up says which was chosen; a failure there is
    /// no reason to stop, since the first token request tries again.
    pub async fn metadata(
        &self,
        provider: &str,
    ) -> Result<Option<Arc<AuthorizationServerMetadata>>, OAuth2Error> {
        let provider = self.provider(provider)?;
        provider.check_open()?;
        Ok(provider.route().await?.metadata)
    }

    /// The key `provider`'s tokens are bound to with DPoP (RFC 9449), to
    /// make proofs for requests sent with a token from
    /// [`get_token`](Self::get_token); `None` without DPoP.
    pub fn dpop_key(&self, provider: &str) -> Result<Option<DpopKey>, OAuth2Error> {
        Ok(self
            .provider(provider)?
            .dpop
            .as_ref()
            .map(|d| d.key.clone()))
    }

    /// Shuts the service down for good: empties the cache, and from now on
    /// every call answers `shutting_down` and no token request starts, so
    /// that handlers still running cannot fill the cache again. Requests in
    /// flight still answer their callers but fill no cache.
    pub fn shutdown(&self) {
        for provider in &self.inner.providers {
            provider.closed.store(true, Ordering::Release);
        }
        self.clear_cache(None);
    }

    /// Forgets cached tokens: those of `provider`, or all with `None`.
    /// Requests in flight still answer their callers but fill no cache.
    pub fn clear_cache(&self, provider: Option<&str>) {
        let clear = |p: &Provider| {
            p.client_credentials.clear();
            p.keyed.clear();
        };
        match provider {
            Some(name) => {
                if let Ok(p) = self.provider(name) {
                    clear(p);
                }
            }
            None => self.inner.providers.iter().for_each(|p| clear(p)),
        }
        tracing::debug!(provider = provider.unwrap_or("*"), "token cache cleared");
    }

    /// Hands the cache's counts and the breakers' states to the installed
    /// [`metrics`] recorder, with every metric's unit and description.
    /// Call it before rendering the metrics (a Prometheus scrape handler):
    ///
    /// ```no_run
    /// # fn render(oauth2: &axum_oauth2_client::OAuth2Service, handle: &dyn Fn() -> String) -> String {
    /// oauth2.publish_metrics();
    /// handle()
    /// # }
    /// ```
    ///
    /// Token requests, retries, 401s and breaker changes are recorded as
    /// they happen. What the cache serves
    /// (`oauth2_cache_{hits,misses,stale_serves,waits,background_refreshes}_total`,
    /// `oauth2_cache_waiters`) is counted per thread so that a hit writes
    /// nothing another thread writes, and reaches the recorder only here:
    /// each call adds what was counted since the previous one. Services
    /// with a provider of the same name add up. The metric names are listed
    /// in the crate docs.
    pub fn publish_metrics(&self) {
        super::telemetry::names::describe();
        for provider in &self.inner.providers {
            provider.cache_counts.publish();
            super::telemetry::names::breaker_open(&provider.name, provider.breaker.is_open());
        }
    }

    /// How many valid tokens are cached (all providers, all grants).
    #[must_use]
    pub fn cached_tokens(&self) -> usize {
        self.inner
            .providers
            .iter()
            .map(|p| {
                usize::from(p.client_credentials.is_valid(&*p.clock)) + p.keyed.valid(p.clock.now())
            })
            .sum()
    }

    /// How many keyed entries (exchanged tokens, tokens with per-call
    /// parameters) the cache holds, valid or not; at
    /// most [`OAuth2Config::cache_max_entries`] once an insertion has
    /// evicted.
    #[must_use]
    pub fn exchange_entries(&self) -> usize {
        self.inner.keyed.entries()
    }

    /// The provider named `name`. A linear scan over a few names beats
    /// hashing the name; many providers are bisected.
    pub(crate) fn provider(&self, name: &str) -> Result<&Arc<Provider>, OAuth2Error> {
        let providers = &self.inner.providers;
        let found = if providers.len() <= 8 {
            providers.iter().find(|p| &*p.name == name)
        } else {
            providers
                .binary_search_by(|p| (*p.name).cmp(name))
                .ok()
                .map(|i| &providers[i])
        };
        found.ok_or_else(|| OAuth2Error::UnknownProvider {
            provider: name.to_owned(),
        })
    }

    /// The keyed entry of `request`.
    #[inline(never)]
    pub(crate) fn keyed_place<'a>(
        &'a self,
        provider: &'a Provider,
        request: TokenRequest<'_>,
    ) -> Result<KeyedPlace<'a>, OAuth2Error> {
        provider
            .check_request(request)
            .map_err(|reason| OAuth2Error::invalid_request(&provider.name, reason))?;
        // A closed service makes no new entries.
        provider.check_open()?;
        let digest = provider.digest(request);
        Ok(KeyedPlace {
            keyed: &provider.keyed,
            cache: &self.inner.keyed,
            digest,
            grant: provider.grant(request),
            stamp: self.inner.keyed.stamp(),
        })
    }
}

/// Adds the DPoP proof of `request` (RFC 9449 §7), for a provider whose
/// token is bound to its key. Not inlined: the bearer hit path stays
/// as small as it was.
#[inline(never)]
fn prove(provider: &Provider, request: &mut reqwest::Request) -> Result<(), OAuth2Error> {
    let (method, url) = (request.method().clone(), request.url().clone());
    provider.prove(&method, &url, request.headers_mut())?;
    Ok(())
}

/// Sets the token of `place` as the request's `Authorization` header
/// (`None`: it is no access token, see [`set_authorization`]). Not an
/// `async fn`, for the reason [`Place::with_token`] gives.
pub(crate) fn attach(
    place: Place<'_>,
    owner: Owner<'_>,
    request_fn: impl FnOnce() -> Request,
    request: &mut reqwest::Request,
) -> impl Future<Output = Result<Option<TokenId>, OAuth2Error>> {
    place.with_token(owner, request_fn, move |token| {
        set_authorization(request, token)
    })
}

/// Sets `token` as the request's `Authorization` header (marked
/// sensitive); `None`, and nothing set, when the token is no access token
/// (RFC 8693 §2.2.1 `N_A`, which only an exchange can issue: checked for
/// every token all the same, one bit).
#[inline]
fn set_authorization(request: &mut reqwest::Request, token: &TokenData) -> Option<TokenId> {
    if !token.is_access_token() {
        return None;
    }
    request
        .headers_mut()
        .insert(AUTHORIZATION, token.authorization());
    Some(TokenId::of(token))
}

impl fmt::Debug for OAuth2Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.providers().collect();
        names.sort_unstable();
        f.debug_struct("OAuth2Service")
            .field("providers", &names)
            .finish_non_exhaustive()
    }
}
