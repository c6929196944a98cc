//! What a cache hit costs: `get_token` and `authorize` on a warm cache, on
//! one thread and on two threads at once, beside the floor of the
//! primitives they are built from (a clock read, the coarse clock bound a
//! hit reads instead, an `ArcSwap` load, an `Arc` clone, a shared header
//! inserted into a request).
//!
//! ```sh
//! cargo bench --bench token_cache -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! A warm-cache call completes at its first poll, so the single-thread
//! figures poll each call's future once with a no-op waker (the thinnest
//! possible executor; `authorize/block_on_current_thread` shows what a tokio
//! current-thread `block_on` adds). The `threads/*` figures run N calls on
//! each of 1 or 2 OS threads inside a multi-thread tokio runtime's context
//! and report wall time divided by N: the time per call on each thread, so
//! perfect scaling gives the same figure for 1 and 2 threads;
//! `threads/arc_clone_unshared` is the control that shows whether the
//! machine gave both threads a core.
//!
//! Before criterion runs, the binary counts heap allocations per call with
//! a per-thread counting global allocator and writes them, with the other
//! raw results, to `target/bench-results/allocations.json`.
//!
//! Tokens are 1 KiB (JWT-sized) unless the name says `opaque_43B`;
//! `get_token_exchange` is a hit on a cached token exchange (RFC 8693)
//! whose subject token is 1 KiB, with one audience.

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum_oauth2_client::{Clock, FetchOptions, OAuth2Service, SystemClock, TokenExchangeOptions};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, Request};
use serde_json::json;
use tokio::runtime::{Handle, Runtime};

use common::{TokenEndpoint, TokenSettings};

/// The provider with 1 KiB tokens.
const JWT: &str = "jwt";
/// The provider with 43-byte opaque tokens (32 random bytes, base64url).
const OPAQUE: &str = "opaque";

/// The token exchange whose result the fixture caches.
fn exchange() -> TokenExchangeOptions {
    TokenExchangeOptions::new(common::jwt_like("subject", 1024)).audience("orders-api")
}

/// Polls a future once with a no-op waker; a warm-cache call is ready then.
///
/// Always inlined, so that the future is built where it is polled, as an
/// `.await` builds it in its caller's future: left to the inliner, a call
/// copies the future into its frame first, and a run then times that copy
/// (a `memcpy` and a stalled load of the future's state) instead of the
/// hit, by whether this generic function happened to be inlined.
#[inline(always)]
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a warm-cache call must complete at its first poll"),
    }
}

struct Fixture {
    rt: Runtime,
    service: OAuth2Service,
    upstream: String,
    jwt_endpoint: String,
}

impl Fixture {
    fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let jwt = TokenEndpoint::new(TokenSettings::default()).serve(rt.handle());
        let opaque = TokenEndpoint::new(TokenSettings {
            token_len: 43,
            ..TokenSettings::default()
        })
        .serve(rt.handle());
        let upstream = common::serve_upstream(rt.handle());
        let service = {
            let _rt = rt.enter();
            common::service_with(
                &[(JWT, &jwt), (OPAQUE, &opaque)],
                Duration::from_secs(60),
                Duration::from_secs(10),
            )
        };
        rt.block_on(async {
            for provider in [JWT, OPAQUE] {
                service
                    .get_token(provider, None)
                    .await
                    .expect("warm the cache");
            }
            service
                .get_token(JWT, Some(&exchange()))
                .await
                .expect("warm the exchange entry");
        });
        Self {
            rt,
            service,
            upstream,
            jwt_endpoint: jwt,
        }
    }

    fn request(&self) -> Request {
        Request::new(Method::GET, self.upstream.parse().expect("upstream URL"))
    }
}

/// Runs `iters` calls on each of `threads` OS threads (inside `handle`'s
/// runtime context) and returns the wall time from the common start to the
/// last thread's end.
fn on_threads<S>(
    threads: usize,
    iters: u64,
    handle: &Handle,
    init: impl Fn() -> S + Sync,
    call: impl Fn(&mut S) + Sync,
) -> Duration {
    let barrier = Barrier::new(threads);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let _rt = handle.enter();
                    let mut state = init();
                    call(&mut state);
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        call(&mut state);
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("benchmark thread"))
            .collect()
    });
    let start = spans.iter().map(|s| s.0).min().expect("a thread");
    let end = spans.iter().map(|s| s.1).max().expect("a thread");
    end - start
}

