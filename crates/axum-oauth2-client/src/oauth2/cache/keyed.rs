//! The keyed entries: one [`Keyed`] per provider for the tokens a call
//! shapes with its own parameters (an exchanged token, a client
//! credentials token with per-call [`TokenParams`](crate::TokenParams)),
//! keyed by the digest of the request's fields ([`digest`](super::key::digest))
//! and bounded all together ([`KeyedCache`]).
//!
//! The cache may hold one entry per subject, so an entry is kept small:
//! the map holds the token itself, which carries its digest (the map
//! stores one pointer per entry) and its last use. A [`Slot`], with its
//! single-flight state, exists for a key only while it is needed: while a
//! token request for it runs, while callers wait on one, or while a
//! forced refresh or a refresh backoff is remembered. Whoever lets go of a
//! slot last takes it out once nothing is left to remember
//! ([`Keyed::retire`]), and a sweep takes out the slots nobody holds that
//! have nothing left to remember; a slot is made again, from the cached
//! token, when the key next needs one.
//!
//! A hit reads the map of tokens only (a shard's shared lock). So does a
//! caller in the refresh window (or while a failed refresh backs off)
//! when the key's slot already refreshes its token ([`Keyed::try_stale`]):
//! it is served the token without holding the slot, taking only shared
//! shard locks and allocating nothing.
//!
//! While a key has a slot, the slot writes the key's token: a finished
//! request stores it (unless the slot was cleared since the request
//! started), a refusal drops it. A slot taken out by eviction or by
//! `clear_cache` is detached: it still answers the callers waiting on it
//! but writes nothing.
//!
//! When the maps hold the bound, the next new key brings them down to
//! 90 % of it: first the expired entries (unless a request for them is in
//! flight) and the idle slots, then the least recently used. Evicting a
//! tenth at a time keeps the cost of a sweep amortised over many
//! insertions. The bound counts the tokens and the slots, a key with both
//! twice while its slot lives ([`Keyed::weight`]): the maps' lengths read
//! on each new key (a shared lock per shard), never a walk over the
//! entries.
//!
//! Locks are taken in one order: a map of slots, then a slot, then the
//! map of tokens; nothing holding a token map's lock takes another.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, TryLockError, Weak};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use super::key::{CacheKey, TokenId};
use super::slot::{Owner, Slot};
use super::token::TokenData;
use crate::oauth2::time::clock::Clock;

/// A cached keyed token as its map's key: hashed and compared by the
/// request digest it carries, so that the map is looked up by digest and
/// stores one pointer per entry.
pub(crate) struct Cached(pub(crate) Arc<TokenData>);

impl Hash for Cached {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `[u8; 32]` hashes, for lookups by digest.
        self.0.digest.hash(state);
    }
}

impl PartialEq for Cached {
    fn eq(&self, other: &Self) -> bool {
        self.0.digest == other.0.digest
    }
}

impl Eq for Cached {}

impl Borrow<[u8; 32]> for Cached {
    fn borrow(&self) -> &[u8; 32] {
        &self.0.digest
    }
}

/// One provider's keyed entries.
pub(crate) struct Keyed {
    /// The cached tokens, by the digest each carries.
    pub(super) tokens: DashMap<Cached, ()>,
    /// The slots of the keys that have one now (see the module docs).
    pub(super) slots: DashMap<[u8; 32], Arc<Slot>>,
    /// The provider's forced refresh interval: how long a slot remembers
    /// a refusal.
    forced_interval: Duration,
}

/// Where a keyed slot writes its key's token.
#[derive(Clone)]
pub(crate) struct Home {
    /// Weak: the entries own their slots.
    keyed: Weak<Keyed>,
    digest: [u8; 32],
}

impl Home {
    /// The digest of the slot's key.
    pub(crate) fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// Makes `token` the key's cached token.
    pub(crate) fn store(&self, token: &Arc<TokenData>) {
        if let Some(keyed) = self.keyed.upgrade() {
            match keyed.tokens.entry(Cached(Arc::clone(token))) {
                Entry::Occupied(cached) => {
                    cached.replace_entry(());
                }
                Entry::Vacant(vacant) => {
                    vacant.insert(());
                }
            }
        }
    }

    /// Forgets `token` when it is still the key's cached token.
    pub(crate) fn drop_token(&self, token: &Arc<TokenData>) {
        if let Some(keyed) = self.keyed.upgrade() {
            keyed
                .tokens
                .remove_if(&self.digest, |cached, _| Arc::ptr_eq(&cached.0, token));
        }
    }

    /// Takes the slot out once nothing holds it and it has nothing to
    /// remember ([`Keyed::retire`]).
    pub(crate) fn retire(&self, now: Instant) {
        if let Some(keyed) = self.keyed.upgrade() {
            keyed.retire(&self.digest, now);
        }
    }
}

impl Keyed {
    /// Entries whose slots remember a refusal for `forced_interval`.
    pub(crate) fn new(forced_interval: Duration) -> Self {
        Self {
            tokens: DashMap::new(),
            slots: DashMap::new(),
            forced_interval,
        }
    }

