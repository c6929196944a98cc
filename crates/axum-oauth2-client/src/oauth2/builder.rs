//! [`OAuth2ServiceBuilder`]: an [`OAuth2Service`] with a custom clock or
//! HTTP clients, and the redirect rules of the clients it builds.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use reqwest::Url;

use super::cache::{CacheKey, Grant, Keyed, KeyedCache, Slot};
use super::config::OAuth2Config;
use super::discovery::Discovery;
use super::error::OAuth2Error;
use super::provider::Dpop;
use super::provider::Provider;
use super::provider_config::{AuthMethod, GrantType, ProviderConfig};
use super::service::{Inner, OAuth2Service};
use super::shared_tier::SharedTier;
use super::tls;
use super::url::{check_token_url, is_loopback, redacted_url};
use crate::dpop::NonceCache;
use crate::oauth2::endpoint::breaker::Breaker;
use crate::oauth2::telemetry::CacheCounts;
use crate::oauth2::time::clock::{Clock, SystemClock};
use crate::store::TokenStore;

///
/// Defaults: [`SystemClock`], and an HTTP client for upstream calls with
/// rustls, a 10 s connect timeout and at most 10 redirects, none from
/// `https` down to plain `http` off loopback (the `Authorization` header is
/// never carried to another origin). A provider with allowed origins gets
/// a client of its own that follows a redirect only to one of them; so does
/// a provider with a [`TlsIdentity`](crate::TlsIdentity) (its client
/// presents the certificate, RFC 8705 §3, and only its own upstream calls
/// do) or [`TlsRoots`](crate::TlsRoots).
#[must_use]
pub struct OAuth2ServiceBuilder {
    config: OAuth2Config,
    clock: Arc<dyn Clock>,
    http: Option<reqwest::Client>,
    token_http: Option<reqwest::Client>,
    upstream_timeout: Option<Duration>,
    store: Option<Arc<dyn TokenStore>>,
}

impl OAuth2ServiceBuilder {
    pub(crate) fn new(config: OAuth2Config) -> Self {
        Self {
            config,
            clock: Arc::new(SystemClock),
            http: None,
            token_http: None,
            upstream_timeout: None,
            store: None,
        }
    }

    /// Reads time from `clock` (tests use [`ManualClock`](crate::ManualClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sends upstream requests with `client` (its timeouts, proxies, TLS),
    /// for every provider.
    ///
    /// The providers' TLS identities and roots are not added to it: a
    /// provider whose tokens are bound to its certificate (RFC 8705 §3)
    /// needs `client` to present that certificate itself
    /// ([`TlsIdentity::reqwest_identity`](crate::TlsIdentity::reqwest_identity)).
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

    /// Sends token requests, for every provider, with `client`: its proxy,
    /// root certificates and client identity reach the token endpoint too.
    ///
    /// Each provider's total timeout is still set on every token request.
    /// What the client alone decides stays its own: its connect timeout,
    /// and its redirect policy. Give it
    /// `reqwest::redirect::Policy::none()`: a token request never follows a
    /// redirect on purpose (RFC 6749 §3.2 names one endpoint), and a
    /// client that does would carry the form, client secret included, to
    /// wherever a 307 points. An answer that comes from any URL but the
    /// token URL is refused with `invalid_token_response`.
    ///
    /// A provider's TLS identity and roots are not added to `client`
    /// either: for `tls_client_auth` it must present the certificate
    /// itself. The check of `cnf.x5t#S256` still uses the provider's
    /// identity when it has one.
    ///
    /// Default: one client per provider, with its connect and total
    /// timeouts, no redirects, and its TLS identity and roots.
    pub fn token_http_client(mut self, client: reqwest::Client) -> Self {
        self.token_http = Some(client);
        self
    }

