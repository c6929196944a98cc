//! One cache entry's single flight, [`Slot`]: expiry, background refresh
//! and the one token request in flight.
//!
//! A provider's own token lives in its slot for good; a keyed token (an
//! exchanged one, one with per-call parameters: a SHA-256 digest of the
//! request's fields, see [`digest`](super::key::digest)) lives in the
//! keyed map and has a slot only while it needs one
//! ([`keyed`](super::keyed)). A slot keeps its current token in an
//! [`ArcSwapOption`], so a hit on it is one atomic load and a read of the
//! clock's cheap upper bound ([`Clock::now_upper_bound`]; the exact clock
//! only near `refresh_at`): it takes no lock, in particular none that a
//! refresh holds. Writers (a finished token request, a refusal after a
//! 401, `clear_cache`) serialise on the slot's small `flight` mutex, which
//! is never held across an `.await`.
//!
//! What every slot of a provider shares (the clock, the provider's name,
//! its cache counts) is lent by the owner on each call ([`Owner`]), and
//! the state of a token request lives in a box that exists only while one
//! runs (or while a forced refresh is remembered). A keyed slot exists
//! only while its key needs one and writes its key's token into the keyed
//! map ([`Home`], see [`keyed`](super::keyed)).
//!
//! Timing, with `refresh_at = expires_at - buffer`:
//!
//! * before `refresh_at`: the cached token is returned;
//! * between `refresh_at` and `expires_at`: the cached token is returned at
//!   once and one background refresh is started (if none runs and the last
//!   failed refresh is not too recent);
//! * missing or expired: the caller waits on the slot's single in-flight
//!   request, started by the first such caller.
//!
//! The token request runs in its own task, so a caller that gives up (a
//! dropped future, a request timeout) cancels neither the request nor the
//! other waiters. A failure is handed to every waiter and leaves the slot
//! clean: the next call starts a new request. So does a panic inside the
//! request (a clock, a signer, a test stub) or a cancelled task: the
//! waiters get `internal`, and nothing stays behind that would keep later
//! callers waiting on a request that no longer runs.
//!
//! A token the upstream refused (401) is dropped at most once per
//! `forced_refresh_interval` ([`Slot::refused`]): an upstream that refuses
//! every token cannot turn every call into a token request, nor keep
//! taking away the token that the provider's other upstreams accept.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

use super::key::{CacheKey, NEXT_TOKEN_ID, TokenId};
use super::keyed::Home;
#[cfg(test)]
use crate::oauth2::cache::token::AccessToken;
use crate::oauth2::cache::token::TokenData;
use crate::oauth2::error::OAuth2Error;
use crate::oauth2::telemetry::{CacheCounts, names};
use crate::oauth2::time::clock::Clock;

/// After a background refresh fails, how long the slot waits before trying
/// again while its token is still valid.
pub(crate) const REFRESH_RETRY_DELAY: Duration = Duration::from_secs(1);

type FlightResult = Result<Arc<TokenData>, OAuth2Error>;
type Flight = Shared<BoxFuture<'static, FlightResult>>;

/// The token request a slot should make when it needs a token.
pub(crate) type Request = BoxFuture<'static, Result<TokenData, OAuth2Error>>;

/// What a slot's owner lends it on every call, so that no slot keeps a
/// copy: the clock, the provider's name for logs, errors and metrics, and
/// the provider's cache counts.
#[derive(Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub(crate) clock: &'a Arc<dyn Clock>,
    pub(crate) provider: &'a Arc<str>,
    /// What the provider's slots served, counted per thread.
    pub(crate) counts: &'a CacheCounts,
}

/// One cache entry: the current token and the request in flight, if any.
pub(crate) struct Slot {
    current: ArcSwapOption<TokenData>,
    /// The in-flight request and the forced-refresh budget; `None` when
    /// neither is there, which is most of the time.
    flight: Mutex<Option<Box<FlightState>>>,
    /// No background refresh before this instant, in nanoseconds after the
    /// cached token's `refresh_at` (0: none pending). Relative to the token
    /// so that no base instant need be stored per slot.
    retry_not_before: AtomicU64,
    /// When a keyed slot was last asked for, for eviction (a stamp from
    /// the service; the provider's own slot is never evicted).
    last_used: AtomicU64,
    key: CacheKey,
    /// Set while a request is in flight: lets hits in the refresh window
    /// skip the mutex.
    refreshing: AtomicBool,
    /// Whether tokens are stored once per core ([`TokenData::per_core`]):
    /// for the provider's own token, which every caller asks for.
    per_core: bool,
    /// Where a keyed slot writes its key's token.
    home: Option<Home>,
    /// Set, with the flight lock held, once a keyed slot was taken out of
    /// its map by eviction or `clear_cache`: it writes no token there.
    detached: AtomicBool,
}

