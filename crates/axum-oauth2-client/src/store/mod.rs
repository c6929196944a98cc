//! The shared token store: a second cache tier under the in-process cache,
//! so that the replicas of a service use one token per key instead of one
//! each.
//!
//! * [`TokenStore`] ([`token_store`](self)): the operations a replica
//!   needs: read, publish, compare-and-delete after a 401, and a lease so
//!   that one replica at a time requests a key's next token.
//! * [`RedisStore`] (feature `redis`): the store on Redis, every call
//!   bounded in time and behind a circuit breaker; [`StoreConfig`] its
//!   settings, from code or the `OAUTH2_CACHE_*` variables.
//! * [`StoredToken`]: what is shared for one token; [`StoreKey`] where
//!   (a namespace and a hash: no client id, subject or token).
//! * [`EncryptionKeys`]: every value is sealed with XChaCha20-Poly1305
//!   under the first key of a key file, bound to its key; the other keys
//!   still open (rotation).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use axum_oauth2_client::Secret;
//! use axum_oauth2_client::store::{Namespace, StoreKey, StoredToken, TokenType};
//!
//! let namespace = Namespace::new("orders-prod").unwrap();
//! let key = StoreKey::builder(&namespace, "payments").build();
//! assert!(key.token_key().starts_with("orders-prod:tok:"));
//!
//! let now = SystemTime::now();
//! let token = StoredToken::new(
//!     Secret::new("eyJhbGciOi..."),
//!     TokenType::Bearer,
//!     now,
//!     now + Duration::from_secs(3600),
//! );
//! assert!(token.remaining(now) <= Duration::from_secs(3600));
//! assert!(!format!("{token:?}").contains("eyJ"));
//! ```

// Sealing, encoding and the backend errors serve the backends; without
// one (feature `redis`) only the public types are left.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
mod cipher;
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
mod error;
mod key_file;
mod lease_owner;
#[cfg(feature = "redis")]
mod redis_store;
mod store_config;
mod store_key;
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
mod stored_token;
mod token_store;

pub use cipher::EncryptionKeys;
pub use error::StoreError;
pub use key_file::KeyFileError;
pub use lease_owner::LeaseOwner;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
pub use store_config::{
    ENCRYPTION_KEY_FILE, LEASE_MS, NAMESPACE, REDIS_TIMEOUT_MS, REDIS_URL, StoreConfig,
};
pub use store_key::{DEFAULT_NAMESPACE, Namespace, StoreKey, StoreKeyBuilder};
pub use stored_token::{FINGERPRINT_LEN, StoredToken, TokenType, fingerprint};
pub use token_store::{DEFAULT_LEASE_TTL, TokenStore};
