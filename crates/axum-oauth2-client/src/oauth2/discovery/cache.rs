//! [`Discovery`]: one provider's issuer and the last good metadata it
//! published, fetched once, refreshed now and then, shared by every caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use super::fetch::{MetadataRequest, discover};
use super::issuer::Issuer;
use super::metadata::AuthorizationServerMetadata;
use crate::oauth2::error::OAuth2Error;

/// The longest interval honoured, so that `Instant` arithmetic cannot
/// overflow (ten years: never, in practice).
#[cfg(test)]
const LONGEST_INTERVAL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// One provider's metadata discovery (RFC 8414; OpenID Connect Discovery
/// 1.0).
///
/// * The first call fetches the metadata; concurrent callers wait on that
///   one fetch (single flight) and all get its outcome, metadata or error.
///   An error is not kept: the next call fetches again.
/// * The metadata is then served from memory for `refresh_interval`
///   (default 24 h), measured on the provider's [`Clock`](crate::Clock)
///   from the moment it arrived; metadata that failed a check is never
///   stored.
/// * Past that, one caller refreshes it while the others keep getting the
///   metadata they had. When the refresh fails, the old metadata stays in
///   use (a warning is logged) and the next refresh is tried
///   `retry_interval` later (default 1 min), so that a server that is down
///   is not asked on every call.
///
/// No lock is held across an await but the flight's own, which only the
/// fetching caller holds and which the fetch never takes again.
#[derive(Debug)]
pub(crate) struct Discovery {
    issuer: Issuer,
    allow_insecure_http: bool,
    refresh_interval: Duration,
    retry_interval: Duration,
    current: ArcSwapOption<Fetched>,
    /// Held by the one caller that fetches.
    flight: tokio::sync::Mutex<()>,
    /// Fetches ended, so that a caller that waited for the flight knows
    /// whether one ended meanwhile and its outcome is the caller's too.
    ended: AtomicU64,
    /// The error of the last fetch, when it failed with nothing to fall
    /// back on: what the callers that waited for it get, and, when it is
    /// no passing failure (a mismatched issuer, unusable metadata), what
    /// every caller gets until the instant with it, without a request.
    last_error: Mutex<Option<(OAuth2Error, Instant)>>,
}

/// Metadata that passed its checks, and when to fetch it again.
#[derive(Debug)]
struct Fetched {
    metadata: Arc<AuthorizationServerMetadata>,
    refresh_at: Instant,
}

impl Discovery {
    /// The default time metadata is served before it is fetched again.
    pub(crate) const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(24 * 3600);
    /// The default wait after a failed refresh before the next one.
    pub(crate) const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(60);

