//! [`AppConfig`]: the template server's own settings (not the OAuth2 ones).
//!
//! | variable | meaning |
//! |---|---|
//! | `APP_ENV` | `development` (default; also when empty) or `production` |
//! | `HOST`, `PORT` | where to listen (default `127.0.0.1:3000`); in development `HOST` must be a loopback address |
//! | `METRICS_PORT` | a second port on `HOST` that serves `/metrics` (Prometheus); in production the only place metrics are served (unset: none) |
//! | `LOG_FORMAT` | `pretty` (development default) or `json` (production default) |
//! | `DEMO_API_URL` | development only: base URL of the API the `/demo` routes call; without it they do not exist |
//! | `DEV_TOKEN_LIFETIME_SECONDS` | lifetime of tokens from the development token endpoint (default 30) |
//! | `REQUEST_TIMEOUT_SECONDS` | bound on handling one request (default 30) |
//! | `SHUTDOWN_TIMEOUT_SECONDS` | bound on draining connections at shutdown (default 10) |
//! | `UPSTREAM_TIMEOUT_SECONDS` | bound on one upstream request, body included (default 10) |
//! | `UPSTREAM_MAX_BODY_BYTES` | largest upstream body a handler reads (default 1048576) |
//!
//! The `/demo` and `/dev` routes exist in development only, and development
//! never listens off loopback: they let anyone make the service spend its
//! own credentials.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use axum_oauth2_client::ConfigError;

/// Whether the development token server and API are mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// Local development: `config/development.env` is read and the
    /// development token endpoint and protected API are served under `/dev`.
    Development,
    /// Production: configuration from the environment only, no `/dev` routes.
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The variables the template server reads (the OAuth2 ones apart).
const NAMES: &[&str] = &[
    "APP_ENV",
    "HOST",
    "PORT",
    "METRICS_PORT",
    "LOG_FORMAT",
    "DEMO_API_URL",
    "DEV_TOKEN_LIFETIME_SECONDS",
    "REQUEST_TIMEOUT_SECONDS",
    "SHUTDOWN_TIMEOUT_SECONDS",
    "UPSTREAM_TIMEOUT_SECONDS",
    "UPSTREAM_MAX_BODY_BYTES",
];

/// The template server's settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AppConfig {
    /// `APP_ENV`.
    pub env: AppEnv,
    /// `HOST`.
    pub host: IpAddr,
    /// `PORT`.
    pub port: u16,
    /// `METRICS_PORT`: the port of the metrics listener, if any.
    pub metrics_port: Option<u16>,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `DEMO_API_URL`, without a trailing slash.
    pub demo_api_url: Option<Url>,
    /// `DEV_TOKEN_LIFETIME_SECONDS`.
    pub dev_token_lifetime: Duration,
    /// `REQUEST_TIMEOUT_SECONDS`.
    pub request_timeout: Duration,
    /// `SHUTDOWN_TIMEOUT_SECONDS`.
    pub shutdown_timeout: Duration,
    /// `UPSTREAM_TIMEOUT_SECONDS`.
    pub upstream_timeout: Duration,
    /// `UPSTREAM_MAX_BODY_BYTES`.
    pub upstream_max_body_bytes: usize,
}

#[derive(Deserialize)]
struct AppVars {
    app_env: Option<String>,
    host: Option<String>,
    port: Option<String>,
    metrics_port: Option<String>,
    log_format: Option<String>,
    demo_api_url: Option<String>,
    dev_token_lifetime_seconds: Option<String>,
    request_timeout_seconds: Option<String>,
    shutdown_timeout_seconds: Option<String>,
    upstream_timeout_seconds: Option<String>,
    upstream_max_body_bytes: Option<String>,
}

impl AppConfig {
    /// Development defaults: `127.0.0.1:3000`, pretty logs, no demo API.
    #[must_use]
    pub fn development() -> Self {
        Self {
            env: AppEnv::Development,
            host: IpAddr::from([127, 0, 0, 1]),
            port: 3000,
            metrics_port: None,
            log_format: LogFormat::Pretty,
            demo_api_url: None,
            dev_token_lifetime: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            upstream_timeout: Duration::from_secs(10),
            upstream_max_body_bytes: 1024 * 1024,
        }
    }

