//! Replicas sharing tokens through a real `redis-server`: separate
//! `OAuth2Service` instances, configured as a deployment configures them
//! (`OAUTH2_CACHE_*`), against one token endpoint that counts requests.
//!
//! The tests need `redis-server` (Debian package `redis-server`): without
//! it they are skipped with a message, and fail under `CI`.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum_oauth2_client::store::{EncryptionKeys, StoreConfig};
use axum_oauth2_client::{BreakerPolicy, OAuth2Config, OAuth2Service, TokenExchangeOptions};
use base64::Engine as _;
use common::redis_server::RedisServer;
use common::{CLIENT_ID, CLIENT_SECRET, Issuer, TOKEN_PATH, token_server};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PROVIDER: &str = "payments";

/// A key file with one line per key byte, each key 32 copies of it.
struct KeyFile(std::path::PathBuf);

impl KeyFile {
    fn new(keys: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!(
            "oauth2-shared-keys-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let text: String = keys
            .iter()
            .map(|b| base64::engine::general_purpose::STANDARD.encode([*b; 32]) + "\n")
            .collect();
        std::fs::write(&path, text).expect("write the key file");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The variables of one replica: the provider at `token_url` and the
/// shared store.
fn vars(
    token_url: &str,
    redis: &RedisServer,
    keys: &KeyFile,
    namespace: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = [
        ("OAUTH2_PAYMENTS_TOKEN_URL", token_url),
        ("OAUTH2_PAYMENTS_CLIENT_ID", CLIENT_ID),
        ("OAUTH2_PAYMENTS_CLIENT_SECRET", CLIENT_SECRET),
        ("OAUTH2_CACHE_REDIS_URL", &redis.url()),
        ("OAUTH2_CACHE_ENCRYPTION_KEY_FILE", keys.path()),
        ("OAUTH2_CACHE_NAMESPACE", namespace),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.sort();
    vars
}

fn token_url(server: &MockServer) -> String {
    format!("{}{TOKEN_PATH}", server.uri())
}

/// `n` replicas configured from the same variables.
fn replicas(n: usize, vars: &[(String, String)]) -> Vec<OAuth2Service> {
    (0..n)
        .map(|_| {
            let config = OAuth2Config::from_vars(vars.iter().cloned()).expect("config");
            assert!(config.store().is_some(), "the store is configured");
            OAuth2Service::new(config).expect("service")
        })
        .collect()
}

fn namespace() -> String {
    format!("t{}", rand::random::<u32>())
}

/// Every key in the server with its value.
async fn scan(redis: &RedisServer) -> Vec<(String, Vec<u8>)> {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("keys");
    let mut all = Vec::new();
    for key in keys {
        let value: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("get");
        all.push((key, value.unwrap_or_default()));
    }
    all
}

/// Every key and value once `tokens` tokens are published and no lease is
/// held (both happen in the background, after a call has its token).
async fn settled(redis: &RedisServer, tokens: usize) -> Vec<(String, Vec<u8>)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let all = scan(redis).await;
        if all.len() == tokens && all.iter().all(|(k, _)| k.contains(":tok:")) {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "not settled: {:?}",
            all.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_replicas_of_a_thousand_cold_callers_each_make_one_token_request() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    let issuer = Issuer::new().delay(Duration::from_millis(200));
    let server = token_server(issuer.clone()).await;
    let vars = vars(&token_url(&server), &redis, &keys, &namespace(), &[]);
    let replicas = replicas(8, &vars);

    let started = Instant::now();
    let mut callers = Vec::new();
    for replica in &replicas {
        for _ in 0..1_000 {
            let replica = replica.clone();
            callers.push(tokio::spawn(async move {
                replica
                    .get_token(PROVIDER, None)
                    .await
                    .map(|t| t.secret().to_owned())
            }));
        }
    }
    let mut tokens = BTreeSet::new();
    for caller in callers {
        tokens.insert(caller.await.expect("join").expect("token"));
    }
    let elapsed = started.elapsed();
    println!("8 replicas x 1000 cold callers: 1 token request, {elapsed:?}");

    assert_eq!(issuer.issued(), 1, "one token request for all replicas");
    assert_eq!(tokens, BTreeSet::from(["tok-1".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_load_makes_one_request_per_lifetime_across_three_replicas() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    // Tokens live 4 s and are refreshed 2 s (up to 2.2 s with jitter)
    // before they expire: a new token every 1.8 to 2 s.
    let issuer = Issuer::new().expires_in(Some(4));
    let server = token_server(issuer.clone()).await;
    let vars = vars(
        &token_url(&server),
        &redis,
        &keys,
        &namespace(),
        &[("OAUTH2_REFRESH_BUFFER_SECONDS", "2")],
    );
    let replicas = replicas(3, &vars);

    let run = Duration::from_millis(7_000);
    let failures = Arc::new(AtomicUsize::new(0));
    let mut callers = Vec::new();
    for replica in &replicas {
        for _ in 0..20 {
            let replica = replica.clone();
            let failures = failures.clone();
            callers.push(tokio::spawn(async move {
                let mut seen = BTreeSet::new();
                let end = Instant::now() + run;
                while Instant::now() < end {
                    match replica.get_token(PROVIDER, None).await {
                        Ok(token) => {
                            seen.insert(token.secret().to_owned());
                        }
                        Err(_) => {
                            failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                seen
            }));
        }
    }
    let mut per_caller = Vec::new();
    for caller in callers {
        per_caller.push(caller.await.expect("join"));
    }
    let all: BTreeSet<String> = per_caller.iter().flatten().cloned().collect();
    let issued = issuer.issued();
    println!("rotation over 3 replicas for {run:?}: {issued} token requests, {all:?}");

    assert_eq!(failures.load(Ordering::SeqCst), 0);
    // One replica alone would make 4 or 5 requests in 7 s (at 0, ~2, ~4,
    // ~6 s); three without the store 12 to 15.
    assert!((4..=5).contains(&issued), "{issued} token requests");
    assert_eq!(
        all.len(),
        issued,
        "every token issued was used: no replica requested one for itself"
    );
}

/// A replica whose store trips after 2 failures and probes again after
/// 200 ms, with 1 s leases.
fn fragile_replica(
    vars: &[(String, String)],
    redis: &RedisServer,
    keys: &KeyFile,
) -> OAuth2Service {
    let namespace = vars
        .iter()
        .find(|(k, _)| k == "OAUTH2_CACHE_NAMESPACE")
        .map(|(_, v)| v.clone())
        .expect("namespace");
    let store = StoreConfig::new(
        &redis.url(),
        EncryptionKeys::from_file(keys.path()).expect("keys"),
    )
    .expect("store")
    .namespace(axum_oauth2_client::store::Namespace::new(&namespace).expect("namespace"))
    .breaker(
        BreakerPolicy::default()
            .threshold(2)
            .cooldown(Duration::from_millis(200)),
    )
    .lease_ttl(Duration::from_secs(1));
    let config = OAuth2Config::from_vars(
        vars.iter()
            .filter(|(k, _)| !k.starts_with("OAUTH2_CACHE_"))
            .cloned(),
    )
    .expect("config")
    .token_store(store);
    OAuth2Service::new(config).expect("service")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_killed_mid_run_fails_no_call_and_sharing_resumes_after_its_restart() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    // Short tokens, so that replicas need new ones while Redis is down.
    let issuer = Issuer::new().expires_in(Some(2));
    let server = token_server(issuer.clone()).await;
    let vars = vars(
        &token_url(&server),
        &redis,
        &keys,
        &namespace(),
        &[("OAUTH2_REFRESH_BUFFER_SECONDS", "1")],
    );
    let replicas: Vec<_> = (0..3)
        .map(|_| fragile_replica(&vars, &redis, &keys))
        .collect();

    let calls = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut callers = Vec::new();
    for replica in &replicas {
        for _ in 0..10 {
            let (replica, calls, failures, stop) = (
                replica.clone(),
                calls.clone(),
                failures.clone(),
                stop.clone(),
            );
            callers.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    match replica.get_token(PROVIDER, None).await {
                        Ok(_) => calls.fetch_add(1, Ordering::SeqCst),
                        Err(_) => failures.fetch_add(1, Ordering::SeqCst),
                    };
                    // A call never waits long on a dead Redis.
                    assert!(started.elapsed() < Duration::from_secs(2));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let before_kill = issuer.issued();
    redis.kill_9();
    // Down for longer than a token lives: every replica needs new tokens.
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    let during = issuer.issued() - before_kill;
    redis.restart();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    for caller in callers {
        caller.await.expect("a caller panicked");
    }
    println!(
        "kill -9 of redis: {} calls, {} failed, {} token requests while it was down",
        calls.load(Ordering::SeqCst),
        failures.load(Ordering::SeqCst),
        during
    );
    assert_eq!(failures.load(Ordering::SeqCst), 0, "no call failed");
    assert!(during >= 3, "each replica fetched its own tokens: {during}");

    // Back: the replicas share again once each has its connection back
    // and its breaker closed, within a few seconds of the restart.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for replica in &replicas {
            replica.clear_cache(None);
        }
        let issued = issuer.issued();
        let mut tokens = BTreeSet::new();
        for replica in &replicas {
            let token = replica.get_token(PROVIDER, None).await.expect("token");
            tokens.insert(token.secret().to_owned());
        }
        if issuer.issued() == issued + 1 && tokens.len() == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replicas never shared again after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_is_down_at_start_up_costs_each_replica_its_own_request_and_nothing_else() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let vars = vars(&token_url(&server), &redis, &keys, &namespace(), &[]);
    redis.kill_9();
    let replicas = replicas(3, &vars);
    for replica in &replicas {
        let started = Instant::now();
        replica.get_token(PROVIDER, None).await.expect("token");
        // The store's calls are bounded by 50 ms each.
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
    assert_eq!(issuer.issued(), 3);
}

/// Answers the first token request after a long delay (a replica that
/// hangs, then dies), the others at once.
struct FirstHangs {
    count: Arc<AtomicUsize>,
}

impl Respond for FirstHangs {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let template = ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": format!("tok-{n}"),
            "token_type": "Bearer",
            "expires_in": 3600,
        }));
        if n == 1 {
            template.set_delay(Duration::from_secs(30))
        } else {
            template
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_lease_holder_dies_mid_request_another_replica_fetches_within_the_lease() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    let count = Arc::new(AtomicUsize::new(0));
    let server = token_server(FirstHangs {
        count: count.clone(),
    })
    .await;
    let vars = vars(
        &token_url(&server),
        &redis,
        &keys,
        &namespace(),
        &[
            ("OAUTH2_CACHE_LEASE_MS", "1000"),
            ("OAUTH2_PAYMENTS_TIMEOUT_SECONDS", "60"),
        ],
    );

    // The holder runs on a runtime of its own, shut down mid-request: its
    // process is gone, its lease stays until it expires.
    let holder_vars = vars.clone();
    let holder = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let service = runtime.block_on(async {
            let service = replicas(1, &holder_vars).remove(0);
            let caller = service.clone();
            tokio::spawn(async move { caller.get_token(PROVIDER, None).await });
            service
        });
        (runtime, service)
    });
    let (runtime, _holder_service) = holder.join().expect("holder");
    let deadline = Instant::now() + Duration::from_secs(5);
    while count.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the holder sent its request");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let died = Instant::now();
    runtime.shutdown_background();

    let survivor = replicas(1, &vars).remove(0);
    let token = survivor.get_token(PROVIDER, None).await.expect("token");
    let waited = died.elapsed();
    println!("lease holder died: the next replica had a token after {waited:?}");
    assert_eq!(token.secret(), "tok-2");
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert!(
        waited < Duration::from_millis(1_000 + 500),
        "within the 1 s lease: {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_lease_holder_renews_its_lease_and_the_others_wait_for_it() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    // The token endpoint takes 2.5 leases to answer.
    let issuer = Issuer::new().delay(Duration::from_millis(2_500));
    let server = token_server(issuer.clone()).await;
    let vars = vars(
        &token_url(&server),
        &redis,
        &keys,
        &namespace(),
        &[("OAUTH2_CACHE_LEASE_MS", "1000")],
    );
    let replicas = replicas(3, &vars);
    let calls = replicas.iter().map(|r| {
        let r = r.clone();
        tokio::spawn(async move {
            r.get_token(PROVIDER, None)
                .await
                .map(|t| t.secret().to_owned())
        })
    });
    let mut tokens = BTreeSet::new();
    for call in calls.collect::<Vec<_>>() {
        tokens.insert(call.await.expect("join").expect("token"));
    }
    assert_eq!(issuer.issued(), 1, "the holder kept its lease past its TTL");
    assert_eq!(tokens.len(), 1);
}

/// Issues `tok-N` living `lifetime` seconds, or answers 503 while down.
#[derive(Clone)]
struct Flaky {
    count: Arc<AtomicUsize>,
    down: Arc<std::sync::atomic::AtomicBool>,
    lifetime: u64,
}

impl Respond for Flaky {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if self.down.load(Ordering::SeqCst) {
            return ResponseTemplate::new(503);
        }
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": format!("tok-{n}"),
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_token_endpoint_down_a_shared_token_still_valid_is_served_and_retried_once_a_second()
 {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    let flaky = Flaky {
        count: Arc::new(AtomicUsize::new(0)),
        down: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        lifetime: 6,
    };
    let server = token_server(flaky.clone()).await;
    // Refreshed 3 s after it is issued, valid for 6.
    let vars = vars(
        &token_url(&server),
        &redis,
        &keys,
        &namespace(),
        &[
            ("OAUTH2_REFRESH_BUFFER_SECONDS", "3"),
            ("OAUTH2_PAYMENTS_MAX_ATTEMPTS", "1"),
            ("OAUTH2_PAYMENTS_BREAKER_THRESHOLD", "0"),
        ],
    );
    let replicas = replicas(2, &vars);
    assert_eq!(
        replicas[0]
            .get_token(PROVIDER, None)
            .await
            .unwrap()
            .secret(),
        "tok-1"
    );
    tokio::time::sleep(Duration::from_millis(3_400)).await;
    flaky.down.store(true, Ordering::SeqCst);
    let before = flaky.count.load(Ordering::SeqCst);

    // B starts cold, with tok-1 due for refresh in the store and the
    // token endpoint down: it serves tok-1, and tries again once a second.
    let end = Instant::now() + Duration::from_millis(1_500);
    let mut calls = 0;
    while Instant::now() < end {
        let token = replicas[1].get_token(PROVIDER, None).await.expect("served");
        assert_eq!(token.secret(), "tok-1");
        calls += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let requests = flaky.count.load(Ordering::SeqCst) - before;
    println!("token endpoint down: {calls} calls served tok-1 with {requests} token requests");
    assert!(calls > 100);
    assert!(
        (1..=2).contains(&requests),
        "{requests} token requests in 1.5 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_upstream_leaves_the_store_only_while_it_is_still_the_one_there() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    // The upstream refuses tok-1 and accepts every later token.
    Mock::given(method("GET"))
        .and(path("/api"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let vars = vars(&token_url(&server), &redis, &keys, &namespace(), &[]);
    let replicas = replicas(3, &vars);
    let (a, b, c) = (&replicas[0], &replicas[1], &replicas[2]);
    let api = format!("{}/api", server.uri());

    // A and B both hold tok-1.
    assert_eq!(a.get_token(PROVIDER, None).await.unwrap().secret(), "tok-1");
    assert_eq!(b.get_token(PROVIDER, None).await.unwrap().secret(), "tok-1");
    assert_eq!(issuer.issued(), 1);

    // A's upstream refuses it: A deletes it from the store and publishes
    // tok-2.
    let answer = a
        .fetch(PROVIDER, &api, Default::default())
        .await
        .expect("fetch");
    assert_eq!(answer.status(), 200);
    assert_eq!(issuer.issued(), 2);

    // B's upstream refuses its tok-1 too: the store holds tok-2 by now,
    // which B takes without a request and without deleting it.
    let answer = b
        .fetch(PROVIDER, &api, Default::default())
        .await
        .expect("fetch");
    assert_eq!(answer.status(), 200);
    assert_eq!(b.get_token(PROVIDER, None).await.unwrap().secret(), "tok-2");
    assert_eq!(issuer.issued(), 2, "B took A's new token");
    assert_eq!(c.get_token(PROVIDER, None).await.unwrap().secret(), "tok-2");
    assert_eq!(issuer.issued(), 2, "tok-2 is still in the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_sealed_with_a_wrong_key_is_ignored_and_overwritten() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let namespace = namespace();
    let (old, new) = (KeyFile::new(&[1]), KeyFile::new(&[2]));
    let writer = replicas(1, &vars(&token_url(&server), &redis, &old, &namespace, &[])).remove(0);
    let reader = replicas(1, &vars(&token_url(&server), &redis, &new, &namespace, &[])).remove(0);

    assert_eq!(
        writer.get_token(PROVIDER, None).await.unwrap().secret(),
        "tok-1"
    );
    // Another key cannot open tok-1: a miss, a request, and tok-2 replaces it.
    assert_eq!(
        reader.get_token(PROVIDER, None).await.unwrap().secret(),
        "tok-2"
    );
    assert_eq!(issuer.issued(), 2);
    let third = replicas(1, &vars(&token_url(&server), &redis, &new, &namespace, &[])).remove(0);
    assert_eq!(
        third.get_token(PROVIDER, None).await.unwrap().secret(),
        "tok-2"
    );
    assert_eq!(issuer.issued(), 2, "tok-2 was stored over tok-1");

    // Rotation: a key file with the new key first and the old one after
    // reads what either sealed.
    let rotated = KeyFile::new(&[3, 2]);
    let fourth = replicas(
        1,
        &vars(&token_url(&server), &redis, &rotated, &namespace, &[]),
    )
    .remove(0);
    assert_eq!(
        fourth.get_token(PROVIDER, None).await.unwrap().secret(),
        "tok-2"
    );
    assert_eq!(issuer.issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_of_another_client_or_scope_never_share_a_token() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let namespace = namespace();
    let base = vars(&token_url(&server), &redis, &keys, &namespace, &[]);
    let scoped = vars(
        &token_url(&server),
        &redis,
        &keys,
        &namespace,
        &[("OAUTH2_PAYMENTS_SCOPE", "orders:write")],
    );
    let other_client: Vec<_> = base
        .iter()
        .map(|(k, v)| match k.as_str() {
            "OAUTH2_PAYMENTS_CLIENT_ID" => (k.clone(), "another-client".to_owned()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let mut tokens = BTreeSet::new();
    for vars in [&base, &scoped, &other_client] {
        let replica = replicas(1, vars).remove(0);
        tokens.insert(
            replica
                .get_token(PROVIDER, None)
                .await
                .unwrap()
                .secret()
                .to_owned(),
        );
    }
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    assert_eq!(issuer.issued(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchanged_tokens_are_shared_per_subject() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let vars = vars(&token_url(&server), &redis, &keys, &namespace(), &[]);
    let replicas = replicas(2, &vars);
    let exchange = |subject: &str| TokenExchangeOptions::new(subject);
    let a = replicas[0]
        .get_token(PROVIDER, Some(&exchange("subject-A")))
        .await
        .unwrap();
    let b = replicas[1]
        .get_token(PROVIDER, Some(&exchange("subject-A")))
        .await
        .unwrap();
    assert_eq!(a.secret(), b.secret());
    assert_eq!(issuer.issued(), 1);
    let other = replicas[1]
        .get_token(PROVIDER, Some(&exchange("subject-B")))
        .await
        .unwrap();
    assert_ne!(other.secret(), a.secret());
    assert_eq!(issuer.issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_in_redis_shows_a_token_a_secret_a_client_id_or_a_subject() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let vars = vars(
        &token_url(&server),
        &redis,
        &keys,
        "scan",
        &[("OAUTH2_PAYMENTS_SCOPE", "orders:read")],
    );
    let replica = replicas(1, &vars).remove(0);
    let own = replica.get_token(PROVIDER, None).await.unwrap();
    let subject = "subject-token-K9Z.eyJzdWIiOiJhbGljZSJ9";
    let exchanged = replica
        .get_token(PROVIDER, Some(&TokenExchangeOptions::new(subject)))
        .await
        .unwrap();

    // Published, and the leases released, in the background.
    let all = settled(&redis, 2).await;
    assert_eq!(
        all.len(),
        2,
        "two tokens, no lease left behind: {:?}",
        all.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    let base64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let forbidden = [
        own.secret().to_owned(),
        exchanged.secret().to_owned(),
        base64(own.secret()),
        CLIENT_ID.to_owned(),
        CLIENT_SECRET.to_owned(),
        subject.to_owned(),
        "alice".to_owned(),
        PROVIDER.to_owned(),
        "orders:read".to_owned(),
        "Bearer".to_owned(),
    ];
    for (key, value) in &all {
        assert!(key.starts_with("scan:tok:"), "{key}");
        for text in &forbidden {
            assert!(!key.contains(text.as_str()), "{text} in key {key}");
            assert!(
                !value.windows(text.len()).any(|w| w == text.as_bytes()),
                "{text} in the value of {key}"
            );
        }
    }
}

#[test]
fn the_store_variables_are_checked_and_named() {
    let keys = KeyFile::new(&[1]);
    let base = [
        (
            "OAUTH2_PAYMENTS_TOKEN_URL",
            "https://auth.example.com/token",
        ),
        ("OAUTH2_PAYMENTS_CLIENT_ID", CLIENT_ID),
        ("OAUTH2_PAYMENTS_CLIENT_SECRET", CLIENT_SECRET),
    ];
    let with = |extra: &[(&'static str, &str)]| {
        OAuth2Config::from_vars(base.iter().chain(extra).map(|(k, v)| (*k, v.to_string())))
    };
    assert!(with(&[]).unwrap().store().is_none());
    let error = with(&[("OAUTH2_CACHE_REDIS_URL", "redis://:hunter2@127.0.0.1:6379")]).unwrap_err();
    assert_eq!(error.variable(), "OAUTH2_CACHE_ENCRYPTION_KEY_FILE");
    assert!(!error.to_string().contains("hunter2"));
    let error = with(&[
        ("OAUTH2_CACHE_REDIS_URL", "http://127.0.0.1:6379"),
        ("OAUTH2_CACHE_ENCRYPTION_KEY_FILE", keys.path()),
    ])
    .unwrap_err();
    assert_eq!(error.variable(), "OAUTH2_CACHE_REDIS_URL");
    let error = with(&[("OAUTH2_CACHE_NAMESPACE", "orders")]).unwrap_err();
    assert_eq!(error.variable(), "OAUTH2_CACHE_NAMESPACE");
    let error = with(&[
        ("OAUTH2_CACHE_REDIS_URL", "redis://127.0.0.1:6379"),
        ("OAUTH2_CACHE_ENCRYPTION_KEY_FILE", keys.path()),
        ("OAUTH2_CACHE_LEASE_MS", "5"),
    ])
    .unwrap_err();
    assert_eq!(error.variable(), "OAUTH2_CACHE_LEASE_MS");
    let config = with(&[
        ("OAUTH2_CACHE_REDIS_URL", "redis://:hunter2@127.0.0.1:6379"),
        ("OAUTH2_CACHE_ENCRYPTION_KEY_FILE", keys.path()),
        ("OAUTH2_CACHE_LEASE_MS", "2500"),
    ])
    .unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("lease_ttl: 2.5s"), "{shown}");
    // Outside a runtime the store cannot be built, and says so.
    let error = OAuth2Service::new(config).unwrap_err();
    assert_eq!(error.code(), "invalid_config");
    assert!(error.to_string().contains("Tokio runtime"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_or_full_redis_fails_no_call_and_costs_a_miss_its_time_bounds_only() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let vars = vars(&token_url(&server), &redis, &keys, &namespace(), &[]);
    let replicas = replicas(2, &vars);
    // Connected first, so that only the paused calls are measured.
    replicas[0].get_token(PROVIDER, None).await.expect("token");
    replicas[0].clear_cache(None);

    // Paused for 2 s: every call meets its 50 ms bound.
    assert_eq!(redis.command("CLIENT PAUSE 2000 ALL"), "+OK");
    let started = Instant::now();
    replicas[0].get_token(PROVIDER, None).await.expect("token");
    let took = started.elapsed();
    println!("a miss with Redis paused: {took:?}");
    // The read meets the bound, then the replica requests its own token.
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert_eq!(issuer.issued(), 2);
    tokio::time::sleep(Duration::from_millis(2_100)).await;

    // Emptied, then full: every write is refused, so each replica
    // requests its own token, and no call fails.
    assert_eq!(redis.command("FLUSHALL"), "+OK");
    assert_eq!(
        redis.command("CONFIG SET maxmemory-policy noeviction"),
        "+OK"
    );
    assert_eq!(redis.command("CONFIG SET maxmemory 1"), "+OK");
    for replica in &replicas {
        replica.clear_cache(None);
        replica.get_token(PROVIDER, None).await.expect("token");
    }
    assert_eq!(issuer.issued(), 4);
}

/// The system clock, but for the first exact read on one thread once
/// armed: that read waits until the test lets it go, so the test can act
/// between a caller's checks and what it does next.
#[derive(Debug)]
struct PausingClock {
    on: std::sync::Mutex<Option<std::thread::ThreadId>>,
    entered: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl axum_oauth2_client::Clock for PausingClock {
    fn now(&self) -> Instant {
        let now = Instant::now();
        let mut on = self.on.lock().expect("lock");
        if *on == Some(std::thread::current().id()) {
            *on = None;
            drop(on);
            self.entered.lock().expect("lock").send(()).expect("send");
            self.release.lock().expect("lock").recv().expect("release");
        }
        now
    }

    fn now_upper_bound(&self) -> Instant {
        Instant::now()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_past_the_shutdown_check_fills_no_cache_from_the_store() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let keys = KeyFile::new(&[1]);
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let vars = vars(&token_url(&server), &redis, &keys, &namespace(), &[]);
    // One replica publishes a token.
    let first = replicas(1, &vars).remove(0);
    first.get_token(PROVIDER, None).await.expect("token");
    settled(&redis, 1).await;

    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let clock = Arc::new(PausingClock {
        on: std::sync::Mutex::new(None),
        entered: std::sync::Mutex::new(entered_tx),
        release: std::sync::Mutex::new(release_rx),
    });
    let config = OAuth2Config::from_vars(vars.iter().cloned()).expect("config");
    let second = OAuth2Service::builder(config)
        .clock(clock.clone())
        .build()
        .expect("service");
    // A caller of the second replica misses, passes the shutdown check,
    // and stops at its next read of the clock, before its request starts.
    let caller = {
        let (second, clock) = (second.clone(), clock.clone());
        std::thread::spawn(move || {
            *clock.on.lock().expect("lock") = Some(std::thread::current().id());
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(second.get_token(PROVIDER, None))
                .map(|t| t.secret().to_owned())
        })
    };
    entered
        .recv_timeout(Duration::from_secs(5))
        .expect("the caller reached its clock");
    second.shutdown();
    release.send(()).expect("release");
    let result = caller.join().expect("join");

    assert_eq!(
        result.expect_err("no token after shutdown").code(),
        "shutting_down"
    );
    assert_eq!(second.cached_tokens(), 0, "the cache stays empty");
    assert_eq!(issuer.issued(), 1, "and no token request went out");
}
