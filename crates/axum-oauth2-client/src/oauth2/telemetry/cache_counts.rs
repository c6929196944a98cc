//! [`CacheCounts`]: what a provider's cache served, counted per thread
//! ([`PerThread`]) and handed to the `metrics` recorder when the
//! application publishes ([`OAuth2Service::publish_metrics`]).
//!
//! Publishing adds to each registered counter what was counted since the
//! last publish, so that two services with a provider of the same name add
//! up instead of overwriting each other; what a service counted and never
//! published is published when it is dropped.
//!
//! [`OAuth2Service::publish_metrics`]: crate::OAuth2Service::publish_metrics

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::names;
use super::per_thread::PerThread;

/// The counts, by their index in a thread's cell.
#[derive(Debug, Clone, Copy)]
enum Count {
    Hit,
    Stale,
    Miss,
    Wait,
    BackgroundRefresh,
}

impl Count {
    const ALL: [Self; 5] = [
        Self::Hit,
        Self::Stale,
        Self::Miss,
        Self::Wait,
        Self::BackgroundRefresh,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Hit => names::CACHE_HITS,
            Self::Stale => names::CACHE_STALE_SERVES,
            Self::Miss => names::CACHE_MISSES,
            Self::Wait => names::CACHE_WAITS,
            Self::BackgroundRefresh => names::CACHE_BACKGROUND_REFRESHES,
        }
    }
}

/// One provider's cache counts.
pub(crate) struct CacheCounts {
    provider: Arc<str>,
    counts: PerThread<{ Count::ALL.len() }>,
    /// What was last published of each count.
    published: [AtomicU64; Count::ALL.len()],
    /// Callers waiting on a token request right now.
    waiting: AtomicU64,
}

impl CacheCounts {
    pub(crate) fn new(provider: Arc<str>) -> Self {
        Self {
            provider,
            counts: PerThread::default(),
            published: Default::default(),
            waiting: AtomicU64::new(0),
        }
    }

    /// A token served from the cache before its refresh time.
    #[inline]
    pub(crate) fn hit(&self) {
        self.counts.add(Count::Hit as usize);
    }

    /// A token served from the cache in its refresh window, while a
    /// refresh runs or after one failed: a hit, and a stale one.
    pub(crate) fn stale(&self) {
        self.counts.add(Count::Hit as usize);
        self.counts.add(Count::Stale as usize);
    }

    /// A caller that found no valid token.
    pub(crate) fn miss(&self) {
        self.counts.add(Count::Miss as usize);
    }

    /// A background refresh started.
    pub(crate) fn background_refresh(&self) {
        self.counts.add(Count::BackgroundRefresh as usize);
    }

    /// A caller waits on the token request in flight until the guard is
    /// dropped (it got its answer, or gave up).
    pub(crate) fn wait(&self) -> Waiting<'_> {
        self.counts.add(Count::Wait as usize);
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(self)
    }

    /// The total of `count` so far.
    #[cfg(test)]
    fn total(&self, count: Count) -> u64 {
        self.counts.sum(count as usize)
    }

    /// Hands what was counted since the last publish to the recorder, and
    /// the number of callers waiting now.
    pub(crate) fn publish(&self) {
        let provider = names::label(&self.provider);
        for count in Count::ALL {
            let total = self.counts.sum(count as usize);
            // Concurrent publishes each add only what the other did not.
            let before = self.published[count as usize].fetch_max(total, Ordering::Relaxed);
            metrics::counter!(count.name(), names::PROVIDER => provider.clone())
                .increment(total.saturating_sub(before));
        }
        metrics::gauge!(names::CACHE_WAITERS, names::PROVIDER => provider)
            .set(self.waiting.load(Ordering::Relaxed) as f64);
    }
}

impl Drop for CacheCounts {
    fn drop(&mut self) {
        self.publish();
    }
}

/// A caller counted in [`CacheCounts`]' waiters.
pub(crate) struct Waiting<'a>(&'a CacheCounts);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_serve_is_a_hit_and_waiters_leave() {
        let counts = CacheCounts::new("p".into());
        counts.hit();
        counts.stale();
        counts.miss();
        {
            let _one = counts.wait();
            let _two = counts.wait();
            assert_eq!(counts.waiting.load(Ordering::Relaxed), 2);
        }
        assert_eq!(counts.waiting.load(Ordering::Relaxed), 0);
        assert_eq!(counts.total(Count::Hit), 2);
        assert_eq!(counts.total(Count::Stale), 1);
        assert_eq!(counts.total(Count::Miss), 1);
        assert_eq!(counts.total(Count::Wait), 2);
    }

    #[test]
    fn publishing_records_what_is_new_only() {
        let counts = CacheCounts::new("p".into());
        counts.hit();
        counts.hit();
        counts.publish();
        assert_eq!(
            counts.published[Count::Hit as usize].load(Ordering::Relaxed),
            2
        );
        counts.hit();
        counts.publish();
        counts.publish();
        assert_eq!(
            counts.published[Count::Hit as usize].load(Ordering::Relaxed),
            3
        );
    }
}
