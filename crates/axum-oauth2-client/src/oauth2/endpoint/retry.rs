//! Retries of a token request (and of a metadata request, which follows
//! the same rules): which failures, how long to wait, when to stop.
//!
//! Transport failures (refused, reset, timed out), 5xx, 408 and 429 are
//! retried; every other answer, in particular the RFC 6749 §5.2 refusals
//! (`invalid_client`, `invalid_grant`, `invalid_scope`,
//! `unauthorized_client`), is final. Waits follow "decorrelated jitter"
//! (each wait drawn between the base delay and three times the previous
//! one, capped), and a `Retry-After` (RFC 9110 §10.2.3, seconds or an
//! HTTP-date) is honoured up to a cap: a server that asks for longer is not
//! retried. The attempts and the total time are both bounded.
//!
//! The retries run inside the cache's single flight: however many callers
//! wait, one sequence of attempts is made.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use rand::RngExt as _;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::oauth2::error::OAuth2Error;
use crate::oauth2::telemetry::names;
use crate::oauth2::time::clock::Clock;

/// How a provider's token requests are retried.
///
/// Defaults: 3 attempts, waits from 100 ms up to 2 s, `Retry-After`
/// honoured up to 10 s, and 20 s for the whole sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 disables retries).
    pub max_attempts: u32,
    /// The shortest wait between attempts.
    pub base_delay: Duration,
    /// The longest wait between attempts chosen by backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the sequence.
    pub max_retry_after: Duration,
    /// Bound on the whole sequence, waits included.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(10),
            budget: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// Attempts in all, the first included (1 disables retries).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The shortest wait between attempts.
    #[must_use]
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest wait between attempts chosen by backoff.
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The longest `Retry-After` honoured; a longer one ends the sequence.
    #[must_use]
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// Bound on the whole sequence, waits included.
    #[must_use]
    pub fn budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// No retries: one attempt.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The next backoff wait after `previous` (decorrelated jitter).
    pub(crate) fn next_delay(&self, previous: Duration) -> Duration {
        let low = self.base_delay;
        let high = (previous * 3).max(low).min(self.max_delay.max(low));
        if high <= low {
            return low;
        }
        let span = (high - low).as_nanos().min(u128::from(u64::MAX)) as u64;
        low + Duration::from_nanos(rand::rng().random_range(0..=span))
    }
}

/// What a sequence of attempts needs besides the attempt itself.
#[derive(Clone, Copy)]
pub(crate) struct Attempts<'a> {
    pub(crate) policy: &'a RetryPolicy,
    pub(crate) clock: &'a dyn Clock,
    /// The provider's name, for errors and logs.
    pub(crate) provider: &'a str,
    /// The bound on one attempt; the last ones get what is left of the
    /// budget when that is less.
    pub(crate) timeout: Duration,
    /// Set once the service shuts down: no further attempt starts.
    pub(crate) closed: &'a AtomicBool,
    /// What is requested, for logs ([`TOKEN`], `"metadata"`).
    pub(crate) what: &'static str,
}

/// [`Attempts::what`] of a token request: its retries are counted
/// ([`names::TOKEN_REQUEST_RETRIES`]).
pub(crate) const TOKEN: &str = "token";

/// Runs `attempt` until it succeeds, fails for good, or the policy says
/// stop: only [unavailable](OAuth2Error::is_unavailable) failures are
/// retried, a `Retry-After` longer than the policy allows ends the
/// sequence, and no wait may take it past the budget.
///
/// `attempt` gets the timeout for that attempt.
pub(crate) async fn with_retries<T, F, Fut>(
    attempts: Attempts<'_>,
    mut attempt: F,
) -> Result<T, OAuth2Error>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, OAuth2Error>>,
{
    let Attempts {
        policy,
        clock,
        provider,
        timeout,
        closed,
        what,
    } = attempts;
    let started = clock.now();
    let mut delay = policy.base_delay;
    let mut count = 1;
    loop {
        let elapsed = clock.now().saturating_duration_since(started);
        let timeout = timeout
            .min(policy.budget.saturating_sub(elapsed))
            .max(Duration::from_millis(1));
        if closed.load(Ordering::Acquire) {
            return Err(OAuth2Error::ShuttingDown {
                provider: provider.to_owned(),
            });
        }
        if what == TOKEN {
            // The field of the `token_request` span this runs in.
            tracing::Span::current().record("attempts", count);
        }
        let error = match attempt(timeout).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if count >= policy.max_attempts.max(1) || !error.is_unavailable() {
            return Err(error);
        }
        delay = policy.next_delay(delay);
        let wait = match error.retry_after() {
            Some(asked) => {
                if asked > policy.max_retry_after {
                    tracing::warn!(
                        provider,
                        request = what,
                        retry_after_ms = asked.as_millis() as u64,
                        "server asks to wait longer than allowed; not retrying"
                    );
                    return Err(error);
                }
                // What the server asked for, plus at most one base delay of
                // the backoff's jitter so that clients do not return together.
                asked + delay.min(policy.base_delay)
            }
            None => delay,
        };
        let elapsed = clock.now().saturating_duration_since(started);
        if elapsed + wait >= policy.budget {
            return Err(error);
        }
        tracing::info!(
            provider,
            request = what,
            attempt = count,
            code = error.code(),
            status = error.status().map(|s| s.as_u16()),
            wait_ms = wait.as_millis() as u64,
            "request failed; retrying"
        );
        if what == TOKEN {
            names::token_request_retry(provider);
        }
        clock.sleep(wait).await;
        count += 1;
    }
}

pub(crate) fn retryable_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

/// The wait a `Retry-After` header asks for (RFC 9110 §10.2.3): delay
/// seconds, or an HTTP-date measured against the wall clock.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(86_400)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_base_and_cap() {
        let policy = RetryPolicy::default();
        let mut previous = policy.base_delay;
        for _ in 0..1000 {
            let next = policy.next_delay(previous);
            assert!(
                next >= policy.base_delay && next <= policy.max_delay,
                "{next:?}"
            );
            assert!(next <= (previous * 3).max(policy.base_delay));
            previous = next;
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(61));
        headers.insert(RETRY_AFTER, in_a_minute.parse().expect("header"));
        let wait = retry_after(&headers).expect("date");
        assert!(
            wait > Duration::from_secs(58) && wait <= Duration::from_secs(61),
            "{wait:?}"
        );
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("header"),
        );
        assert_eq!(
            retry_after(&headers),
            Some(Duration::ZERO),
            "a past date means now"
        );
        headers.insert(RETRY_AFTER, "soon".parse().expect("header"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        let endpoint = |status: u16| OAuth2Error::TokenEndpointError {
            provider: "p".into(),
            status: StatusCode::from_u16(status).expect("status"),
            body: Default::default(),
            retry_after: None,
        };
        for status in [500, 502, 503, 504, 408, 429] {
            assert!(endpoint(status).is_unavailable(), "{status}");
        }
        for status in [400, 401, 403, 404] {
            assert!(!endpoint(status).is_unavailable(), "{status}");
        }
        let invalid = OAuth2Error::invalid_response("p", StatusCode::OK, "x");
        assert!(!invalid.is_unavailable());
    }
}
