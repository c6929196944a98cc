//! Nonce replay detection (RFC 9421 §7.2.2) with bounded memory.
//!
//! A nonce is remembered until the signature carrying it would be rejected
//! as too old anyway, so the window equals the accepted age. An entry that
//! expires at `t` is still a replay at `t`: the verifier accepts a signature
//! up to and including its last second, so the nonce must be kept through
//! it. When the cache is full of unexpired nonces, new signatures with
//! nonces are refused (fail closed) rather than forgetting a nonce early.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayError {
    /// The same key already used this nonce within the window.
    Replayed,
    /// The cache holds `capacity` unexpired nonces.
    Full,
}

#[derive(Debug, Default)]
struct Entries {
    /// (key id, nonce) → expiry (Unix seconds).
    seen: HashMap<(String, String), u64>,
    /// (expiry, key id, nonce), oldest expiry first.
    by_expiry: BTreeSet<(u64, String, String)>,
}

/// Remembers (key id, nonce) pairs until they expire.
#[derive(Debug)]
pub(crate) struct NonceCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

impl NonceCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// Records the nonce, or says why it cannot be accepted. `expires_at`
    /// is the last second (inclusive) in which the signature carrying the
    /// nonce can be accepted.
    pub(crate) fn check_and_insert(
        &self,
        key_id: &str,
        nonce: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<(), ReplayError> {
        // A poisoned lock only means another request panicked mid-update;
        // the maps are still consistent enough to keep refusing replays.
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Only entries whose last accepted second has passed are forgotten.
        while let Some(first) = entries.by_expiry.first().cloned() {
            if first.0 >= now {
                break;
            }
            entries.by_expiry.remove(&first);
            entries.seen.remove(&(first.1, first.2));
        }
        let key = (key_id.to_owned(), nonce.to_owned());
        if entries.seen.contains_key(&key) {
            return Err(ReplayError::Replayed);
        }
        if entries.seen.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        entries
            .by_expiry
            .insert((expires_at, key.0.clone(), key.1.clone()));
        entries.seen.insert(key, expires_at);
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .map(|e| e.seen.len())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_are_refused_until_expiry() {
        let cache = NonceCache::new(10);
        assert_eq!(cache.check_and_insert("k", "n1", 100, 50), Ok(()));
        assert_eq!(
            cache.check_and_insert("k", "n1", 100, 60),
            Err(ReplayError::Replayed)
        );
        assert_eq!(cache.check_and_insert("other", "n1", 100, 60), Ok(()));
        assert_eq!(cache.check_and_insert("k", "n1", 200, 101), Ok(()));
    }

    #[test]
    fn an_entry_expiring_exactly_now_is_still_a_replay() {
        let cache = NonceCache::new(10);
        let mut now = 50;
        assert_eq!(cache.check_and_insert("k", "n", 100, now), Ok(()));
        for at in [99, 100] {
            now = at;
            assert_eq!(
                cache.check_and_insert("k", "n", 100 + now, now),
                Err(ReplayError::Replayed),
                "at {now}"
            );
        }
        now += 1;
        assert_eq!(cache.check_and_insert("k", "n", 100 + now, now), Ok(()));
    }

    #[test]
    fn memory_is_bounded_and_expired_entries_are_reclaimed() {
        let cache = NonceCache::new(3);
        for n in 0..3 {
            assert_eq!(
                cache.check_and_insert("k", &n.to_string(), 100 + n, 0),
                Ok(())
            );
        }
        assert_eq!(
            cache.check_and_insert("k", "x", 200, 0),
            Err(ReplayError::Full)
        );
        assert_eq!(cache.len(), 3);
        // Entry "0" expires at 100: still held at 100, reclaimed at 101.
        assert_eq!(
            cache.check_and_insert("k", "x", 200, 100),
            Err(ReplayError::Full)
        );
        assert_eq!(cache.check_and_insert("k", "x", 200, 101), Ok(()));
        assert_eq!(cache.len(), 3);
    }
}