    /// Bounds each upstream request, body included, sent through the
    /// clients the service builds (default: none; a request's own
    /// [`FetchOptions::timeout`](crate::FetchOptions::timeout) wins). A client given to
    /// [`http_client`](Self::http_client) keeps its own timeouts.
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout = Some(timeout);
        self
    }

    /// Shares tokens with the service's other replicas through `store`, a
    /// second cache tier under the in-process one (see
    /// [`store`](crate::store)). Replaces a store the configuration names
    /// ([`OAuth2Config::token_store`], `OAUTH2_CACHE_REDIS_URL`).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Builds the service. Fails with `invalid_config` when a provider's
    /// settings are unusable, an HTTP client cannot be built, or the
    /// configured token store cannot be (it needs a Tokio runtime).
    pub fn build(self) -> Result<OAuth2Service, OAuth2Error> {
        let store = match self.store {
            Some(store) => Some(store),
            None => configured_store(&self.config)?,
        };
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
            if let Some(token_url) = &config.token_url {
                check_token_url(token_url, config.allow_insecure_http)
                    .map_err(|reason| invalid(format!("the token URL {reason}")))?;
            }
            let discovery = match (&config.issuer, &config.token_url) {
                (Some(issuer), token_url) => {
                    let discovery = Discovery::new(issuer, config.allow_insecure_http)
                        .map_err(|reason| invalid(format!("the issuer {reason}")))?;
                    // With a token URL, the metadata only picks the
                    // method, and only when none is set.
                    (token_url.is_none() || !config.method_is_set()).then_some(discovery)
                }
                (None, Some(_)) => None,
                (None, None) => {
                    return Err(invalid("a token URL or an issuer is required".into()));
                }
            };
            if config.client_id.is_empty() {
                return Err(invalid("the client id is empty".into()));
            }
            config.params.check().map_err(invalid)?;
            check_credentials(&config, self.token_http.is_some()).map_err(invalid)?;
            let identity = config.tls_identity.as_ref();
            let roots = config.tls_roots.as_ref();
            let token_http = match &self.token_http {
                Some(client) => client.clone(),
                None => tls::configure(
                    reqwest::Client::builder()
                        .connect_timeout(config.connect_timeout)
                        .timeout(config.timeout)
                        .redirect(reqwest::redirect::Policy::none()),
                    identity,
                    roots,
                )
                .build()
                .map_err(|e| invalid(format!("the token endpoint client cannot be built: {e}")))?,
            };
            // A provider's certificate goes to its own upstreams only, and
            // with every call: a token bound to it (RFC 8705 §3) is useless
            // on a connection without it.
            // A DPoP proof names the URL it is for (RFC 9449 §4.2): a
            // redirect would carry it, with the token, to a URL it does not
            // fit, or to another origin. A DPoP provider's upstream answers
            // a 3xx as it is.
            let own_upstream_client = config.allowed_origins.is_some()
                || identity.is_some()
                || roots.is_some()
                || config.dpop.is_some();
            if custom_http && (identity.is_some() || roots.is_some() || config.dpop.is_some()) {
                tracing::warn!(
                    provider = %name,
                    "the HTTP client given to the builder is used as it is: it must present the provider's TLS certificate, trust its CA, and not follow redirects with DPoP proofs"
                );
            }
            let upstream_http = if own_upstream_client && !custom_http {
                let mut builder =
                    upstream_builder(config.allowed_origins.clone(), self.upstream_timeout);
                if config.dpop.is_some() {
                    builder = builder.redirect(reqwest::redirect::Policy::none());
                }
                Some(
                    tls::configure(builder, identity, roots)
                        .build()
                        .map_err(|e| invalid(format!("the HTTP client cannot be built: {e}")))?,
                )
            } else {
                None
            };
            let name: Arc<str> = name.as_str().into();
            let key = CacheKey {
                grant: match config.grant {
                    GrantType::ClientCredentials => Grant::ClientCredentials,
                    GrantType::JwtBearer => Grant::JwtBearer,
                },
                subject: None,
            };
            tracing::info!(
                provider = %name,
                token_url = config.token_url.as_ref().map(redacted_url).unwrap_or_else(|| "(discovered)".into()),
                issuer = config.issuer.as_deref().unwrap_or_default(),
                auth_method = if config.method_is_set() || discovery.is_none() { config.method().as_str() } else { "(discovered)" },
                client_certificate = config.tls_identity.as_ref().map(|i| i.x5t_s256()).unwrap_or_default(),
                "OAuth2 provider configured"
            );
            let shared = store
                .as_ref()
                .map(|store| SharedTier::new(Arc::clone(store), &config));
            let dpop = config.dpop.clone().map(|key| Dpop {
                key,
                token_nonces: NonceCache::default(),
                nonces: NonceCache::default(),
            });
            let cache_counts = Arc::new(CacheCounts::new(name.clone()));
            let keyed = Arc::new(Keyed::new(config.forced_refresh_interval));
            providers.push(Arc::new(Provider {
                client_credentials: Arc::new(Slot::new(key, true)),
                cache_counts,
                breaker: Breaker::new(config.breaker, name.clone()),
                name,
                config,
                token_http,
                upstream_http,
                closed: AtomicBool::new(false),
                clock: self.clock.clone(),
                refresh_buffer: self.config.refresh_buffer,
                keyed,
                discovery,
                announced: AtomicBool::new(false),
                dpop,
                shared,
            }));
        }
        providers.sort_by(|a, b| a.name.cmp(&b.name));
        let all = providers.iter().map(|p| Arc::clone(&p.keyed)).collect();
        Ok(OAuth2Service {
            inner: Arc::new(Inner {
                providers,
                http,
                keyed: KeyedCache::new(self.config.cache_max_entries, self.clock, all),
            }),
        })
    }
}

