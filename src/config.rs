//! [`OAuth2Config`]: the providers and cache settings, in code or from the
//! environment.
//!
//! A provider `<NAME>` is discovered from variables `OAUTH2_<NAME>_<SETTING>`;
//! its name is `<NAME>` in lower case (`OAUTH2_PAYMENTS_API_TOKEN_URL` gives
//! provider `payments_api`). Each provider's variables are read with
//! [`envy`] under the prefix `OAUTH2_<NAME>_`.
//!
//! | variable | meaning |
//! |---|---|
//! | `OAUTH2_<NAME>_TOKEN_URL` | token endpoint: `https`, or `http` on a loopback host (required) |
//! | `OAUTH2_<NAME>_CLIENT_ID` | client id (required) |
//! | `OAUTH2_<NAME>_CLIENT_SECRET` | client secret (this or the next is required) |
//! | `OAUTH2_<NAME>_CLIENT_SECRET_FILE` | a file holding the secret (container secrets); surrounding white space is trimmed |
//! | `OAUTH2_<NAME>_SCOPE` | space-separated scopes for the client credentials grant |
//! | `OAUTH2_<NAME>_AUTH_METHOD` | `client_secret_basic` (default) or `client_secret_post` |
//! | `OAUTH2_<NAME>_DEFAULT_LIFETIME_SECONDS` | lifetime assumed when a token response has no `expires_in` (default 300) |
//! | `OAUTH2_<NAME>_TIMEOUT_SECONDS` | bound on a whole token request (default 10) |
//! | `OAUTH2_<NAME>_CONNECT_TIMEOUT_SECONDS` | bound on connecting to the token endpoint (default 5) |
//! | `OAUTH2_<NAME>_MAX_ATTEMPTS` | token request attempts, retries included (default 3; 1 disables retries) |
//! | `OAUTH2_<NAME>_RETRY_BUDGET_SECONDS` | bound on all attempts and waits together (default 20) |
//! | `OAUTH2_<NAME>_BREAKER_THRESHOLD` | consecutive failures that open the circuit breaker (default 5; 0 disables it) |
//! | `OAUTH2_<NAME>_BREAKER_COOLDOWN_SECONDS` | how long the breaker stays open before one probe (default 10) |
//! | `OAUTH2_<NAME>_ALLOWED_ORIGINS` | comma-separated origins (`https://api.example.com`) the token may be sent to; unset: any |
//! | `OAUTH2_<NAME>_ALLOW_INSECURE_HTTP` | `true` to accept plain `http` token and upstream URLs on a host that is not loopback (default false) |
//! | `OAUTH2_<NAME>_FORCED_REFRESH_INTERVAL_SECONDS` | how often a 401 may force a new token per cache key (default 10; 0: no bound) |
//! | `OAUTH2_<NAME>_SIGNING_KEY_FILE` | a PEM or JWK private key (or an HMAC secret): sign every request to this provider's upstreams (RFC 9421) |
//! | `OAUTH2_<NAME>_SIGNING_ALG` | `ed25519`, `ecdsa-p256-sha256`, `ecdsa-p384-sha384`, `rsa-pss-sha512`, `rsa-v1_5-sha256` or `hmac-sha256` (required with a key) |
//! | `OAUTH2_<NAME>_SIGNING_KEY_ID` | the `keyid` signature parameter |
//! | `OAUTH2_<NAME>_SIGNING_COMPONENTS` | covered components (default `@method @target-uri content-digest content-type authorization`) |
//! | `OAUTH2_REFRESH_BUFFER_SECONDS` | refresh this long before expiry (default 60) |
//! | `OAUTH2_CACHE_MAX_ENTRIES` | bound on cached exchanged tokens (default 10000) |
//!
//! A missing or malformed variable is a [`ConfigError`] that names the
//! variable and never repeats its value, with three deliberate exceptions
//! that are never secret and help find the mistake: the path of a file that
//! cannot be read, an unknown signing algorithm's name and an invalid
//! covered component.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use crate::http_signature::MessageSigner;
use crate::oauth2::{
    AuthMethod, BreakerPolicy, ProviderConfig, RetryPolicy, Secret, check_token_url,
};

