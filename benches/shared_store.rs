//! What the shared token store costs and saves, against a real
//! `redis-server` on loopback (started here on a free port, stopped at
//! the end):
//!
//! * `l2_read`: an in-process miss served from Redis (the token another
//!   replica published), beside `l1_miss_token_endpoint`, the same miss
//!   served by a loopback token endpoint without a store;
//! * `stampede`: replicas × cold callers at once → token requests and wall
//!   time, with and without the store;
//! * `rotation`: three replicas under load through several token
//!   lifetimes → token requests per lifetime;
//! * `hit`: `get_token` on a warm in-process cache with and without a
//!   store configured (a hit never reaches the store).
//!
//! ```sh
//! cargo bench --bench shared_store
//! ```
//!
//! Raw results go to `target/bench-results/shared_store.json`.

mod common;
#[allow(dead_code, unreachable_pub)]
#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use axum_oauth2_client::store::{EncryptionKeys, Namespace, StoreConfig};
use axum_oauth2_client::{OAuth2Config, OAuth2Service, ProviderConfig};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use common::{TokenEndpoint, TokenSettings};
use redis_server::RedisServer;

const PROVIDER: &str = "bench";

/// A replica of the service: the provider at `token_url`, sharing through
/// `redis` in `namespace` when given.
fn replica(
    token_url: &str,
    redis: Option<(&RedisServer, &Namespace)>,
    refresh_buffer: Duration,
) -> OAuth2Service {
    let provider = ProviderConfig::new(
        token_url.parse().expect("token URL"),
        "bench-client",
        "bench-secret",
    );
    let mut config = OAuth2Config::new()
        .refresh_buffer(refresh_buffer)
        .provider(PROVIDER, provider);
    if let Some((redis, namespace)) = redis {
        let store = StoreConfig::new(
            &redis.url(),
            EncryptionKeys::from_bytes(&[[7; 32]]).expect("keys"),
        )
        .expect("store")
        .namespace(namespace.clone());
        config = config.token_store(store);
    }
    OAuth2Service::builder(config)
        .http_client(common::http_client())
        .build()
        .expect("service")
}

fn namespace(name: &str) -> Namespace {
    Namespace::new(&format!("{name}-{}", rand::random::<u32>())).expect("namespace")
}

fn micros(h: &Histogram<u64>) -> Value {
    json!({
        "p50_us": h.value_at_quantile(0.5) as f64 / 1000.0,
        "p99_us": h.value_at_quantile(0.99) as f64 / 1000.0,
        "mean_us": h.mean() / 1000.0,
        "samples": h.len(),
    })
}

/// An in-process miss, `samples` times: cleared, then `get_token`.
async fn misses(service: &OAuth2Service, samples: usize) -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("histogram");
    for _ in 0..samples {
        service.clear_cache(None);
        let start = Instant::now();
        service.get_token(PROVIDER, None).await.expect("token");
        h.record(start.elapsed().as_nanos() as u64).expect("record");
    }
    h
}

async fn l2_read(redis: &RedisServer, token_url: &str, samples: usize) -> Value {
    let ns = namespace("read");
    let publisher = replica(token_url, Some((redis, &ns)), Duration::from_secs(60));
    publisher.get_token(PROVIDER, None).await.expect("publish");
    // Published in the background.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reader = replica(token_url, Some((redis, &ns)), Duration::from_secs(60));
    let from_store = misses(&reader, samples).await;
    let plain = replica(token_url, None, Duration::from_secs(60));
    let from_endpoint = misses(&plain, samples).await;
    json!({
        "l2_read": micros(&from_store),
        "l1_miss_token_endpoint": micros(&from_endpoint),
    })
}

async fn stampede(
    redis: &RedisServer,
    replicas: usize,
    callers: usize,
    delay: Duration,
    shared: bool,
) -> Value {
    let endpoint = TokenEndpoint::new(TokenSettings {
        delay,
        ..TokenSettings::default()
    });
    let url = endpoint.serve(&tokio::runtime::Handle::current());
    let ns = namespace("stampede");
    let services: Vec<_> = (0..replicas)
        .map(|_| {
            replica(
                &url,
                shared.then_some((redis, &ns)),
                Duration::from_secs(60),
            )
        })
        .collect();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for service in &services {
        for _ in 0..callers {
            let service = service.clone();
            tasks.push(tokio::spawn(async move {
                service.get_token(PROVIDER, None).await.map(|_| ())
            }));
        }
    }
    for task in tasks {
        task.await.expect("join").expect("token");
    }
    json!({
        "replicas": replicas,
        "callers_per_replica": callers,
        "token_endpoint_delay_ms": delay.as_millis() as u64,
        "store": shared,
        "token_requests": endpoint.client_credentials(),
        "wall_ms": start.elapsed().as_secs_f64() * 1000.0,
    })
}

