//! [`RedisStore`]: the [`TokenStore`] on Redis (feature `redis`).
//!
//! One multiplexed connection per store ([`ConnectionManager`]), opened on
//! the first call and re-opened in the background when it is lost. Every
//! call is bounded by the configured timeout (50 ms by default) and passes
//! a circuit breaker: after a run of failures or time-outs calls fail at
//! once for the cool-down, then one probe decides. A Redis that is down,
//! slow or refusing writes costs a caller at most the timeout, and nothing
//! once the breaker is open.
//!
//! What is written under a token key is
//!
//! ```text
//! fingerprint (16 bytes) | sealed token (see EncryptionKeys)
//! ```
//!
//! The fingerprint stays in clear so that a Lua script can compare it for
//! [`delete_if`](TokenStore::delete_if); it is part of the seal's
//! associated data, with the key, so it cannot be swapped. The key's TTL
//! is the token's remaining life (`SET … PX`). A lease is
//! `SET <lease key> <owner> NX PX <ttl>`, released by a compare-and-delete
//! script.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::cipher::EncryptionKeys;
use super::error::StoreError;
use super::lease_owner::LeaseOwner;
use super::store_config::StoreConfig;
use super::store_key::{Namespace, StoreKey};
use super::stored_token::{FINGERPRINT_LEN, StoredToken, unix_millis};
use super::token_store::TokenStore;
use crate::http_signature::BoxFuture;
use crate::oauth2::Breaker;

/// Deletes `KEYS[1]` if its value starts with the fingerprint `ARGV[1]`.
const DELETE_IF_FINGERPRINT: &str = r"
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, 16) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Sets the lease `KEYS[1]` to expire `ARGV[2]` ms from now if `ARGV[1]`
/// holds it.
const RENEW_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Deletes the lease `KEYS[1]` if `ARGV[1]` holds it.
const RELEASE_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A [`TokenStore`] on Redis: tokens sealed with XChaCha20-Poly1305, every
/// call bounded in time and behind a circuit breaker.
///
/// ```no_run
/// # async fn run() -> Result<(), axum_oauth2_client::store::StoreError> {
/// use axum_oauth2_client::store::{RedisStore, StoreConfig};
///
/// if let Some(config) = StoreConfig::from_env()? {
///     let store = RedisStore::new(config)?;
///     // shared as Arc<dyn TokenStore>
/// }
/// # Ok(()) }
/// ```
pub struct RedisStore {
    manager: ConnectionManager,
    keys: EncryptionKeys,
    namespace: Namespace,
    timeout: Duration,
    poll_interval: Duration,
    lease_ttl: Duration,
    breaker: Breaker,
    shown_url: String,
    delete_if: redis::Script,
    renew: redis::Script,
    release: redis::Script,
}

impl RedisStore {
    /// A store for `config`. Connects lazily: a Redis that is down at
    /// start-up makes calls fail (fast, once the breaker opens), not this.
    /// Must be called inside a Tokio runtime.
    pub fn new(config: StoreConfig) -> Result<Self, StoreError> {
        let invalid = || {
            StoreError::invalid(
                "redis URL",
                "cannot be used: check its scheme, host, port, database and TLS settings",
            )
        };
        let client = redis::Client::open(config.url.expose_secret()).map_err(|_| invalid())?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            // The store bounds each call itself; one reconnection attempt
            // per lost connection, then the next call tries again.
            .set_response_timeout(None)
            .set_number_of_retries(0);
        let manager = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|_| invalid())?;
        Ok(Self {
            manager,
            keys: config.keys,
            namespace: config.namespace,
            timeout: config.timeout,
            poll_interval: config.poll_interval,
            lease_ttl: config.lease_ttl,
            breaker: Breaker::named(config.breaker, "token store"),
            shown_url: config.shown_url,
            delete_if: redis::Script::new(DELETE_IF_FINGERPRINT),
            renew: redis::Script::new(RENEW_LEASE),
            release: redis::Script::new(RELEASE_LEASE),
        })
    }

    /// Runs one Redis call within the time bound, through the breaker.
    async fn call<T>(
        &self,
        op: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let pass = self
            .breaker
            .admit(Instant::now())
            .map_err(|retry_in| StoreError::BreakerOpen { retry_in })?;
        let outcome = tokio::time::timeout(self.timeout, op).await;
        let failed = !matches!(outcome, Ok(Ok(_)));
        pass.record(Instant::now(), failed);
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(StoreError::unavailable(e)),
            Err(_) => Err(StoreError::Timeout {
                after: self.timeout,
            }),
        }
    }

    /// Runs one of the compare-and-act scripts on `key` with `args`: true
    /// when the comparison held and the script acted.
    async fn compare_and(
        &self,
        script: &redis::Script,
        key: &str,
        args: &[&[u8]],
    ) -> Result<bool, StoreError> {
        let mut conn = self.manager.clone();
        let mut invocation = script.key(key);
        for arg in args {
            invocation.arg(*arg);
        }
        let acted: i64 = self.call(invocation.invoke_async(&mut conn)).await?;
        Ok(acted == 1)
    }

    /// The associated data of a token's seal: its key and fingerprint.
    fn aad(key: &StoreKey, fingerprint: &[u8; FINGERPRINT_LEN]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(key.token_key().len() + 1 + FINGERPRINT_LEN);
        aad.extend_from_slice(key.token_key().as_bytes());
        aad.push(0);
        aad.extend_from_slice(fingerprint);
        aad
    }

    fn seal(&self, key: &StoreKey, token: &StoredToken) -> Vec<u8> {
        let fingerprint = token.fingerprint();
        let sealed = self
            .keys
            .seal(&Self::aad(key, fingerprint), &token.encode());
        let mut value = Vec::with_capacity(FINGERPRINT_LEN + sealed.len());
        value.extend_from_slice(fingerprint);
        value.extend_from_slice(&sealed);
        value
    }

    /// The token in a stored value; `None` (logged, without the value) if
    /// it does not open or parse, and silently if it has expired.
    fn open(&self, key: &StoreKey, value: &[u8]) -> Option<StoredToken> {
        let unreadable = |reason: &str| {
            tracing::warn!(
                key = %key,
                reason,
                "shared token cannot be read; treated as a miss"
            );
        };
        let Some((fingerprint, sealed)) = value.split_first_chunk::<FINGERPRINT_LEN>() else {
            unreadable("truncated");
            return None;
        };
        let plaintext = match self.keys.open(&Self::aad(key, fingerprint), sealed) {
            Ok(plaintext) => plaintext,
            Err(e) => {
                unreadable(e.as_str());
                return None;
            }
        };
        let Some(token) = StoredToken::decode(&plaintext) else {
            unreadable("not a stored token");
            return None;
        };
        if token.fingerprint() != fingerprint {
            unreadable("fingerprint mismatch");
            return None;
        }
        (token.expires_at_millis() > unix_millis(SystemTime::now())).then_some(token)
    }
}

