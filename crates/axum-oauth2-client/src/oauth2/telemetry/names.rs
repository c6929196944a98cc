//! The names, labels and descriptions of the metrics the crate records,
//! and the recording of the events that happen off the cache hit path.
//!
//! Names follow the Prometheus conventions: an `oauth2_` prefix, snake
//! case, base units (`_seconds`), `_total` for counters. Label values are
//! bounded: a provider's configured name, a grant name, an error code.
//! Never a URL, a client id, a subject or a token.

use std::time::Duration;

use metrics::{SharedString, Unit};

/// Label: the provider's configured name.
pub(crate) const PROVIDER: &str = "provider";
/// Label: `client_credentials`, `jwt_bearer` or `token_exchange`.
pub(crate) const GRANT: &str = "grant";
/// Label: `ok`, or the error's [`code`](crate::OAuth2Error::code).
pub(crate) const OUTCOME: &str = "outcome";
/// Label: the breaker state entered, `open`, `half_open` or `closed`.
pub(crate) const STATE: &str = "state";
/// Label: the shared store call that failed: `get`, `put`, `lease`,
/// `wait`, `release` or `delete`.
pub(crate) const CALL: &str = "call";

pub(crate) const TOKEN_REQUESTS: &str = "oauth2_token_requests_total";
pub(crate) const TOKEN_REQUEST_DURATION: &str = "oauth2_token_request_duration_seconds";
pub(crate) const TOKEN_REQUEST_RETRIES: &str = "oauth2_token_request_retries_total";
pub(crate) const CACHE_HITS: &str = "oauth2_cache_hits_total";
pub(crate) const CACHE_MISSES: &str = "oauth2_cache_misses_total";
pub(crate) const CACHE_STALE_SERVES: &str = "oauth2_cache_stale_serves_total";
pub(crate) const CACHE_WAITS: &str = "oauth2_cache_waits_total";
pub(crate) const CACHE_WAITERS: &str = "oauth2_cache_waiters";
pub(crate) const CACHE_BACKGROUND_REFRESHES: &str = "oauth2_cache_background_refreshes_total";
pub(crate) const UPSTREAM_401_RETRIES: &str = "oauth2_upstream_401_retries_total";
pub(crate) const FORCED_REFRESHES: &str = "oauth2_forced_refreshes_total";
pub(crate) const FORCED_REFRESHES_DENIED: &str = "oauth2_forced_refreshes_denied_total";
pub(crate) const BREAKER_OPEN: &str = "oauth2_breaker_open";
pub(crate) const BREAKER_TRANSITIONS: &str = "oauth2_breaker_transitions_total";
pub(crate) const STORE_HITS: &str = "oauth2_store_hits_total";
pub(crate) const STORE_MISSES: &str = "oauth2_store_misses_total";
pub(crate) const STORE_ERRORS: &str = "oauth2_store_errors_total";
pub(crate) const STORE_LEASE_WAITS: &str = "oauth2_store_lease_waits_total";

/// A label value for a provider name, sharing its allocation.
pub(crate) fn label(provider: &std::sync::Arc<str>) -> SharedString {
    SharedString::from(std::sync::Arc::clone(provider))
}

