//! [`StoreConfig`]: the settings of a [`RedisStore`](super::RedisStore),
//! built in code or read from the environment.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `OAUTH2_CACHE_REDIS_URL` | `redis://` or `rediss://` (TLS) URL; unset: no shared tier | — |
//! | `OAUTH2_CACHE_ENCRYPTION_KEY_FILE` | the key file (required with the URL) | — |
//! | `OAUTH2_CACHE_NAMESPACE` | the prefix of every key | `oauth2` |
//! | `OAUTH2_CACHE_REDIS_TIMEOUT_MS` | the bound on every call, 1 to 10000 | `50` |
//! | `OAUTH2_CACHE_LEASE_MS` | how long a replica waits for another's token request, 100 to 60000 | `5000` |

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::cipher::EncryptionKeys;
use super::error::StoreError;
use super::store_key::Namespace;
use super::token_store::DEFAULT_LEASE_TTL;
use crate::{BreakerPolicy, Secret};

/// The Redis URL.
pub const REDIS_URL: &str = "OAUTH2_CACHE_REDIS_URL";
/// The encryption key file.
pub const ENCRYPTION_KEY_FILE: &str = "OAUTH2_CACHE_ENCRYPTION_KEY_FILE";
/// The key namespace.
pub const NAMESPACE: &str = "OAUTH2_CACHE_NAMESPACE";
/// The per-call time bound, in milliseconds.
pub const REDIS_TIMEOUT_MS: &str = "OAUTH2_CACHE_REDIS_TIMEOUT_MS";
/// The lease TTL, in milliseconds.
pub const LEASE_MS: &str = "OAUTH2_CACHE_LEASE_MS";

const MAX_TIMEOUT_MS: u64 = 10_000;
const MAX_LEASE_MS: u64 = 60_000;

/// A whole number of milliseconds from `min` to `max`, or an error naming
/// `variable`.
fn millis(variable: &str, value: &str, min: u64, max: u64) -> Result<Duration, StoreError> {
    match value.trim().parse::<u64>() {
        Ok(ms) if (min..=max).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(StoreError::invalid(
            variable,
            format!("must be a whole number of milliseconds from {min} to {max}"),
        )),
    }
}

/// How a [`RedisStore`](super::RedisStore) connects and behaves.
///
/// Defaults: namespace `oauth2`; every call bounded by 50 ms; a connection
/// attempt by 1 s; the breaker opens after 5 consecutive failures for
/// 10 s ([`BreakerPolicy::default`]); [`wait_for`](super::TokenStore::wait_for)
/// polls every 20 ms.
///
/// `Debug` shows the URL's scheme, host and port only (a URL may carry a
/// password) and no key.
#[derive(Clone)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub struct StoreConfig {
    pub(crate) url: Secret,
    pub(crate) shown_url: String,
    pub(crate) namespace: Namespace,
    pub(crate) keys: EncryptionKeys,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) breaker: BreakerPolicy,
    pub(crate) poll_interval: Duration,
    pub(crate) lease_ttl: Duration,
}