const PREFIX: &str = "OAUTH2_";
const REFRESH_BUFFER: &str = "OAUTH2_REFRESH_BUFFER_SECONDS";
const CACHE_MAX_ENTRIES: &str = "OAUTH2_CACHE_MAX_ENTRIES";

/// Settings of the whole extension that are not per provider.
const GLOBAL_VARIABLES: &[&str] = &[REFRESH_BUFFER, CACHE_MAX_ENTRIES];

/// The per-provider settings. One can end another (`TIMEOUT_SECONDS` ends
/// `CONNECT_TIMEOUT_SECONDS`); discovery takes the longest that matches.
const SETTINGS: &[&str] = &[
    "FORCED_REFRESH_INTERVAL_SECONDS",
    "SIGNING_COMPONENTS",
    "SIGNING_KEY_FILE",
    "SIGNING_KEY_ID",
    "SIGNING_ALG",
    "BREAKER_COOLDOWN_SECONDS",
    "ALLOW_INSECURE_HTTP",
    "BREAKER_THRESHOLD",
    "RETRY_BUDGET_SECONDS",
    "CONNECT_TIMEOUT_SECONDS",
    "ALLOWED_ORIGINS",
    "MAX_ATTEMPTS",
    "DEFAULT_LIFETIME_SECONDS",
    "CLIENT_SECRET_FILE",
    "TIMEOUT_SECONDS",
    "CLIENT_SECRET",
    "AUTH_METHOD",
    "CLIENT_ID",
    "TOKEN_URL",
    "SCOPE",
];

/// Every OAuth2 provider and the cache settings.
///
/// ```
/// use std::time::Duration;
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
/// assert_eq!(config.get_refresh_buffer(), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
pub struct OAuth2Config {
    pub(crate) providers: BTreeMap<String, ProviderConfig>,
    pub(crate) refresh_buffer: Duration,
    pub(crate) cache_max_entries: usize,
}

impl Default for OAuth2Config {
    fn default() -> Self {
        Self::new()
    }
}

impl OAuth2Config {
    /// Default for how long before expiry a token is refreshed.
    pub const DEFAULT_REFRESH_BUFFER: Duration = Duration::from_secs(60);
    /// Default bound on cached exchanged tokens.
    pub const DEFAULT_CACHE_MAX_ENTRIES: usize = 10_000;