/// Heap allocations per call, counted on the calling thread.
fn allocations_per_call(calls: u64, mut call: impl FnMut()) -> (f64, f64) {
    call();
    let info = allocation_counter::measure(|| {
        for _ in 0..calls {
            call();
        }
    });
    (
        info.count_total as f64 / calls as f64,
        info.bytes_total as f64 / calls as f64,
    )
}

/// Three ways to call the upstream with a token.
#[derive(Debug, Clone, Copy)]
enum Way {
    /// `OAuth2Service::fetch`.
    Fetch,
    /// A request built by reqwest, `OAuth2Service::authorize`, `execute`.
    AuthorizeExecute,
    /// reqwest with a fixed header: the limit.
    Raw,
}

impl Way {
    const ALL: [Way; 3] = [Way::Fetch, Way::AuthorizeExecute, Way::Raw];

    fn name(self) -> &'static str {
        match self {
            Self::Fetch => "fetch",
            Self::AuthorizeExecute => "authorize_execute",
            Self::Raw => "raw",
        }
    }
}

/// Upstream calls on a current-thread runtime owned by the bench thread:
/// the client and its connection tasks run here (so their allocations are
/// counted on this thread). The upstream runs on the fixture's runtime, or
/// with `local_upstream` on this same thread, which takes the cross-thread
/// wake-ups (tens of µs of noise on a VM) out of a timed call.
struct ClientSide {
    rt: Runtime,
    service: OAuth2Service,
    client: reqwest::Client,
    header: HeaderValue,
    url: String,
}

impl ClientSide {
    fn start(fx: &Fixture, local_upstream: bool) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let url = if local_upstream {
            common::serve_upstream(rt.handle())
        } else {
            fx.upstream.clone()
        };
        let service = {
            let _rt = rt.enter();
            common::service(
                &fx.jwt_endpoint,
                Duration::from_secs(60),
                Duration::from_secs(10),
            )
        };
        let token = rt
            .block_on(service.get_token(common::PROVIDER, None))
            .expect("token");
        let header: &'static str = Box::leak(format!("Bearer {}", token.secret()).into_boxed_str());
        let mut header = HeaderValue::from_static(header);
        header.set_sensitive(true);
        let this = Self {
            rt,
            service,
            client: common::http_client(),
            header,
            url,
        };
        for way in Way::ALL {
            this.run(way, 50);
        }
        this
    }

    async fn call(&self, way: Way) {
        let response = match way {
            Way::Fetch => self
                .service
                .fetch(common::PROVIDER, &self.url, FetchOptions::default())
                .await
                .expect("fetch"),
            Way::AuthorizeExecute => {
                let mut request = self.client.get(&self.url).build().expect("request");
                self.service
                    .authorize(common::PROVIDER, &mut request, None)
                    .await
                    .expect("authorize");
                self.client.execute(request).await.expect("execute")
            }
            Way::Raw => self
                .client
                .get(&self.url)
                .header(AUTHORIZATION, self.header.clone())
                .send()
                .await
                .expect("raw"),
        };
        black_box(response.bytes().await.expect("body"));
    }

    /// `n` calls in one `block_on`.
    fn run(&self, way: Way, n: u64) {
        self.rt.block_on(async {
            for _ in 0..n {
                self.call(way).await;
            }
        });
    }
}

