//! The keyed slots: one map per provider of the tokens a call shapes with
//! its own parameters (an exchanged token, a client credentials token with
//! per-call [`TokenParams`](crate::TokenParams)), keyed by the digest of
//! the request's fields ([`digest`](super::key::digest)) and bounded all
//! together.
//!
//! An entry is made on first use. When the maps hold the bound, the next
//! insertion brings them down to 90 % of it: first the expired entries
//! (unless a request for them is in flight), then the least recently used.
//! Evicting a tenth at a time keeps the cost of a sweep amortised over many
//! insertions.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use dashmap::DashMap;

use super::key::CacheKey;
use super::slot::Slot;
use crate::oauth2::time::clock::Clock;

/// One provider's keyed slots, by request digest.
pub(crate) type KeyedSlots = DashMap<[u8; 32], Arc<Slot>>;

/// The bound on every provider's [`KeyedSlots`] together.
pub(crate) struct KeyedCache {
    max_entries: usize,
    /// Held by the one caller that evicts; others skip eviction.
    evicting: Mutex<()>,
    /// The zero of the slots' last-use stamps.
    epoch: Instant,
    clock: Arc<dyn Clock>,
}

impl KeyedCache {
    pub(crate) fn new(max_entries: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            max_entries: max_entries.max(1),
            evicting: Mutex::new(()),
            epoch: clock.now(),
            clock,
        }
    }

    /// The slot for `digest` in `own`, made with `key` on first use, when
    /// the maps of `all` (`own` among them) are first brought under the
    /// bound.
    pub(crate) fn slot<'m, I>(
        &self,
        own: &KeyedSlots,
        all: impl Fn() -> I,
        digest: [u8; 32],
        key: impl FnOnce() -> CacheKey,
    ) -> Arc<Slot>
    where
        I: Iterator<Item = &'m KeyedSlots>,
    {
        let stamp = self.stamp();
        if let Some(slot) = own.get(&digest) {
            slot.touch(stamp);
            return Arc::clone(&slot);
        }
        if entries(all()) >= self.max_entries {
            self.evict(&all);
        }
        let slot = Arc::clone(
            &own.entry(digest)
                .or_insert_with(|| Arc::new(Slot::new(key(), false))),
        );
        slot.touch(stamp);
        slot
    }

    /// When an exchanged token is used, for eviction: an order, not an exact
    /// time, so the clock's cheap upper bound serves.
    fn stamp(&self) -> u64 {
        let since = self
            .clock
            .now_upper_bound()
            .saturating_duration_since(self.epoch);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Brings the maps down to 90 % of the bound (see the module docs).
    fn evict<'m, I>(&self, all: &impl Fn() -> I)
    where
        I: Iterator<Item = &'m KeyedSlots>,
    {
        let Ok(_evicting) = self.evicting.try_lock() else {
            return;
        };
        for map in all() {
            map.retain(|_, slot| slot.is_valid(&*self.clock) || slot.is_busy());
        }
        let target = self.max_entries - self.max_entries / 10;
        let total = entries(all());
        if total > target {
            let maps: Vec<&KeyedSlots> = all().collect();
            let mut used: Vec<(u64, usize, [u8; 32])> = Vec::with_capacity(total);
            for (index, map) in maps.iter().enumerate() {
                used.extend(map.iter().map(|e| (e.value().last_used(), index, *e.key())));
            }
            used.sort_unstable_by_key(|(stamp, _, _)| *stamp);
            for (_, index, digest) in used.into_iter().take(total - target) {
                maps[index].remove(&digest);
            }
        }
        tracing::debug!(
            entries = entries(all()),
            max = self.max_entries,
            "token cache evicted expired and least recently used entries"
        );
    }
}

/// How many entries `maps` hold together, valid or not.
pub(crate) fn entries<'m>(maps: impl Iterator<Item = &'m KeyedSlots>) -> usize {
    maps.map(DashMap::len).sum()
}