    /// No providers, a 60 s refresh buffer.
    #[must_use]
    pub fn new() -> Self {
        Self {
            providers: BTreeMap::new(),
            refresh_buffer: Self::DEFAULT_REFRESH_BUFFER,
            cache_max_entries: Self::DEFAULT_CACHE_MAX_ENTRIES,
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

    /// Caches at most `max` exchanged tokens, all providers together
    /// (default 10,000); beyond it expired and then least recently used
    /// entries are evicted. Client credentials tokens (one per provider)
    /// are not counted.
    #[must_use]
    pub fn cache_max_entries(mut self, max: usize) -> Self {
        self.cache_max_entries = max.max(1);
        self
    }

    /// The bound on cached exchanged tokens.
    #[must_use]
    pub fn get_cache_max_entries(&self) -> usize {
        self.cache_max_entries
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

    /// The refresh buffer.
    #[must_use]
    pub fn get_refresh_buffer(&self) -> Duration {
        self.refresh_buffer
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_os_vars(std::env::vars_os())
    }

    /// Reads the configuration from environment-style variables, the
    /// process environment or any other source (a test, a merged `.env`).
    /// Variables that do not start with `OAUTH2_` are ignored.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with(PREFIX))
            .collect();
        Self::parse(&vars)
    }

    fn from_os_vars(vars: impl Iterator<Item = (OsString, OsString)>) -> Result<Self, ConfigError> {
        let mut utf8 = BTreeMap::new();
        for (key, value) in vars {
            let Some(key) = key
                .to_str()
                .filter(|k| k.starts_with(PREFIX))
                .map(str::to_owned)
            else {
                continue;
            };
            let value = value.into_string().map_err(|_| ConfigError::Invalid {
                variable: key.clone(),
                reason: "is not valid UTF-8".into(),
            })?;
            utf8.insert(key, value);
        }
        Self::parse(&utf8)
    }

    fn parse(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut config = Self::new();
        if let Some(value) = vars.get(REFRESH_BUFFER) {
            config.refresh_buffer =
                Duration::from_secs(parse_seconds(REFRESH_BUFFER, value, true)?);
        }
        if let Some(value) = vars.get(CACHE_MAX_ENTRIES) {
            config.cache_max_entries =
                parse_count(CACHE_MAX_ENTRIES, value, 1, 10_000_000)? as usize;
        }

        // Each variable belongs to exactly one provider, decided here.
        let mut providers: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
        for (key, value) in vars {
            if GLOBAL_VARIABLES.contains(&key.as_str()) {
                continue;
            }
            let rest = &key[PREFIX.len()..];
            // The longest setting that ends the variable names it, so that
            // `OAUTH2_X_CONNECT_TIMEOUT_SECONDS` is provider `X`'s connect
            // timeout, not provider `X_CONNECT`'s timeout.
            let name = SETTINGS
                .iter()
                .filter_map(|setting| {
                    let name = rest.strip_suffix(setting)?.strip_suffix('_')?;
                    Some((setting.len(), name))
                })
                .max_by_key(|(len, _)| *len)
                .map(|(_, name)| name)
                .filter(|name| !name.is_empty())
                .ok_or_else(|| ConfigError::Unknown {
                    variable: key.clone(),
                })?;
            if !name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(ConfigError::Invalid {
                    variable: key.clone(),
                    reason: "the provider name may only hold A-Z, 0-9 and _".into(),
                });
            }
            providers
                .entry(name)
                .or_default()
                .push((key.clone(), value.clone()));
        }

        for (name, own) in providers {
            let prefix = format!("{PREFIX}{name}_");
            let raw: ProviderVars = envy::prefixed(prefix.clone()).from_iter(own).map_err(|e| {
                ConfigError::Invalid {
                    variable: format!("{prefix}*"),
                    reason: e.to_string(),
                }
            })?;
            let provider = raw.into_provider(&prefix)?;
            config.providers.insert(name.to_ascii_lowercase(), provider);
        }
        Ok(config)
    }
}

/// One provider's variables as envy reads them. Every field is a string so
/// that parsing, and its error messages, stay here and never echo a value.
#[derive(Deserialize)]
struct ProviderVars {
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<String>,
    scope: Option<String>,
    auth_method: Option<String>,
    default_lifetime_seconds: Option<String>,
    timeout_seconds: Option<String>,
    connect_timeout_seconds: Option<String>,
    max_attempts: Option<String>,
    retry_budget_seconds: Option<String>,
    breaker_threshold: Option<String>,
    breaker_cooldown_seconds: Option<String>,
    allowed_origins: Option<String>,
    allow_insecure_http: Option<String>,
    forced_refresh_interval_seconds: Option<String>,
    signing_key_file: Option<String>,
    signing_alg: Option<String>,
    signing_key_id: Option<String>,
    signing_components: Option<String>,
}

impl ProviderVars {
    fn into_provider(self, prefix: &str) -> Result<ProviderConfig, ConfigError> {
        let var = |setting: &str| format!("{prefix}{setting}");
        let signing = SigningVars {
            key_file: self.signing_key_file,
            alg: self.signing_alg,
            key_id: self.signing_key_id,
            components: self.signing_components,
        };
        let required = |value: Option<String>, setting: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| ConfigError::Missing {
                    variable: var(setting),
                })
        };

