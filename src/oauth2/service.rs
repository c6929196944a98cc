//! [`OAuth2Service`]: tokens per provider, and requests that carry them.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
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
use super::response::jwt_lifetime;
use super::token::{AccessToken, TokenData};
use super::types::{ProviderConfig, check_token_url, is_loopback, redacted_url};
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
    /// Client for upstream calls when the provider confines its tokens to
    /// allowed origins and no client was given: it follows a redirect only
    /// to an allowed origin. `None`: the service's client.
    upstream_http: Option<reqwest::Client>,
    /// Set by [`OAuth2Service::shutdown`]: no token request starts after it.
    closed: AtomicBool,
    clock: Arc<dyn Clock>,
    refresh_buffer: Duration,
    breaker: Breaker,
    client_credentials: Arc<Slot>,
    exchanges: DashMap<[u8; 32], Arc<Slot>>,
}

/// Builds an [`OAuth2Service`] with a custom clock or HTTP client.
///
/// Defaults: [`SystemClock`], and an HTTP client for upstream calls with
/// rustls, a 10 s connect timeout and at most 10 redirects, none from
/// `https` down to plain `http` off loopback (the `Authorization` header is
/// never carried to another origin). A provider with allowed origins gets
/// a client of its own that follows a redirect only to one of them.
#[must_use]
pub struct OAuth2ServiceBuilder {
    config: OAuth2Config,
    clock: Arc<dyn Clock>,
    http: Option<reqwest::Client>,
    upstream_timeout: Option<Duration>,
}

