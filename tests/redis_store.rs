//! `RedisStore` against a real `redis-server` (tests/common/redis_server.rs):
//! sealing and key rotation, compare-and-delete, leases, TTLs, what an
//! attacker with access to Redis sees, and behaviour when Redis is killed,
//! paused, full or restarted.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum_oauth2_client::store::{
    EncryptionKeys, LeaseOwner, Namespace, RedisStore, StoreConfig, StoreError, StoreKey,
    StoredToken, TokenStore, TokenType, fingerprint,
};
use axum_oauth2_client::{BreakerPolicy, Secret};
use base64::Engine as _;
use common::redis_server::RedisServer;
use sha2::{Digest as _, Sha256};

/// "Does not hang": far above the 50 ms bound, far below a hang.
const FAST: Duration = Duration::from_millis(500);

fn key_bytes(byte: u8) -> [u8; 32] {
    [byte; 32]
}

fn keys(list: &[u8]) -> EncryptionKeys {
    let list: Vec<[u8; 32]> = list.iter().map(|b| key_bytes(*b)).collect();
    EncryptionKeys::from_bytes(&list).expect("keys")
}

fn store(server: &RedisServer, keys: EncryptionKeys) -> RedisStore {
    RedisStore::new(StoreConfig::new(&server.url(), keys).expect("config")).expect("store")
}

fn key(provider: &str) -> StoreKey {
    StoreKey::builder(&Namespace::default(), provider).build()
}

fn token(value: &str, lifetime: Duration) -> StoredToken {
    let now = SystemTime::now();
    StoredToken::new(Secret::new(value), TokenType::Bearer, now, now + lifetime)
}

async fn connection(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

/// A key file in the temporary directory, removed on drop.
struct KeyFile(std::path::PathBuf);

impl KeyFile {
    fn new(keys: &[u8]) -> Self {
        let text: String = keys
            .iter()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(key_bytes(*b)) + "\n")
            .collect();
        let path = std::env::temp_dir().join(format!(
            "oauth2-redis-keys-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::write(&path, text).expect("write the key file");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8")
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn a_put_token_reads_back_with_every_field() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = store(&server, keys(&[1]));
    let key = key("payments");
    assert!(store.get(&key).await.expect("get").is_none());

    let now = SystemTime::now();
    let put = StoredToken::new(
        Secret::new("tok-round-trip"),
        TokenType::DPoP,
        now,
        now + Duration::from_secs(600),
    )
    .with_scope("read write")
    .with_issued_token_type("urn:ietf:params:oauth:token-type:access_token");
    store
        .put(&key, &put, Duration::from_secs(600))
        .await
        .expect("put");

    let got = store.get(&key).await.expect("get").expect("a hit");
    assert_eq!(got.token().expose_secret(), "tok-round-trip");
    assert_eq!(got.token_type(), TokenType::DPoP);
    assert_eq!(got.scope(), Some("read write"));
    assert_eq!(
        got.issued_token_type(),
        Some("urn:ietf:params:oauth:token-type:access_token")
    );
    assert_eq!(got.expires_at_millis(), put.expires_at_millis());
    assert_eq!(got.issued_at_millis(), put.issued_at_millis());
    assert_eq!(got.fingerprint(), put.fingerprint());
    assert!(store.get(&self::key("other")).await.expect("get").is_none());
}

#[tokio::test]
async fn a_value_sealed_under_another_key_is_a_miss_until_rotation_adds_it() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let key = key("payments");
    let with_b = store(&server, keys(&[0xb]));
    with_b
        .put(
            &key,
            &token("tok-under-b", Duration::from_secs(60)),
            Duration::from_secs(60),
        )
        .await
        .expect("put");

    let with_a = store(&server, keys(&[0xa]));
    assert!(
        with_a
            .get(&key)
            .await
            .expect("a miss, not an error")
            .is_none(),
        "a store without key B cannot read it"
    );

    // Rotation: A is the new first key, B still opens; read from the
    // environment as a deployment would configure it.
    let file = KeyFile::new(&[0xa, 0xb]);
    let config = StoreConfig::from_vars([
        ("OAUTH2_CACHE_REDIS_URL", server.url()),
        ("OAUTH2_CACHE_ENCRYPTION_KEY_FILE", file.path().to_owned()),
    ])
    .expect("valid")
    .expect("configured");
    let rotated = RedisStore::new(config).expect("store");
    let got = rotated
        .get(&key)
        .await
        .expect("get")
        .expect("B still opens");
    assert_eq!(got.token().expose_secret(), "tok-under-b");

    // What the rotated store writes, the old one (B only) cannot read.
    rotated
        .put(
            &key,
            &token("tok-under-a", Duration::from_secs(60)),
            Duration::from_secs(60),
        )
        .await
        .expect("put");
    assert!(with_b.get(&key).await.expect("get").is_none());
    assert!(with_a.get(&key).await.expect("get").is_some());
}

#[tokio::test]
async fn a_value_copied_to_another_key_is_refused() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = store(&server, keys(&[1]));
    let (mine, theirs) = (key("mine"), key("theirs"));
    store
        .put(
            &mine,
            &token("tok-mine", Duration::from_secs(60)),
            Duration::from_secs(60),
        )
        .await
        .expect("put");

    let mut conn = connection(&server).await;
    let value: Vec<u8> = redis::cmd("GET")
        .arg(mine.token_key())
        .query_async(&mut conn)
        .await
        .expect("raw get");
    let () = redis::cmd("SET")
        .arg(theirs.token_key())
        .arg(&value)
        .query_async(&mut conn)
        .await
        .expect("raw set");

    assert!(store.get(&theirs).await.expect("get").is_none());
    assert!(store.get(&mine).await.expect("get").is_some());
}