        let token_url = required(self.token_url, "TOKEN_URL")?;
        let token_url = Url::parse(token_url.trim()).map_err(|e| ConfigError::Invalid {
            variable: var("TOKEN_URL"),
            reason: format!("is not a valid URL ({e})"),
        })?;
        let allow_insecure_http = match self.allow_insecure_http.as_deref().map(str::trim) {
            None | Some("" | "false" | "0") => false,
            Some("true" | "1") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    variable: var("ALLOW_INSECURE_HTTP"),
                    reason: "must be true or false".into(),
                });
            }
        };
        check_token_url(&token_url, allow_insecure_http).map_err(|reason| {
            let hint = if token_url.scheme() == "http" {
                format!(" (set {} to allow it)", var("ALLOW_INSECURE_HTTP"))
            } else {
                String::new()
            };
            ConfigError::Invalid {
                variable: var("TOKEN_URL"),
                reason: format!("{reason}{hint}"),
            }
        })?;
        let client_id = required(self.client_id, "CLIENT_ID")?;

        let secret = match (self.client_secret, self.client_secret_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Conflict {
                    first: var("CLIENT_SECRET"),
                    second: var("CLIENT_SECRET_FILE"),
                });
            }
            (Some(secret), None) if !secret.is_empty() => Secret::new(secret),
            (None, Some(path)) if !path.trim().is_empty() => {
                let path = path.trim();
                let contents = read_secret_file(path).map_err(|source| ConfigError::File {
                    variable: var("CLIENT_SECRET_FILE"),
                    path: path.to_owned(),
                    source,
                })?;
                let secret = contents.trim();
                if secret.is_empty() {
                    return Err(ConfigError::Invalid {
                        variable: var("CLIENT_SECRET_FILE"),
                        reason: format!("the file {path} is empty"),
                    });
                }
                Secret::new(secret)
            }
            _ => {
                return Err(ConfigError::Missing {
                    variable: var("CLIENT_SECRET"),
                });
            }
        };

        let mut provider = ProviderConfig::new(token_url, client_id.trim(), secret);
        if let Some(scope) = self.scope {
            provider = provider.scope(scope);
        }
        if let Some(method) = self.auth_method {
            let method = AuthMethod::from_name(&method).ok_or_else(|| ConfigError::Invalid {
                variable: var("AUTH_METHOD"),
                reason: "must be client_secret_basic or client_secret_post".into(),
            })?;
            provider = provider.auth_method(method);
        }
        if let Some(value) = self.default_lifetime_seconds {
            let name = var("DEFAULT_LIFETIME_SECONDS");
            provider = provider
                .default_lifetime(Duration::from_secs(parse_seconds(&name, &value, false)?));
        }
        if let Some(value) = self.timeout_seconds {
            let name = var("TIMEOUT_SECONDS");
            provider = provider.timeout(Duration::from_secs(parse_seconds(&name, &value, false)?));
        }
        if let Some(value) = self.connect_timeout_seconds {
            let name = var("CONNECT_TIMEOUT_SECONDS");
            provider =
                provider.connect_timeout(Duration::from_secs(parse_seconds(&name, &value, false)?));
        }
        let mut retry = RetryPolicy::default();
        if let Some(value) = self.max_attempts {
            retry.max_attempts = parse_count(&var("MAX_ATTEMPTS"), &value, 1, 10)? as u32;
        }
        if let Some(value) = self.retry_budget_seconds {
            let name = var("RETRY_BUDGET_SECONDS");
            retry.budget = Duration::from_secs(parse_seconds(&name, &value, false)?);
        }
        provider = provider.retry(retry);
        let mut breaker = BreakerPolicy::default();
        if let Some(value) = self.breaker_threshold {
            breaker.threshold = parse_count(&var("BREAKER_THRESHOLD"), &value, 0, 1000)? as u32;
        }
        if let Some(value) = self.breaker_cooldown_seconds {
            let name = var("BREAKER_COOLDOWN_SECONDS");
            breaker.cooldown = Duration::from_secs(parse_seconds(&name, &value, false)?);
        }
        provider = provider.breaker(breaker);
        if let Some(value) = self.forced_refresh_interval_seconds {
            let name = var("FORCED_REFRESH_INTERVAL_SECONDS");
            provider = provider
                .forced_refresh_interval(Duration::from_secs(parse_seconds(&name, &value, true)?));
        }
        if let Some(list) = self.allowed_origins {
            let name = var("ALLOWED_ORIGINS");
            let mut origins = Vec::new();
            for item in list
                .split([',', ' '])
                .map(str::trim)
                .filter(|i| !i.is_empty())
            {
                let url = Url::parse(item)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .ok_or_else(|| ConfigError::Invalid {
                        variable: name.clone(),
                        reason: "must list origins such as https://api.example.com or https://api.example.com:8443".into(),
                    })?;
                origins.push(url);
            }
            if origins.is_empty() {
                return Err(ConfigError::Invalid {
                    variable: name,
                    reason: "lists no origin".into(),
                });
            }
            provider = provider.allowed_origins(origins);
        }
        if let Some(signer) = signing.into_signer(&var)? {
            provider = provider.signer(Arc::new(signer));
        }
        Ok(provider.allow_insecure_http(allow_insecure_http))
    }
}

