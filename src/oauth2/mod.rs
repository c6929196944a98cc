//! The OAuth2 extension: token acquisition, caching and authenticated
//! requests.
//!
//! One file per concept: the grants ([`client_credentials`],
//! [`token_exchange`]) build form parameters; [`endpoint`] is the one place
//! that talks to a token endpoint; [`response`] parses what it answers;
//! [`cache`] holds tokens with single flight and background refresh;
//! [`service`] ties them together behind [`OAuth2Service`].

mod bearer;
mod binding;
mod breaker;
mod builder;
mod cache;
mod client_credentials;
mod clock;
mod coarse_clock;
mod config;
mod endpoint;
mod error;
mod fetch;
mod options;
mod provider;
mod provider_config;
mod response;
mod retry;
mod secret;
mod service;
mod token;
mod token_exchange;
mod url;

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    /// Parses `data` as a token endpoint answer body, success and error.
    pub fn token_response(data: &[u8]) {
        let _ = super::response::parse_token_response(data);
        let _ = super::error::TokenEndpointErrorBody::parse(data);
    }
}

pub use breaker::BreakerPolicy;
pub use builder::OAuth2ServiceBuilder;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::OAuth2Config;
pub use error::{OAuth2Error, TokenEndpointErrorBody};
pub use options::{ACCESS_TOKEN_TYPE, FetchOptions, TokenExchangeOptions};
pub use provider_config::{AuthMethod, ProviderConfig};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use service::OAuth2Service;
pub use token::AccessToken;

pub(crate) use binding::Binding;
pub(crate) use cache::TokenId;
pub(crate) use provider::Answer;
pub(crate) use url::check_token_url;