/// What the slot's writers serialise on, while there is any.
#[derive(Default)]
struct FlightState {
    /// The in-flight request and its number. A request whose number is no
    /// longer here (the slot was cleared since it started) answers its
    /// waiters but does not store its token.
    running: Option<(u64, Flight)>,
    /// When a 401 last made the slot drop its token.
    last_forced: Option<Instant>,
}

/// The source of the numbers of token requests.
static NEXT_FLIGHT: AtomicU64 = AtomicU64::new(1);

/// Nanoseconds from `base` to `at` (0 when `at` is earlier).
fn nanos_after(base: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX)
}

impl Slot {
    /// A slot for `key`; with `per_core`, each token it stores is kept once
    /// per core (see [`AccessToken`](super::token::AccessToken)).
    pub(crate) fn new(key: CacheKey, per_core: bool) -> Self {
        Self {
            current: ArcSwapOption::empty(),
            flight: Mutex::new(None),
            retry_not_before: AtomicU64::new(0),
            last_used: AtomicU64::new(0),
            key,
            refreshing: AtomicBool::new(false),
            per_core,
            home: None,
            detached: AtomicBool::new(false),
        }
    }

    /// The slot of a keyed entry at `home`, holding the key's `cached`
    /// token if there is one.
    pub(crate) fn keyed(key: CacheKey, home: Home, cached: Option<Arc<TokenData>>) -> Self {
        Self {
            current: ArcSwapOption::new(cached),
            home: Some(home),
            ..Self::new(key, false)
        }
    }

    /// A valid token for this key: from the cache, or from `request` when
    /// none is cached (or it expired). `request` is only called by the one
    /// caller that starts a token request.
    #[cfg(test)]
    pub(crate) async fn get(
        self: &Arc<Self>,
        owner: Owner<'_>,
        request: impl FnOnce() -> Request,
    ) -> Result<AccessToken, OAuth2Error> {
        self.with_token(owner, request, AccessToken::of).await
    }