/// A provider's RFC 9421 signing settings.
struct SigningVars {
    key_file: Option<String>,
    alg: Option<String>,
    key_id: Option<String>,
    components: Option<String>,
}

impl SigningVars {
    /// The provider's signer, when any signing variable is set.
    fn into_signer(
        self,
        var: &dyn Fn(&str) -> String,
    ) -> Result<Option<MessageSigner>, ConfigError> {
        if self.key_file.is_none()
            && self.alg.is_none()
            && self.key_id.is_none()
            && self.components.is_none()
        {
            return Ok(None);
        }
        let present = |value: Option<String>, setting: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| ConfigError::Missing {
                    variable: var(setting),
                })
        };
        let path = present(self.key_file, "SIGNING_KEY_FILE")?;
        let alg = present(self.alg, "SIGNING_ALG")?;
        let path = path.trim();
        let key = read_secret_file(path).map_err(|source| ConfigError::File {
            variable: var("SIGNING_KEY_FILE"),
            path: path.to_owned(),
            source,
        })?;
        let signer = MessageSigner::from_config(
            &alg,
            &key,
            self.key_id.as_deref(),
            self.components.as_deref(),
        )
        .map_err(|e| {
            // Name the variable that holds what is wrong; the message
            // never contains key material.
            let setting = match e.code() {
                "unknown_algorithm" => "SIGNING_ALG",
                "bad_key_id" => "SIGNING_KEY_ID",
                "bad_component" => "SIGNING_COMPONENTS",
                _ => "SIGNING_KEY_FILE",
            };
            ConfigError::Invalid {
                variable: var(setting),
                reason: format!("is unusable: {e}"),
            }
        })?;
        Ok(Some(signer))
    }
}

/// A whole number within `min..=max`.
fn parse_count(variable: &str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::Invalid {
            variable: variable.to_owned(),
            reason: format!("must be a whole number from {min} to {max}"),
        }),
    }
}

/// The largest secret file read: a secret is a short string, and a path
/// to a device or a huge file must not stall start-up.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Reads a secret file: a regular file (symbolic links followed, as
/// container runtimes mount secrets) of at most 64 KiB, in UTF-8.
fn read_secret_file(path: &str) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    if metadata.len() > MAX_SECRET_FILE {
        return Err(Error::new(ErrorKind::InvalidData, "larger than 64 KiB"));
    }
    let mut contents = String::new();
    file.take(MAX_SECRET_FILE).read_to_string(&mut contents)?;
    Ok(contents)
}

/// Whole seconds, at most one day; zero only where `zero_ok`.
pub(crate) fn parse_seconds(
    variable: &str,
    value: &str,
    zero_ok: bool,
) -> Result<u64, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        variable: variable.to_owned(),
        reason: reason.to_owned(),
    };
    let seconds: u64 = value
        .trim()
        .parse()
        .map_err(|_| invalid("must be a whole number of seconds"))?;
    if seconds == 0 && !zero_ok {
        return Err(invalid("must be greater than 0"));
    }
    if seconds > 86_400 {
        return Err(invalid("must be at most 86400 seconds"));
    }
    Ok(seconds)
}