impl StoreConfig {
    /// Every variable [`from_vars`](Self::from_vars) reads.
    pub const VARIABLES: &'static [&'static str] = &[
        REDIS_URL,
        ENCRYPTION_KEY_FILE,
        NAMESPACE,
        REDIS_TIMEOUT_MS,
        LEASE_MS,
    ];

    /// A store at `url` (`redis://[user:password@]host[:port][/db]` or
    /// `rediss://…` for TLS) whose values `keys` seal.
    pub fn new(url: &str, keys: EncryptionKeys) -> Result<Self, StoreError> {
        Self::with_url("redis URL", url, keys)
    }

    fn with_url(variable: &str, url: &str, keys: EncryptionKeys) -> Result<Self, StoreError> {
        let shown_url = check_url(variable, url)?;
        Ok(Self {
            url: Secret::new(url),
            shown_url,
            namespace: Namespace::default(),
            keys,
            timeout: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(1),
            breaker: BreakerPolicy::default(),
            poll_interval: Duration::from_millis(20),
            lease_ttl: DEFAULT_LEASE_TTL,
        })
    }

    /// Reads the settings from the process environment; `None` when
    /// `OAUTH2_CACHE_REDIS_URL` is unset (no shared tier).
    pub fn from_env() -> Result<Option<Self>, StoreError> {
        Self::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Reads the settings from environment-style variables (see the
    /// module's table); other variables are ignored. `None` when
    /// `OAUTH2_CACHE_REDIS_URL` is unset or blank; the other variables are
    /// refused without it, since setting them alone is a mistake. Errors
    /// name the variable, never its value.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Option<Self>, StoreError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, v)| Self::VARIABLES.contains(&k.as_str()) && !v.trim().is_empty())
            .collect();
        let Some(url) = vars.get(REDIS_URL) else {
            if let Some(other) = Self::VARIABLES.iter().find(|v| vars.contains_key(**v)) {
                return Err(StoreError::invalid(
                    other,
                    format!("is set but {REDIS_URL} is not"),
                ));
            }
            return Ok(None);
        };
        let path = vars.get(ENCRYPTION_KEY_FILE).ok_or_else(|| {
            StoreError::invalid(ENCRYPTION_KEY_FILE, format!("is required with {REDIS_URL}"))
        })?;
        let keys =
            EncryptionKeys::from_file(path.trim()).map_err(|source| StoreError::KeyFile {
                variable: ENCRYPTION_KEY_FILE.to_owned(),
                source,
            })?;
        let mut config = Self::with_url(REDIS_URL, url.trim(), keys)?;
        if let Some(namespace) = vars.get(NAMESPACE) {
            config.namespace = Namespace::parse(NAMESPACE, namespace.trim())?;
        }
        if let Some(ms) = vars.get(REDIS_TIMEOUT_MS) {
            config.timeout = millis(REDIS_TIMEOUT_MS, ms, 1, MAX_TIMEOUT_MS)?;
        }
        if let Some(ms) = vars.get(LEASE_MS) {
            config.lease_ttl = millis(LEASE_MS, ms, 100, MAX_LEASE_MS)?;
        }
        Ok(Some(config))
    }

    /// How long a lease lasts (default 5 s): the longest a replica waits
    /// for another replica's token request before it makes its own, when
    /// the holder is gone. Keep it above the token request's time bound.
    #[must_use]
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// The prefix of every key (default `oauth2`).
    #[must_use]
    pub fn namespace(mut self, namespace: Namespace) -> Self {
        self.namespace = namespace;
        self
    }

    /// The bound on every call, connection included (default 50 ms).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The bound on one connection attempt, made in the background after
    /// a connection is lost (default 1 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// When the breaker opens, and for how long (default 5 failures, 10 s).
    #[must_use]
    pub fn breaker(mut self, policy: BreakerPolicy) -> Self {
        self.breaker = policy;
        self
    }

    /// How often [`wait_for`](super::TokenStore::wait_for) looks
    /// (default 20 ms).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The key namespace.
    #[must_use]
    pub fn key_namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The per-call bound.
    #[must_use]
    pub fn call_timeout(&self) -> Duration {
        self.timeout
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &self.shown_url)
            .field("namespace", &self.namespace)
            .field("keys", &self.keys)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("breaker", &self.breaker)
            .field("poll_interval", &self.poll_interval)
            .field("lease_ttl", &self.lease_ttl)
            .finish()
    }
}

