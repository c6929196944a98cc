//! The time source for `created` and `expires` (RFC 9421 §2.3, §3.2.1).
//!
//! Injected so that tests pin the time instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current Unix time in whole seconds, for the `created`
/// and `expires` signature parameters.
///
/// Not the token cache's [`Clock`](crate::Clock), which measures
/// monotonic [`Instant`](std::time::Instant)s: signature parameters are
/// wall-clock seconds that another host compares with its own.
///
/// [`UnixClock::system`] is the default; tests use [`UnixClock::fixed`] or
/// [`UnixClock::from_fn`].
#[derive(Clone)]
pub struct UnixClock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl UnixClock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        UnixClock(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs())
        }))
    }

    /// A clock that always reads `unix_seconds`.
    #[must_use]
    pub fn fixed(unix_seconds: u64) -> Self {
        UnixClock(Arc::new(move || unix_seconds))
    }

    /// A clock that calls `now` for the current Unix time in seconds.
    #[must_use]
    pub fn from_fn(now: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        UnixClock(Arc::new(now))
    }

    /// The current Unix time in seconds.
    #[must_use]
    pub fn now(&self) -> u64 {
        (self.0)()
    }
}

impl Default for UnixClock {
    fn default() -> Self {
        UnixClock::system()
    }
}

impl fmt::Debug for UnixClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the time: reading it would move a counting test clock.
        f.write_str("UnixClock(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_system_clocks() {
        assert_eq!(UnixClock::fixed(1_618_884_473).now(), 1_618_884_473);
        assert!(UnixClock::system().now() > 1_700_000_000);
        let counter = std::sync::atomic::AtomicU64::new(5);
        let clock =
            UnixClock::from_fn(move || counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        assert_eq!((clock.now(), clock.now()), (5, 6));
    }
}
