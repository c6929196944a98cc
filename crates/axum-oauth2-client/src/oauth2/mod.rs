//! The OAuth2 extension: token acquisition, caching and authenticated
//! requests.
//!
//! One file per concept: the grants ([`grant`]) build form parameters;
//! [`endpoint`] talks to a token endpoint and parses what it answers;
//! [`cache`] holds tokens with single flight and background refresh;
//! [`service`] ties them together behind [`OAuth2Service`], whose requests
//! follow the rules of [`binding`] (for [`fetch`] and the middlewares).
//! [`discovery`] finds a provider's token endpoint from its issuer;
//! [`tls`] holds the client certificate and CAs of mutual TLS (RFC 8705);
//! [`shared_tier`] shares tokens between replicas through a
//! [`TokenStore`](crate::store::TokenStore).

mod binding;
mod builder;
mod cache;
mod config;
mod discovery;
mod endpoint;
mod error;
mod exchange_options;
mod fetch;
mod fetch_options;
mod grant;
mod provider;
mod provider_config;
mod route;
pub(crate) mod scrubbed_json;
mod secret;
mod service;
mod shared_tier;
mod telemetry;
mod time;
mod tls;
mod token_params;
mod token_request;
mod upstream_proof;
mod url;

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    /// Parses `data` as a token endpoint answer body, success and error.
    pub fn token_response(data: &[u8]) {
        use crate::oauth2::endpoint::response::{Expected, parse_token_response};
        let _ = parse_token_response(data, Expected::default());
        let exchange = Expected {
            exchange: true,
            requested_token_type: Some("urn:ietf:params:oauth:token-type:jwt"),
            ..Expected::default()
        };
        let _ = parse_token_response(data, exchange);
        let _ = super::error::TokenEndpointErrorBody::parse(data);
    }
}

pub use builder::OAuth2ServiceBuilder;
pub use cache::token::AccessToken;
pub use config::OAuth2Config;
pub use discovery::AuthorizationServerMetadata;
pub use endpoint::breaker::BreakerPolicy;
pub use endpoint::retry::RetryPolicy;
pub use error::{OAuth2Error, TokenEndpointErrorBody};
pub use exchange_options::{ACCESS_TOKEN_TYPE, TokenExchangeOptions};
pub use fetch_options::FetchOptions;
pub use provider_config::{AssertionAudience, AuthMethod, GrantType, ProviderConfig};
pub use secret::Secret;
pub use service::OAuth2Service;
pub use time::clock::{Clock, ManualClock, SystemClock};
pub use tls::{TlsError, TlsIdentity, TlsRoots};
pub use token_params::TokenParams;

pub(crate) use binding::Attached;
pub(crate) use binding::Binding;
pub(crate) use discovery::check_issuer;
#[cfg(feature = "redis")]
pub(crate) use endpoint::breaker::Breaker;
pub(crate) use provider::Answer;
pub(crate) use token_request::TokenRequest;
pub(crate) use url::check_token_url;