#[tokio::test]
async fn an_unreadable_value_is_a_miss_and_the_next_put_replaces_it() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = store(&server, keys(&[1]));
    let key = key("payments");
    let mut conn = connection(&server).await;
    for garbage in [
        &b"x"[..],
        &[0u8; 80][..],
        b"not a sealed value at all, just text......",
    ] {
        let () = redis::cmd("SET")
            .arg(key.token_key())
            .arg(garbage)
            .query_async(&mut conn)
            .await
            .expect("raw set");
        assert!(store.get(&key).await.expect("a miss").is_none());
    }
    store
        .put(
            &key,
            &token("tok-fresh", Duration::from_secs(60)),
            Duration::from_secs(60),
        )
        .await
        .expect("put");
    assert!(store.get(&key).await.expect("get").is_some());
}

#[tokio::test]
async fn delete_if_deletes_only_the_token_with_that_fingerprint() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = store(&server, keys(&[1]));
    let key = key("payments");
    let current = token("tok-current", Duration::from_secs(60));
    store
        .put(&key, &current, Duration::from_secs(60))
        .await
        .expect("put");

    // A replica that was refused an older token must not delete the new one.
    assert!(
        !store
            .delete_if(&key, &fingerprint("tok-older"))
            .await
            .expect("delete_if")
    );
    assert!(store.get(&key).await.expect("get").is_some());

    assert!(
        store
            .delete_if(&key, current.fingerprint())
            .await
            .expect("delete_if")
    );
    assert!(store.get(&key).await.expect("get").is_none());
    assert!(
        !store
            .delete_if(&key, current.fingerprint())
            .await
            .expect("delete_if"),
        "nothing left to delete"
    );
}

