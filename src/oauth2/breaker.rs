//! A circuit breaker per provider, so that an authorization server that is
//! down is not hammered and callers without a token fail fast.
//!
//! After `threshold` consecutive unavailable outcomes (transport failures,
//! 5xx, 408, 429 — after retries) the breaker opens: token requests fail at
//! once with `token_endpoint_unavailable` for `cooldown`. Then one probe
//! request is let through (half-open); its outcome closes the breaker or
//! opens it for another cool-down. A refusal such as `invalid_client` shows
//! the endpoint is up, so it closes the breaker. Cached tokens that are
//! still valid keep being served throughout: only token requests pass here.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a provider's breaker trips.
///
/// Defaults: opens after 5 consecutive failures, for 10 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failed token requests that open the breaker (0 disables it).
    pub threshold: u32,
    /// How long it stays open before a probe is let through.
    pub cooldown: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            threshold: 5,
            cooldown: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// Whether a request was let through as a probe of a half-open breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    Normal,
    Probe,
}

#[derive(Debug)]
pub(crate) struct Breaker {
    policy: BreakerPolicy,
    state: Mutex<State>,
}

impl Breaker {
    pub(crate) fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Lets a token request through, or says how long until one may go.
    pub(crate) fn admit(&self, now: Instant) -> Result<Admission, Duration> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match *state {
            State::Closed { .. } => Ok(Admission::Normal),
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                Ok(Admission::Probe)
            }
            State::Open { until } => Err(until - now),
            // One probe at a time; the others wait for its verdict.
            State::HalfOpen => Err(self.policy.cooldown.min(Duration::from_secs(1))),
        }
    }

    /// Records the outcome of an admitted request.
    pub(crate) fn record(&self, now: Instant, admission: Admission, unavailable: bool) {
        if self.policy.threshold == 0 {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state = match (*state, unavailable) {
            (_, false) => State::Closed { failures: 0 },
            (State::HalfOpen, true) => State::Open {
                until: now + self.policy.cooldown,
            },
            (State::Closed { failures }, true) if failures + 1 >= self.policy.threshold => {
                tracing::warn!(
                    failures = failures + 1,
                    cooldown_secs = self.policy.cooldown.as_secs(),
                    "token endpoint circuit opened"
                );
                State::Open {
                    until: now + self.policy.cooldown,
                }
            }
            (State::Closed { failures }, true) => State::Closed {
                failures: failures + 1,
            },
            // A request admitted before the breaker opened: keep it open.
            (open @ State::Open { .. }, true) => open,
        };
        if admission == Admission::Probe && !unavailable {
            tracing::info!("token endpoint probe succeeded; circuit closed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_once() {
        let t0 = Instant::now();
        let breaker = Breaker::new(BreakerPolicy {
            threshold: 3,
            cooldown: Duration::from_secs(10),
        });
        for _ in 0..3 {
            let admission = breaker.admit(t0).expect("closed");
            breaker.record(t0, admission, true);
        }
        assert_eq!(
            breaker.admit(t0 + Duration::from_secs(4)),
            Err(Duration::from_secs(6))
        );
        let probe = breaker.admit(t0 + Duration::from_secs(10)).expect("probe");
        assert_eq!(probe, Admission::Probe);
        assert!(
            breaker.admit(t0 + Duration::from_secs(10)).is_err(),
            "one probe at a time"
        );
        breaker.record(t0 + Duration::from_secs(10), probe, true);
        assert!(
            breaker.admit(t0 + Duration::from_secs(15)).is_err(),
            "failed probe re-opens"
        );
        let probe = breaker.admit(t0 + Duration::from_secs(20)).expect("probe");
        breaker.record(t0 + Duration::from_secs(20), probe, false);
        assert_eq!(
            breaker.admit(t0 + Duration::from_secs(20)),
            Ok(Admission::Normal)
        );
    }

    #[test]
    fn a_success_or_refusal_resets_the_count() {
        let t0 = Instant::now();
        let breaker = Breaker::new(BreakerPolicy {
            threshold: 2,
            cooldown: Duration::from_secs(1),
        });
        breaker.record(t0, Admission::Normal, true);
        breaker.record(t0, Admission::Normal, false);
        breaker.record(t0, Admission::Normal, true);
        assert_eq!(breaker.admit(t0), Ok(Admission::Normal));
    }

    #[test]
    fn threshold_zero_disables_it() {
        let t0 = Instant::now();
        let breaker = Breaker::new(BreakerPolicy {
            threshold: 0,
            cooldown: Duration::from_secs(1),
        });
        for _ in 0..10 {
            breaker.record(t0, Admission::Normal, true);
        }
        assert_eq!(breaker.admit(t0), Ok(Admission::Normal));
    }
}