    /// Discovery for the issuer `issuer`, checked as RFC 8414 §2 requires
    /// (an `https` URL without query or fragment; `http` on loopback or
    /// with `allow_insecure_http`, which also applies to the endpoints the
    /// metadata names). The error says what is wrong with the issuer, for
    /// a configuration error that names the variable.
    ///
    /// Defaults: metadata refreshed every 24 h, a failed refresh retried
    /// after 1 min.
    pub(crate) fn new(issuer: &str, allow_insecure_http: bool) -> Result<Self, &'static str> {
        Ok(Self {
            issuer: Issuer::parse(issuer, allow_insecure_http)?,
            allow_insecure_http,
            refresh_interval: Self::DEFAULT_REFRESH_INTERVAL,
            retry_interval: Self::DEFAULT_RETRY_INTERVAL,
            current: ArcSwapOption::empty(),
            flight: tokio::sync::Mutex::new(()),
            ended: AtomicU64::new(0),
            last_error: Mutex::new(None),
        })
    }

    #[cfg(test)]
    /// How long metadata is served before it is fetched again.
    #[must_use]
    pub(crate) fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval.min(LONGEST_INTERVAL);
        self
    }

    #[cfg(test)]
    /// How long after a failed refresh the next one is tried.
    #[must_use]
    pub(crate) fn retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval.min(LONGEST_INTERVAL);
        self
    }

    #[cfg(test)]
    /// The issuer as configured.
    pub(crate) fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    #[cfg(test)]
    /// The metadata held, fresh or not, without fetching.
    pub(crate) fn cached(&self) -> Option<Arc<AuthorizationServerMetadata>> {
        self.current
            .load()
            .as_ref()
            .map(|fetched| Arc::clone(&fetched.metadata))
    }

    /// The issuer's metadata: the one held while it is fresh, else fetched
    /// (see the type's documentation for the single flight and what a
    /// failed refresh does). Only a fetch with no metadata to fall back on
    /// fails: `discovery_request_failed` and `discovery_failed` (which
    /// answer [`is_unavailable`](OAuth2Error::is_unavailable) when the
    /// failure is transient), `invalid_metadata`, `issuer_mismatch`, or
    /// `shutting_down`.
    pub(crate) async fn metadata(
        &self,
        request: &MetadataRequest<'_>,
    ) -> Result<Arc<AuthorizationServerMetadata>, OAuth2Error> {
        let held = self.current.load_full();
        if let Some(fetched) = &held
            && request.clock.now() < fetched.refresh_at
        {
            return Ok(Arc::clone(&fetched.metadata));
        }
        if held.is_none()
            && let Some((error, until)) = self.lock_last_error().as_ref()
            && !error.is_unavailable()
            && request.clock.now() < *until
        {
            // A document that is wrong stays wrong for a while: asking on
            // every token request would only load the issuer. A passing
            // failure is the breaker's to pace.
            return Err(error.clone());
        }
        let seen = self.ended.load(Ordering::Acquire);
        let _flight = match (self.flight.try_lock(), held) {
            (Ok(flight), _) => flight,
            // Stale: another caller is refreshing it; this one need not wait.
            (Err(_), Some(stale)) => return Ok(Arc::clone(&stale.metadata)),
            (Err(_), None) => self.flight.lock().await,
        };

        // A fetch may have ended while this caller waited, or just before
        // it took the flight: its outcome is this caller's too.
        let held = self.current.load_full();
        if let Some(fetched) = &held {
            if request.clock.now() < fetched.refresh_at
                || self.ended.load(Ordering::Acquire) != seen
            {
                return Ok(Arc::clone(&fetched.metadata));
            }
        } else if self.ended.load(Ordering::Acquire) != seen
            && let Some((error, _)) = self.lock_last_error().clone()
        {
            return Err(error);
        }

        let result = discover(request, &self.issuer, self.allow_insecure_http).await;
        let now = request.clock.now();
        let outcome = match (result, held) {
            (Ok(metadata), _) => {
                let metadata = Arc::new(metadata);
                self.current.store(Some(Arc::new(Fetched {
                    metadata: Arc::clone(&metadata),
                    refresh_at: now + self.refresh_interval,
                })));
                *self.lock_last_error() = None;
                Ok(metadata)
            }
            (Err(error), Some(stale)) => {
                tracing::warn!(
                    provider = request.provider,
                    code = error.code(),
                    error = %error.chain(),
                    retry_in_ms = self.retry_interval.as_millis() as u64,
                    "refreshing the authorization server metadata failed; keeping the metadata held"
                );
                self.current.store(Some(Arc::new(Fetched {
                    metadata: Arc::clone(&stale.metadata),
                    refresh_at: now + self.retry_interval,
                })));
                Ok(Arc::clone(&stale.metadata))
            }
            (Err(error), None) => {
                *self.lock_last_error() = Some((error.clone(), now + self.retry_interval));
                Err(error)
            }
        };
        self.ended.fetch_add(1, Ordering::Release);
        outcome
    }

    fn lock_last_error(&self) -> std::sync::MutexGuard<'_, Option<(OAuth2Error, Instant)>> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner())
    }
}
