//! [`Place`]: where the token of a request is cached, the provider's own
//! [`Slot`] or a keyed entry, with the calls both answer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, ready};

use super::Grant;
use super::key::{CacheKey, TokenId};
use super::keyed::{Keyed, KeyedCache};
use super::slot::{Owner, Request, Slot};
use super::token::TokenData;
use crate::oauth2::error::OAuth2Error;
use crate::oauth2::time::clock::Clock;

/// Where the token of a request is cached. Copied, not borrowed, by the
/// futures that wait on it: a borrow would keep it in the caller's future,
/// which a hit moves (see [`with_token`](Self::with_token)).
#[derive(Clone, Copy)]
pub(crate) enum Place<'a> {
    /// The provider's own token, borrowed: cloning the slot would write a
    /// reference count that every caller shares.
    Own(&'a Arc<Slot>),
    /// A token of the provider's keyed entries.
    Keyed(KeyedPlace<'a>),
}

/// A keyed entry: its provider's entries, the bound, and the key.
///
/// The key's grant is kept, not its [`CacheKey`]: a place is copied on
/// every hit of the provider's own token too (it is one variant of
/// [`Place`]), and the key's seven bytes (its digest prefix and whether it
/// has one) were copied in
/// overlapping pieces whose loads stalled on the stores before them.
#[derive(Clone, Copy)]
pub(crate) struct KeyedPlace<'a> {
    pub(crate) keyed: &'a Arc<Keyed>,
    pub(crate) cache: &'a KeyedCache,
    pub(crate) digest: [u8; 32],
    pub(crate) grant: Grant,
    /// This use, for eviction.
    pub(crate) stamp: u64,
}

impl<'a> Place<'a> {
    /// The hit, decided without waiting ([`Slot::try_hit`]).
    #[inline(always)]
    pub(crate) fn try_hit<R, F>(&self, owner: Owner<'_>, use_token: F) -> Result<R, F>
    where
        F: FnOnce(&Arc<TokenData>) -> R,
    {
        match self {
            Self::Own(slot) => slot.try_hit(owner, use_token),
            Self::Keyed(place) => place.try_hit(owner, use_token),
        }
    }

    /// Calls `use_token` with a valid token, from the cache or once the
    /// single request in flight for the key has delivered one
    /// ([`Slot::with_token`]).
    ///
    /// Not an `async fn`: its future is the slot's own for the provider's
    /// token, and for a keyed one either the hit, decided here (a keyed
    /// hit makes no slot, nor does a stale token served while the key's
    /// slot refreshes it: [`Keyed::try_stale`]), or a box, so that the
    /// caller's future (which a hit moves before it completes) holds
    /// neither the place nor the keyed path's state.
    pub(crate) fn with_token<R>(
        self,
        owner: Owner<'_>,
        request: impl FnOnce() -> Request,
        use_token: impl FnOnce(&Arc<TokenData>) -> R,
    ) -> impl Future<Output = Result<R, OAuth2Error>> {
        match self {
            Self::Own(slot) => Either::Left(slot.with_token(owner, request, use_token)),
            Self::Keyed(place) => Either::Right(
                match place
                    .try_hit(owner, use_token)
                    .or_else(|use_token| place.keyed.try_stale(&place.digest, owner, use_token))
                {
                    Ok(hit) => Either::Left(ready(Ok(hit))),
                    Err(use_token) => Either::Right(Box::pin(async move {
                        let slot = place.slot();
                        slot.get().with_token(owner, request, use_token).await
                    })),
                },
            ),
        }
    }

    /// The upstream refused the token `used` ([`Slot::refused`]).
    pub(crate) fn refused(
        &self,
        owner: Owner<'_>,
        used: TokenId,
        interval: Duration,
        dropped: impl FnOnce(&TokenData),
    ) -> bool {
        match self {
            Self::Own(slot) => slot.refused(owner, used, interval, dropped),
            Self::Keyed(place) => {
                let slot = match place.keyed.existing_slot(&place.digest) {
                    Some(slot) => slot,
                    // With no slot, the cached token is the key's: when it
                    // is another, a newer token is there to retry with.
                    None if !place.keyed.holds(&place.digest, used) => return true,
                    // Made through the bound, as any new slot is.
                    None => {
                        place
                            .cache
                            .slot(place.keyed, place.digest, || place.key(), place.stamp)
                    }
                };
                let slot = SlotHold {
                    keyed: place.keyed,
                    digest: place.digest,
                    clock: owner.clock,
                    slot: Some(slot),
                };
                slot.get().refused(owner, used, interval, dropped)
            }
        }
    }
}

impl KeyedPlace<'_> {
    /// The key of the entry's slot: the grant and, for logs, the first
    /// bytes of the digest.
    fn key(&self) -> CacheKey {
        let d = &self.digest;
        CacheKey {
            grant: self.grant,
            subject: Some([d[0], d[1], d[2], d[3], d[4], d[5]]),
        }
    }

