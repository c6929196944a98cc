//! [`OAuth2Service`]: tokens per provider, and requests that carry them.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use futures_util::FutureExt as _;
use reqwest::header::AUTHORIZATION;
use reqwest::{StatusCode, Url};

use super::breaker::Breaker;
use super::cache::{CacheKey, Grant, Slot, TokenId};
use super::clock::{Clock, SystemClock};
use super::endpoint::{TokenEndpoint, request_token};
use super::error::OAuth2Error;
use super::options::{FetchOptions, TokenExchangeOptions};
use super::token::{AccessToken, TokenData};
use super::types::{ProviderConfig, check_token_url, redacted_url};
use super::{client_credentials, token_exchange};
use crate::config::OAuth2Config;
use crate::http_signature::Signer;

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
    inner: Arc<Inner>,
}

struct Inner {
    /// Sorted by name; looked up by scanning (a handful) or bisecting.
    providers: Vec<Arc<Provider>>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// Bound on exchanged tokens cached, all providers together.
    max_entries: usize,
    /// Held by the one caller that evicts; others skip eviction.
    evicting: Mutex<()>,
    /// The zero of the slots' last-use stamps.
    epoch: Instant,
}

/// One configured provider with its cache entries.
struct Provider {
    name: Arc<str>,
    config: ProviderConfig,
    /// Client for the token endpoint: the provider's timeouts, no redirects.
    token_http: reqwest::Client,
    clock: Arc<dyn Clock>,
    refresh_buffer: Duration,
    breaker: Breaker,
    client_credentials: Arc<Slot>,
    exchanges: DashMap<[u8; 32], Arc<Slot>>,
}

/// Builds an [`OAuth2Service`] with a custom clock or HTTP client.
///
/// Defaults: [`SystemClock`], and an HTTP client for upstream calls with
/// rustls, a 10 s connect timeout and at most 10 redirects (the
/// `Authorization` header is never carried to another origin).
#[must_use]
pub struct OAuth2ServiceBuilder {
    config: OAuth2Config,
    clock: Arc<dyn Clock>,
    http: Option<reqwest::Client>,
}

impl OAuth2ServiceBuilder {
    /// Reads time from `clock` (tests use [`ManualClock`](crate::ManualClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sends upstream requests with `client` (its timeouts, proxies, TLS).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the service. Fails with `invalid_config` when a provider's
    /// settings are unusable or an HTTP client cannot be built.
    pub fn build(self) -> Result<OAuth2Service, OAuth2Error> {
        let http = match self.http {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| OAuth2Error::InvalidConfig {
                    provider: String::new(),
                    reason: format!("the HTTP client cannot be built: {e}"),
                })?,
        };
        let mut providers = Vec::new();
        for (name, config) in self.config.providers {
            let invalid = |reason: String| OAuth2Error::InvalidConfig {
                provider: name.clone(),
                reason,
            };
            check_token_url(&config.token_url, config.allow_insecure_http)
                .map_err(|reason| invalid(format!("the token URL {reason}")))?;
            if config.client_id.is_empty() {
                return Err(invalid("the client id is empty".into()));
            }
            let token_http = reqwest::Client::builder()
                .connect_timeout(config.connect_timeout)
                .timeout(config.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| invalid(format!("the token endpoint client cannot be built: {e}")))?;
            let name: Arc<str> = name.as_str().into();
            let key = CacheKey {
                provider: name.clone(),
                grant: Grant::ClientCredentials,
                subject: None,
            };
            tracing::info!(
                provider = %name,
                token_url = %redacted_url(&config.token_url),
                auth_method = config.auth_method.as_str(),
                "OAuth2 provider configured"
            );
            providers.push(Arc::new(Provider {
                client_credentials: Arc::new(Slot::new(key, self.clock.clone())),
                name,
                breaker: Breaker::new(config.breaker),
                config,
                token_http,
                clock: self.clock.clone(),
                refresh_buffer: self.config.refresh_buffer,
                exchanges: DashMap::new(),
            }));
        }
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(OAuth2Service {
            inner: Arc::new(Inner {
                providers,
                http,
                epoch: self.clock.now(),
                clock: self.clock,
                max_entries: self.config.cache_max_entries.max(1),
                evicting: Mutex::new(()),
            }),
        })
    }
}

impl OAuth2Service {
    /// A service for the providers of `config`, with the system clock and a
    /// default HTTP client.
    pub fn new(config: OAuth2Config) -> Result<Self, OAuth2Error> {
        Self::builder(config).build()
    }

    /// A builder, to set the clock or the HTTP client.
    pub fn builder(config: OAuth2Config) -> OAuth2ServiceBuilder {
        OAuth2ServiceBuilder {
            config,
            clock: Arc::new(SystemClock),
            http: None,
        }
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
        attach(&slot, provider.request_fn(exchange), request).await?;
        Ok(())
    }

