//! [`AppState`]: what every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;

use axum_oauth2_client::OAuth2Extension;

use crate::config::AppConfig;
use crate::dev::DevAuthority;

/// The template server's state, cloned into every handler.
#[derive(Clone)]
pub struct AppState {
    /// The OAuth2 extension (`state.oauth2.fetch(…)`).
    pub oauth2: OAuth2Extension,
    /// The server's settings.
    pub config: Arc<AppConfig>,
    /// The development token server, in development only.
    pub dev: Option<DevAuthority>,
}

impl FromRef<AppState> for OAuth2Extension {
    fn from_ref(state: &AppState) -> Self {
        state.oauth2.clone()
    }
}

impl FromRef<AppState> for Arc<AppConfig> {
    fn from_ref(state: &AppState) -> Self {
        state.config.clone()
    }
}