/// Why the configuration cannot be read. Every variant names the variable;
/// none repeats its value, except a file's path ([`ConfigError::File`]) and,
/// inside [`ConfigError::Invalid`], an unknown signing algorithm or covered
/// component. A secret or a key is never repeated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is missing or empty. Code `missing_variable`.
    #[error("{variable} is required but not set")]
    Missing {
        /// The variable.
        variable: String,
    },
    /// A variable's value is malformed. Code `invalid_variable`.
    #[error("{variable} {reason}")]
    Invalid {
        /// The variable.
        variable: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two variables that exclude each other are both set. Code `conflicting_variables`.
    #[error("{first} and {second} are both set; set only one")]
    Conflict {
        /// The first variable.
        first: String,
        /// The second variable.
        second: String,
    },
    /// A file named by a variable cannot be read. Code `unreadable_file`.
    #[error("{variable} names {path}, which cannot be read: {source}")]
    File {
        /// The variable.
        variable: String,
        /// The file's path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An `OAUTH2_` variable that is no known setting. Code `unknown_variable`.
    #[error(
        "{variable} is not a known OAuth2 setting (expected OAUTH2_<NAME>_ followed by one of {}, or {})",
        SETTINGS.join(", "),
        GLOBAL_VARIABLES.join(", ")
    )]
    Unknown {
        /// The variable.
        variable: String,
    },
}

impl ConfigError {
    /// The variable the error is about (the first one, for a conflict).
    #[must_use]
    pub fn variable(&self) -> &str {
        match self {
            Self::Missing { variable }
            | Self::Invalid { variable, .. }
            | Self::File { variable, .. }
            | Self::Unknown { variable } => variable,
            Self::Conflict { first, .. } => first,
        }
    }

    /// A stable snake_case code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing { .. } => "missing_variable",
            Self::Invalid { .. } => "invalid_variable",
            Self::Conflict { .. } => "conflicting_variables",
            Self::File { .. } => "unreadable_file",
            Self::Unknown { .. } => "unknown_variable",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    #[test]
    fn non_utf8_value_is_named_not_shown() {
        let vars = vec![(
            OsString::from("OAUTH2_X_TOKEN_URL"),
            OsString::from_vec(vec![0xff, 0xfe]),
        )];
        let err = OAuth2Config::from_os_vars(vars.into_iter()).expect_err("invalid");
        assert_eq!(err.to_string(), "OAUTH2_X_TOKEN_URL is not valid UTF-8");
    }

    #[test]
    fn a_variable_belongs_to_one_provider_only() {
        // `X_CONNECT_TIMEOUT_SECONDS` ends in two settings; it is provider
        // `x`'s connect timeout, and provider `x_connect` does not read it
        // as its timeout.
        let provider = |name: &str| {
            [
                (
                    format!("OAUTH2_{name}_TOKEN_URL"),
                    "https://a/token".to_owned(),
                ),
                (format!("OAUTH2_{name}_CLIENT_ID"), "id".to_owned()),
                (format!("OAUTH2_{name}_CLIENT_SECRET"), "secret".to_owned()),
            ]
        };
        let mut vars: Vec<(String, String)> = provider("X").into_iter().collect();
        vars.extend(provider("X_CONNECT"));
        vars.push(("OAUTH2_X_CONNECT_TIMEOUT_SECONDS".into(), "7".into()));
        let config = OAuth2Config::from_vars(vars).expect("valid");
        let x = config.get("x").expect("x");
        let x_connect = config.get("x_connect").expect("x_connect");
        assert_eq!(x.connect_timeout, Duration::from_secs(7));
        assert_eq!(x_connect.timeout, ProviderConfig::DEFAULT_TIMEOUT);
    }

    #[test]
    fn seconds_are_bounded() {
        assert_eq!(parse_seconds("V", " 30 ", false).expect("ok"), 30);
        assert!(parse_seconds("V", "0", false).is_err());
        assert_eq!(parse_seconds("V", "0", true).expect("ok"), 0);
        assert!(parse_seconds("V", "-1", true).is_err());
        assert!(parse_seconds("V", "99999999999999999999999", true).is_err());
        assert!(parse_seconds("V", "86401", true).is_err());
    }
}
