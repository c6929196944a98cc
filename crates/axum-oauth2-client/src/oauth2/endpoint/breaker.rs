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
//!
//! The same breaker guards the shared token store (`store::RedisStore`),
//! named differently in its log lines.
//!
//! A provider's breaker counts each change of state by the state entered
//! (`oauth2_breaker_transitions_total`), and `oauth2_breaker_open` is 1
//! while token requests are refused (open or half-open). The store's
//! breaker records no metrics: those series are labelled by provider.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::oauth2::telemetry::names;

/// How a provider's breaker trips.
///
/// Defaults: opens after 5 consecutive failures, for 10 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerPolicy {
    /// Consecutive failed token requests that open the breaker (0 disables it).
    pub threshold: u32,
    /// How long it stays open before a probe is let through.
    pub cooldown: Duration,
}

impl BreakerPolicy {
    /// Consecutive failed token requests that open the breaker (0
    /// disables it).
    #[must_use]
    pub fn threshold(mut self, failures: u32) -> Self {
        self.threshold = failures;
        self
    }

    /// How long it stays open before a probe is let through.
    #[must_use]
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }
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

impl State {
    /// The state's name in metrics.
    fn name(self) -> &'static str {
        match self {
            Self::Closed { .. } => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// Whether a request was let through as a probe of a half-open breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    Normal,
    Probe,
}

/// A request let through the breaker, whose outcome is owed to it.
///
/// A probe that ends without a verdict (its request panicked or was
/// dropped) must not leave the breaker half-open for ever, refusing every
/// request while waiting for an answer that will never come: dropping an
/// unrecorded probe lets the next request probe again.
#[must_use = "record the outcome of the admitted request"]
#[derive(Debug)]
pub(crate) struct Pass<'a> {
    breaker: &'a Breaker,
    admission: Admission,
    admitted_at: Instant,
    recorded: bool,
}

impl Pass<'_> {
    /// Whether this request is the half-open breaker's probe.
    #[cfg(test)]
    pub(crate) fn admission(&self) -> Admission {
        self.admission
    }

    /// Records the request's outcome.
    pub(crate) fn record(mut self, now: Instant, unavailable: bool) {
        self.recorded = true;
        self.breaker.record(now, self.admission, unavailable);
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if self.recorded || self.admission != Admission::Probe {
            return;
        }
        let mut state = self.breaker.lock();
        if *state == State::HalfOpen {
            self.breaker.enter(
                &mut state,
                State::Open {
                    until: self.admitted_at,
                },
            );
            tracing::warn!(
                "{} probe ended without an outcome; the next request probes",
                self.breaker.name
            );
        }
    }
}

#[derive(Debug)]
pub(crate) struct Breaker {
    policy: BreakerPolicy,
    state: Mutex<State>,
    /// What the breaker guards, in its log lines.
    name: &'static str,
    /// The provider's name, for metrics; `None` records none.
    provider: Option<Arc<str>>,
}

impl Breaker {
    /// A token endpoint's breaker, recording its state in the metrics of
    /// `provider`.
    pub(crate) fn new(policy: BreakerPolicy, provider: Arc<str>) -> Self {
        names::breaker_open(&provider, false);
        Self::build(policy, "token endpoint", Some(provider))
    }

