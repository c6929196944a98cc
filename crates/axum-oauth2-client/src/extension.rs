//! [`OAuth2Extension`]: the OAuth2 service as an axum application holds it.

use std::ops::Deref;

use crate::env::ConfigError;
use crate::oauth2::OAuth2Config;
use crate::oauth2::{OAuth2Error, OAuth2Service};

/// The OAuth2 service in an axum application's state.
///
/// Built once at start-up ([`from_env`](Self::from_env)), cloned into the
/// state (an `Arc` inside), reached from handlers through `State<AppState>`
/// or, with `FromRef`, `State<OAuth2Extension>`, and
/// [`shut down`](Self::shutdown) when the server stops. It dereferences to
/// [`OAuth2Service`], so `state.oauth2.fetch(…)` works as written.
///
/// ```
/// use axum::extract::{FromRef, State};
/// use axum::{Router, routing::get};
/// use axum_oauth2_client::{FetchOptions, OAuth2Config, OAuth2Extension};
///
/// #[derive(Clone)]
/// struct AppState {
///     oauth2: OAuth2Extension,
/// }
///
/// impl FromRef<AppState> for OAuth2Extension {
///     fn from_ref(state: &AppState) -> Self {
///         state.oauth2.clone()
///     }
/// }
///
/// async fn orders(State(oauth2): State<OAuth2Extension>) -> String {
///     match oauth2.fetch("payments", "https://api.example.com/v1/orders", FetchOptions::default()).await {
///         Ok(res) => res.status().to_string(),
///         Err(e) => e.code().to_owned(),
///     }
/// }
///
/// let oauth2 = OAuth2Extension::from_config(OAuth2Config::new()).unwrap();
/// let app: Router = Router::new().route("/orders", get(orders)).with_state(AppState { oauth2 });
/// ```
#[derive(Debug, Clone)]
pub struct OAuth2Extension {
    service: OAuth2Service,
}

impl OAuth2Extension {
    /// Wraps an existing service.
    #[must_use]
    pub fn new(service: OAuth2Service) -> Self {
        Self { service }
    }

    /// Builds the service from the providers configured in the environment.
    pub fn from_env() -> Result<Self, StartupError> {
        Ok(Self::from_config(OAuth2Config::from_env()?)?)
    }

    /// Builds the service from `config`.
    pub fn from_config(config: OAuth2Config) -> Result<Self, OAuth2Error> {
        Ok(Self::new(OAuth2Service::new(config)?))
    }

    /// The service.
    #[must_use]
    pub fn service(&self) -> &OAuth2Service {
        &self.service
    }

    /// Forgets every cached token and closes the service for good (see
    /// [`OAuth2Service::shutdown`]). Run when the server shuts down, so that
    /// no token outlives the process's intent to serve, and handlers still
    /// running cannot fill the cache again.
    pub fn shutdown(&self) {
        self.service.shutdown();
        tracing::info!("OAuth2 token cache cleared");
    }
}

impl Deref for OAuth2Extension {
    type Target = OAuth2Service;

    fn deref(&self) -> &OAuth2Service {
        &self.service
    }
}

/// Why the extension could not be built at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The environment is incomplete or malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The service could not be built from a valid configuration.
    #[error(transparent)]
    Service(#[from] OAuth2Error),
}

impl StartupError {
    /// A stable snake_case code: the configuration's or the service's.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(e) => e.code(),
            Self::Service(e) => e.code(),
        }
    }
}