/// The token store the configuration names, built here: a Redis store
/// connects lazily, in the background, so it needs a Tokio runtime.
#[cfg(feature = "redis")]
fn configured_store(config: &OAuth2Config) -> Result<Option<Arc<dyn TokenStore>>, OAuth2Error> {
    let Some(store) = &config.store else {
        return Ok(None);
    };
    let invalid = |reason: String| OAuth2Error::InvalidConfig {
        provider: String::new(),
        reason,
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(invalid(
            "the token store must be built inside a Tokio runtime".to_owned(),
        ));
    }
    let store = crate::store::RedisStore::new(store.clone())
        .map_err(|e| invalid(format!("the token store cannot be built: {e}")))?;
    tracing::info!(store = ?store, "tokens shared through the token store");
    Ok(Some(Arc::new(store)))
}

#[cfg(not(feature = "redis"))]
fn configured_store(config: &OAuth2Config) -> Result<Option<Arc<dyn TokenStore>>, OAuth2Error> {
    match config.store {
        None => Ok(None),
        Some(_) => Err(OAuth2Error::InvalidConfig {
            provider: String::new(),
            reason: "a Redis token store is configured but the crate is built without its `redis` feature".to_owned(),
        }),
    }
}

/// Why a provider's credentials cannot make its token requests: each
/// authentication method and grant has what it needs, and no more secret
/// than it uses is required. A mutual-TLS method needs a TLS identity
/// unless the token endpoint client was given (it presents its own).
fn check_credentials(config: &ProviderConfig, custom_token_client: bool) -> Result<(), String> {
    let method = config.method();
    if method.is_tls() && config.tls_identity.is_none() && !custom_token_client {
        return Err(format!(
            "{} needs a TLS client identity (certificate and key)",
            method.as_str()
        ));
    }
    let secret = config.client_secret.as_ref().map(|s| s.expose_secret());
    if method.needs_secret() && secret.is_none_or(str::is_empty) {
        return Err(format!("{} needs a client secret", method.as_str()));
    }
    if method == AuthMethod::ClientSecretJwt && secret.is_some_and(|s| s.len() < 32) {
        // RFC 7518 §3.2: an HS256 key at least as long as its hash.
        return Err(
            "client_secret_jwt signs with HS256 and needs a client secret of at least 32 bytes"
                .to_owned(),
        );
    }
    if method == AuthMethod::None && config.grant == GrantType::ClientCredentials {
        // RFC 6749 §4.4: only a confidential client may use the grant.
        return Err(
            "the client credentials grant needs client authentication; `none` is for the JWT bearer grant"
                .to_owned(),
        );
    }
    if config
        .client_key
        .as_ref()
        .is_some_and(|k| k.algorithm().is_symmetric())
    {
        // A shared secret as `private_key_jwt` would be client_secret_jwt
        // under another name.
        return Err(
            "the client key is a shared secret; a client key must be a private key (client_secret_jwt signs with the client secret)"
                .to_owned(),
        );
    }
    let needs_key = method == AuthMethod::PrivateKeyJwt || config.grant == GrantType::JwtBearer;
    if needs_key && config.client_key.is_none() {
        return Err(format!(
            "{} needs a client key",
            if method == AuthMethod::PrivateKeyJwt {
                "private_key_jwt"
            } else {
                "the JWT bearer grant"
            }
        ));
    }
    if config.assertion.lifetime < std::time::Duration::from_secs(1) {
        // `exp` counts whole seconds.
        return Err("the assertion lifetime must be at least one second".to_owned());
    }
    Ok(())
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
    upstream_builder(allowed, timeout).build()
}

/// The builder of [`upstream_client`], for a provider to add its TLS
/// identity and roots to.
fn upstream_builder(
    allowed: Option<Vec<url::Origin>>,
    timeout: Option<Duration>,
) -> reqwest::ClientBuilder {
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
    builder
}
