//! One provider's variables (`OAUTH2_<NAME>_*`) turned into a
//! [`ProviderConfig`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::dpop_vars::DpopVars;
use super::error::ConfigError;
use super::key_vars::{KeyVars, service_account};
use super::parse::{list, parse_bool, parse_count, parse_seconds, read_secret_file, token_params};
use super::signing_vars::SigningVars;
use super::tls_vars::TlsVars;
use crate::oauth2::{
    AssertionAudience, AuthMethod, BreakerPolicy, GrantType, ProviderConfig, RetryPolicy, Secret,
    check_issuer, check_token_url,
};

/// One provider's variables as envy reads them. Every field is a string so
/// that parsing, and its error messages, stay here and never echo a value.
#[derive(Deserialize)]
pub(super) struct ProviderVars {
    token_url: Option<String>,
    issuer: Option<String>,
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
    client_key_file: Option<String>,
    client_key_alg: Option<String>,
    client_key_id: Option<String>,
    client_cert_file: Option<String>,
    client_cert_x5t: Option<String>,
    tls_cert_file: Option<String>,
    tls_key_file: Option<String>,
    ca_file: Option<String>,
    service_account_file: Option<String>,
    grant: Option<String>,
    assertion_audience: Option<String>,
    assertion_lifetime_seconds: Option<String>,
    assertion_issuer: Option<String>,
    assertion_subject: Option<String>,
    scope_in_assertion: Option<String>,
    dpop: Option<String>,
    dpop_key_file: Option<String>,
    dpop_key_alg: Option<String>,
    dpop_allow_bearer: Option<String>,
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