#[tokio::test]
async fn only_one_of_many_concurrent_leases_wins() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // Every contender is its own replica: its own store and connection.
    let stores: Vec<Arc<RedisStore>> = (0..8)
        .map(|_| Arc::new(store(&server, keys(&[1]))))
        .collect();
    let key = key("payments");
    let tasks: Vec<_> = stores
        .iter()
        .flat_map(|store| (0..4).map(move |_| Arc::clone(store)))
        .map(|store| {
            let key = key.clone();
            tokio::spawn(async move {
                store
                    .try_lease(&key, &LeaseOwner::random(), Duration::from_secs(5))
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        if task.await.expect("task").expect("try_lease") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "of 32 contenders");
}

#[tokio::test]
async fn only_the_owner_releases_a_lease() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = store(&server, keys(&[1]));
    let key = key("payments");
    let (owner, other) = (LeaseOwner::random(), LeaseOwner::random());
    assert!(
        store
            .try_lease(&key, &owner, Duration::from_secs(5))
            .await
            .expect("lease")
    );
    assert!(
        !store
            .try_lease(&key, &other, Duration::from_secs(5))
            .await
            .expect("lease")
    );

    assert!(
        !store.release(&key, &other).await.expect("release"),
        "not the owner"
    );
    assert!(
        !store
            .try_lease(&key, &other, Duration::from_secs(5))
            .await
            .expect("lease")
    );

    assert!(store.release(&key, &owner).await.expect("release"));
    assert!(
        store
            .try_lease(&key, &other, Duration::from_secs(5))
            .await
            .expect("lease")
    );
}

#[tokio::test]
async fn a_lease_expires_after_its_ttl() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = store(&server, keys(&[1]));
    let key = key("payments");
    let (crashed, next) = (LeaseOwner::random(), LeaseOwner::random());
    assert!(
        store
            .try_lease(&key, &crashed, Duration::from_millis(150))
            .await
            .expect("lease")
    );
    assert!(
        !store
            .try_lease(&key, &next, Duration::from_secs(5))
            .await
            .expect("lease")
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        store
            .try_lease(&key, &next, Duration::from_secs(5))
            .await
            .expect("lease"),
        "the holder never released; its lease expired"
    );
    assert!(
        !store.release(&key, &crashed).await.expect("release"),
        "a late release leaves the new holder's lease alone"
    );
}

#[tokio::test]
async fn the_ttl_is_the_token_remaining_life() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = store(&server, keys(&[1]));
    let mut conn = connection(&server).await;
    let pttl = |key: StoreKey| {
        let mut conn = conn.clone();
        async move {
            redis::cmd("PTTL")
                .arg(key.token_key())
                .query_async::<i64>(&mut conn)
                .await
                .expect("pttl")
        }
    };

    // A TTL above the token's life is capped at it.
    let short = key("short");
    store
        .put(
            &short,
            &token("tok-short", Duration::from_secs(10)),
            Duration::from_secs(3600),
        )
        .await
        .expect("put");
    let ttl = pttl(short).await;
    assert!((8_000..=10_000).contains(&ttl), "PTTL {ttl}");

    // A TTL below it is kept.
    let capped = key("capped");
    store
        .put(
            &capped,
            &token("tok-long", Duration::from_secs(3600)),
            Duration::from_secs(30),
        )
        .await
        .expect("put");
    let ttl = pttl(capped).await;
    assert!((28_000..=30_000).contains(&ttl), "PTTL {ttl}");

    // An expired token is not stored at all.
    let expired = key("expired");
    let then = SystemTime::now() - Duration::from_secs(120);
    let old = StoredToken::new(
        Secret::new("tok-expired"),
        TokenType::Bearer,
        then,
        then + Duration::from_secs(60),
    );
    store
        .put(&expired, &old, Duration::from_secs(60))
        .await
        .expect("put");
    let exists: i64 = redis::cmd("EXISTS")
        .arg(expired.token_key())
        .query_async(&mut conn)
        .await
        .expect("exists");
    assert_eq!(exists, 0);
}

#[tokio::test]
async fn a_waiter_gets_the_token_the_lease_holder_publishes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let holder = Arc::new(store(&server, keys(&[1])));
    let waiter = store(&server, keys(&[1]));
    let key = key("payments");
    let owner = LeaseOwner::random();
    assert!(
        holder
            .try_lease(&key, &owner, Duration::from_secs(2))
            .await
            .expect("lease")
    );

    let publish = {
        let (holder, key) = (Arc::clone(&holder), key.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let token = token("tok-published", Duration::from_secs(60));
            holder
                .put(&key, &token, Duration::from_secs(60))
                .await
                .expect("put");
            holder.release(&key, &owner).await.expect("release");
        })
    };
    let started = Instant::now();
    let got = waiter
        .wait_for(&key, None, Instant::now() + Duration::from_secs(2))
        .await
        .expect("wait_for")
        .expect("published");
    assert_eq!(got.token().expose_secret(), "tok-published");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    publish.await.expect("task");
}

