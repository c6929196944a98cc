//! The shared tier under a provider's in-process cache ([`SharedTier`]):
//! on an in-process miss a replica takes the token another replica
//! published in the [`TokenStore`]; when there is none, or it is due for
//! refresh, one replica per key requests the next token (it holds the
//! key's lease) while the others wait for it to be published.
//!
//! The in-process cache is unchanged: a hit never reaches this module,
//! and each replica still makes at most one request per key at a time
//! (its slot's single flight), of which this tier turns all but one
//! replica's into a read.
//!
//! The store is an optimisation, never a dependency: any error from it
//! (down, slow, full, an open breaker) makes the replica request the token
//! itself, as if there were no store. A token an upstream refused here
//! (401) is never taken back from the store: it is deleted there, if it is
//! still the one stored (compare-and-delete), when the next request meets
//! it.

mod refused;
mod shared_token;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest as _, Sha256};

use self::refused::RefusedTokens;
use self::shared_token::{is_fresh, to_data, to_stored};
use crate::oauth2::cache::token::TokenData;
use crate::oauth2::error::OAuth2Error;
use crate::oauth2::time::clock::Clock;
use crate::store::{
    FINGERPRINT_LEN, LeaseOwner, StoreError, StoreKey, StoredToken, TokenStore, fingerprint,
};

/// How many times a replica that found the lease taken waits for its
/// holder before it requests the token itself: a second round covers a
/// holder that died, whose lease another waiter then takes.
const LEASE_ROUNDS: usize = 2;

/// A provider's view of the shared store.
pub(crate) struct SharedTier {
    store: Arc<dyn TokenStore>,
    /// SHA-256 over what the provider's tokens depend on besides a
    /// request's form fields (the token endpoint, the client, its
    /// authentication and certificate): replicas configured for another
    /// client, as during a deploy that changes it, never share a token.
    identity: [u8; 32],
    refused: RefusedTokens,
}

/// What the tier needs to know of the provider asking.
pub(crate) struct Context<'a> {
    pub(crate) provider: &'a str,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) refresh_buffer: Duration,
    /// Whether the provider has a DPoP key (it can send DPoP tokens).
    pub(crate) dpop: bool,
}

/// What a replica does after looking in the store.
enum Plan {
    /// Take this token, which another replica published.
    Use(TokenData),
    /// Request a token, holding the lease or not; `fallback` is a token
    /// still valid in the store, served if the request fails.
    Fetch {
        lease: Option<LeaseOwner>,
        fallback: Option<StoredToken>,
    },
}

/// A stored token this replica will not use as it is.
struct Passed {
    fingerprint: [u8; FINGERPRINT_LEN],
    /// The token, when it is still valid (only due for refresh).
    still_valid: Option<StoredToken>,
}

