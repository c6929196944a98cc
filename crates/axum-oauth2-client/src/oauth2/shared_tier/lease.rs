//! [`HeldLease`]: a key's lease while this replica requests its token:
//! renewed while the request runs, and released whatever becomes of it.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::{Either, select};

use super::store_failed;
use crate::store::{LeaseOwner, StoreKey, StoredToken, TokenStore};

/// A lease this replica holds. Dropped without [`finish`](Self::finish)
/// (the request panicked or was cancelled), it is released in the
/// background so that the other replicas stop waiting at once.
pub(super) struct HeldLease {
    held: Option<Held>,
}

struct Held {
    store: Arc<dyn TokenStore>,
    key: StoreKey,
    owner: LeaseOwner,
    provider: Arc<str>,
}

impl HeldLease {
    pub(super) fn new(
        store: Arc<dyn TokenStore>,
        key: StoreKey,
        owner: LeaseOwner,
        provider: Arc<str>,
    ) -> Self {
        Self {
            held: Some(Held {
                store,
                key,
                owner,
                provider,
            }),
        }
    }

    /// Runs `work`, renewing the lease every third of its TTL meanwhile: a
    /// slow token request keeps it, and the others keep waiting for it
    /// rather than making their own. Renewal stops (the lease then
    /// expires) if the store fails or another replica took the lease.
    pub(super) async fn renewing<T>(&self, work: impl Future<Output = T>) -> T {
        let Some(held) = &self.held else {
            return work.await;
        };
        let ttl = held.store.lease_ttl();
        let renew = async {
            loop {
                tokio::time::sleep(ttl / 3).await;
                match held.store.renew(&held.key, &held.owner, ttl).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::debug!(provider = &*held.provider, key = %held.key, "lease lost while the token request ran");
                        return;
                    }
                    Err(error) => {
                        store_failed(&held.provider, &held.key, "renew", &error);
                        return;
                    }
                }
            }
        };
        let work = std::pin::pin!(work);
        let renew = std::pin::pin!(renew);
        match select(work, renew).await {
            Either::Left((out, _)) => out,
            Either::Right(((), work)) => work.await,
        }
    }

    /// Publishes `token` (when the request got one), then releases the
    /// lease, in the background: the callers in this replica have their
    /// token without waiting for the store.
    pub(super) fn finish(mut self, token: Option<(StoredToken, std::time::Duration)>) {
        if let Some(held) = self.held.take() {
            spawn(held, token);
        }
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            spawn(held, None);
        }
    }
}

/// Publishes without a lease: a replica that requested its token after
/// the store failed or the lease holder gave up.
pub(super) fn publish(
    store: Arc<dyn TokenStore>,
    key: StoreKey,
    provider: Arc<str>,
    token: StoredToken,
    ttl: std::time::Duration,
) {
    in_background(store, key, provider, Some((token, ttl)), None);
}

fn spawn(held: Held, token: Option<(StoredToken, std::time::Duration)>) {
    let Held {
        store,
        key,
        owner,
        provider,
    } = held;
    in_background(store, key, provider, token, Some(owner));
}

/// Puts `token` (if any), then releases `owner`'s lease (if any), in a
/// task of its own. Outside a runtime (it is shutting down) nothing is
/// written: the lease expires by itself.
fn in_background(
    store: Arc<dyn TokenStore>,
    key: StoreKey,
    provider: Arc<str>,
    token: Option<(StoredToken, std::time::Duration)>,
    owner: Option<LeaseOwner>,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        if let Some((token, ttl)) = token
            && let Err(error) = store.put(&key, &token, ttl).await
        {
            store_failed(&provider, &key, "put", &error);
        }
        // Released after the put: a waiter that sees the lease gone sees
        // the token too.
        if let Some(owner) = owner
            && let Err(error) = store.release(&key, &owner).await
        {
            store_failed(&provider, &key, "release", &error);
        }
    });
}
