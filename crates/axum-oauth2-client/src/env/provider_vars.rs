//! One provider's variables (`OAUTH2_<NAME>_*`) turned into a
//! [`ProviderConfig`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::error::ConfigError;
use super::parse::{list, parse_count, parse_seconds, read_secret_file, token_params};
use super::signing_vars::SigningVars;
use crate::oauth2::{
    AuthMethod, BreakerPolicy, ProviderConfig, RetryPolicy, Secret, check_token_url,
};

/// One provider's variables as envy reads them. Every field is a string so
/// that parsing, and its error messages, stay here and never echo a value.
#[derive(Deserialize)]
pub(super) struct ProviderVars {
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<String>,
    scope: Option<String>,
    audience: Option<String>,
    resource: Option<String>,
    token_params: Option<String>,
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
    pub(super) fn into_provider(self, prefix: &str) -> Result<ProviderConfig, ConfigError> {
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
        for audience in list(self.audience.as_deref()) {
            provider = provider.audience(audience);
        }
        for resource in list(self.resource.as_deref()) {
            provider = provider.resource(resource);
        }
        if let Some(form) = self.token_params {
            let params = token_params(&var("TOKEN_PARAMS"), &form, provider.params().clone())?;
            provider = provider.token_params(params);
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