impl SharedTier {
    /// The tier over `store` for a provider whose identity parts are
    /// `identity` (each part is length-prefixed into the hash).
    pub(crate) fn new<'a>(
        store: Arc<dyn TokenStore>,
        identity: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"axum-oauth2-client provider identity v1\0");
        for part in identity {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        Self {
            store,
            identity: hasher.finalize().into(),
            refused: RefusedTokens::default(),
        }
    }

    /// Remembers that an upstream refused `token`: it is not taken from
    /// the store again, and is deleted there when next met.
    pub(crate) fn refused(&self, token: &str) {
        self.refused.insert(fingerprint(token));
    }

    /// The store key of the token whose request fields hash to `digest`.
    fn key(&self, provider: &str, digest: &[u8; 32]) -> StoreKey {
        let mut hasher = Sha256::new();
        hasher.update(self.identity);
        hasher.update(digest);
        let combined: [u8; 32] = hasher.finalize().into();
        StoreKey::builder(self.store.namespace(), provider)
            .request_digest(&combined)
            .build()
    }

    /// A token for the request whose fields hash to `digest`: one another
    /// replica published, or else the one `fetch` gets, which is then
    /// published. `fetch` is called at most once.
    pub(crate) async fn token<F, Fut>(
        &self,
        cx: Context<'_>,
        digest: &[u8; 32],
        fetch: F,
    ) -> Result<TokenData, OAuth2Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<TokenData, OAuth2Error>>,
    {
        let key = self.key(cx.provider, digest);
        let (lease, fallback) = match self.plan(&cx, &key).await {
            Plan::Use(data) => return Ok(data),
            Plan::Fetch { lease, fallback } => (lease, fallback),
        };
        let result = fetch().await;
        if let Ok(data) = &result {
            self.publish(&cx, &key, data).await;
        }
        if let Some(owner) = &lease
            && let Err(error) = self.store.release(&key, owner).await
        {
            // The lease expires on its own.
            self.unavailable(&cx, &key, "release", &error);
        }
        let error = match result {
            Ok(data) => return Ok(data),
            Err(error) => error,
        };
        let now_wall = SystemTime::now();
        match fallback
            .filter(|token| token.remaining(now_wall) > Duration::ZERO)
            .and_then(|token| to_data(&token, cx.clock.now(), now_wall, cx.refresh_buffer, cx.dpop))
        {
            Some(data) => {
                tracing::warn!(
                    provider = cx.provider,
                    key = %key,
                    code = error.code(),
                    error = %error,
                    "token request failed; the shared token is still valid and stays in use"
                );
                Ok(data)
            }
            None => Err(error),
        }
    }

    /// Looks in the store: a token to use, or a request to make, with the
    /// lease when this replica took it.
    async fn plan(&self, cx: &Context<'_>, key: &StoreKey) -> Plan {
        let mut seen = None;
        let mut fallback = None;
        match self.store.get(key).await {
            Ok(Some(token)) => match self.examine(cx, key, token).await {
                Ok(data) => return Plan::Use(data),
                Err(passed) => {
                    seen = Some(passed.fingerprint);
                    fallback = passed.still_valid;
                }
            },
            Ok(None) => {}
            Err(error) => {
                self.unavailable(cx, key, "get", &error);
                return Plan::Fetch {
                    lease: None,
                    fallback: None,
                };
            }
        }
        let ttl = self.store.lease_ttl();
        for _ in 0..LEASE_ROUNDS {
            let owner = LeaseOwner::random();
            match self.store.try_lease(key, &owner, ttl).await {
                Ok(true) => {
                    return Plan::Fetch {
                        lease: Some(owner),
                        fallback,
                    };
                }
                Ok(false) => {}
                Err(error) => {
                    self.unavailable(cx, key, "lease", &error);
                    return Plan::Fetch {
                        lease: None,
                        fallback,
                    };
                }
            }
            tracing::debug!(provider = cx.provider, key = %key, "another replica is requesting the token; waiting for it");
            match self
                .store
                .wait_for(key, seen.as_ref(), Instant::now() + ttl)
                .await
            {
                Ok(Some(token)) => match self.examine(cx, key, token).await {
                    Ok(data) => return Plan::Use(data),
                    Err(passed) => {
                        seen = Some(passed.fingerprint);
                        fallback = passed.still_valid.or(fallback);
                    }
                },
                // The holder gave up, died or is slow.
                Ok(None) => {}
                Err(error) => {
                    self.unavailable(cx, key, "wait", &error);
                    break;
                }
            }
        }
        Plan::Fetch {
            lease: None,
            fallback,
        }
    }

    /// `token` as this replica caches it, when it may use it now: not
    /// refused here, not due for refresh, and sendable by this provider.
    async fn examine(
        &self,
        cx: &Context<'_>,
        key: &StoreKey,
        token: StoredToken,
    ) -> Result<TokenData, Passed> {
        let fingerprint = *token.fingerprint();
        if self.refused.contains(&fingerprint) {
            match self.store.delete_if(key, &fingerprint).await {
                Ok(deleted) => {
                    tracing::debug!(provider = cx.provider, key = %key, deleted, "shared token refused upstream here; deleted from the store")
                }
                Err(error) => self.unavailable(cx, key, "delete", &error),
            }
            return Err(Passed {
                fingerprint,
                still_valid: None,
            });
        }
        let now_wall = SystemTime::now();
        if !is_fresh(&token, now_wall, cx.refresh_buffer) {
            return Err(Passed {
                fingerprint,
                still_valid: Some(token),
            });
        }
        match to_data(&token, cx.clock.now(), now_wall, cx.refresh_buffer, cx.dpop) {
            Some(data) => {
                tracing::debug!(provider = cx.provider, key = %key, "token taken from the shared store");
                Ok(data)
            }
            None => {
                tracing::warn!(provider = cx.provider, key = %key, "shared token cannot be sent by this provider; requesting another");
                Err(Passed {
                    fingerprint,
                    still_valid: None,
                })
            }
        }
    }

    /// Stores `data` for the other replicas, for its remaining lifetime.
    async fn publish(&self, cx: &Context<'_>, key: &StoreKey, data: &TokenData) {
        let now_wall = SystemTime::now();
        let stored = to_stored(data, cx.clock.now(), now_wall);
        let ttl = stored.remaining(now_wall);
        if let Err(error) = self.store.put(key, &stored, ttl).await {
            self.unavailable(cx, key, "put", &error);
        }
    }

    fn unavailable(&self, cx: &Context<'_>, key: &StoreKey, call: &str, error: &StoreError) {
        if matches!(error, StoreError::BreakerOpen { .. }) {
            tracing::debug!(provider = cx.provider, key = %key, call, code = error.code(), "token store skipped: its circuit is open");
        } else {
            tracing::warn!(provider = cx.provider, key = %key, call, code = error.code(), error = %error, "token store call failed; going on without it");
        }
    }
}