    /// The hit on the cached token of `digest`, decided as
    /// [`Slot::try_hit`] decides it; records a use at `stamp` when there
    /// is a token.
    #[inline(always)]
    pub(crate) fn try_hit<R, F>(
        &self,
        digest: &[u8; 32],
        stamp: u64,
        owner: Owner<'_>,
        use_token: F,
    ) -> Result<R, F>
    where
        F: FnOnce(&Arc<TokenData>) -> R,
    {
        if let Some(cached) = self.tokens.get(digest) {
            let token = &cached.key().0;
            token.touch(stamp);
            if owner.clock.now_upper_bound() < token.refresh_at {
                owner.counts.hit();
                return Ok(use_token(token));
            }
        }
        Err(use_token)
    }

    /// For a caller [`try_hit`](Self::try_hit) turned away: calls
    /// `use_token` with the cached token of `digest` when its refresh time
    /// is still ahead by the exact clock, or when it is past it but the
    /// token is valid and the key's slot already refreshes it or waits out
    /// a failed refresh's backoff ([`Slot::refresh_pending`]). Hands
    /// `use_token` back when the caller needs the slot: to start a refresh,
    /// or to wait for a token.
    #[inline]
    pub(crate) fn try_stale<R, F>(
        &self,
        digest: &[u8; 32],
        owner: Owner<'_>,
        use_token: F,
    ) -> Result<R, F>
    where
        F: FnOnce(&Arc<TokenData>) -> R,
    {
        let now = owner.clock.now();
        // The slot first, and let go of: the lock order is slots, tokens.
        let pending = self
            .slots
            .get(digest)
            .is_some_and(|slot| slot.refresh_pending(now));
        if let Some(cached) = self.tokens.get(digest) {
            let token = &cached.key().0;
            if now < token.refresh_at {
                owner.counts.hit();
                return Ok(use_token(token));
            }
            if pending && now < token.expires_at() {
                owner.counts.stale();
                return Ok(use_token(token));
            }
        }
        Err(use_token)
    }

    /// The slot of `digest`, made with `key` (and the cached token) when
    /// the key has none, recording a use at `stamp`.
    pub(crate) fn slot(
        self: &Arc<Self>,
        digest: [u8; 32],
        key: impl FnOnce() -> CacheKey,
        stamp: u64,
    ) -> Arc<Slot> {
        if let Some(slot) = self.slots.get(&digest) {
            slot.touch(stamp);
            return Arc::clone(&slot);
        }
        let slot = Arc::clone(&self.slots.entry(digest).or_insert_with(|| {
            let home = Home {
                keyed: Arc::downgrade(self),
                digest,
            };
            let cached = self.tokens.get(&digest).map(|c| Arc::clone(&c.key().0));
            Arc::new(Slot::keyed(key(), home, cached))
        }));
        slot.touch(stamp);
        slot
    }

    /// The slot of `digest`, if the key has one.
    pub(crate) fn existing_slot(&self, digest: &[u8; 32]) -> Option<Arc<Slot>> {
        self.slots.get(digest).map(|slot| Arc::clone(&slot))
    }

    /// Whether `used` is the cached token of `digest`.
    pub(crate) fn holds(&self, digest: &[u8; 32], used: TokenId) -> bool {
        self.tokens
            .get(digest)
            .is_some_and(|cached| TokenId::of(&cached.key().0) == used)
    }

    /// Whether the key of `digest` has a token or a slot.
    fn contains(&self, digest: &[u8; 32]) -> bool {
        self.tokens.contains_key(digest) || self.slots.contains_key(digest)
    }

    /// Whether only the map holds `slot` and it has nothing to remember
    /// at `now`.
    fn is_retired(&self, slot: &Arc<Slot>, now: Instant) -> bool {
        Arc::strong_count(slot) == 1 && slot.is_idle(now, self.forced_interval)
    }

    /// Takes the slot of `digest` out when only the map holds it and it
    /// has nothing to remember at `now`: no request, no refusal within the
    /// forced refresh interval, no refresh backoff. Called by whoever lets
    /// go of a slot, after letting go: the last one takes it out. Decided
    /// first under the map's shared lock, so that letting go of a slot
    /// others still hold (a request runs) writes no lock.
    pub(crate) fn retire(&self, digest: &[u8; 32], now: Instant) {
        let retired = self
            .slots
            .get(digest)
            .is_some_and(|slot| self.is_retired(&slot, now));
        if retired {
            self.slots
                .remove_if(digest, |_, slot| self.is_retired(slot, now));
        }
    }

    /// Forgets every token; the slots are detached, so that the requests
    /// in flight answer their callers but fill no cache.
    pub(crate) fn clear(&self) {
        self.detach_all();
        self.tokens.clear();
        // A slot made meanwhile may hold a token from before.
        self.detach_all();
    }