    #[inline(always)]
    fn try_hit<R, F>(&self, owner: Owner<'_>, use_token: F) -> Result<R, F>
    where
        F: FnOnce(&Arc<TokenData>) -> R,
    {
        self.keyed
            .try_hit(&self.digest, self.stamp, owner, use_token)
    }

    /// The key's slot, made (and the cache bounded) when it has none, and
    /// let go of when the caller is done. A slot that eviction or
    /// `clear_cache` detached between its lookup and now is looked up
    /// once more: a detached slot would make a request whose token no one
    /// else can find.
    fn slot(&self) -> SlotHold<'_> {
        let lookup = || {
            self.cache
                .slot(self.keyed, self.digest, || self.key(), self.stamp)
        };
        let mut slot = lookup();
        if slot.is_detached() {
            slot = lookup();
        }
        SlotHold {
            keyed: self.keyed,
            digest: self.digest,
            clock: self.cache.clock(),
            slot: Some(slot),
        }
    }
}

/// A caller's hold on a keyed slot: when it lets go (done, or its future
/// dropped), it takes the slot out if nothing else holds it and it has
/// nothing to remember ([`Keyed::retire`]).
struct SlotHold<'a> {
    keyed: &'a Keyed,
    digest: [u8; 32],
    clock: &'a Arc<dyn Clock>,
    slot: Option<Arc<Slot>>,
}

impl SlotHold<'_> {
    fn get(&self) -> &Arc<Slot> {
        self.slot.as_ref().expect("held until dropped")
    }
}

