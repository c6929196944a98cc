//! [`OAuth2Service`]: tokens per provider, and requests that carry them.
//!
//! The service holds the providers; [`fetch`](OAuth2Service::fetch) lives in
//! `fetch.rs`, the builder in `builder.rs`.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use reqwest::header::AUTHORIZATION;

use super::builder::OAuth2ServiceBuilder;
use super::cache::{CacheKey, Exchanges, Grant, Request, Slot, TokenId, entries};
use super::config::OAuth2Config;
use super::error::OAuth2Error;
use super::exchange_options::TokenExchangeOptions;
use super::provider::Provider;
use crate::oauth2::cache::token::{AccessToken, TokenData};
use crate::oauth2::grant::token_exchange;

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
    /// The bound on exchanged tokens, all providers together.
    pub(crate) exchanges: Exchanges,
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
    /// A cache hit clones one `Arc` and takes no lock. In the refresh window
    /// the cached token is returned while one background refresh runs; a
    /// missing or expired token makes the caller wait on the single request
    /// in flight for its key.
    pub async fn get_token(
        &self,
        provider: &str,
        exchange: Option<&TokenExchangeOptions>,
    ) -> Result<AccessToken, OAuth2Error> {
        let provider = self.provider(provider)?;
        let slot = self.slot(provider, exchange)?;
        if let Ok(token) = slot.try_hit(|token| AccessToken(Arc::clone(token))) {
            return Ok(token);
        }
        // A miss after shutdown neither starts nor logs a request.
        provider.check_open()?;
        slot.get(provider.request_fn(exchange)).await
    }

    /// Sets `Authorization: Bearer …` (marked sensitive) on a request built
    /// elsewhere, with the provider's token or, with `exchange`, an
    /// exchanged one. The token comes from the same cache as
    /// [`get_token`](Self::get_token); on a hit no reference count is
    /// touched. Unlike [`fetch`](Self::fetch) this neither checks the
    /// allowed origins, nor signs, nor retries.
    pub async fn authorize(
        &self,
        provider: &str,
        request: &mut reqwest::Request,
        exchange: Option<&TokenExchangeOptions>,
    ) -> Result<(), OAuth2Error> {
        let provider = self.provider(provider)?;
        let slot = self.slot(provider, exchange)?;
        // A hit completes here, before any nested future is built.
        if slot
            .try_hit(|token| set_authorization(request, token))
            .is_ok()
        {
            return Ok(());
        }
        provider.check_open()?;
        attach(&slot, provider.request_fn(exchange), request).await?;
        Ok(())
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
            for slot in p.exchanges.iter() {
                slot.clear();
            }
            p.exchanges.clear();
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

    /// How many valid tokens are cached (all providers, all grants).
    #[must_use]
    pub fn cached_tokens(&self) -> usize {
        self.inner
            .providers
            .iter()
            .map(|p| {
                usize::from(p.client_credentials.is_valid())
                    + p.exchanges.iter().filter(|s| s.is_valid()).count()
            })
            .sum()
    }

    /// How many exchanged-token entries the cache holds, valid or not; at
    /// most [`OAuth2Config::cache_max_entries`] once an insertion has
    /// evicted.
    #[must_use]
    pub fn exchange_entries(&self) -> usize {
        entries(self.inner.providers.iter().map(|p| &p.exchanges))
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

    /// The cache slot for the grant: the provider's client credentials
    /// slot, or the exchange slot keyed by the digest of the exchange
    /// parameters (created, and the cache bounded, on first use).
    ///
    /// The client credentials slot is borrowed, not cloned: cloning would
    /// write a reference count that every caller shares.
    ///
    /// Inlined: the client credentials case is the hit path's; the
    /// exchange case is a call of its own.
    #[inline]
    pub(crate) fn slot<'a>(
        &self,
        provider: &'a Provider,
        exchange: Option<&TokenExchangeOptions>,
    ) -> Result<Cow<'a, Arc<Slot>>, OAuth2Error> {
        match exchange {
            None => Ok(Cow::Borrowed(&provider.client_credentials)),
            Some(options) => self.exchange_slot(provider, options).map(Cow::Owned),
        }
    }

    /// The exchange slot keyed by the digest of `options`, made (and the
    /// cache bounded) on first use.
    #[inline(never)]
    fn exchange_slot(
        &self,
        provider: &Provider,
        options: &TokenExchangeOptions,
    ) -> Result<Arc<Slot>, OAuth2Error> {
        token_exchange::validate(options)
            .map_err(|reason| OAuth2Error::invalid_request(&provider.name, reason))?;
        // A closed service makes no new entries.
        provider.check_open()?;
        let digest = token_exchange::cache_digest(options);
        let key = || CacheKey {
            provider: provider.name.clone(),
            grant: Grant::TokenExchange,
            subject: Some([
                digest[0], digest[1], digest[2], digest[3], digest[4], digest[5],
            ]),
        };
        let all = || self.inner.providers.iter().map(|p| &p.exchanges);
        Ok(self
            .inner
            .exchanges
            .slot(&provider.exchanges, all, digest, key))
    }
}

/// Sets the token of `slot` as the request's `Authorization` header.
pub(crate) async fn attach(
    slot: &Arc<Slot>,
    request_fn: impl FnOnce() -> Request,
    request: &mut reqwest::Request,
) -> Result<TokenId, OAuth2Error> {
    slot.with_token(request_fn, |token| set_authorization(request, token))
        .await
}

/// Sets `token` as the request's `Authorization` header (marked sensitive).
#[inline]
fn set_authorization(request: &mut reqwest::Request, token: &TokenData) -> TokenId {
    request
        .headers_mut()
        .insert(AUTHORIZATION, token.authorization());
    TokenId::of(token)
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