#[tokio::test]
async fn a_waiter_stops_when_the_lease_is_released_without_a_token_or_at_its_deadline() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = Arc::new(store(&server, keys(&[1])));
    let key = key("payments");
    let owner = LeaseOwner::random();

    // The holder's token request failed: it releases, the waiter stops.
    assert!(
        store
            .try_lease(&key, &owner, Duration::from_secs(5))
            .await
            .expect("lease")
    );
    let release = {
        let (store, key, owner) = (Arc::clone(&store), key.clone(), owner.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            store.release(&key, &owner).await.expect("release");
        })
    };
    let started = Instant::now();
    let got = store
        .wait_for(&key, None, Instant::now() + Duration::from_secs(3))
        .await
        .expect("wait_for");
    assert!(got.is_none());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    release.await.expect("task");

    // The holder is slow: the waiter gives up at its deadline.
    assert!(
        store
            .try_lease(&key, &owner, Duration::from_secs(5))
            .await
            .expect("lease")
    );
    let started = Instant::now();
    let got = store
        .wait_for(&key, None, Instant::now() + Duration::from_millis(200))
        .await
        .expect("wait_for");
    assert!(got.is_none());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(1),
        "{waited:?}"
    );
}

#[tokio::test]
async fn nothing_in_redis_shows_a_token_a_client_id_or_a_subject() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = store(&server, keys(&[1]));
    let namespace = Namespace::new("scan-test").expect("namespace");
    let client_id = "client-id-7Q2";
    let subject = "subject-token-K9Z";
    let digest: [u8; 32] =
        Sha256::digest(format!("client_id={client_id}&subject_token={subject}")).into();
    let exchanged = StoreKey::builder(&namespace, "payments")
        .request_digest(&digest)
        .build();
    let own = StoreKey::builder(&namespace, "payments").build();
    let secrets = ["tok-exchanged-X1Y", "tok-own-P3Q"];
    for (key, value) in [(&exchanged, secrets[0]), (&own, secrets[1])] {
        let token = token(value, Duration::from_secs(60)).with_scope("orders:read");
        store
            .put(key, &token, Duration::from_secs(60))
            .await
            .expect("put");
        assert!(
            store
                .try_lease(key, &LeaseOwner::random(), Duration::from_secs(60))
                .await
                .expect("lease")
        );
    }

    let mut conn = connection(&server).await;
    let mut cursor = 0u64;
    let mut seen = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .query_async(&mut conn)
            .await
            .expect("scan");
        for key in keys {
            let value: Vec<u8> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .expect("get");
            seen.push((key, value));
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 4, "two tokens and two leases");
    let forbidden = [
        secrets[0],
        secrets[1],
        client_id,
        subject,
        "payments",
        "orders:read",
        "Bearer",
    ];
    for (key, value) in &seen {
        assert!(
            key.starts_with("scan-test:tok:") || key.starts_with("scan-test:lease:"),
            "{key}"
        );
        for text in forbidden {
            assert!(!key.contains(text), "{text} in key {key}");
            assert!(
                !value.windows(text.len()).any(|w| w == text.as_bytes()),
                "{text} in the value of {key}"
            );
        }
    }
}

/// A store that trips after 2 failures and probes again after 300 ms.
fn fragile_store(server: &RedisServer) -> RedisStore {
    let config = StoreConfig::new(&server.url(), keys(&[1]))
        .expect("config")
        .breaker(
            BreakerPolicy::default()
                .threshold(2)
                .cooldown(Duration::from_millis(300)),
        );
    RedisStore::new(config).expect("store")
}

/// Runs `call`, asserting it ends within [`FAST`].
async fn timed<T>(call: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = call.await;
    let took = started.elapsed();
    assert!(took < FAST, "the call took {took:?}");
    out
}