impl OAuth2ServiceBuilder {
    /// Reads time from `clock` (tests use [`ManualClock`](crate::ManualClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sends upstream requests with `client` (its timeouts, proxies, TLS),
    /// for every provider.
    ///
    /// Its redirect policy is yours: the service cannot check the hops it
    /// follows, only where they ended. For a provider with allowed origins,
    /// an answer from any other origin is refused with
    /// `origin_not_allowed`; give such a client
    /// `reqwest::redirect::Policy::none()` so that no hop is made at all.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Bounds each upstream request, body included, sent through the
    /// clients the service builds (default: none; a request's own
    /// [`FetchOptions::timeout`] wins). A client given to
    /// [`http_client`](Self::http_client) keeps its own timeouts.
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout = Some(timeout);
        self
    }

    /// Builds the service. Fails with `invalid_config` when a provider's
    /// settings are unusable or an HTTP client cannot be built.
    pub fn build(self) -> Result<OAuth2Service, OAuth2Error> {
        let custom_http = self.http.is_some();
        let http = match self.http {
            Some(client) => client,
            None => upstream_client(None, self.upstream_timeout).map_err(|e| {
                OAuth2Error::InvalidConfig {
                    provider: String::new(),
                    reason: format!("the HTTP client cannot be built: {e}"),
                }
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
            let upstream_http = match &config.allowed_origins {
                Some(allowed) if !custom_http => Some(
                    upstream_client(Some(allowed.clone()), self.upstream_timeout)
                        .map_err(|e| invalid(format!("the HTTP client cannot be built: {e}")))?,
                ),
                _ => None,
            };
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
                upstream_http,
                closed: AtomicBool::new(false),
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
            upstream_timeout: None,
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
        provider.check_open()?;
        if let Some(reason) = &options.invalid {
            return Err(OAuth2Error::invalid_request(name, reason.clone()));
        }
        let url = provider.upstream_url(raw_url)?;
        let signer = options.signer.as_ref().or(provider.config.signer.as_ref());
        let exchange = options.token_exchange.as_ref();
        let slot = self.slot(provider, exchange)?;

        // The first attempt takes the parsed URL; only a 401 parses again.
        let (request, used) = self.prepare(&slot, provider, url, &options, signer).await?;
        let response = self.send(provider, request).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let url = provider.upstream_url(raw_url)?;
        let shown = redacted_url(&url);
        if response.url() != &url {
            // A hop answered, not the URL the token was meant for: the 401
            // says nothing of the token (and a hop to another origin did
            // not even get it).
            tracing::info!(provider = name, url = %shown, "upstream answered 401 after a redirect; not retried");
            return Ok(response);
        }
        let retry = slot.refused(used, provider.config.forced_refresh_interval);
        if options.stream.is_some() {
            tracing::info!(provider = name, url = %shown, "upstream answered 401; a streaming body cannot be replayed");
            return Ok(response);
        }
        if !retry {
            return Err(OAuth2Error::Unauthorized {
                provider: name.to_owned(),
                status: response.status(),
            });
        }
        tracing::info!(provider = name, url = %shown, "upstream answered 401; retrying once with a new token");
        let (request, _) = self.prepare(&slot, provider, url, &options, signer).await?;
        let response = self.send(provider, request).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(OAuth2Error::Unauthorized {
                provider: name.to_owned(),
                status: response.status(),
            });
        }
        Ok(response)
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
        // A closed service makes no new entries.
        provider.check_open()?;
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

    /// Sends one attempt, with the provider's confined client if it has
    /// one; an answer from an origin the provider does not allow (reached
    /// through a redirect of a client given to the builder) is refused.
    async fn send(
        &self,
        provider: &Provider,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, OAuth2Error> {
        let http = provider.upstream_http.as_ref().unwrap_or(&self.inner.http);
        let response = http
            .execute(request)
            .await
            .map_err(|e| OAuth2Error::RequestFailed {
                provider: provider.name.to_string(),
                source: Arc::new(e.without_url()),
            })?;
        provider.check_origin(response.url())?;
        Ok(response)
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

/// Whether a redirect from `from` to `to` goes from `https` down to plain
/// `http` on a host that is not loopback.
fn downgrades(from: &Url, to: &Url) -> bool {
    from.scheme() == "https" && to.scheme() == "http" && !is_loopback(to)
}

/// The HTTP client for upstream calls: at most 10 redirects, never one that
/// downgrades to plain http off loopback, and with `allowed` origins only
/// to those (a hop elsewhere stops: the 3xx is the answer).
fn upstream_client(
    allowed: Option<Vec<url::Origin>>,
    timeout: Option<Duration>,
) -> reqwest::Result<reqwest::Client> {
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        let previous = attempt.previous();
        let from = previous.last();
        if previous.len() > 10 {
            return attempt.error("too many redirects");
        }
        let downgrade = from.is_some_and(|from| downgrades(from, attempt.url()));
        let confined = allowed
            .as_ref()
            .is_some_and(|allowed| !allowed.contains(&attempt.url().origin()));
        if downgrade || confined {
            tracing::info!(
                to = %redacted_url(attempt.url()),
                "redirect not followed: it leaves the allowed origins or drops https"
            );
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .redirect(policy);
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder.build()
}

impl Provider {
    /// `shutting_down` once the service has been shut down.
    #[inline]
    fn check_open(&self) -> Result<(), OAuth2Error> {
        if self.closed.load(Ordering::Acquire) {
            return Err(OAuth2Error::ShuttingDown {
                provider: self.name.to_string(),
            });
        }
        Ok(())
    }

    /// `raw` as an upstream URL this provider may send its token to:
    /// http(s) without user info, https unless the host is loopback or the
    /// provider allows insecure http, and in its allowed origins if it has
    /// any. Checked before any token is fetched.
    fn upstream_url(&self, raw: &str) -> Result<Url, OAuth2Error> {
        let name = &*self.name;
        let url = Url::parse(raw)
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
        if url.scheme() == "http" && !self.config.allow_insecure_http && !is_loopback(&url) {
            // RFC 6750 §5.3: bearer tokens only over TLS.
            return Err(OAuth2Error::InsecureUrl {
                provider: name.to_owned(),
                host: url.host_str().unwrap_or_default().to_owned(),
            });
        }
        self.check_origin(&url)?;
        Ok(url)
    }

    /// `origin_not_allowed` when the provider confines its tokens and `url`
    /// is elsewhere.
    fn check_origin(&self, url: &Url) -> Result<(), OAuth2Error> {
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
                        .request(&client_credentials::params(&provider.config), None)
                        .await
                        .map(TokenData::per_core)
                }
                .boxed(),
                Some(options) => {
                    async move {
                        // An exchanged token does not outlive its subject.
                        let max = jwt_lifetime(options.subject_token.expose_secret());
                        provider
                            .request(&token_exchange::params(&options), max)
                            .await
                    }
                    .boxed()
                }
            }
        }
    }

    /// A token request through the circuit breaker: refused at once while
    /// it is open, recorded when it ends.
    async fn request(
        &self,
        params: &[(&str, &str)],
        max_lifetime: Option<Duration>,
    ) -> Result<TokenData, OAuth2Error> {
        self.check_open()?;
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
            closed: &self.closed,
        };
        let result = request_token(&endpoint, params, max_lifetime).await;
        let unavailable = result
            .as_ref()
            .err()
            .is_some_and(OAuth2Error::is_unavailable);
        admission.record(self.clock.now(), unavailable);
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