/// Gives every metric its unit and help text in the installed recorder.
pub(crate) fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        TOKEN_REQUESTS,
        Unit::Count,
        "Token requests by provider, grant and outcome (ok or the error code), retries included in one request."
    );
    describe_histogram!(
        TOKEN_REQUEST_DURATION,
        Unit::Seconds,
        "Time a token request took, its retries and their waits included."
    );
    describe_counter!(
        TOKEN_REQUEST_RETRIES,
        Unit::Count,
        "Token request attempts that failed transiently and were tried again."
    );
    describe_counter!(
        CACHE_HITS,
        Unit::Count,
        "Calls served a cached token without waiting (stale serves included)."
    );
    describe_counter!(
        CACHE_MISSES,
        Unit::Count,
        "Calls that found no valid cached token."
    );
    describe_counter!(
        CACHE_STALE_SERVES,
        Unit::Count,
        "Calls served a cached token past its refresh time, while its refresh ran or after it failed."
    );
    describe_counter!(
        CACHE_WAITS,
        Unit::Count,
        "Calls that waited on the single token request in flight for their key."
    );
    describe_gauge!(
        CACHE_WAITERS,
        Unit::Count,
        "Calls waiting on a token request now."
    );
    describe_counter!(
        CACHE_BACKGROUND_REFRESHES,
        Unit::Count,
        "Token refreshes started in the background for a token still valid."
    );
    describe_counter!(
        UPSTREAM_401_RETRIES,
        Unit::Count,
        "Upstream requests answered 401 (a DPoP nonce challenge included) and sent once more."
    );
    describe_counter!(
        FORCED_REFRESHES,
        Unit::Count,
        "Cached tokens dropped because an upstream refused them (401)."
    );
    describe_counter!(
        FORCED_REFRESHES_DENIED,
        Unit::Count,
        "401s that found the forced refresh budget spent: the token was kept."
    );
    describe_gauge!(
        BREAKER_OPEN,
        Unit::Count,
        "1 while the provider's circuit breaker refuses token requests (open or half-open), else 0."
    );
    describe_counter!(
        BREAKER_TRANSITIONS,
        Unit::Count,
        "Circuit breaker state changes, by the state entered."
    );
    describe_counter!(
        STORE_HITS,
        Unit::Count,
        "In-process misses served a token another replica published in the shared store."
    );
    describe_counter!(
        STORE_MISSES,
        Unit::Count,
        "In-process misses the shared store could not serve: this replica requested the token."
    );
    describe_counter!(
        STORE_ERRORS,
        Unit::Count,
        "Shared store calls that failed, timed out or met its open breaker, by call."
    );
    describe_counter!(
        STORE_LEASE_WAITS,
        Unit::Count,
        "Waits for the token another replica was requesting under the key's lease."
    );
}

/// What the shared store did for one in-process miss.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StoreEvent {
    /// A token from another replica was used.
    Hit,
    /// This replica requested the token.
    Miss,
    /// This replica waited for a lease holder's token.
    LeaseWait,
}

/// The shared store served `provider` (or did not).
pub(crate) fn store(provider: &str, event: StoreEvent) {
    let name = match event {
        StoreEvent::Hit => STORE_HITS,
        StoreEvent::Miss => STORE_MISSES,
        StoreEvent::LeaseWait => STORE_LEASE_WAITS,
    };
    metrics::counter!(name, PROVIDER => provider.to_owned()).increment(1);
}

/// A shared store `call` for `provider` failed.
pub(crate) fn store_error(provider: &str, call: &'static str) {
    metrics::counter!(STORE_ERRORS, PROVIDER => provider.to_owned(), CALL => call).increment(1);
}

/// A token request ended.
pub(crate) fn token_request(
    provider: &std::sync::Arc<str>,
    grant: &'static str,
    outcome: &'static str,
    took: Duration,
) {
    let provider = label(provider);
    metrics::counter!(TOKEN_REQUESTS, PROVIDER => provider.clone(), GRANT => grant, OUTCOME => outcome)
        .increment(1);
    metrics::histogram!(TOKEN_REQUEST_DURATION, PROVIDER => provider, GRANT => grant)
        .record(took.as_secs_f64());
}

/// A token request attempt is to be tried again.
pub(crate) fn token_request_retry(provider: &str) {
    metrics::counter!(TOKEN_REQUEST_RETRIES, PROVIDER => provider.to_owned()).increment(1);
}

/// An upstream answered 401 and the request goes once more.
pub(crate) fn upstream_401_retry(provider: &str) {
    metrics::counter!(UPSTREAM_401_RETRIES, PROVIDER => provider.to_owned()).increment(1);
}

/// A 401 dropped the cached token (`true`), or found the budget spent.
pub(crate) fn forced_refresh(provider: &std::sync::Arc<str>, dropped: bool) {
    let name = if dropped {
        FORCED_REFRESHES
    } else {
        FORCED_REFRESHES_DENIED
    };
    metrics::counter!(name, PROVIDER => label(provider)).increment(1);
}

/// The breaker of `provider` refuses token requests (`open`) or not.
pub(crate) fn breaker_open(provider: &std::sync::Arc<str>, open: bool) {
    metrics::gauge!(BREAKER_OPEN, PROVIDER => label(provider)).set(f64::from(u8::from(open)));
}

/// The breaker of `provider` entered `state`.
pub(crate) fn breaker_transition(provider: &std::sync::Arc<str>, state: &'static str) {
    metrics::counter!(BREAKER_TRANSITIONS, PROVIDER => label(provider), STATE => state)
        .increment(1);
    breaker_open(provider, state != "closed");
}