impl Drop for SlotHold<'_> {
    fn drop(&mut self) {
        // Let go first: the last holder finds only the map's count.
        drop(self.slot.take());
        self.keyed.retire(&self.digest, self.clock.now());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::oauth2::cache::REFRESH_RETRY_DELAY;
    use crate::oauth2::cache::test_requests::{self, settle};
    use crate::oauth2::cache::token::AccessToken;
    use crate::oauth2::telemetry::CacheCounts;
    use crate::oauth2::time::clock::ManualClock;

    const INTERVAL: Duration = Duration::from_secs(10);

    struct Fixture {
        clock: Arc<ManualClock>,
        dyn_clock: Arc<dyn Clock>,
        provider: Arc<str>,
        counts: CacheCounts,
        keyed: Arc<Keyed>,
        cache: KeyedCache,
        requests: Arc<AtomicUsize>,
    }

    fn fixture(max_entries: usize) -> Fixture {
        let clock = Arc::new(ManualClock::new());
        let keyed = Arc::new(Keyed::new(INTERVAL));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        Fixture {
            cache: KeyedCache::new(max_entries, dyn_clock.clone(), vec![Arc::clone(&keyed)]),
            clock,
            dyn_clock,
            provider: "p".into(),
            counts: CacheCounts::new("p".into()),
            keyed,
            requests: Arc::new(AtomicUsize::new(0)),
        }
    }

    impl Fixture {
        fn owner(&self) -> Owner<'_> {
            Owner {
                clock: &self.dyn_clock,
                provider: &self.provider,
                counts: &self.counts,
            }
        }

        fn place(&self, subject: u8) -> Place<'_> {
            let digest = [subject; 32];
            Place::Keyed(KeyedPlace {
                keyed: &self.keyed,
                cache: &self.cache,
                digest,
                grant: Grant::TokenExchange,
                stamp: self.cache.stamp(),
            })
        }

        async fn get(&self, subject: u8, request: impl FnOnce() -> Request) -> AccessToken {
            self.place(subject)
                .with_token(self.owner(), request, AccessToken::of)
                .await
                .expect("token")
        }

        fn slots(&self) -> usize {
            self.keyed.slots.len()
        }

        fn issue(&self) -> impl FnOnce() -> Request + use<> {
            test_requests::issue(&self.clock, &self.requests)
        }

        fn fail(&self) -> impl FnOnce() -> Request + use<> {
            test_requests::fail(&self.requests)
        }
    }

    #[tokio::test]
    async fn a_token_request_leaves_the_token_in_the_map_and_no_slot() {
        let f = fixture(100);
        assert_eq!(f.get(1, f.issue()).await.secret(), "tok-1");
        assert_eq!(f.slots(), 0, "the slot went with its request");
        assert_eq!((f.keyed.tokens.len(), f.cache.entries()), (1, 1));
        // A hit reads the map, and the token carries its key.
        let hit = f
            .place(1)
            .try_hit(f.owner(), |t| (t.digest, TokenId::of(t)));
        let Ok((digest, id)) = hit else {
            panic!("a hit")
        };
        assert_eq!(digest, [1; 32]);
        assert!(f.keyed.holds(&[1; 32], id));
        // A failed request on a new key leaves nothing behind.
        let err = f
            .place(2)
            .with_token(f.owner(), f.fail(), AccessToken::of)
            .await
            .expect_err("fails");
        assert_eq!(err.code(), "token_endpoint_error");
        assert_eq!((f.slots(), f.cache.entries()), (0, 1));
    }

    #[tokio::test]
    async fn a_hit_through_with_token_makes_no_slot() {
        let f = fixture(100);
        f.get(1, f.issue()).await;
        let place = f.place(1);
        let used = std::cell::Cell::new(false);
        let future = place.with_token(f.owner(), f.issue(), |token| {
            used.set(true);
            AccessToken::of(token)
        });
        // Decided on the map before any slot could be made.
        assert!(used.get(), "a hit, before the future is polled");
        assert_eq!(f.slots(), 0);
        assert_eq!(future.await.expect("hit").secret(), "tok-1");
        assert_eq!(f.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_background_refresh_stores_its_token_and_lets_go_of_its_slot() {
        let f = fixture(100);
        f.get(1, f.issue()).await;
        f.clock.advance(Duration::from_secs(61));
        assert_eq!(f.get(1, f.issue()).await.secret(), "tok-1", "stale, served");
        settle().await;
        assert_eq!(f.requests.load(Ordering::SeqCst), 2);
        assert_eq!(f.slots(), 0);
        let hit = f.place(1).try_hit(f.owner(), AccessToken::of);
        assert_eq!(hit.ok().expect("a hit").secret(), "tok-2");
    }

    #[tokio::test]
    async fn stale_callers_while_the_slot_refreshes_are_served_from_the_map() {
        let f = Arc::new(fixture(100));
        f.get(1, f.issue()).await;
        f.clock.advance(Duration::from_secs(61));
        let gate = Arc::new(tokio::sync::Notify::new());
        let gated = test_requests::gated(&gate, f.issue());
        // The first stale caller starts the refresh through the slot.
        assert_eq!(f.get(1, gated).await.secret(), "tok-1");
        assert_eq!(f.slots(), 1, "the refresh holds its slot");
        let slot = f.keyed.existing_slot(&[1; 32]).expect("slot");
        let holders = Arc::strong_count(&slot);
        // The next ones are served before their futures are polled: no
        // slot taken, no box, no second request.
        for _ in 0..3 {
            let used = std::cell::Cell::new(false);
            let future = f.place(1).with_token(f.owner(), f.issue(), |token| {
                used.set(true);
                AccessToken::of(token)
            });
            assert!(used.get(), "served on the map");
            assert_eq!(Arc::strong_count(&slot), holders);
            assert_eq!(future.await.expect("stale").secret(), "tok-1");
        }
        drop(slot);
        gate.notify_one();
        settle().await;
        assert_eq!(f.requests.load(Ordering::SeqCst), 2);
        assert_eq!(f.slots(), 0);
        assert_eq!(f.get(1, f.issue()).await.secret(), "tok-2");
    }

    #[tokio::test]
    async fn a_sweep_keeps_a_slot_that_remembers_a_refusal_and_drops_one_that_no_longer_does() {
        let f = fixture(10);
        for subject in 2..=10 {
            f.get(subject, f.issue()).await;
            f.clock.advance(Duration::from_millis(10));
        }
        let refused = f.get(1, f.issue()).await;
        assert!(
            f.place(1)
                .refused(f.owner(), refused.id(), INTERVAL, |_| {})
        );
        assert_eq!((f.keyed.tokens.len(), f.slots()), (9, 1));
        // A new key sweeps: the oldest key goes, the remembered refusal stays.
        f.clock.advance(Duration::from_millis(10));
        f.get(11, f.issue()).await;
        assert!(f.place(2).try_hit(f.owner(), |_| ()).is_err(), "evicted");
        assert_eq!(f.slots(), 1);
        // So a second refusal within the interval keeps the new token.
        let second = f.get(1, f.issue()).await;
        assert!(!f.place(1).refused(f.owner(), second.id(), INTERVAL, |_| {}));
        assert_eq!(f.get(1, f.issue()).await.secret(), second.secret());
        // Once the interval has passed, nobody needs to let go of the
        // slot: the next sweep drops it and keeps the token.
        f.clock.advance(INTERVAL);
        for subject in 12..=13 {
            f.get(subject, f.issue()).await;
        }
        assert_eq!(f.slots(), 0);
        assert_eq!(
            f.place(1)
                .try_hit(f.owner(), AccessToken::of)
                .ok()
                .expect("kept")
                .secret(),
            second.secret()
        );
    }

    #[tokio::test]
    async fn a_failed_background_refresh_keeps_its_slot_for_the_backoff() {
        let f = fixture(100);
        f.get(1, f.issue()).await;
        f.clock.advance(Duration::from_secs(61));
        assert_eq!(f.get(1, f.fail()).await.secret(), "tok-1");
        settle().await;
        assert_eq!(f.requests.load(Ordering::SeqCst), 2);
        assert_eq!(f.slots(), 1, "the backoff is remembered");
        // Within the retry delay: no new attempt.
        assert_eq!(f.get(1, f.fail()).await.secret(), "tok-1");
        settle().await;
        assert_eq!(f.requests.load(Ordering::SeqCst), 2);
        // After it, the next call tries again; its token ends the slot.
        f.clock.advance(REFRESH_RETRY_DELAY);
        f.get(1, f.issue()).await;
        settle().await;
        assert_eq!(f.requests.load(Ordering::SeqCst), 3);
        assert_eq!(f.get(1, f.issue()).await.secret(), "tok-3");
        assert_eq!(f.slots(), 0);
    }

    #[tokio::test]
    async fn a_refusal_is_remembered_for_the_forced_refresh_interval() {
        let f = fixture(100);
        let first = f.get(1, f.issue()).await;
        let refuse =
            |token: &AccessToken| f.place(1).refused(f.owner(), token.id(), INTERVAL, |_| {});
        assert!(refuse(&first));
        assert_eq!(
            (f.keyed.tokens.len(), f.slots()),
            (0, 1),
            "dropped, remembered"
        );
        let second = f.get(1, f.issue()).await;
        assert_eq!(second.secret(), "tok-2");
        // Stale: nothing changes, and the retry may go ahead.
        assert!(refuse(&first));
        // Within the interval the budget is spent: the token stays.
        f.clock.advance(Duration::from_secs(9));
        assert!(!refuse(&second));
        assert_eq!(f.get(1, f.issue()).await.secret(), "tok-2");
        // After it, one more forced refresh.
        f.clock.advance(Duration::from_secs(1));
        assert!(refuse(&second));
        assert_eq!(f.get(1, f.issue()).await.secret(), "tok-3");
        assert_eq!(f.requests.load(Ordering::SeqCst), 3);
        // Once the interval has passed, the next caller lets go of the slot.
        f.clock.advance(INTERVAL);
        assert!(refuse(&first), "stale");
        assert_eq!(f.slots(), 0);
    }

    #[tokio::test]
    async fn many_callers_of_a_new_key_make_one_request_and_leave_no_slot() {
        let f = Arc::new(fixture(100));
        let gate = Arc::new(tokio::sync::Notify::new());
        let waiters: Vec<_> = (0..20)
            .map(|_| {
                let (f, gate) = (f.clone(), gate.clone());
                tokio::spawn(async move {
                    let gated = test_requests::gated(&gate, f.issue());
                    f.get(1, gated).await.secret().to_owned()
                })
            })
            .collect();
        settle().await;
        assert_eq!(f.slots(), 1);
        gate.notify_one();
        for waiter in waiters {
            assert_eq!(waiter.await.expect("join"), "tok-1");
        }
        assert_eq!(f.requests.load(Ordering::SeqCst), 1);
        assert_eq!(f.slots(), 0);
    }

    #[tokio::test]
    async fn eviction_takes_the_least_recently_used_keys_and_detaches_their_slots() {
        let f = fixture(10);
        for subject in 0..10 {
            f.get(subject, f.issue()).await;
            f.clock.advance(Duration::from_millis(10));
        }
        // Subject 0 is used again: subject 1 is now the oldest.
        assert!(f.place(0).try_hit(f.owner(), |_| ()).is_ok());
        f.clock.advance(Duration::from_millis(10));
        f.get(10, f.issue()).await;
        assert_eq!(f.cache.entries(), 10, "down to 9, then the new one");
        assert!(f.place(0).try_hit(f.owner(), |_| ()).is_ok());
        assert!(f.place(1).try_hit(f.owner(), |_| ()).is_err());
        assert_eq!(f.slots(), 0);
    }

    #[tokio::test]
    async fn clear_detaches_a_running_request() {
        let f = Arc::new(fixture(100));
        let gate = Arc::new(tokio::sync::Notify::new());
        let waiter = {
            let (f, gate) = (f.clone(), gate.clone());
            tokio::spawn(async move {
                let gated = test_requests::gated(&gate, f.issue());
                f.get(1, gated).await.secret().to_owned()
            })
        };
        settle().await;
        f.keyed.clear();
        gate.notify_one();
        assert_eq!(
            waiter.await.expect("join"),
            "tok-1",
            "the waiter is answered"
        );
        assert_eq!(f.cache.entries(), 0, "but nothing is cached");
    }
}