async fn rotation(redis: &RedisServer, run: Duration) -> Value {
    // Tokens live 4 s, refreshed 2 s before they expire.
    let endpoint = TokenEndpoint::new(TokenSettings {
        expires_in: 4,
        ..TokenSettings::default()
    });
    let url = endpoint.serve(&tokio::runtime::Handle::current());
    let ns = namespace("rotation");
    let services: Vec<_> = (0..3)
        .map(|_| replica(&url, Some((redis, &ns)), Duration::from_secs(2)))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for service in &services {
        for _ in 0..10 {
            let (service, stop) = (service.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut calls = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    service.get_token(PROVIDER, None).await.expect("token");
                    calls += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                calls
            }));
        }
    }
    tokio::time::sleep(run).await;
    stop.store(true, Ordering::Relaxed);
    let mut calls = 0;
    for task in tasks {
        calls += task.await.expect("join");
    }
    let requests = endpoint.client_credentials();
    json!({
        "replicas": 3,
        "run_s": run.as_secs_f64(),
        "token_lifetime_s": 4,
        "refresh_every_s": "1.8 to 2",
        "calls": calls,
        "token_requests": requests,
        // A refresh every 1.8 to 2 s, the first at 0.
        "token_requests_one_replica_alone_at_most": 1 + (run.as_secs_f64() / 1.8).floor() as u64,
    })
}

/// Polls a future once with a no-op waker; a warm-cache call is ready then.
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future)
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a warm-cache call completes at its first poll"),
    }
}

/// Nanoseconds per `get_token` hit, best of `rounds` rounds of `calls`.
fn hit_ns(service: &OAuth2Service, calls: u32, rounds: u32) -> f64 {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                std::hint::black_box(ready(service.get_token(PROVIDER, None)).expect("hit"));
            }
            start.elapsed().as_nanos() as f64 / f64::from(calls)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    if !common::bench_mode() {
        return;
    }
    let Some(redis) = RedisServer::start() else {
        eprintln!("redis-server is not installed: nothing measured");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let endpoint = TokenEndpoint::new(TokenSettings::default());
    let token_url = endpoint.serve(rt.handle());
    let samples = common::env_or("SHARED_STORE_SAMPLES", 2_000);

    let read = rt.block_on(l2_read(&redis, &token_url, samples));
    eprintln!("miss latency: {read}");
    let mut stampedes = Vec::new();
    for (replicas, delay) in [(8, 0), (8, 50), (3, 50)] {
        for shared in [true, false] {
            let result = rt.block_on(stampede(
                &redis,
                replicas,
                1_000,
                Duration::from_millis(delay),
                shared,
            ));
            eprintln!("stampede: {result}");
            stampedes.push(result);
        }
    }
    let rotation = rt.block_on(rotation(&redis, Duration::from_secs(10)));
    eprintln!("rotation: {rotation}");

    let (with_store, without) = {
        let _rt = rt.enter();
        let ns = namespace("hit");
        let with_store = replica(&token_url, Some((&redis, &ns)), Duration::from_secs(60));
        let without = replica(&token_url, None, Duration::from_secs(60));
        rt.block_on(async {
            with_store.get_token(PROVIDER, None).await.expect("warm");
            without.get_token(PROVIDER, None).await.expect("warm");
        });
        (with_store, without)
    };
    let mut hits = Vec::new();
    for _ in 0..3 {
        let a = hit_ns(&without, 1_000_000, 5);
        let b = hit_ns(&with_store, 1_000_000, 5);
        hits.push(json!({ "without_store_ns": a, "with_store_ns": b }));
    }
    eprintln!("get_token hit: {}", json!(hits));
    common::write_json(
        "shared_store",
        &json!({
            "miss": read,
            "stampede": stampedes,
            "rotation": rotation,
            "get_token_hit": hits,
        }),
    );
}
