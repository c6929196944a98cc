//! [`OAuth2Config`]: every provider and the cache settings, built in code;
//! the environment's reading of it is `crate::env`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::provider_config::ProviderConfig;

/// Every OAuth2 provider and the cache settings.
///
/// ```
/// use axum_oauth2_client::OAuth2Config;
///
/// let config = OAuth2Config::from_vars([
///     ("OAUTH2_PAYMENTS_TOKEN_URL", "https://auth.example.com/oauth/token"),
///     ("OAUTH2_PAYMENTS_CLIENT_ID", "orders-service"),
///     ("OAUTH2_PAYMENTS_CLIENT_SECRET", "s3cr3t"),
///     ("OAUTH2_REFRESH_BUFFER_SECONDS", "30"),
/// ])
/// .unwrap();
/// assert_eq!(config.provider_names().collect::<Vec<_>>(), ["payments"]);
/// assert!(format!("{config:?}").contains("refresh_buffer: 30s"));
/// ```
#[derive(Debug, Clone)]
pub struct OAuth2Config {
    pub(crate) providers: BTreeMap<String, ProviderConfig>,
    pub(crate) refresh_buffer: Duration,
    pub(crate) cache_max_entries: usize,
    /// The shared token store's settings, when tokens are shared.
    pub(crate) store: Option<crate::store::StoreConfig>,
}

impl Default for OAuth2Config {
    fn default() -> Self {
        Self::new()
    }
}

impl OAuth2Config {
    /// Default for how long before expiry a token is refreshed.
    pub const DEFAULT_REFRESH_BUFFER: Duration = Duration::from_secs(60);
    /// Default bound on the keyed cache: exchanged tokens and tokens with
    /// per-call parameters.
    pub const DEFAULT_CACHE_MAX_ENTRIES: usize = 10_000;

    /// No providers, a 60 s refresh buffer.
    #[must_use]
    pub fn new() -> Self {
        Self {
            providers: BTreeMap::new(),
            refresh_buffer: Self::DEFAULT_REFRESH_BUFFER,
            cache_max_entries: Self::DEFAULT_CACHE_MAX_ENTRIES,
            store: None,
        }
    }

    /// Adds (or replaces) provider `name`.
    #[must_use]
    pub fn provider(mut self, name: impl Into<String>, config: ProviderConfig) -> Self {
        self.providers.insert(name.into(), config);
        self
    }

    /// Refresh tokens this long before they expire (default 60 s).
    #[must_use]
    pub fn refresh_buffer(mut self, buffer: Duration) -> Self {
        self.refresh_buffer = buffer;
        self
    }

    /// Caches at most `max` keyed tokens (exchanged, or with per-call
    /// [`TokenParams`](crate::TokenParams)), all providers together
    /// (default 10,000); beyond it expired and then least recently used
    /// entries are evicted. Client credentials tokens (one per provider)
    /// are not counted.
    #[must_use]
    pub fn cache_max_entries(mut self, max: usize) -> Self {
        self.cache_max_entries = max.max(1);
        self
    }

    /// Shares tokens between the replicas of the service through the
    /// Redis store `config` describes (`OAUTH2_CACHE_REDIS_URL` and the
    /// other `OAUTH2_CACHE_*` variables): a second cache tier under the
    /// in-process one. The store is built, and connects in the background,
    /// when the service is ([`OAuth2Service::new`](crate::OAuth2Service::new)),
    /// which fails without the crate's `redis` feature.
    #[must_use]
    pub fn token_store(mut self, config: crate::store::StoreConfig) -> Self {
        self.store = Some(config);
        self
    }

    /// The shared token store's settings, if any.
    #[must_use]
    pub fn store(&self) -> Option<&crate::store::StoreConfig> {
        self.store.as_ref()
    }

    /// The configured provider names, sorted.
    pub fn provider_names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Provider `name`'s settings.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.get(name)
    }
}