    /// The variables [`from_vars`](Self::from_vars) reads.
    pub fn variables() -> impl Iterator<Item = &'static str> {
        NAMES.iter().copied()
    }

    /// Reads the settings from environment-style variables.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let own = vars
            .iter()
            .filter(|(k, _)| NAMES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()));
        let raw: AppVars = envy::from_iter(own).map_err(|e| ConfigError::Invalid {
            variable: "APP_*".into(),
            reason: e.to_string(),
        })?;
        let invalid = |variable: &str, reason: &str| ConfigError::Invalid {
            variable: variable.into(),
            reason: reason.into(),
        };

        let mut config = Self::development();
        config.env = match raw.app_env.as_deref().map(str::trim) {
            None | Some("" | "development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(_) => return Err(invalid("APP_ENV", "must be development or production")),
        };
        if config.env == AppEnv::Production {
            config.log_format = LogFormat::Json;
        }
        if let Some(host) = raw.host {
            config.host = host.trim().parse().map_err(|_| {
                invalid("HOST", "must be an IP address such as 127.0.0.1 or 0.0.0.0")
            })?;
        }
        if let Some(port) = raw.port {
            config.port = port
                .trim()
                .parse()
                .map_err(|_| invalid("PORT", "must be a port number from 0 to 65535"))?;
        }
        if let Some(port) = raw.metrics_port.filter(|p| !p.trim().is_empty()) {
            let port: u16 = port
                .trim()
                .parse()
                .map_err(|_| invalid("METRICS_PORT", "must be a port number from 0 to 65535"))?;
            if port == config.port && port != 0 {
                return Err(invalid(
                    "METRICS_PORT",
                    "must differ from PORT: the metrics listener is a port of its own",
                ));
            }
            config.metrics_port = Some(port);
        }
        if let Some(format) = raw.log_format {
            config.log_format = match format.trim() {
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                _ => return Err(invalid("LOG_FORMAT", "must be pretty or json")),
            };
        }
        if let Some(url) = raw.demo_api_url.filter(|u| !u.trim().is_empty()) {
            let url = Url::parse(url.trim().trim_end_matches('/'))
                .map_err(|_| invalid("DEMO_API_URL", "is not a valid URL"))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid("DEMO_API_URL", "must be an http or https URL"));
            }
            config.demo_api_url = Some(url);
        }
        for (name, value, setting) in [
            (
                "DEV_TOKEN_LIFETIME_SECONDS",
                raw.dev_token_lifetime_seconds,
                &mut config.dev_token_lifetime,
            ),
            (
                "REQUEST_TIMEOUT_SECONDS",
                raw.request_timeout_seconds,
                &mut config.request_timeout,
            ),
            (
                "SHUTDOWN_TIMEOUT_SECONDS",
                raw.shutdown_timeout_seconds,
                &mut config.shutdown_timeout,
            ),
            (
                "UPSTREAM_TIMEOUT_SECONDS",
                raw.upstream_timeout_seconds,
                &mut config.upstream_timeout,
            ),
        ] {
            if let Some(value) = value {
                *setting = Duration::from_secs(parse_seconds(name, &value)?);
            }
        }
        if let Some(value) = raw.upstream_max_body_bytes {
            config.upstream_max_body_bytes = value
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=1 << 30).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "UPSTREAM_MAX_BODY_BYTES",
                        "must be a number of bytes from 1 to 1073741824",
                    )
                })?;
        }
        if config.env == AppEnv::Development && !config.host.is_loopback() {
            // The development routes hand out the service's credentials.
            return Err(invalid(
                "HOST",
                "must be a loopback address such as 127.0.0.1 while APP_ENV is development \
                 (set APP_ENV=production to listen on other addresses)",
            ));
        }
        Ok(config)
    }
}

/// Whole seconds, from 1 to a day; the error names the variable, never
/// the value.
fn parse_seconds(variable: &str, value: &str) -> Result<u64, ConfigError> {
    value
        .trim()
        .parse()
        .ok()
        .filter(|seconds| (1..=86_400).contains(seconds))
        .ok_or_else(|| ConfigError::Invalid {
            variable: variable.to_owned(),
            reason: "must be a whole number of seconds from 1 to 86400".to_owned(),
        })
}