    /// A breaker in front of `name` (as its log lines call it), recording
    /// no metrics.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn named(policy: BreakerPolicy, name: &'static str) -> Self {
        Self::build(policy, name, None)
    }

    fn build(policy: BreakerPolicy, name: &'static str, provider: Option<Arc<str>>) -> Self {
        Self {
            policy,
            state: Mutex::new(State::Closed { failures: 0 }),
            name,
            provider,
        }
    }

    /// Whether token requests are refused now (open or half-open; an open
    /// breaker whose cool-down is over lets the next request probe).
    pub(crate) fn is_open(&self) -> bool {
        !matches!(*self.lock(), State::Closed { .. })
    }

    /// Moves to `next`, counting a change of state.
    fn enter(&self, state: &mut State, next: State) {
        if let Some(provider) = &self.provider
            && std::mem::discriminant(state) != std::mem::discriminant(&next)
        {
            names::breaker_transition(provider, next.name());
        }
        *state = next;
    }

    /// Lets a token request through, or says how long until one may go.
    pub(crate) fn admit(&self, now: Instant) -> Result<Pass<'_>, Duration> {
        let mut state = self.lock();
        let admission = match *state {
            State::Closed { .. } => Admission::Normal,
            State::Open { until } if now >= until => {
                self.enter(&mut state, State::HalfOpen);
                Admission::Probe
            }
            State::Open { until } => return Err(until - now),
            // One probe at a time; the others wait for its verdict.
            State::HalfOpen => return Err(self.policy.cooldown.min(Duration::from_secs(1))),
        };
        Ok(Pass {
            breaker: self,
            admission,
            admitted_at: now,
            recorded: false,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while the lock is held; recover rather than poison.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the outcome of an admitted request.
    fn record(&self, now: Instant, admission: Admission, unavailable: bool) {
        if self.policy.threshold == 0 {
            return;
        }
        let mut state = self.lock();
        let next = match (*state, unavailable) {
            (_, false) => State::Closed { failures: 0 },
            (State::HalfOpen, true) => State::Open {
                until: now + self.policy.cooldown,
            },
            (State::Closed { failures }, true) if failures + 1 >= self.policy.threshold => {
                tracing::warn!(
                    failures = failures + 1,
                    cooldown_secs = self.policy.cooldown.as_secs(),
                    "{} circuit opened",
                    self.name
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
        self.enter(&mut state, next);
        if admission == Admission::Probe && !unavailable {
            tracing::info!("{} probe succeeded; circuit closed", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_once() {
        let t0 = Instant::now();
        let breaker = Breaker::new(
            BreakerPolicy {
                threshold: 3,
                cooldown: Duration::from_secs(10),
            },
            "p".into(),
        );
        for _ in 0..3 {
            breaker.admit(t0).expect("closed").record(t0, true);
        }
        assert_eq!(
            breaker.admit(t0 + Duration::from_secs(4)).err(),
            Some(Duration::from_secs(6))
        );
        let probe = breaker.admit(t0 + Duration::from_secs(10)).expect("probe");
        assert_eq!(probe.admission(), Admission::Probe);
        assert!(
            breaker.admit(t0 + Duration::from_secs(10)).is_err(),
            "one probe at a time"
        );
        probe.record(t0 + Duration::from_secs(10), true);
        assert!(
            breaker.admit(t0 + Duration::from_secs(15)).is_err(),
            "failed probe re-opens"
        );
        let probe = breaker.admit(t0 + Duration::from_secs(20)).expect("probe");
        probe.record(t0 + Duration::from_secs(20), false);
        assert_eq!(
            breaker
                .admit(t0 + Duration::from_secs(20))
                .map(|p| p.admission()),
            Ok(Admission::Normal)
        );
    }

    #[test]
    fn a_probe_that_ends_without_an_outcome_lets_the_next_request_probe() {
        let t0 = Instant::now();
        let breaker = Breaker::new(
            BreakerPolicy {
                threshold: 1,
                cooldown: Duration::from_secs(10),
            },
            "p".into(),
        );
        breaker.admit(t0).expect("closed").record(t0, true);
        let at = t0 + Duration::from_secs(10);
        let probe = breaker.admit(at).expect("probe");
        assert!(breaker.admit(at).is_err(), "one probe at a time");
        // The probe's request panics or is dropped: no outcome is recorded.
        drop(probe);
        let next = breaker.admit(at).expect("the next request probes");
        assert_eq!(next.admission(), Admission::Probe);
        next.record(at, false);
        assert_eq!(
            breaker.admit(at).map(|p| p.admission()),
            Ok(Admission::Normal)
        );
    }

    #[test]
    fn a_success_or_refusal_resets_the_count() {
        let t0 = Instant::now();
        let breaker = Breaker::new(
            BreakerPolicy {
                threshold: 2,
                cooldown: Duration::from_secs(1),
            },
            "p".into(),
        );
        breaker.admit(t0).expect("closed").record(t0, true);
        breaker.admit(t0).expect("closed").record(t0, false);
        breaker.admit(t0).expect("closed").record(t0, true);
        assert_eq!(
            breaker.admit(t0).map(|p| p.admission()),
            Ok(Admission::Normal)
        );
    }

    #[test]
    fn threshold_zero_disables_it() {
        let t0 = Instant::now();
        let breaker = Breaker::new(
            BreakerPolicy {
                threshold: 0,
                cooldown: Duration::from_secs(1),
            },
            "p".into(),
        );
        for _ in 0..10 {
            breaker.admit(t0).expect("closed").record(t0, true);
        }
        assert_eq!(
            breaker.admit(t0).map(|p| p.admission()),
            Ok(Admission::Normal)
        );
    }
}