    /// The hit, decided without waiting: calls `use_token` with the cached
    /// token when its refresh time is ahead even by an upper bound of the
    /// clock ([`Clock::now_upper_bound`], cheaper to read than the exact
    /// clock); hands `use_token` back otherwise.
    ///
    /// Always inlined: it is the whole of a hit, and a call would have its
    /// result (the caller's token or closure) passed through memory.
    #[inline(always)]
    pub(crate) fn try_hit<R, F>(&self, owner: Owner<'_>, use_token: F) -> Result<R, F>
    where
        F: FnOnce(&Arc<TokenData>) -> R,
    {
        let guard = self.current.load();
        match guard.as_ref() {
            Some(token) if owner.clock.now_upper_bound() < token.refresh_at => {
                owner.counts.hit();
                Ok(use_token(token))
            }
            _ => Err(use_token),
        }
    }

    /// Calls `use_token` with a valid token, borrowed from the cache when it
    /// holds one (no reference count is touched), or else once the single
    /// in-flight request for this key has delivered one.
    pub(crate) async fn with_token<R>(
        self: &Arc<Self>,
        owner: Owner<'_>,
        request: impl FnOnce() -> Request,
        use_token: impl FnOnce(&Arc<TokenData>) -> R,
    ) -> Result<R, OAuth2Error> {
        let use_token = match self.try_hit(owner, use_token) {
            Ok(result) => return Ok(result),
            Err(use_token) => use_token,
        };
        let now = owner.clock.now();
        let state = {
            let guard = self.current.load();
            match guard.as_ref() {
                Some(token) if now < token.refresh_at => {
                    owner.counts.hit();
                    return Ok(use_token(token));
                }
                Some(token) if now < token.expires_at() => {
                    owner.counts.stale();
                    Ok((use_token(token), token.refresh_at))
                }
                _ => {
                    owner.counts.miss();
                    Err(use_token)
                }
            }
        };
        match state {
            Ok((result, refresh_at)) => {
                self.refresh_in_background(owner, now, refresh_at, request);
                Ok(result)
            }
            Err(use_token) => {
                // Boxed: waiting is the rare path, and its state would
                // otherwise make every caller's future (moved on each call,
                // hit or not) several hundred bytes larger.
                let token = Box::pin(self.wait(owner, now, request)).await?;
                Ok(use_token(&token))
            }
        }
    }

    /// The cached token, whatever its age, without starting anything.
    #[cfg(test)]
    pub(crate) fn peek(&self) -> Option<Arc<TokenData>> {
        self.current.load_full()
    }

    /// The upstream refused the token `used` (401): drops it so that the
    /// next caller gets a new one, unless a refusal already forced a new
    /// token for this key less than `interval` ago (`Duration::ZERO`: no
    /// bound).
    ///
    /// Returns whether a retry with a newer token may go ahead: `true` when
    /// the token was dropped, or another caller already replaced it;
    /// `false` when the budget is spent, in which case the token stays
    /// cached for the callers whose upstreams accept it. `dropped` is
    /// called with the token when it is dropped.
    pub(crate) fn refused(
        &self,
        owner: Owner<'_>,
        used: TokenId,
        interval: Duration,
        dropped: impl FnOnce(&TokenData),
    ) -> bool {
        let mut state = self.lock();
        let current = self.current.load();
        if !current.as_ref().is_some_and(|c| TokenId::of(c) == used) {
            return true;
        }
        let now = owner.clock.now();
        if let Some(at) = state.as_ref().and_then(|s| s.last_forced)
            && now.saturating_duration_since(at) < interval
        {
            names::forced_refresh(owner.provider, false);
            tracing::info!(
                key = %self.key.named(owner.provider),
                forced_ms_ago = now.saturating_duration_since(at).as_millis() as u64,
                interval_ms = interval.as_millis() as u64,
                "upstream refused the token again within the forced refresh interval; keeping it"
            );
            return false;
        }
        state.get_or_insert_default().last_forced = Some(now);
        if let Some(token) = self.current.swap(None) {
            if let Some(home) = self.home()
                && !self.detached.load(Ordering::Relaxed)
            {
                home.drop_token(&token);
            }
            dropped(&token);
        }
        names::forced_refresh(owner.provider, true);
        tracing::debug!(key = %self.key.named(owner.provider), "cached token dropped after the upstream refused it");
        true
    }

    /// Forgets the cached token; a request in flight still answers its
    /// waiters but no longer fills the cache.
    pub(crate) fn clear(&self) {
        let mut state = self.lock();
        self.current.store(None);
        *state = None;
        self.refreshing.store(false, Ordering::Release);
        self.retry_not_before.store(0, Ordering::Release);
    }

    /// Forgets the cached token, like [`clear`](Self::clear), for a keyed
    /// slot taken out of its map: it no longer writes there.
    pub(crate) fn detach(&self) {
        let mut state = self.lock();
        self.detached.store(true, Ordering::Relaxed);
        self.current.store(None);
        *state = None;
        self.refreshing.store(false, Ordering::Release);
        self.retry_not_before.store(0, Ordering::Release);
    }

    /// Whether the slot has nothing to remember at `now`: no request in
    /// flight, no refusal less than `interval` ago, no refresh backoff.
    pub(crate) fn is_idle(&self, now: Instant, interval: Duration) -> bool {
        // A request in flight answers without the lock.
        if self.refreshing.load(Ordering::Acquire) {
            return false;
        }
        let state = self.lock();
        if self.refreshing.load(Ordering::Acquire) {
            return false;
        }
        if let Some(state) = state.as_ref()
            && (state.running.is_some()
                || state
                    .last_forced
                    .is_some_and(|at| now.saturating_duration_since(at) < interval))
        {
            return false;
        }
        let backoff = self.retry_not_before.load(Ordering::Acquire);
        backoff == 0
            || self
                .current
                .load()
                .as_ref()
                .is_none_or(|t| nanos_after(t.refresh_at, now) >= backoff)
    }

    /// Whether a caller at `now` past the refresh time would start no
    /// refresh: one is in flight, or a failed one's backoff has not run
    /// out. Reads two atomics and the current token; takes no lock.
    pub(crate) fn refresh_pending(&self, now: Instant) -> bool {
        if self.refreshing.load(Ordering::Acquire) {
            return true;
        }
        let backoff = self.retry_not_before.load(Ordering::Acquire);
        backoff != 0
            && self
                .current
                .load()
                .as_ref()
                .is_some_and(|t| nanos_after(t.refresh_at, now) < backoff)
    }

    /// Whether eviction or `clear_cache` took this keyed slot out of its
    /// map.
    pub(crate) fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Relaxed)
    }

    /// Where a keyed slot writes its key's token.
    fn home(&self) -> Option<&Home> {
        self.home.as_ref()
    }

    /// Whether the slot holds a token that is still valid at `clock`'s now.
    pub(crate) fn is_valid(&self, clock: &dyn Clock) -> bool {
        let now = clock.now();
        self.current
            .load()
            .as_ref()
            .is_some_and(|t| t.is_valid(now))
    }

    /// Whether a token request for this key is in flight.
    pub(crate) fn is_busy(&self) -> bool {
        self.refreshing.load(Ordering::Acquire)
    }

    /// Records a use at `stamp` (read first, as [`TokenData::touch`]).
    pub(crate) fn touch(&self, stamp: u64) {
        if self.last_used.load(Ordering::Relaxed) != stamp {
            self.last_used.store(stamp, Ordering::Relaxed);
        }
    }

    pub(crate) fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    fn refresh_in_background(
        self: &Arc<Self>,
        owner: Owner<'_>,
        now: Instant,
        refresh_at: Instant,
        request: impl FnOnce() -> Request,
    ) {
        if self.refreshing.load(Ordering::Acquire)
            || nanos_after(refresh_at, now) < self.retry_not_before.load(Ordering::Acquire)
        {
            return;
        }
        let mut state = self.lock();
        // Checked again under the lock: a refresh that finished since the
        // caller read its token has stored a new one (or set a backoff),
        // and a second refresh now would be one request too many.
        let due = self.current.load().as_ref().is_some_and(|token| {
            token.refresh_at <= now
                && nanos_after(token.refresh_at, now)
                    >= self.retry_not_before.load(Ordering::Acquire)
        });
        if !due {
            return;
        }
        let state = state.get_or_insert_default();
        if state.running.is_none() {
            tracing::debug!(key = %self.key.named(owner.provider), "refreshing token in the background");
            owner.counts.background_refresh();
            state.running = Some(self.start(owner, request));
        }
    }

    async fn wait(
        self: &Arc<Self>,
        owner: Owner<'_>,
        now: Instant,
        request: impl FnOnce() -> Request,
    ) -> FlightResult {
        let flight = {
            let mut state = self.lock();
            // A request may have finished between our load and the lock.
            if let Some(token) = self.current.load().as_ref().filter(|t| t.is_valid(now)) {
                return Ok(Arc::clone(token));
            }
            let state = state.get_or_insert_default();
            match &state.running {
                Some((_, running)) => running.clone(),
                None => {
                    let started = self.start(owner, request);
                    let running = started.1.clone();
                    state.running = Some(started);
                    running
                }
            }
        };
        let _waiting = owner.counts.wait();
        flight.await
    }

    /// Spawns the token request; called with the flight lock held.
    ///
    /// Whatever becomes of the request, [`finish`](Self::finish) runs for
    /// it: a panic inside it is caught in its task, and a task that never
    /// ends (cancelled with its runtime) is finished by the first waiter
    /// that sees it go. Either way the waiters get `internal` and the slot
    /// takes a new request.
    fn start(
        self: &Arc<Self>,
        owner: Owner<'_>,
        request: impl FnOnce() -> Request,
    ) -> (u64, Flight) {
        // Built and spawned before the slot is marked busy: if either
        // panics (a request builder, a caller outside a Tokio runtime),
        // the panic reaches this caller and the slot is left as it was.
        // The task cannot finish before the mark: its `finish` waits for
        // the flight lock this caller holds.
        let work = request();
        let number = NEXT_FLIGHT.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::clone(self);
        let (clock, provider) = (Arc::clone(owner.clock), Arc::clone(owner.provider));
        let task = tokio::spawn(async move {
            let result = match AssertUnwindSafe(work).catch_unwind().await {
                Ok(result) => result,
                // The payload is not shown: it may quote anything.
                Err(_) => Err(internal(&provider, "the token request panicked")),
            };
            let result = slot.finish(&*clock, &provider, number, result);
            let home = slot.home.clone();
            drop(slot);
            if let Some(home) = home {
                home.retire(clock.now());
            }
            result
        });
        self.refreshing.store(true, Ordering::Release);
        // Weak: the flight is stored in the slot, which must not own itself.
        let slot = Arc::downgrade(self);
        let (clock, provider) = (Arc::clone(owner.clock), Arc::clone(owner.provider));
        let flight = async move {
            match task.await {
                Ok(result) => result,
                Err(_) => {
                    let error = internal(&provider, "the token request task was cancelled");
                    let Some(slot) = slot.upgrade() else {
                        return Err(error);
                    };
                    let result = slot.finish(&*clock, &provider, number, Err(error));
                    let home = slot.home.clone();
                    drop(slot);
                    if let Some(home) = home {
                        home.retire(clock.now());
                    }
                    result
                }
            }
        }
        .boxed()
        .shared();
        (number, flight)
    }

    /// Stores the outcome of the request numbered `number`.
    fn finish(
        &self,
        clock: &dyn Clock,
        provider: &str,
        number: u64,
        result: Result<TokenData, OAuth2Error>,
    ) -> FlightResult {
        // Numbered, keyed or copied per core, before the lock is taken.
        let result = result.map(|mut data| {
            data.set_id(NEXT_TOKEN_ID.fetch_add(1, Ordering::Relaxed));
            if let Some(home) = self.home() {
                data.digest = home.digest();
                data.touch(self.last_used());
            }
            Arc::new(if self.per_core { data.per_core() } else { data })
        });
        let mut guard = self.lock();
        let current = guard
            .as_ref()
            .and_then(|s| s.running.as_ref())
            .is_some_and(|(running, _)| *running == number);
        if current {
            self.refreshing.store(false, Ordering::Release);
            // Keep the box only for what outlives the request.
            if guard.as_ref().is_some_and(|s| s.last_forced.is_some()) {
                if let Some(state) = guard.as_mut() {
                    state.running = None;
                }
            } else {
                *guard = None;
            }
        }
        match result {
            Ok(data) => {
                if current {
                    self.current.store(Some(Arc::clone(&data)));
                    self.retry_not_before.store(0, Ordering::Release);
                    if let Some(home) = self.home()
                        && !self.detached.load(Ordering::Relaxed)
                    {
                        home.store(&data);
                    }
                }
                Ok(data)
            }
            Err(error) => {
                let now = clock.now();
                let key = self.key.named(provider);
                if let Some(token) = self.current.load().as_ref().filter(|t| t.is_valid(now)) {
                    let expires_at = token.expires_at();
                    let delay = REFRESH_RETRY_DELAY.min(expires_at - now);
                    self.retry_not_before.store(
                        nanos_after(token.refresh_at, now + delay).max(1),
                        Ordering::Release,
                    );
                    tracing::warn!(
                        key = %key,
                        code = error.code(),
                        error = %error,
                        valid_for_ms = (expires_at - now).as_millis() as u64,
                        "token refresh failed; the cached token is still valid and stays in use"
                    );
                } else {
                    tracing::warn!(key = %key, code = error.code(), error = %error, "token request failed");
                }
                Err(error)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Box<FlightState>>> {
        // Nothing panics while the lock is held; recover rather than poison.
        self.flight.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `internal` for `provider`.
fn internal(provider: &str, reason: &str) -> OAuth2Error {
    OAuth2Error::Internal {
        provider: provider.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::oauth2::cache::Grant;
    use crate::oauth2::cache::test_requests::{self, settle};
    use crate::oauth2::cache::token_header::TokenHeader;
    use crate::oauth2::secret::Secret;
    use crate::oauth2::time::clock::ManualClock;

    struct Fixture {
        clock: Arc<ManualClock>,
        /// The clock the slot is lent (`clock`, or another one).
        slot_clock: Arc<dyn Clock>,
        provider: Arc<str>,
        counts: Arc<CacheCounts>,
        slot: Arc<Slot>,
        requests: Arc<AtomicUsize>,
    }

    impl Fixture {
        fn owner(&self) -> Owner<'_> {
            Owner {
                clock: &self.slot_clock,
                provider: &self.provider,
                counts: &self.counts,
            }
        }
    }

    const KEY: CacheKey = CacheKey {
        grant: Grant::ClientCredentials,
        subject: None,
    };

    fn counts() -> Arc<CacheCounts> {
        Arc::new(CacheCounts::new("p".into()))
    }

    fn fixture() -> Fixture {
        let clock = Arc::new(ManualClock::new());
        Fixture {
            slot: Arc::new(Slot::new(KEY, true)),
            slot_clock: clock.clone(),
            clock,
            provider: "p".into(),
            counts: counts(),
            requests: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// `slot.get` with `f`'s owner, from a task of its own.
    fn spawn_get(
        f: &Fixture,
        request: impl FnOnce() -> Request + Send + 'static,
    ) -> tokio::task::JoinHandle<Result<AccessToken, OAuth2Error>> {
        let (slot, clock, provider) = (f.slot.clone(), f.slot_clock.clone(), f.provider.clone());
        let counts = f.counts.clone();
        tokio::spawn(async move {
            let owner = Owner {
                clock: &clock,
                provider: &provider,
                counts: &counts,
            };
            slot.get(owner, request).await
        })
    }

    fn issue(f: &Fixture) -> impl FnOnce() -> Request + use<> {
        test_requests::issue(&f.clock, &f.requests)
    }

    fn fail(f: &Fixture) -> impl FnOnce() -> Request + use<> {
        test_requests::fail(&f.requests)
    }

    #[tokio::test]
    async fn a_caller_that_saw_the_token_before_a_refresh_ended_starts_no_second_one() {
        let f = fixture();
        let first = f.slot.get(f.owner(), issue(&f)).await.expect("token");
        f.clock.advance(Duration::from_secs(61));
        // A caller reads the stale token's refresh time; before it asks
        // for a refresh, another caller's refresh ends.
        let seen = f.slot.peek().expect("cached").refresh_at;
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("stale")
                .secret(),
            first.secret()
        );
        settle().await;
        assert_eq!(f.requests.load(Ordering::SeqCst), 2);
        assert_eq!(f.slot.peek().expect("refreshed").secret(), "tok-2");
        f.slot
            .refresh_in_background(f.owner(), f.clock.now(), seen, issue(&f));
        settle().await;
        assert_eq!(
            f.requests.load(Ordering::SeqCst),
            2,
            "the new token is not due"
        );
        assert!(!f.slot.is_busy());
    }

    #[test]
    fn a_request_that_cannot_be_spawned_leaves_the_slot_as_it_was() {
        let f = fixture();
        // Outside a Tokio runtime the spawn panics, in this caller.
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
            f.slot.get(f.owner(), issue(&f)).now_or_never()
        }));
        assert!(polled.is_err(), "the spawn panicked");
        assert!(!f.slot.is_busy(), "no request is marked as running");
        // Inside one, the next caller gets its token.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let token = runtime
            .block_on(f.slot.get(f.owner(), issue(&f)))
            .expect("token");
        assert_eq!(token.secret(), "tok-1");
    }

    #[tokio::test]
    async fn hit_before_refresh_at_makes_no_request() {
        let f = fixture();
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("token")
                .secret(),
            "tok-1"
        );
        f.clock.advance(Duration::from_secs(59));
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("token")
                .secret(),
            "tok-1"
        );
        assert_eq!(f.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn refresh_window_serves_cached_token_and_refreshes_once_in_background() {
        let f = fixture();
        f.slot.get(f.owner(), issue(&f)).await.expect("token");
        f.clock.advance(Duration::from_secs(61));
        for _ in 0..5 {
            assert_eq!(
                f.slot
                    .get(f.owner(), issue(&f))
                    .await
                    .expect("token")
                    .secret(),
                "tok-1"
            );
        }
        settle().await;
        assert_eq!(
            f.requests.load(Ordering::SeqCst),
            2,
            "one background refresh"
        );
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("token")
                .secret(),
            "tok-2"
        );
    }

    #[tokio::test]
    async fn the_request_state_is_kept_only_while_it_is_needed() {
        let f = fixture();
        let token = f.slot.get(f.owner(), issue(&f)).await.expect("token");
        assert!(
            f.slot.lock().is_none(),
            "nothing left once the request ended"
        );
        assert!(
            f.slot
                .refused(f.owner(), token.id(), Duration::from_secs(10), |_| {})
        );
        f.slot.get(f.owner(), issue(&f)).await.expect("token");
        let state = f.slot.lock();
        let state = state.as_ref().expect("the forced refresh is remembered");
        assert!(state.running.is_none() && state.last_forced.is_some());
    }

    #[tokio::test]
    async fn expired_token_makes_the_caller_wait_for_a_new_one() {
        let f = fixture();
        f.slot.get(f.owner(), issue(&f)).await.expect("token");
        f.clock.advance(Duration::from_secs(100));
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("token")
                .secret(),
            "tok-2"
        );
    }

    #[tokio::test]
    async fn failed_background_refresh_keeps_serving_and_backs_off() {
        let f = fixture();
        f.slot.get(f.owner(), issue(&f)).await.expect("token");
        f.clock.advance(Duration::from_secs(61));
        assert_eq!(
            f.slot
                .get(f.owner(), fail(&f))
                .await
                .expect("cached")
                .secret(),
            "tok-1"
        );
        settle().await;
        assert_eq!(f.requests.load(Ordering::SeqCst), 2);
        // Within the retry delay: no new attempt, still the old token.
        assert_eq!(
            f.slot
                .get(f.owner(), fail(&f))
                .await
                .expect("cached")
                .secret(),
            "tok-1"
        );
        settle().await;
        assert_eq!(f.requests.load(Ordering::SeqCst), 2);
        // After it, the next call tries again and succeeds.
        f.clock.advance(REFRESH_RETRY_DELAY);
        f.slot.get(f.owner(), issue(&f)).await.expect("cached");
        settle().await;
        assert_eq!(f.requests.load(Ordering::SeqCst), 3);
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("new")
                .secret(),
            "tok-3"
        );
    }

    #[tokio::test]
    async fn failure_on_cold_cache_reaches_the_caller_and_poisons_nothing() {
        let f = fixture();
        let err = f.slot.get(f.owner(), fail(&f)).await.expect_err("fails");
        assert_eq!(err.code(), "token_endpoint_error");
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("retry works")
                .secret(),
            "tok-2"
        );
    }

    #[tokio::test]
    async fn a_refusal_drops_only_the_token_it_names() {
        let f = fixture();
        let first = f.slot.get(f.owner(), issue(&f)).await.expect("token");
        assert!(
            f.slot
                .refused(f.owner(), first.id(), Duration::ZERO, |_| {})
        );
        let second = f.slot.get(f.owner(), issue(&f)).await.expect("token");
        assert_eq!(second.secret(), "tok-2");
        // Stale: tok-2 stays, and the caller may retry with it.
        assert!(
            f.slot
                .refused(f.owner(), first.id(), Duration::ZERO, |_| {})
        );
        assert_eq!(
            f.slot.peek().map(|t| t.secret().to_owned()).as_deref(),
            Some("tok-2")
        );
    }

    #[tokio::test]
    async fn a_refusal_forces_a_new_token_at_most_once_per_interval() {
        let f = fixture();
        let interval = Duration::from_secs(10);
        let first = f.slot.get(f.owner(), issue(&f)).await.expect("token");
        assert!(
            f.slot.refused(f.owner(), first.id(), interval, |_| {}),
            "first refusal"
        );
        let second = f.slot.get(f.owner(), issue(&f)).await.expect("token");
        assert_eq!(f.requests.load(Ordering::SeqCst), 2);

        // Within the interval: the token stays and no request is made.
        f.clock.advance(Duration::from_secs(9));
        assert!(!f.slot.refused(f.owner(), second.id(), interval, |_| {}));
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("kept")
                .secret(),
            "tok-2"
        );
        assert_eq!(f.requests.load(Ordering::SeqCst), 2);

        // After it, one more forced refresh is allowed.
        f.clock.advance(Duration::from_secs(1));
        assert!(f.slot.refused(f.owner(), second.id(), interval, |_| {}));
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("new")
                .secret(),
            "tok-3"
        );
        assert_eq!(f.requests.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_panicking_request_fails_its_waiters_and_leaves_the_slot_clean() {
        let f = fixture();
        let panics = || -> Request { async { panic!("stub panicked") }.boxed() };
        let waiters: Vec<_> = (0..5).map(|_| spawn_get(&f, panics)).collect();
        for waiter in waiters {
            let error = waiter.await.expect("the waiter itself does not panic");
            assert_eq!(error.expect_err("fails").code(), "internal");
        }
        assert!(!f.slot.is_busy(), "no request is left marked in flight");
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("a fresh request")
                .secret(),
            "tok-1"
        );
    }

    #[test]
    fn a_cancelled_request_task_fails_its_waiters_and_leaves_the_slot_clean() {
        let f = fixture();
        // A request that never ends, on a runtime that is then dropped: its
        // task is cancelled without finishing.
        let flight = {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let flight = runtime.block_on(async {
                let never = || -> Request { futures_util::future::pending().boxed() };
                let waiter = spawn_get(&f, never);
                settle().await;
                waiter.abort();
                f.slot
                    .lock()
                    .as_ref()
                    .and_then(|state| state.running.as_ref())
                    .map(|(_, flight)| flight.clone())
            });
            drop(runtime);
            flight.expect("a request is in flight")
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let Err(error) = flight.await else {
                panic!("a cancelled request gives no token")
            };
            assert_eq!(error.code(), "internal");
            assert!(!f.slot.is_busy());
            assert_eq!(
                f.slot
                    .get(f.owner(), issue(&f))
                    .await
                    .expect("fresh")
                    .secret(),
                "tok-1"
            );
        });
    }

    #[tokio::test]
    async fn clear_discards_a_token_from_a_request_started_before() {
        let f = fixture();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let gated = {
            let inner = issue(&f);
            move || {
                async move {
                    let _ = rx.await;
                    inner().await
                }
                .boxed()
            }
        };
        let waiter = spawn_get(&f, gated);
        settle().await;
        f.slot.clear();
        let _ = tx.send(());
        assert_eq!(
            waiter.await.expect("join").expect("token").secret(),
            "tok-1"
        );
        assert!(f.slot.peek().is_none(), "cleared slot stays empty");
    }

    /// A manual clock whose upper bound runs `ahead` of it, counting exact
    /// reads.
    #[derive(Debug)]
    struct AheadClock {
        inner: ManualClock,
        ahead: Duration,
        exact_reads: AtomicUsize,
    }

    impl Clock for AheadClock {
        fn now(&self) -> Instant {
            self.exact_reads.fetch_add(1, Ordering::SeqCst);
            self.inner.now()
        }

        fn now_upper_bound(&self) -> Instant {
            self.inner.now() + self.ahead
        }
    }

    #[tokio::test]
    async fn a_hit_reads_only_the_upper_bound_and_the_exact_clock_decides_near_refresh() {
        let clock = Arc::new(AheadClock {
            inner: ManualClock::new(),
            ahead: Duration::from_millis(8),
            exact_reads: AtomicUsize::new(0),
        });
        let f = Fixture {
            slot: Arc::new(Slot::new(KEY, false)),
            slot_clock: clock.clone(),
            clock: Arc::new(ManualClock::new()),
            provider: "p".into(),
            counts: counts(),
            requests: Arc::new(AtomicUsize::new(0)),
        };
        // The cached token, stamped on the slot's clock (`issue` below only
        // counts the refresh it is asked for).
        let start = clock.inner.now();
        let mut cached = TokenData::new(
            TokenHeader::bearer(&Secret::new(String::from("tok-1"))).expect("header"),
            start + Duration::from_secs(100),
            start + Duration::from_secs(60),
        );
        cached.set_id(1);
        f.slot.current.store(Some(Arc::new(cached)));

        // Well before refresh_at: hits never read the exact clock.
        for _ in 0..100 {
            assert_eq!(
                f.slot
                    .get(f.owner(), issue(&f))
                    .await
                    .expect("hit")
                    .secret(),
                "tok-1"
            );
        }
        assert_eq!(clock.exact_reads.load(Ordering::SeqCst), 0);

        // 5 ms before refresh_at the bound (8 ms ahead) has passed it: the
        // exact clock is read, says it is not yet time, and nothing starts.
        clock
            .inner
            .advance(Duration::from_secs(60) - Duration::from_millis(5));
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("hit")
                .secret(),
            "tok-1"
        );
        settle().await;
        assert_eq!(clock.exact_reads.load(Ordering::SeqCst), 1);
        assert_eq!(f.requests.load(Ordering::SeqCst), 0, "no early refresh");

        // Once the exact clock passes refresh_at, one background refresh.
        clock.inner.advance(Duration::from_millis(5));
        assert_eq!(
            f.slot
                .get(f.owner(), issue(&f))
                .await
                .expect("hit")
                .secret(),
            "tok-1"
        );
        settle().await;
        assert_eq!(f.requests.load(Ordering::SeqCst), 1);
    }
}