    fn detach_all(&self) {
        self.slots.retain(|_, slot| {
            slot.detach();
            false
        });
    }

    /// How many valid tokens are cached at `now`.
    pub(crate) fn valid(&self, now: Instant) -> usize {
        self.tokens
            .iter()
            .filter(|c| c.key().0.is_valid(now))
            .count()
    }

    /// What the entries weigh against the bound: the tokens and the
    /// slots, a key with both counted twice. Two counts, no walk.
    fn weight(&self) -> usize {
        self.tokens.len() + self.slots.len()
    }

    /// How many keys have a token or a slot (a walk over the slots).
    pub(crate) fn len(&self) -> usize {
        self.tokens.len()
            + self
                .slots
                .iter()
                .filter(|slot| !self.tokens.contains_key(slot.key()))
                .count()
    }

    /// Forgets the key of `digest`, detaching its slot.
    fn evict(&self, digest: &[u8; 32]) {
        if let Some((_, slot)) = self.slots.remove(digest) {
            slot.detach();
        }
        self.tokens.remove(digest);
    }
}

/// The bound on every provider's [`Keyed`] entries together.
pub(crate) struct KeyedCache {
    max_entries: usize,
    /// Held by the one caller that evicts; others skip eviction.
    evicting: Mutex<()>,
    /// The zero of the entries' last-use stamps.
    epoch: Instant,
    clock: Arc<dyn Clock>,
    /// Every provider's entries.
    all: Vec<Arc<Keyed>>,
}

impl KeyedCache {
    pub(crate) fn new(max_entries: usize, clock: Arc<dyn Clock>, all: Vec<Arc<Keyed>>) -> Self {
        Self {
            max_entries: max_entries.max(1),
            evicting: Mutex::new(()),
            epoch: clock.now(),
            clock,
            all,
        }
    }

    /// The slot of `digest` in `own`, made with `key` when the key has
    /// none; when the key is new, the entries are first brought under the
    /// bound.
    pub(crate) fn slot(
        &self,
        own: &Arc<Keyed>,
        digest: [u8; 32],
        key: impl FnOnce() -> CacheKey,
        stamp: u64,
    ) -> Arc<Slot> {
        if !own.contains(&digest) && self.weight() >= self.max_entries {
            self.evict();
        }
        own.slot(digest, key, stamp)
    }

    /// The clock the stamps are read on.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// When a keyed token is used, for eviction: an order, not an exact
    /// time, so the clock's cheap upper bound serves.
    #[inline]
    pub(crate) fn stamp(&self) -> u64 {
        let since = self
            .clock
            .now_upper_bound()
            .saturating_duration_since(self.epoch);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    /// How many entries all providers hold together, valid or not.
    pub(crate) fn entries(&self) -> usize {
        self.all.iter().map(|keyed| keyed.len()).sum()
    }

    /// What all providers' entries weigh against the bound
    /// ([`Keyed::weight`]).
    fn weight(&self) -> usize {
        self.all.iter().map(|keyed| keyed.weight()).sum()
    }

    /// Brings the entries down to 90 % of the bound (see the module docs).
    fn evict(&self) {
        // A sweep that panicked (a clock, a log subscriber) leaves the
        // lock poisoned: the bound must hold all the same.
        let _evicting = match self.evicting.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let now = self.clock.now();
        for keyed in &self.all {
            let busy: HashSet<[u8; 32]> = keyed
                .slots
                .iter()
                .filter(|slot| slot.is_busy())
                .map(|slot| *slot.key())
                .collect();
            keyed
                .tokens
                .retain(|cached, _| cached.0.is_valid(now) || busy.contains(&cached.0.digest));
            // A slot stays while someone holds it or it remembers a
            // request, a refusal or a backoff; its token may be gone.
            keyed.slots.retain(|_, slot| {
                let keep = !keyed.is_retired(slot, now);
                if !keep {
                    slot.detach();
                }
                keep
            });
        }
        let target = self.max_entries - self.max_entries / 10;
        let total = self.weight();
        if total > target {
            let mut used: Vec<(u64, usize, [u8; 32])> = Vec::with_capacity(total);
            for (index, keyed) in self.all.iter().enumerate() {
                used.extend(keyed.tokens.iter().map(|c| {
                    let token = &c.key().0;
                    (token.last_used.load(Ordering::Relaxed), index, token.digest)
                }));
                used.extend(
                    keyed
                        .slots
                        .iter()
                        .filter(|slot| !keyed.tokens.contains_key(slot.key()))
                        .map(|slot| (slot.last_used(), index, *slot.key())),
                );
            }
            used.sort_unstable_by_key(|(stamp, _, _)| *stamp);
            for (_, index, digest) in used.into_iter().take(total - target) {
                self.all[index].evict(&digest);
            }
        }
        tracing::debug!(
            entries = self.entries(),
            max = self.max_entries,
            "token cache evicted expired and least recently used entries"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_one_pointer_in_its_map() {
        assert_eq!(std::mem::size_of::<(Cached, ())>(), 8);
    }
}