/// Counts allocations of the hot paths and of whole upstream calls, and
/// writes them to `allocations.json`.
fn count_allocations(fx: &Fixture) {
    let _rt = fx.rt.enter();
    let svc = &fx.service;
    let calls = 100_000;
    let (get_token, get_token_bytes) = allocations_per_call(calls, || {
        black_box(ready(svc.get_token(JWT, None)).expect("hit"));
    });
    let mut request = fx.request();
    let (authorize, authorize_bytes) = allocations_per_call(calls, || {
        ready(svc.authorize(JWT, &mut request, None)).expect("hit");
    });
    let mut request = fx.request();
    let (authorize_opaque, authorize_opaque_bytes) = allocations_per_call(calls, || {
        ready(svc.authorize(OPAQUE, &mut request, None)).expect("hit");
    });
    let (fresh_request, fresh_request_bytes) = allocations_per_call(calls, || {
        let mut request = fx.request();
        ready(svc.authorize(JWT, &mut request, None)).expect("hit");
        black_box(request);
    });
    let exchange = exchange();
    let (get_exchange, get_exchange_bytes) = allocations_per_call(calls, || {
        black_box(ready(svc.get_token(JWT, Some(&exchange))).expect("hit"));
    });
    let (bare_request, bare_request_bytes) = allocations_per_call(calls, || {
        black_box(fx.request());
    });

    // Whole upstream calls, client side (see `ClientSide`).
    let client_side = ClientSide::start(fx, false);
    let calls = 2_000;
    let mut upstream = serde_json::Map::new();
    for way in Way::ALL {
        client_side.run(way, 100);
        let info = allocation_counter::measure(|| client_side.run(way, calls));
        upstream.insert(
            way.name().to_owned(),
            json!({
                "allocations": info.count_total as f64 / calls as f64,
                "bytes": info.bytes_total as f64 / calls as f64,
            }),
        );
    }
    // What each call's future occupies, created and dropped unpolled.
    let cs = &client_side;
    let future_sizes = json!({
        "get_token": std::mem::size_of_val(&svc.get_token(JWT, None)),
        "authorize": std::mem::size_of_val(&svc.authorize(JWT, &mut fx.request(), None)),
        "fetch": std::mem::size_of_val(&cs.service.fetch(common::PROVIDER, &cs.url, FetchOptions::default())),
        "reqwest_send": std::mem::size_of_val(&cs.client.get(&cs.url).send()),
    });

    let report = json!({
        "note": "heap allocations per call on the calling thread (allocation-counter); bytes are requested sizes",
        "get_token_hit": { "allocations": get_token, "bytes": get_token_bytes },
        "get_token_exchange_hit": { "allocations": get_exchange, "bytes": get_exchange_bytes },
        "authorize_hit_jwt_1KiB": { "allocations": authorize, "bytes": authorize_bytes },
        "authorize_hit_opaque_43B": { "allocations": authorize_opaque, "bytes": authorize_opaque_bytes },
        "authorize_hit_on_a_new_request": { "allocations": fresh_request, "bytes": fresh_request_bytes },
        "new_request_alone": { "allocations": bare_request, "bytes": bare_request_bytes },
        "upstream_call_client_side": upstream,
        "future_sizes_bytes": future_sizes,
    });
    eprintln!(
        "allocations per call: get_token hit {get_token:.2}, authorize hit {authorize:.2} \
         ({authorize_bytes:.0} B); upstream calls {upstream:?}"
    );
    common::write_json("allocations", &report);
}

fn floor(c: &mut Criterion) {
    let mut group = c.benchmark_group("floor");
    group.bench_function("instant_now", |b| b.iter(Instant::now));
    // What the cache reads on a hit: an upper bound of the clock from the
    // coarse monotonic clock.
    group.bench_function("clock_upper_bound", |b| {
        b.iter(|| SystemClock.now_upper_bound())
    });
    let swap = ArcSwap::from_pointee(String::from("token"));
    group.bench_function("arc_swap_load", |b| {
        b.iter(|| {
            let guard = swap.load();
            black_box(guard.len())
        });
    });
    let shared = Arc::new(String::from("token"));
    group.bench_function("arc_clone", |b| b.iter(|| black_box(Arc::clone(&shared))));
    // A provider lookup as the service keys providers: std's SipHash map.
    let providers: HashMap<Box<str>, Arc<String>> = [JWT, OPAQUE]
        .into_iter()
        .map(|name| (Box::from(name), Arc::new(name.to_owned())))
        .collect();
    group.bench_function("provider_lookup_siphash", |b| {
        b.iter(|| black_box(providers.get(black_box(JWT))).map(|p| p.len()));
    });
    // Attaching a shared header as the cache does, without the cache: a
    // reference-count increment, the map insert, and the release of the
    // value it replaces.
    let header = HeaderValue::try_from(format!("Bearer {}", common::jwt_like("floor", 1024)))
        .expect("header");
    group.bench_function("header_insert_shared", |b| {
        let mut request = Request::new(Method::GET, "http://127.0.0.1/".parse().expect("url"));
        b.iter(|| {
            request
                .headers_mut()
                .insert(AUTHORIZATION, black_box(&header).clone())
        });
    });
    group.finish();
}

