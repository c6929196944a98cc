//! A cheap upper bound of the monotonic clock, for the cache-hit test.
//!
//! A cache hit only asks whether the cached token's `refresh_at` is still
//! ahead, and that question needs no nanosecond precision: it needs an
//! answer that is never wrong in the unsafe direction. On Linux,
//! `CLOCK_MONOTONIC_COARSE` is the monotonic clock as of the last timer
//! tick, read from the vDSO without the hardware counter (a few
//! nanoseconds, where `Instant::now` reads the counter and scales it). It
//! runs at the same rate as `Instant` (both are the kernel's monotonic
//! time) but lags it by less than one tick, its resolution.
//!
//! [`upper_bound`] maps a coarse reading onto `Instant`'s scale from one
//! pair of readings taken at first use, and adds one resolution, so the
//! result is never earlier than `Instant::now()` at the moment of the read
//! and at most about two ticks later. "Bound < `refresh_at`" therefore
//! implies "now < `refresh_at`"; when the bound cannot say so, the caller
//! reads the exact clock. Elsewhere, or if the coarse clock is unusable, it
//! is `Instant::now()`.
//!
//! The lag stays under one tick while the kernel keeps time; were its
//! timekeeping to stall (a paused virtual machine), the bound could trail
//! by the stall, and a hit would be answered a little after `refresh_at`:
//! the refresh starts on the next call that reads the exact clock. A token
//! that expires on its way to the upstream is what the 401 retry is for.

use std::time::Instant;

/// An instant no earlier than `Instant::now()` and at most a few
/// milliseconds later.
#[inline]
pub(crate) fn upper_bound() -> Instant {
    imp::upper_bound()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use rustix::time::{ClockId, DynamicClockId, Timespec};

    /// The largest resolution trusted: a kernel ticks at 100 Hz or faster.
    const MAX_RESOLUTION: Duration = Duration::from_millis(20);

    /// One exact instant, the coarse reading taken just before it, and the
    /// coarse clock's resolution.
    struct Base {
        exact: Instant,
        coarse: Duration,
        resolution: Duration,
    }

    /// `None` when the coarse clock cannot be used on this kernel.
    static BASE: OnceLock<Option<Base>> = OnceLock::new();

    fn read() -> Option<Duration> {
        let ts =
            rustix::time::clock_gettime_dynamic(DynamicClockId::Known(ClockId::MonotonicCoarse))
                .ok()?;
        duration(ts)
    }

    fn duration(ts: Timespec) -> Option<Duration> {
        let secs = u64::try_from(ts.tv_sec).ok()?;
        let nanos = u32::try_from(ts.tv_nsec)
            .ok()
            .filter(|n| *n < 1_000_000_000)?;
        Some(Duration::new(secs, nanos))
    }

    impl Base {
        fn take() -> Option<Self> {
            let resolution = duration(rustix::time::clock_getres(ClockId::MonotonicCoarse))?;
            if resolution.is_zero() || resolution > MAX_RESOLUTION {
                return None;
            }
            // The coarse reading first: the exact instant is then no earlier
            // than the moment the coarse clock was read.
            let coarse = read()?;
            let exact = Instant::now();
            Some(Self {
                exact,
                coarse,
                resolution,
            })
        }

        /// `exact + (now_coarse - coarse) + resolution`. With `c` the
        /// coarse reading's lag behind true time (`0 <= c < resolution`),
        /// this is true time `- c_now + c_base + (exact - base read) +
        /// resolution`, which is at least true time.
        fn bound(&self, coarse_now: Duration) -> Option<Instant> {
            let elapsed = coarse_now.checked_sub(self.coarse)?;
            self.exact.checked_add(elapsed + self.resolution)
        }
    }

    #[inline]
    pub(super) fn upper_bound() -> Instant {
        BASE.get_or_init(Base::take)
            .as_ref()
            .and_then(|base| base.bound(read()?))
            .unwrap_or_else(Instant::now)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_bound_is_never_behind_true_time() {
            // True time t; the coarse clock lags it by 0 <= lag < 4 ms.
            let resolution = Duration::from_millis(4);
            let origin = Instant::now();
            let coarse = |t: Duration, lag: Duration| t.saturating_sub(lag);
            for base_lag in [0, 1, 3999] {
                for gap_us in [0, 5, 900] {
                    // The coarse clock read at t = 10 s, the exact clock a
                    // little later.
                    let base_t = Duration::from_secs(10);
                    let base = Base {
                        exact: origin + Duration::from_micros(gap_us),
                        coarse: coarse(base_t, Duration::from_micros(base_lag)),
                        resolution,
                    };
                    for (later_ms, lag_us) in [(0, 0), (1, 3999), (60_000, 2000), (7, 0)] {
                        let t = base_t + Duration::from_millis(later_ms);
                        let reading = coarse(t, Duration::from_micros(lag_us));
                        if reading < base.coarse {
                            continue; // the coarse clock never goes back
                        }
                        let bound = base.bound(reading).expect("in range");
                        let truth = origin + Duration::from_millis(later_ms);
                        assert!(
                            bound >= truth,
                            "behind: {base_lag} {gap_us} {later_ms} {lag_us}"
                        );
                        assert!(bound < truth + 2 * resolution + Duration::from_micros(gap_us));
                    }
                }
            }
        }

        #[test]
        fn an_earlier_reading_than_the_base_gives_no_bound() {
            let base = Base {
                exact: Instant::now(),
                coarse: Duration::from_secs(10),
                resolution: Duration::from_millis(4),
            };
            assert!(base.bound(Duration::from_secs(9)).is_none());
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    use std::time::Instant;

    #[inline]
    pub(super) fn upper_bound() -> Instant {
        Instant::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The live clock is on `Instant`'s scale and moves with it (the exact
    /// inequality is the arithmetic tested above; the kernel's lag is not
    /// asserted here, as a loaded machine may delay a tick).
    #[test]
    fn reads_on_the_instant_scale_and_moves_with_it() {
        let before = Instant::now();
        let first = upper_bound();
        assert!(first + Duration::from_secs(1) > before && first < before + Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(60));
        assert!(upper_bound() > first);
    }
}
