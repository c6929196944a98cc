//! [`LeaseOwner`]: who holds a key's lease, the right to fetch its next
//! token while the other replicas wait.

use std::fmt;

use super::store_key::hex;

/// A lease holder's identity: 128 random bits, as 32 hex digits, made once
/// per attempt (or per process) so that a replica releases only the lease
/// it took, never one that expired and was taken by another.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LeaseOwner(Box<str>);

impl LeaseOwner {
    /// A new random identity.
    #[must_use]
    pub fn random() -> Self {
        Self(hex(&rand::random::<[u8; 16]>()).into())
    }

    /// The identity as stored in the lease.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LeaseOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LeaseOwner({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_random_hex() {
        let (a, b) = (LeaseOwner::random(), LeaseOwner::random());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
