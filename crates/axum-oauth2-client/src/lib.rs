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
//! # Metrics
//!
//! Recorded through the [`metrics`](https://docs.rs/metrics) facade into
//! whatever recorder the application installs (none: nothing is kept).
//! Labels are bounded: `provider` (the configured name), `grant`
//! (`client_credentials`, `jwt_bearer`, `token_exchange`), `outcome`
//! (`ok` or an [`OAuth2Error::code`]), `state` (`open`, `half_open`,
//! `closed`); never a URL, a client id, a subject or a token.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `oauth2_token_requests_total` | provider, grant, outcome | token requests, each with its retries |
//! | `oauth2_token_request_duration_seconds` | provider, grant | histogram: a token request, retries and waits included |
//! | `oauth2_token_request_retries_total` | provider | attempts tried again after a transient failure |
//! | `oauth2_cache_hits_total` | provider | calls served a cached token without waiting (stale serves included) |
//! | `oauth2_cache_misses_total` | provider | calls that found no valid token |
//! | `oauth2_cache_stale_serves_total` | provider | calls served a token past its refresh time, while its refresh ran or after it failed |
//! | `oauth2_cache_waits_total` | provider | calls that waited on the single token request in flight |
//! | `oauth2_cache_waiters` | provider | gauge: calls waiting now |
//! | `oauth2_cache_background_refreshes_total` | provider | refreshes started for a token still valid |
//! | `oauth2_upstream_401_retries_total` | provider | upstream requests answered 401 and sent once more (a DPoP nonce challenge included) |
//! | `oauth2_forced_refreshes_total` | provider | cached tokens dropped after an upstream refused them |
//! | `oauth2_forced_refreshes_denied_total` | provider | 401s that found the forced refresh budget spent (the token was kept) |
//! | `oauth2_breaker_open` | provider | gauge: 1 while the circuit breaker refuses token requests |
//! | `oauth2_breaker_transitions_total` | provider, state | breaker changes, by the state entered |
//! | `oauth2_store_hits_total` | provider | in-process misses served a token another replica published |
//! | `oauth2_store_misses_total` | provider | in-process misses this replica requested itself |
//! | `oauth2_store_lease_waits_total` | provider | waits for another replica's token request |
//! | `oauth2_store_errors_total` | provider, call | shared store calls that failed, timed out or met its open breaker |
//!
//! The `oauth2_cache_*` series are counted per thread, so that a cache hit
//! writes no memory shared with another thread, and reach the recorder
//! when the application calls [`OAuth2Service::publish_metrics`] (before
//! each scrape); the others are recorded as they happen. Each token
//! request is also a `token_request` tracing span with the fields
//! `provider`, `grant`, `attempts` and `outcome`.
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