/// Milliseconds for `PX`: at least 1, since Redis refuses 0.
fn px(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl TokenStore for RedisStore {
    fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    fn get<'a>(
        &'a self,
        key: &'a StoreKey,
    ) -> BoxFuture<'a, Result<Option<StoredToken>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.manager.clone();
            let value: Option<Vec<u8>> = self
                .call(
                    redis::cmd("GET")
                        .arg(key.token_key())
                        .query_async(&mut conn),
                )
                .await?;
            Ok(value.and_then(|value| self.open(key, &value)))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a StoreKey,
        token: &'a StoredToken,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let ttl = ttl.min(token.remaining(SystemTime::now()));
            if ttl < Duration::from_millis(1) {
                return Ok(());
            }
            let value = self.seal(key, token);
            let mut conn = self.manager.clone();
            self.call(
                redis::cmd("SET")
                    .arg(key.token_key())
                    .arg(value)
                    .arg("PX")
                    .arg(px(ttl))
                    .query_async::<()>(&mut conn),
            )
            .await
        })
    }

    fn delete_if<'a>(
        &'a self,
        key: &'a StoreKey,
        fingerprint: &'a [u8; FINGERPRINT_LEN],
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            self.compare_and(&self.delete_if, key.token_key(), &[&fingerprint[..]])
                .await
        })
    }

    fn try_lease<'a>(
        &'a self,
        key: &'a StoreKey,
        owner: &'a LeaseOwner,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut conn = self.manager.clone();
            let taken: Option<String> = self
                .call(
                    redis::cmd("SET")
                        .arg(key.lease_key())
                        .arg(owner.as_str())
                        .arg("NX")
                        .arg("PX")
                        .arg(px(ttl))
                        .query_async(&mut conn),
                )
                .await?;
            Ok(taken.is_some())
        })
    }

    fn renew<'a>(
        &'a self,
        key: &'a StoreKey,
        owner: &'a LeaseOwner,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let ms = px(ttl).to_string();
            self.compare_and(
                &self.renew,
                key.lease_key(),
                &[owner.as_str().as_bytes(), ms.as_bytes()],
            )
            .await
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a StoreKey,
        owner: &'a LeaseOwner,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            self.compare_and(&self.release, key.lease_key(), &[owner.as_str().as_bytes()])
                .await
        })
    }

    /// Polls every `poll_interval` (20 ms by default), one `MGET` of the
    /// token and the lease each time, until a token other than `seen` is
    /// there, the lease is gone or `deadline` passes.
    fn wait_for<'a>(
        &'a self,
        key: &'a StoreKey,
        seen: Option<&'a [u8; FINGERPRINT_LEN]>,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Option<StoredToken>, StoreError>> {
        Box::pin(async move {
            // A value that did not open is not opened (and logged) again.
            let mut unreadable: Option<[u8; FINGERPRINT_LEN]> = None;
            loop {
                let mut conn = self.manager.clone();
                let (value, lease): (Option<Vec<u8>>, Option<Vec<u8>>) = self
                    .call(
                        redis::cmd("MGET")
                            .arg(key.token_key())
                            .arg(key.lease_key())
                            .query_async(&mut conn),
                    )
                    .await?;
                let skipped = |value: &Vec<u8>| {
                    seen.is_some_and(|seen| value.starts_with(seen))
                        || unreadable.is_some_and(|bad| value.starts_with(&bad))
                };
                if let Some(value) = value.filter(|value| !skipped(value)) {
                    match self.open(key, &value) {
                        Some(token) => return Ok(Some(token)),
                        None => unreadable = value.first_chunk().copied(),
                    }
                }
                let now = Instant::now();
                if lease.is_none() || now >= deadline {
                    return Ok(None);
                }
                tokio::time::sleep(self.poll_interval.min(deadline - now)).await;
            }
        })
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.shown_url)
            .field("namespace", &self.namespace)
            .field("keys", &self.keys)
            .field("timeout", &self.timeout)
            .field("lease_ttl", &self.lease_ttl)
            .finish_non_exhaustive()
    }
}