fn single_thread(c: &mut Criterion, fx: &Fixture) {
    let _rt = fx.rt.enter();
    let svc = &fx.service;
    let mut group = c.benchmark_group("cache_hit");
    group.bench_function("get_token", |b| {
        b.iter(|| ready(svc.get_token(JWT, None)).expect("hit"));
    });
    group.bench_function("authorize", |b| {
        let mut request = fx.request();
        b.iter(|| ready(svc.authorize(JWT, &mut request, None)).expect("hit"));
    });
    let exchange = exchange();
    group.bench_function("get_token_exchange", |b| {
        b.iter(|| ready(svc.get_token(JWT, Some(&exchange))).expect("hit"));
    });
    group.bench_function("authorize_opaque_43B", |b| {
        let mut request = fx.request();
        b.iter(|| ready(svc.authorize(OPAQUE, &mut request, None)).expect("hit"));
    });
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    group.bench_function("authorize_block_on_current_thread", |b| {
        let mut request = fx.request();
        b.iter(|| {
            current
                .block_on(svc.authorize(JWT, &mut request, None))
                .expect("hit")
        });
    });
    group.finish();
}

fn threads(c: &mut Criterion, fx: &Fixture) {
    let handle = fx.rt.handle();
    let svc = &fx.service;
    let swap = ArcSwap::from_pointee(String::from("token"));
    let shared = Arc::new(String::from("token"));
    // A 1 KiB bearer header built as the cache builds its own: shared by
    // every thread, as the cached one is.
    let header = HeaderValue::try_from(format!("Bearer {}", common::jwt_like("floor", 1024)))
        .expect("header");
    let mut group = c.benchmark_group("threads");
    for n in [1, 2] {
        let g = &mut group;
        per_thread(
            g,
            "get_token",
            n,
            handle,
            || (),
            |()| {
                black_box(ready(svc.get_token(JWT, None)).expect("hit"));
            },
        );
        per_thread(
            g,
            "authorize",
            n,
            handle,
            || fx.request(),
            |request| {
                ready(svc.authorize(JWT, request, None)).expect("hit");
            },
        );
        per_thread(
            g,
            "arc_swap_load",
            n,
            handle,
            || (),
            |()| {
                black_box(swap.load().len());
            },
        );
        per_thread(
            g,
            "arc_clone",
            n,
            handle,
            || (),
            |()| {
                black_box(Arc::clone(&shared));
            },
        );
        // The two ways to give a request the cached header: a clone (a
        // reference count shared by all threads) or a copy (an allocation
        // and a validating copy of the bytes).
        per_thread(
            g,
            "header_clone_1KiB",
            n,
            handle,
            || (),
            |()| {
                black_box(header.clone());
            },
        );
        per_thread(
            g,
            "header_copy_1KiB",
            n,
            handle,
            || (),
            |()| {
                black_box(HeaderValue::from_bytes(header.as_bytes()).expect("valid"));
            },
        );
        // The control: each thread clones its own `Arc`, nothing is shared.
        // Equal figures for 1 and 2 threads mean both threads had a core.
        per_thread(
            g,
            "arc_clone_unshared",
            n,
            handle,
            || Arc::new(String::from("token")),
            |own| {
                black_box(Arc::clone(own));
            },
        );
    }
    group.finish();
}

/// Benchmark `threads/<name>/<threads>`: `call` on each of `threads`
/// threads, on per-thread state from `init` (see [`on_threads`]).
fn per_thread<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    threads: usize,
    handle: &Handle,
    init: impl Fn() -> S + Sync,
    call: impl Fn(&mut S) + Sync,
) {
    group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, &n| {
        b.iter_custom(|iters| on_threads(n, iters, handle, &init, &call));
    });
}

/// A whole loopback call, client and upstream on this thread: the
/// difference to `raw` is what the token manager adds to a call.
fn upstream_call(c: &mut Criterion, fx: &Fixture) {
    let client_side = ClientSide::start(fx, true);
    let mut group = c.benchmark_group("upstream_call");
    for way in Way::ALL {
        group.bench_function(way.name(), |b| {
            b.to_async(&client_side.rt).iter(|| client_side.call(way));
        });
    }
    group.finish();
}

fn main() {
    let fx = Fixture::start();
    if common::bench_mode() {
        count_allocations(&fx);
    }
    let mut c = Criterion::default().configure_from_args();
    floor(&mut c);
    single_thread(&mut c, &fx);
    threads(&mut c, &fx);
    upstream_call(&mut c, &fx);
    c.final_summary();
}
