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

mod identity;
mod lease;
mod refused;
mod shared_token;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest as _, Sha256};

use self::lease::HeldLease;
use self::refused::RefusedTokens;
use self::shared_token::{is_fresh, to_data, to_stored};
use crate::oauth2::cache::REFRESH_RETRY_DELAY;
use crate::oauth2::cache::token::TokenData;
use crate::oauth2::error::OAuth2Error;
use crate::oauth2::provider_config::ProviderConfig;
use crate::oauth2::telemetry::names::{self, StoreEvent};
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
    /// What the provider's tokens depend on besides a request's form
    /// fields ([`identity::identity`]).
    identity: [u8; 32],
    refused: RefusedTokens,
}

/// What the tier needs to know of the provider asking.
pub(crate) struct Context<'a> {
    pub(crate) provider: &'a Arc<str>,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) refresh_buffer: Duration,
    /// Whether the provider has a DPoP key (it can send DPoP tokens).
    pub(crate) dpop: bool,
    /// Whether it may send a Bearer token: without DPoP, or with
    /// `DPOP_ALLOW_BEARER`.
    pub(crate) bearer: bool,
    /// The longest one of its token requests runs (its retry budget and
    /// one attempt's timeout): the longest a replica waits for a lease
    /// holder that keeps renewing its lease.
    pub(crate) request_bound: Duration,
}

/// What a replica does after looking in the store.
enum Plan {
    /// Take this token, which another replica published.
    Use(TokenData),
    /// Request a token, holding the lease or not; `fallback` is a token
    /// still valid in the store, served if the token endpoint is
    /// unavailable.
    Fetch {
        lease: Option<HeldLease>,
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
    /// The tier over `store` for the provider configured by `config`.
    pub(crate) fn new(store: Arc<dyn TokenStore>, config: &ProviderConfig) -> Self {
        Self {
            store,
            identity: identity::identity(config),
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
            Plan::Use(data) => {
                names::store(cx.provider, StoreEvent::Hit);
                return Ok(data);
            }
            Plan::Fetch { lease, fallback } => (lease, fallback),
        };
        names::store(cx.provider, StoreEvent::Miss);
        let result = match &lease {
            Some(lease) => lease.renewing(fetch()).await,
            None => fetch().await,
        };
        let published = result.as_ref().ok().map(|data| {
            let now_wall = SystemTime::now();
            let stored = to_stored(data, cx.clock.now(), now_wall);
            let ttl = stored.remaining(now_wall);
            (stored, ttl)
        });
        match lease {
            Some(lease) => lease.finish(published),
            None => {
                if let Some((stored, ttl)) = published {
                    lease::publish(
                        Arc::clone(&self.store),
                        key.clone(),
                        Arc::clone(cx.provider),
                        stored,
                        ttl,
                    );
                }
            }
        }
        let error = match result {
            Ok(data) => return Ok(data),
            Err(error) => error,
        };
        if !error.is_unavailable() {
            return Err(error);
        }
        let now = cx.clock.now();
        let now_wall = SystemTime::now();
        match fallback
            .filter(|token| token.remaining(now_wall) > Duration::ZERO)
            .and_then(|token| to_data(&token, now, now_wall, cx.refresh_buffer, cx.dpop, cx.bearer))
        {
            Some(mut data) => {
                tracing::warn!(
                    provider = &**cx.provider,
                    key = %key,
                    code = error.code(),
                    error = %error,
                    "token request failed; the shared token is still valid and stays in use"
                );
                // Due for refresh, but not before the slot would retry a
                // failed refresh of its own token.
                data.set_refresh_at(now + REFRESH_RETRY_DELAY);
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
                store_failed(cx.provider, key, "get", &error);
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
                    let lease = HeldLease::new(
                        Arc::clone(&self.store),
                        key.clone(),
                        owner,
                        Arc::clone(cx.provider),
                    );
                    return Plan::Fetch {
                        lease: Some(lease),
                        fallback,
                    };
                }
                Ok(false) => {}
                Err(error) => {
                    store_failed(cx.provider, key, "lease", &error);
                    return Plan::Fetch {
                        lease: None,
                        fallback,
                    };
                }
            }
            tracing::debug!(provider = &**cx.provider, key = %key, "another replica is requesting the token; waiting for it");
            names::store(cx.provider, StoreEvent::LeaseWait);
            // The holder renews its lease while its request runs, and
            // releases it when done: wait while it is held, up to the
            // request's own bound (a bound that overflows an `Instant`
            // waits a minute).
            let deadline = Instant::now()
                .checked_add(ttl.max(cx.request_bound))
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(60));
            match self.store.wait_for(key, seen.as_ref(), deadline).await {
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
                    store_failed(cx.provider, key, "wait", &error);
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
                    tracing::debug!(provider = &**cx.provider, key = %key, deleted, "shared token refused upstream here; deleted from the store")
                }
                Err(error) => store_failed(cx.provider, key, "delete", &error),
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
        match to_data(
            &token,
            cx.clock.now(),
            now_wall,
            cx.refresh_buffer,
            cx.dpop,
            cx.bearer,
        ) {
            Some(data) => {
                tracing::debug!(provider = &**cx.provider, key = %key, "token taken from the shared store");
                Ok(data)
            }
            None => {
                tracing::warn!(provider = &**cx.provider, key = %key, "shared token cannot be sent by this provider; requesting another");
                Err(Passed {
                    fingerprint,
                    still_valid: None,
                })
            }
        }
    }
}

/// Logs and counts a failed store call; the caller goes on without it.
fn store_failed(provider: &str, key: &StoreKey, call: &'static str, error: &StoreError) {
    names::store_error(provider, call);
    if matches!(error, StoreError::BreakerOpen { .. }) {
        tracing::debug!(provider, key = %key, call, code = error.code(), "token store skipped: its circuit is open");
    } else {
        tracing::warn!(provider, key = %key, call, code = error.code(), error = %error, "token store call failed; going on without it");
    }
}
