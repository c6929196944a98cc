//! [`OAuth2Config`] from the environment: provider discovery and the
//! variables each provider reads.
//!
//! A provider `<NAME>` is discovered from variables `OAUTH2_<NAME>_<SETTING>`;
//! its name is `<NAME>` in lower case (`OAUTH2_PAYMENTS_API_TOKEN_URL` gives
//! provider `payments_api`). Each provider's variables are read with
//! [`envy`] under the prefix `OAUTH2_<NAME>_`.
//!
//! The variables, with their meaning and defaults, are the README's
//! configuration table (a test keeps it equal to
//! [`OAuth2Config::variables`], the list this module reads).
//!
//! A missing or malformed variable is a [`ConfigError`] that names the
//! variable and never repeats its value, with three deliberate exceptions
//! that are never secret and help find the mistake: the path of a file that
//! cannot be read, an unknown signing algorithm's name and an invalid
//! covered component.

mod dpop_vars;
mod error;
mod key_vars;
mod parse;
mod provider_vars;
mod signing_vars;
mod tls_vars;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::Duration;

pub use error::ConfigError;
use parse::parse_count;
pub(crate) use parse::{parse_seconds, read_secret_file};
use provider_vars::ProviderVars;

use crate::oauth2::OAuth2Config;
use crate::store::{self, StoreConfig, StoreError};

const PREFIX: &str = "OAUTH2_";
const REFRESH_BUFFER: &str = "OAUTH2_REFRESH_BUFFER_SECONDS";
const CACHE_MAX_ENTRIES: &str = "OAUTH2_CACHE_MAX_ENTRIES";

/// Settings of the whole extension that are not per provider: the
/// in-process cache's, then the shared store's ([`StoreConfig::VARIABLES`]).
pub(crate) const GLOBAL_VARIABLES: &[&str] = &[
    REFRESH_BUFFER,
    CACHE_MAX_ENTRIES,
    store::REDIS_URL,
    store::ENCRYPTION_KEY_FILE,
    store::NAMESPACE,
    store::REDIS_TIMEOUT_MS,
    store::LEASE_MS,
];

/// The per-provider settings. One can end another (`TIMEOUT_SECONDS` ends
/// `CONNECT_TIMEOUT_SECONDS`); discovery takes the longest that matches.
pub(crate) const SETTINGS: &[&str] = &[
    "DPOP_ALLOW_BEARER",
    "DPOP_KEY_FILE",
    "DPOP_KEY_ALG",
    "DPOP",
    "ASSERTION_LIFETIME_SECONDS",
    "ASSERTION_AUDIENCE",
    "ASSERTION_SUBJECT",
    "ASSERTION_ISSUER",
    "SCOPE_IN_ASSERTION",
    "SERVICE_ACCOUNT_FILE",
    "CLIENT_CERT_FILE",
    "CLIENT_CERT_X5T",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "CA_FILE",
    "CLIENT_KEY_FILE",
    "CLIENT_KEY_ALG",
    "CLIENT_KEY_ID",
    "GRANT",
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
    "ISSUER",
    "TOKEN_PARAMS",
    "AUDIENCE",
    "RESOURCE",
    "SCOPE",
];

impl OAuth2Config {
    /// Every variable [`from_env`](Self::from_env) reads: the per-provider
    /// ones as `OAUTH2_<NAME>_<SETTING>`, then the global ones. Unknown
    /// `OAUTH2_` variables are refused, so this is the whole list.
    pub fn variables() -> impl Iterator<Item = String> {
        SETTINGS
            .iter()
            .map(|setting| format!("{PREFIX}<NAME>_{setting}"))
            .chain(GLOBAL_VARIABLES.iter().map(|v| (*v).to_owned()))
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
        config.store = StoreConfig::from_vars(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(store_error)?;

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

/// A store setting that cannot be used, as a configuration error that
/// names its variable.
fn store_error(error: StoreError) -> ConfigError {
    let variable = error.variable().unwrap_or(store::REDIS_URL).to_owned();
    let reason = match &error {
        StoreError::KeyFile { source, .. } => source.to_string(),
        StoreError::InvalidConfig { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    ConfigError::Invalid { variable, reason }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt;

    use super::*;
    use crate::oauth2::ProviderConfig;

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