#[tokio::test]
async fn a_killed_redis_fails_fast_opens_the_breaker_and_recovers_after_a_restart() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store = fragile_store(&server);
    let key = key("payments");
    let tok = token("tok-before-the-crash", Duration::from_secs(60));
    store
        .put(&key, &tok, Duration::from_secs(60))
        .await
        .expect("put");

    server.kill_9();
    let mut codes = Vec::new();
    for _ in 0..4 {
        let err = timed(store.get(&key)).await.expect_err("Redis is down");
        assert!(err.is_retryable(), "{err}");
        codes.push(err.code());
    }
    assert!(
        codes[..2]
            .iter()
            .all(|c| *c == "store_unavailable" || *c == "store_timeout"),
        "{codes:?}"
    );
    assert_eq!(codes[2..], ["store_breaker_open"; 2], "{codes:?}");
    let err = timed(store.put(&key, &tok, Duration::from_secs(60)))
        .await
        .expect_err("open");
    assert!(matches!(err, StoreError::BreakerOpen { .. }), "{err}");

    server.restart();
    // After the cool-down a probe goes through; the connection is re-opened
    // in the background, so allow a few cool-downs for it.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        tokio::time::sleep(Duration::from_millis(320)).await;
        match timed(store.put(&key, &tok, Duration::from_secs(60))).await {
            Ok(()) => break,
            Err(e) => assert!(Instant::now() < deadline, "still failing: {e}"),
        }
    }
    let got = store.get(&key).await.expect("get").expect("stored again");
    assert_eq!(got.token().expose_secret(), "tok-before-the-crash");
}

#[tokio::test]
async fn a_paused_redis_times_out_within_the_bound() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = fragile_store(&server);
    let key = key("payments");
    // Connect first, so that only the paused command is measured.
    assert!(store.get(&key).await.expect("get").is_none());

    // Paused for 1 s: long past the 50 ms bound, and over by itself.
    assert_eq!(server.command("CLIENT PAUSE 1000 ALL"), "+OK");
    let err = timed(store.get(&key)).await.expect_err("paused");
    assert_eq!(err.code(), "store_timeout", "{err}");
    assert!(err.is_timeout());
    let err = timed(store.get(&key)).await.expect_err("paused");
    assert_eq!(err.code(), "store_timeout", "{err}");
    let err = timed(store.get(&key)).await.expect_err("open");
    assert_eq!(err.code(), "store_breaker_open", "{err}");
}

#[tokio::test]
async fn a_full_redis_refuses_writes_with_an_error() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = store(&server, keys(&[1]));
    let key = key("payments");
    assert_eq!(
        server.command("CONFIG SET maxmemory-policy noeviction"),
        "+OK"
    );
    assert_eq!(server.command("CONFIG SET maxmemory 1"), "+OK");
    let err = timed(store.put(
        &key,
        &token("tok-full", Duration::from_secs(60)),
        Duration::from_secs(60),
    ))
    .await
    .expect_err("out of memory");
    assert_eq!(err.code(), "store_unavailable", "{err}");
    // The error tells the operator why, and never shows the value.
    let chain = format!("{err} {:?}", std::error::Error::source(&err));
    assert!(
        chain.contains("OOM") || chain.contains("maxmemory"),
        "{chain}"
    );
    assert!(!chain.contains("tok-full"), "{chain}");
    // Reads still work.
    assert!(store.get(&key).await.expect("get").is_none());
}

#[tokio::test]
async fn a_rediss_url_builds_a_tls_store_that_fails_fast_when_nothing_listens() {
    // No TLS server here: this pins that `rediss://` is accepted and that a
    // failed connection is an error within the bound, not a hang.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let config =
        StoreConfig::new(&format!("rediss://127.0.0.1:{port}"), keys(&[1])).expect("config");
    let store = RedisStore::new(config).expect("a TLS store");
    let err = timed(store.get(&key("payments")))
        .await
        .expect_err("nothing listens");
    assert!(err.is_retryable(), "{err}");
}