    /// Sends a request to `url` with the provider's token attached.
    ///
    /// The request is built from `options`, gets `Authorization: Bearer …`
    /// (marked sensitive), is then signed by the request's or the
    /// provider's [`Signer`], and sent. When the provider has allowed
    /// origins, any other origin is refused with `origin_not_allowed`
    /// before a token is attached.
    ///
    /// On a 401 the token that was used is dropped from the cache (unless
    /// another caller already replaced it), a new one is obtained, and the
    /// request is rebuilt, re-signed and sent once more; a second 401 fails
    /// with `unauthorized`. A request with a streaming body
    /// ([`FetchOptions::body_stream`]) cannot be replayed: its 401 is
    /// returned as it is (the token is still dropped). Every other status,
    /// 403 included, is returned as it is and keeps the token.
    pub async fn fetch(
        &self,
        provider: &str,
        raw_url: &str,
        options: FetchOptions,
    ) -> Result<reqwest::Response, OAuth2Error> {
        let provider = self.provider(provider)?;
        let name = &*provider.name;
        if let Some(reason) = &options.invalid {
            return Err(OAuth2Error::invalid_request(name, reason.clone()));
        }
        let url = Url::parse(raw_url)
            .map_err(|e| OAuth2Error::invalid_request(name, format!("the URL is invalid: {e}")))?;
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
        if let Some(allowed) = &provider.config.allowed_origins {
            let origin = url.origin();
            if !allowed.contains(&origin) {
                return Err(OAuth2Error::OriginNotAllowed {
                    provider: name.to_owned(),
                    origin: origin.ascii_serialization(),
                });
            }
        }
        let signer = options.signer.as_ref().or(provider.config.signer.as_ref());
        let exchange = options.token_exchange.as_ref();
        let slot = self.slot(provider, exchange)?;

        // The first attempt takes the parsed URL; only a retry parses again.
        let (request, used) = self.prepare(&slot, provider, url, &options, signer).await?;
        let response = self.send(name, request).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        slot.invalidate(used);
        let shown = redacted_url(response.url());
        if options.stream.is_some() {
            tracing::info!(provider = name, url = %shown, "upstream answered 401; a streaming body cannot be replayed");
            return Ok(response);
        }
        tracing::info!(provider = name, url = %shown, "upstream answered 401; retrying once with a new token");
        let url = Url::parse(raw_url)
            .map_err(|e| OAuth2Error::invalid_request(name, format!("the URL is invalid: {e}")))?;
        let (request, _) = self.prepare(&slot, provider, url, &options, signer).await?;
        let response = self.send(name, request).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(OAuth2Error::Unauthorized {
                provider: name.to_owned(),
                status: response.status(),
            });
        }
        Ok(response)
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
        self.inner.providers.iter().map(|p| p.exchanges.len()).sum()
    }

    /// The provider named `name`. A linear scan over a few names beats
    /// hashing the name; many providers are bisected.
    fn provider(&self, name: &str) -> Result<&Arc<Provider>, OAuth2Error> {
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
    fn slot<'a>(
        &self,
        provider: &'a Provider,
        exchange: Option<&TokenExchangeOptions>,
    ) -> Result<Cow<'a, Arc<Slot>>, OAuth2Error> {
        let Some(options) = exchange else {
            return Ok(Cow::Borrowed(&provider.client_credentials));
        };
        token_exchange::validate(options)
            .map_err(|reason| OAuth2Error::invalid_request(&provider.name, reason))?;
        let digest = token_exchange::cache_digest(options);
        let stamp = self.stamp();
        if let Some(slot) = provider.exchanges.get(&digest) {
            slot.touch(stamp);
            return Ok(Cow::Owned(Arc::clone(&slot)));
        }
        if self.exchange_entries() >= self.inner.max_entries {
            self.evict();
        }
        let key = CacheKey {
            provider: provider.name.clone(),
            grant: Grant::TokenExchange,
            subject: Some([
                digest[0], digest[1], digest[2], digest[3], digest[4], digest[5],
            ]),
        };
        let slot = Arc::clone(
            &provider
                .exchanges
                .entry(digest)
                .or_insert_with(|| Arc::new(Slot::new(key, provider.clock.clone()))),
        );
        slot.touch(stamp);
        Ok(Cow::Owned(slot))
    }

    /// When an exchanged token is used, for eviction: an order, not an exact
    /// time, so the clock's cheap upper bound serves.
    fn stamp(&self) -> u64 {
        let since = self
            .inner
            .clock
            .now_upper_bound()
            .saturating_duration_since(self.inner.epoch);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Brings the exchanged tokens down to 90 % of the bound: first the
    /// expired entries (unless a request for them is in flight), then the
    /// least recently used. Evicting a tenth at a time keeps the cost of a
    /// sweep amortised over many insertions.
    fn evict(&self) {
        let Ok(_evicting) = self.inner.evicting.try_lock() else {
            return;
        };
        for provider in self.inner.providers.iter() {
            provider
                .exchanges
                .retain(|_, slot| slot.is_valid() || slot.is_busy());
        }
        let target = self.inner.max_entries - self.inner.max_entries / 10;
        let total = self.exchange_entries();
        if total > target {
            let mut entries: Vec<(u64, &Provider, [u8; 32])> = Vec::with_capacity(total);
            for provider in self.inner.providers.iter() {
                entries.extend(
                    provider
                        .exchanges
                        .iter()
                        .map(|e| (e.value().last_used(), &**provider, *e.key())),
                );
            }
            entries.sort_unstable_by_key(|(used, _, _)| *used);
            for (_, provider, digest) in entries.into_iter().take(total - target) {
                provider.exchanges.remove(&digest);
            }
        }
        tracing::debug!(
            entries = self.exchange_entries(),
            max = self.inner.max_entries,
            "token cache evicted expired and least recently used entries"
        );
    }

    /// The request of one attempt: built from `options`, the token set,
    /// then signed, so that the signature can cover `Authorization`.
    async fn prepare(
        &self,
        slot: &Arc<Slot>,
        provider: &Arc<Provider>,
        url: Url,
        options: &FetchOptions,
        signer: Option<&Arc<dyn Signer>>,
    ) -> Result<(reqwest::Request, TokenId), OAuth2Error> {
        let mut request = reqwest::Request::new(options.method.clone(), url);
        *request.headers_mut() = options.headers.clone();
        if let Some(body) = &options.body {
            *request.body_mut() = Some(body.clone().into());
        } else if let Some(stream) = &options.stream {
            let body = stream.lock().unwrap_or_else(|e| e.into_inner()).take();
            let body = body.ok_or_else(|| {
                OAuth2Error::invalid_request(&provider.name, "the streaming body was already sent")
            })?;
            *request.body_mut() = Some(body);
        }
        // Even a `None` timeout makes reqwest allocate its extension map.
        if let Some(timeout) = options.timeout {
            *request.timeout_mut() = Some(timeout);
        }
        let used = attach(
            slot,
            provider.request_fn(options.token_exchange.as_ref()),
            &mut request,
        )
        .await?;
        if let Some(signer) = signer {
            signer
                .sign(&mut request)
                .await
                .map_err(|e| OAuth2Error::SigningFailed {
                    provider: provider.name.to_string(),
                    source: Arc::new(e),
                })?;
        }
        Ok((request, used))
    }

    async fn send(
        &self,
        provider: &str,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, OAuth2Error> {
        self.inner
            .http
            .execute(request)
            .await
            .map_err(|e| OAuth2Error::RequestFailed {
                provider: provider.to_owned(),
                source: Arc::new(e.without_url()),
            })
    }
}

/// Sets the token of `slot` as the request's `Authorization` header.
async fn attach(
    slot: &Arc<Slot>,
    request_fn: impl FnOnce() -> super::cache::Request,
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

impl Provider {
    /// What a slot calls when it needs a new token: the grant's request,
    /// owning what it needs so that it can run in its own task.
    fn request_fn<'a>(
        self: &'a Arc<Self>,
        exchange: Option<&'a TokenExchangeOptions>,
    ) -> impl FnOnce() -> super::cache::Request + 'a {
        move || {
            let provider = Arc::clone(self);
            match exchange.cloned() {
                // Every request to the provider carries this token: one
                // header copy per core keeps callers off each other's
                // cache lines.
                None => async move {
                    provider
                        .request(&client_credentials::params(&provider.config))
                        .await
                        .map(TokenData::per_core)
                }
                .boxed(),
                Some(options) => {
                    async move { provider.request(&token_exchange::params(&options)).await }.boxed()
                }
            }
        }
    }

    /// A token request through the circuit breaker: refused at once while
    /// it is open, recorded when it ends.
    async fn request(&self, params: &[(&str, &str)]) -> Result<TokenData, OAuth2Error> {
        let admission = self.breaker.admit(self.clock.now()).map_err(|retry_in| {
            OAuth2Error::TokenEndpointUnavailable {
                provider: self.name.to_string(),
                retry_in,
            }
        })?;
        let endpoint = TokenEndpoint {
            http: &self.token_http,
            provider: &self.name,
            config: &self.config,
            clock: &*self.clock,
            refresh_buffer: self.refresh_buffer,
        };
        let result = request_token(&endpoint, params).await;
        let unavailable = result
            .as_ref()
            .err()
            .is_some_and(OAuth2Error::is_unavailable);
        self.breaker
            .record(self.clock.now(), admission, unavailable);
        result
    }
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
