//! The [`TokenStore`] trait: the operations of a shared token tier, which
//! lets several replicas of a service use one token per key.

use std::fmt;
use std::time::{Duration, Instant};

use super::store_key::Namespace;

use super::error::StoreError;
use super::lease_owner::LeaseOwner;
use super::store_key::StoreKey;
use super::stored_token::{FINGERPRINT_LEN, StoredToken};
use crate::http_signature::BoxFuture;

/// The lease TTL of a store that does not choose one.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);

/// A store of tokens shared by the replicas of a service, under the
/// in-process cache.
///
/// The methods return boxed futures rather than being `async fn`s so that
/// the trait stays object safe: a store is shared as `Arc<dyn TokenStore>`.
///
/// # How a replica uses it
///
/// On an in-process miss for `key`:
///
/// 1. [`get`](Self::get): a token another replica published is used as is.
/// 2. Otherwise [`try_lease`](Self::try_lease) with a fresh
///    [`LeaseOwner`] for [`lease_ttl`](Self::lease_ttl). The winner
///    requests the token, [`renew`](Self::renew)ing the lease while the
///    request runs, [`put`](Self::put)s it with its remaining lifetime
///    ([`StoredToken::remaining`]), then [`release`](Self::release)s the
///    lease. A replica that fails to get a token releases the lease too,
///    so the others stop waiting at once.
/// 3. A replica that lost the lease calls [`wait_for`](Self::wait_for)
///    with a deadline of about the lease TTL, passing the fingerprint of
///    the token it already saw there, if any (one due for refresh). `Some`
///    is a newly published token; `None` means the holder gave up or is
///    slow: take the lease again, or request the token yourself (and `put`
///    it).
///
/// After an upstream 401, [`delete_if`](Self::delete_if) with the refused
/// token's [`fingerprint`](super::fingerprint) removes it unless another
/// replica already replaced it.
///
/// Every error means "the shared tier is not there right now": go on with
/// the in-process cache and the token endpoint, as if no store were
/// configured. Implementations bound every call in time, so a store that
/// is down or slow never holds a caller up for long.
pub trait TokenStore: Send + Sync + fmt::Debug + 'static {
    /// The namespace the service builds this store's keys in.
    fn namespace(&self) -> &Namespace;

    /// How long a lease lasts unless renewed: about the longest a replica
    /// waits for a lease holder that died before it requests the token
    /// itself. A live holder renews it every third of it. Default 5 s.
    fn lease_ttl(&self) -> Duration {
        DEFAULT_LEASE_TTL
    }

    /// The token stored under `key`, if any is there and readable. A value
    /// that cannot be opened or parsed (another key, another format, an
    /// altered value) or that has expired is a miss, `Ok(None)`: the next
    /// `put` overwrites it.
    fn get<'a>(
        &'a self,
        key: &'a StoreKey,
    ) -> BoxFuture<'a, Result<Option<StoredToken>, StoreError>>;

    /// Stores `token` under `key` for `ttl`, capped at the token's
    /// remaining lifetime; a token that has already expired is not stored.
    /// Replaces any value there.
    fn put<'a>(
        &'a self,
        key: &'a StoreKey,
        token: &'a StoredToken,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Deletes the token under `key` only if it is still the one with
    /// `fingerprint` (compare-and-delete). True when it was deleted.
    fn delete_if<'a>(
        &'a self,
        key: &'a StoreKey,
        fingerprint: &'a [u8; FINGERPRINT_LEN],
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Takes `key`'s lease for `owner` for `ttl`, if no one holds it. True
    /// when `owner` now holds it.
    fn try_lease<'a>(
        &'a self,
        key: &'a StoreKey,
        owner: &'a LeaseOwner,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Extends `key`'s lease to `ttl` from now if `owner` still holds it
    /// (compare-and-extend). A holder renews its lease while its token
    /// request runs, so that a slow request keeps it and a holder that
    /// died loses it within one TTL. True when it was extended.
    fn renew<'a>(
        &'a self,
        key: &'a StoreKey,
        owner: &'a LeaseOwner,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Gives `key`'s lease back if `owner` still holds it (compare-and-
    /// delete: a lease that expired and was taken by another replica is
    /// left alone). True when it was released.
    fn release<'a>(
        &'a self,
        key: &'a StoreKey,
        owner: &'a LeaseOwner,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Waits until a token other than `seen` (a fingerprint) is published
    /// under `key`, the lease is gone without one, or `deadline` passes;
    /// `Some` only for such a token. `seen` is the token the caller found
    /// there and cannot use (due for refresh, or refused upstream), so
    /// that it does not count as the new one.
    ///
    /// Implementations may poll: a token request takes tens to hundreds of
    /// milliseconds, so checking every few tens of milliseconds costs a
    /// few small requests per waiting replica and key, and needs neither a
    /// dedicated connection nor a subscription that could miss a message
    /// sent before it started.
    fn wait_for<'a>(
        &'a self,
        key: &'a StoreKey,
        seen: Option<&'a [u8; FINGERPRINT_LEN]>,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Option<StoredToken>, StoreError>>;
}
