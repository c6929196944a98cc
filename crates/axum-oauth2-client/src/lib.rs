//! OAuth2 machine-to-machine token manager for axum services.
//!
//! An axum service names a provider and a URL; [`OAuth2Service::fetch`]
//! gets an access token (client credentials, RFC 6749 §4.4, or token
//! exchange, RFC 8693), caches it, refreshes it before it expires, attaches
//! it, optionally signs the request (RFC 9421) and, on a 401, drops the
//! token and retries once.
//!
//! ```no_run
//! use axum::{Json, extract::State};
//! use axum_oauth2_client::{FetchOptions, OAuth2Extension};
//! use serde_json::Value;
//!
//! #[derive(Clone)]
//! struct AppState {
//!     oauth2: OAuth2Extension,
//! }
//!
//! async fn orders(State(state): State<AppState>) -> Result<Json<Value>, String> {
//!     let res = state
//!         .oauth2
//!         .fetch("payments", "https://api.example.com/v1/orders", FetchOptions::default())
//!         .await
//!         .map_err(|e| e.code().to_owned())?;
//!     Ok(Json(res.json().await.map_err(|e| e.to_string())?))
//! }
//! ```
//!
//! # The cache
//!
//! * A token is cached per provider and grant; an exchanged token per
//!   provider and a SHA-256 digest of the exchange parameters (the subject
//!   token is never a key, a log field or an error text).
//! * It is refreshed `refresh_buffer` before it expires (default 60 s; half
//!   the lifetime for tokens that live less than twice the buffer). In that
//!   window callers get the cached token at once while one background
//!   request fetches the next.
//! * Callers with no valid token wait on one request per key however many
//!   they are (single flight). A failure reaches every waiter and poisons
//!   nothing; a failed refresh keeps serving the still-valid token.
//! * On a 401 from the upstream, [`OAuth2Service::fetch`] drops the token it
//!   used, gets a new one and retries once, re-signed.
//!
//! # JWT client authentication
//!
//! [`jose`] signs the JWT assertions of RFC 7523: `private_key_jwt` and
//! `client_secret_jwt` client authentication, and the JWT bearer grant
//! (Google service account keys included).
//!
//! # DPoP
//!
//! [`dpop`] holds the keys and proofs of RFC 9449 (sender-constrained
//! access tokens).
//!
//! # Mutual TLS
//!
//! A provider with a [`TlsIdentity`] presents its client certificate to
//! the token endpoint and to its upstreams (RFC 8705): the certificate can
//! authenticate the client (`tls_client_auth`,
//! `self_signed_tls_client_auth`) and the tokens issued are bound to it.
//! [`TlsRoots`] replaces the trusted CAs for a private identity provider.
//!
//! # A shared tier
//!
//! Replicas of a service share their tokens through a [`store::TokenStore`]
//! under their in-process caches (`OAUTH2_CACHE_REDIS_URL`,
//! [`OAuth2Config::token_store`], or any store through
//! [`OAuth2ServiceBuilder::token_store`]): one token request per key for
//! all replicas, a lease so that one replica requests while the others
//! wait, every value encrypted, and a store that is down or slow costing
//! only its time bound. With the `redis` feature, [`store::RedisStore`].

pub mod dpop;
mod env;
mod extension;
pub mod http_signature;
pub mod jose;
pub mod middleware;
mod oauth2;
pub mod store;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use oauth2::fuzzing;

pub use env::ConfigError;
pub use extension::{OAuth2Extension, StartupError};
pub use http_signature::{MessageSigner, SignError, Signer};
pub use oauth2::{
    ACCESS_TOKEN_TYPE, AccessToken, AssertionAudience, AuthMethod, AuthorizationServerMetadata,
    BreakerPolicy, Clock, FetchOptions, GrantType, ManualClock, OAuth2Config, OAuth2Error,
    OAuth2Service, OAuth2ServiceBuilder, ProviderConfig, RetryPolicy, Secret, SystemClock,
    TlsError, TlsIdentity, TlsRoots, TokenEndpointErrorBody, TokenExchangeOptions, TokenParams,
};