/// Checks a Redis URL; returns what may be shown of it: scheme, host and
/// port.
fn check_url(variable: &str, url: &str) -> Result<String, StoreError> {
    let invalid =
        || StoreError::invalid(variable, "must be a redis:// or rediss:// URL with a host");
    let parsed = url::Url::parse(url).map_err(|_| invalid())?;
    let scheme = parsed.scheme();
    if scheme != "redis" && scheme != "rediss" {
        return Err(invalid());
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(invalid)?;
    let port = parsed.port().unwrap_or(6379);
    Ok(format!("{scheme}://{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// A key file in the temporary directory, removed on drop.
    struct KeyFile(std::path::PathBuf);

    impl KeyFile {
        fn as_str(&self) -> &str {
            self.0.to_str().expect("utf-8")
        }
    }

    impl Drop for KeyFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn key_file(lines: &[String]) -> KeyFile {
        let name = format!(
            "oauth2-store-keys-{}-{}",
            std::process::id(),
            crate::store::store_key::hex(&rand::random::<[u8; 8]>())
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, lines.join("\n")).expect("write");
        KeyFile(path)
    }

    fn good_key() -> String {
        base64::engine::general_purpose::STANDARD.encode([9u8; 32])
    }

    #[test]
    fn no_url_means_no_store() {
        let none = StoreConfig::from_vars([("OAUTH2_CACHE_MAX_ENTRIES", "5")]).expect("ok");
        assert!(none.is_none());
        let blank = StoreConfig::from_vars([(REDIS_URL, " ")]).expect("ok");
        assert!(blank.is_none());
    }

    #[test]
    fn settings_without_a_url_are_refused() {
        let err = StoreConfig::from_vars([(NAMESPACE, "x")]).expect_err("no url");
        assert_eq!(err.variable(), Some(NAMESPACE));
        assert_eq!(err.code(), "store_invalid_config");
    }

    #[test]
    fn a_url_needs_a_key_file() {
        let err = StoreConfig::from_vars([(REDIS_URL, "redis://127.0.0.1:6379")])
            .expect_err("no key file");
        assert_eq!(err.variable(), Some(ENCRYPTION_KEY_FILE));
        assert!(err.to_string().contains("is required"), "{err}");
    }

    #[test]
    fn every_setting_is_read() {
        let file = key_file(&[good_key()]);
        let config = StoreConfig::from_vars([
            (REDIS_URL, "rediss://user:pa55word@cache.internal:6380/2"),
            (ENCRYPTION_KEY_FILE, file.as_str()),
            (NAMESPACE, "orders-prod"),
            (REDIS_TIMEOUT_MS, "75"),
        ])
        .expect("valid")
        .expect("configured");
        assert_eq!(config.key_namespace().as_str(), "orders-prod");
        assert_eq!(config.call_timeout(), Duration::from_millis(75));
        assert_eq!(config.keys.len(), 1);
        let shown = format!("{config:?}");
        assert!(shown.contains("rediss://cache.internal:6380"), "{shown}");
        assert!(
            !shown.contains("pa55word") && !shown.contains("user"),
            "{shown}"
        );
        assert!(!shown.contains(&good_key()), "{shown}");
    }

    #[test]
    fn defaults_apply() {
        let file = key_file(&[good_key()]);
        let config = StoreConfig::from_vars([
            (REDIS_URL, "redis://localhost"),
            (ENCRYPTION_KEY_FILE, file.as_str()),
        ])
        .expect("valid")
        .expect("configured");
        assert_eq!(config.key_namespace().as_str(), "oauth2");
        assert_eq!(config.call_timeout(), Duration::from_millis(50));
        assert_eq!(config.shown_url, "redis://localhost:6379");
    }

    #[test]
    fn a_bad_url_is_named_without_its_value() {
        let file = key_file(&[good_key()]);
        for url in [
            "http://secret-host:6379",
            "redis://",
            "unix:///tmp/secret.sock",
            "not a url with s3cret",
        ] {
            let err =
                StoreConfig::from_vars([(REDIS_URL, url), (ENCRYPTION_KEY_FILE, file.as_str())])
                    .expect_err(url);
            assert_eq!(err.variable(), Some(REDIS_URL));
            assert!(
                !err.to_string().contains("secret") && !err.to_string().contains("s3cret"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_bad_timeout_or_namespace_is_refused() {
        let file = key_file(&[good_key()]);
        for (variable, value) in [
            (REDIS_TIMEOUT_MS, "0"),
            (REDIS_TIMEOUT_MS, "10001"),
            (REDIS_TIMEOUT_MS, "quick-ms"),
            (NAMESPACE, "two words"),
        ] {
            let err = StoreConfig::from_vars([
                (REDIS_URL, "redis://localhost"),
                (ENCRYPTION_KEY_FILE, file.as_str()),
                (variable, value),
            ])
            .expect_err(value);
            assert_eq!(err.variable(), Some(variable));
            // The bounds are digits too: only words can be checked for.
            if !value.bytes().all(|b| b.is_ascii_digit()) {
                assert!(!err.to_string().contains(value), "{err}");
            }
        }
    }

    #[test]
    fn a_bad_key_file_names_the_line() {
        let file = key_file(&[good_key(), "short".to_owned()]);
        let err = StoreConfig::from_vars([
            (REDIS_URL, "redis://localhost"),
            (ENCRYPTION_KEY_FILE, file.as_str()),
        ])
        .expect_err("bad line");
        assert_eq!(err.code(), "store_invalid_key_file");
        assert_eq!(err.variable(), Some(ENCRYPTION_KEY_FILE));
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(!err.to_string().contains("short"), "{err}");
    }
}