        let service_account = match self.service_account_file.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(path) => {
                // The file holds the key: no other key setting applies.
                let key_settings = [
                    ("CLIENT_KEY_FILE", self.client_key_file.is_some()),
                    ("CLIENT_KEY_ALG", self.client_key_alg.is_some()),
                    ("CLIENT_CERT_FILE", self.client_cert_file.is_some()),
                    ("CLIENT_CERT_X5T", self.client_cert_x5t.is_some()),
                ];
                if let Some((setting, _)) = key_settings.iter().find(|(_, set)| *set) {
                    return Err(ConfigError::Conflict {
                        first: var("SERVICE_ACCOUNT_FILE"),
                        second: var(setting),
                    });
                }
                Some(service_account(&var, path)?)
            }
        };
        let allow_insecure_http = match self.allow_insecure_http.as_deref() {
            None => false,
            Some(value) => parse_bool(&var("ALLOW_INSECURE_HTTP"), value)?,
        };
        let insecure_hint = |url_is_http: bool| {
            if url_is_http && !allow_insecure_http {
                format!(" (set {} to allow it)", var("ALLOW_INSECURE_HTTP"))
            } else {
                String::new()
            }
        };
        let issuer = match self.issuer.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(issuer) => {
                check_issuer(issuer, allow_insecure_http).map_err(|reason| {
                    ConfigError::Invalid {
                        variable: var("ISSUER"),
                        reason: format!("{reason}{}", insecure_hint(issuer.starts_with("http:"))),
                    }
                })?;
                Some(issuer.to_owned())
            }
        };
        let (token_url, token_url_from) = match (&self.token_url, &service_account, &issuer) {
            (None, Some(account), _) => (Some(account.token_uri().clone()), "SERVICE_ACCOUNT_FILE"),
            (None, None, Some(_)) => (None, "ISSUER"),
            _ => {
                let token_url = required(self.token_url, "TOKEN_URL")?;
                let url = Url::parse(token_url.trim()).map_err(|e| ConfigError::Invalid {
                    variable: var("TOKEN_URL"),
                    reason: format!("is not a valid URL ({e})"),
                })?;
                (Some(url), "TOKEN_URL")
            }
        };
        if let Some(url) = &token_url {
            check_token_url(url, allow_insecure_http).map_err(|reason| ConfigError::Invalid {
                variable: var(token_url_from),
                reason: format!("{reason}{}", insecure_hint(url.scheme() == "http")),
            })?;
        }
        let client_id = match (self.client_id, &service_account) {
            (None, Some(account)) => account.client_email().to_owned(),
            (client_id, _) => required(client_id, "CLIENT_ID")?,
        };

        let secret = match (self.client_secret, self.client_secret_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Conflict {
                    first: var("CLIENT_SECRET"),
                    second: var("CLIENT_SECRET_FILE"),
                });
            }
            (Some(secret), None) if !secret.is_empty() => Some(Secret::new(secret)),
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
                Some(Secret::new(secret))
            }
            _ => None,
        };
        let key = KeyVars {
            key_file: self.client_key_file,
            alg: self.client_key_alg,
            key_id: self.client_key_id,
            cert_file: self.client_cert_file,
            cert_x5t: self.client_cert_x5t,
        }
        .into_key(&var)?
        .or_else(|| service_account.as_ref().map(|a| a.key().clone()));
        let (tls_identity, tls_roots) = TlsVars {
            cert_file: self.tls_cert_file,
            key_file: self.tls_key_file,
            ca_file: self.ca_file,
        }
        .into_tls(&var)?;

        let grant = match (self.grant.as_deref(), &service_account) {
            (Some(name), _) => GrantType::from_name(name).ok_or_else(|| ConfigError::Invalid {
                variable: var("GRANT"),
                reason: "must be client_credentials or jwt_bearer".into(),
            })?,
            (None, Some(_)) => GrantType::JwtBearer,
            (None, None) => GrantType::ClientCredentials,
        };
        if grant == GrantType::JwtBearer && key.is_none() {
            return Err(ConfigError::Missing {
                variable: var("CLIENT_KEY_FILE"),
            });
        }
        let explicit = match self.auth_method.as_deref() {
            Some(name) => Some(AuthMethod::from_name(name).ok_or_else(|| ConfigError::Invalid {
                variable: var("AUTH_METHOD"),
                reason: "must be client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, tls_client_auth, self_signed_tls_client_auth or none".into(),
            })?),
            None => None,
        };
        let method = match explicit {
            Some(method) => method,
            // A service account's assertion is its only credential.
            None if service_account.is_some() && secret.is_none() => AuthMethod::None,
            None if secret.is_some() => AuthMethod::ClientSecretBasic,
            None if key.is_some() && grant == GrantType::ClientCredentials => {
                AuthMethod::PrivateKeyJwt
            }
            None if key.is_some() => AuthMethod::None,
            // The certificate alone authenticates the client (RFC 8705 §2.1).
            None if tls_identity.is_some() && grant == GrantType::ClientCredentials => {
                AuthMethod::TlsClientAuth
            }
            None => {
                return Err(ConfigError::Missing {
                    variable: var("CLIENT_SECRET"),
                });
            }
        };
        if method.needs_secret() && secret.is_none() {
            return Err(ConfigError::Missing {
                variable: var("CLIENT_SECRET"),
            });
        }
        if (method == AuthMethod::PrivateKeyJwt || grant == GrantType::JwtBearer) && key.is_none() {
            return Err(ConfigError::Missing {
                variable: var("CLIENT_KEY_FILE"),
            });
        }
        if method.is_tls() && tls_identity.is_none() {
            return Err(ConfigError::Missing {
                variable: var("TLS_CERT_FILE"),
            });
        }

        let mut provider =
            ProviderConfig::with_credentials(token_url, client_id.trim().to_owned(), secret, key)
                .grant(grant);
        // Without a method set, an issuer's metadata picks one.
        // The JWT bearer grant's assertion identifies the client: without a
        // method set, it goes without client authentication (or with the
        // secret, when one is given), whatever the metadata lists.
        if explicit.is_some()
            || issuer.is_none()
            || service_account.is_some()
            || grant == GrantType::JwtBearer
        {
            provider = provider.auth_method(method);
        }
        if let Some(issuer) = issuer {
            provider = provider.issuer(issuer);
        }
        if let Some(identity) = tls_identity {
            provider = provider.tls_identity(identity);
        }
        if let Some(roots) = tls_roots {
            provider = provider.tls_roots(roots);
        }
        if let Some(account) = &service_account {
            provider = provider
                .assertion_issuer(account.client_email())
                .scope_in_assertion(true)
                .google_subject();
        }
        for audience in list(self.assertion_audience.as_deref()) {
            provider = provider.assertion_audience(match audience {
                "token_url" => AssertionAudience::TokenEndpoint,
                "issuer" => AssertionAudience::Issuer,
                other => AssertionAudience::Value(other.to_owned()),
            });
        }
        if let Some(value) = self.assertion_lifetime_seconds {
            let name = var("ASSERTION_LIFETIME_SECONDS");
            let seconds = parse_count(&name, &value, 1, 3600)?;
            provider = provider.assertion_lifetime(Duration::from_secs(seconds));
        }
        if let Some(issuer) = self.assertion_issuer.filter(|v| !v.trim().is_empty()) {
            provider = provider.assertion_issuer(issuer.trim());
        }
        if let Some(subject) = self.assertion_subject.filter(|v| !v.trim().is_empty()) {
            provider = provider.assertion_subject(subject.trim());
        }
        if let Some(value) = self.scope_in_assertion {
            provider = provider.scope_in_assertion(parse_bool(&var("SCOPE_IN_ASSERTION"), &value)?);
        }
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
        let (dpop, allow_bearer) = DpopVars {
            enabled: self.dpop,
            key_file: self.dpop_key_file,
            alg: self.dpop_key_alg,
            allow_bearer: self.dpop_allow_bearer,
        }
        .into_key(&var)?;
        if let Some(key) = dpop {
            provider = provider.dpop(key).dpop_allow_bearer(allow_bearer);
        }
        if let Some(signer) = signing.into_signer(&var)? {
            provider = provider.signer(Arc::new(signer));
        }
        Ok(provider.allow_insecure_http(allow_insecure_http))
    }
}
