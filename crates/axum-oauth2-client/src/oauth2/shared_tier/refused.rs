//! [`RefusedTokens`]: the fingerprints of the tokens this replica's
//! upstreams refused (401), so that a token another replica published is
//! not taken back from the shared store after it was dropped here.

use std::sync::Mutex;

use crate::store::FINGERPRINT_LEN;

/// How many refused tokens are remembered: a refusal matters until the
/// next token is published, which the retry after it does at once.
const REMEMBERED: usize = 32;

/// A small ring of refused token fingerprints, the oldest overwritten.
#[derive(Default)]
pub(crate) struct RefusedTokens {
    ring: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    fingerprints: Vec<[u8; FINGERPRINT_LEN]>,
    next: usize,
}

impl RefusedTokens {
    /// Remembers that an upstream refused the token with `fingerprint`.
    pub(crate) fn insert(&self, fingerprint: [u8; FINGERPRINT_LEN]) {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.fingerprints.contains(&fingerprint) {
            return;
        }
        if ring.fingerprints.len() < REMEMBERED {
            ring.fingerprints.push(fingerprint);
        } else {
            let next = ring.next;
            ring.fingerprints[next] = fingerprint;
        }
        ring.next = (ring.next + 1) % REMEMBERED;
    }

    /// Whether an upstream refused the token with `fingerprint`.
    pub(crate) fn contains(&self, fingerprint: &[u8; FINGERPRINT_LEN]) -> bool {
        self.ring
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .fingerprints
            .contains(fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_last_refusals() {
        let refused = RefusedTokens::default();
        for i in 0..(REMEMBERED as u8 + 3) {
            refused.insert([i; FINGERPRINT_LEN]);
        }
        for i in 0..3 {
            assert!(
                !refused.contains(&[i; FINGERPRINT_LEN]),
                "{i} was overwritten"
            );
        }
        for i in 3..(REMEMBERED as u8 + 3) {
            assert!(refused.contains(&[i; FINGERPRINT_LEN]));
        }
        refused.insert([40; FINGERPRINT_LEN]);
        refused.insert([40; FINGERPRINT_LEN]);
        assert!(refused.contains(&[40; FINGERPRINT_LEN]));
        assert!(
            refused.contains(&[4; FINGERPRINT_LEN]),
            "a repeat takes no place"
        );
    }
}
