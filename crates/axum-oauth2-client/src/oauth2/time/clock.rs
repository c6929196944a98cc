//! The time source behind token expiry, so that tests can move time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the token cache reads the current time.
///
/// Expiry is kept as an [`Instant`] taken when the token request was sent,
/// so it is immune to wall-clock jumps. The default is [`SystemClock`];
/// tests pass a [`ManualClock`] to
/// [`OAuth2ServiceBuilder::clock`](crate::OAuth2ServiceBuilder::clock) and
/// move time forward without sleeping.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;

    /// An instant no earlier than [`now`](Self::now), and at most a few
    /// milliseconds later, for a clock that can answer that more cheaply.
    /// A cache hit asks only whether the token's refresh time is still
    /// ahead; when this bound cannot say so, the cache reads `now`. The
    /// default is `now` itself.
    fn now_upper_bound(&self) -> Instant {
        self.now()
    }

    /// Waits `duration` (between token request retries). The default
    /// sleeps on the tokio timer.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The monotonic system clock ([`Instant::now`]). Its
/// [`now_upper_bound`](Clock::now_upper_bound) reads Linux's coarse
/// monotonic clock, a few nanoseconds instead of a counter read.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }

    #[inline]
    fn now_upper_bound(&self) -> Instant {
        super::coarse_clock::upper_bound()
    }
}

/// A clock that only moves when told to.
///
/// ```
/// use std::time::Duration;
/// use axum_oauth2_client::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(clock.now() - start, Duration::from_secs(30));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Instant>,
}

impl ManualClock {
    /// A manual clock that starts at the current instant.
    #[must_use]
    pub fn new() -> Self {
        Self {
            now: Mutex::new(Instant::now()),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the clock forward by `duration` and returns at once, so that
    /// retry waits take no real time in tests.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}
