//! Load scenarios: what the token manager costs on a real request path,
//! side by side with the limit (a raw `reqwest` call with a fixed bearer
//! header), and how it behaves under concurrency.
//!
//! ```sh
//! cargo bench --bench load -- <fetch|stampede|rotation|memory|wrk|all>
//! ```
//!
//! * `fetch`: a loopback upstream driven with keep-alive at 1, 16 and 64
//!   concurrent workers, `OAuth2Service::fetch` against raw `reqwest`,
//!   alternating A/B then B/A in successive rounds so that drift cancels.
//! * `stampede`: 10,000 callers on a cold cache for one provider, and 1,000
//!   subjects × 10 callers for token exchange; requests at the token
//!   endpoint are counted.
//! * `rotation`: tokens living 2 s with a 1 s refresh buffer from a token
//!   endpoint that answers after 300 ms, under 64 concurrent fetches,
//!   against the same load with a long-lived token.
//! * `memory`: bytes retained per cached exchanged token (100,000 of them,
//!   1 KiB each), counted by a per-thread counting allocator, and resident
//!   memory.
//! * `wrk`: the template server end to end: `wrk` against a route that
//!   calls the upstream through the extension, one that calls it with raw
//!   `reqwest`, and the template's own `/demo/orders`.
//!
//! Durations come from the environment (see `scripts/bench.sh`); every
//! server listens on 127.0.0.1, every loop is bounded in time and count.
//! Results are written as JSON under `target/bench-results/`.
//!
//! Under `cargo test --benches` (no `--bench` argument) nothing runs.

mod common;

use std::collections::BTreeMap;
use std::ops::Range;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_oauth2_client::{FetchOptions, OAuth2Extension, OAuth2Service, TokenExchangeOptions};
use axum_oauth2_template as server;
use futures_util::StreamExt as _;
use hdrhistogram::Histogram;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use common::{PROVIDER, TokenEndpoint, TokenSettings, env_or};

/// Percentiles at which latency curves are written (100 is the maximum).
const CURVE: &[f64] = &[
    0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 92.5, 95.0, 96.25, 97.5,
    98.0, 98.5, 99.0, 99.25, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999, 100.0,
];

/// At most this many requests per worker in one timed segment.
const MAX_REQUESTS_PER_WORKER: u64 = 20_000_000;

/// A request slower than this waited on something (the token endpoint).
const SLOW: Duration = Duration::from_millis(50);

struct Settings {
    seconds: f64,
    fetch_rounds: usize,
    rounds: usize,
    concurrency: Vec<usize>,
    rotation_seconds: f64,
    rotation_rounds: usize,
    stampede_callers: usize,
    stampede_subjects: usize,
    stampede_per_subject: usize,
    memory_entries: usize,
    wrk_seconds: u64,
    wrk_rounds: usize,
    wrk_connections: usize,
    wrk_threads: usize,
}

impl Settings {
    fn from_env() -> Self {
        let concurrency = std::env::var("BENCH_CONCURRENCY")
            .unwrap_or_else(|_| "1,16,64".into())
            .split(',')
            .map(|c| c.trim().parse().expect("BENCH_CONCURRENCY: numbers"))
            .collect();
        Self {
            seconds: env_or("BENCH_SECONDS", 1.0),
            fetch_rounds: env_or("BENCH_FETCH_ROUNDS", 10),
            rounds: env_or("BENCH_ROUNDS", 3),
            concurrency,
            rotation_seconds: env_or("BENCH_ROTATION_SECONDS", 20.0),
            rotation_rounds: env_or("BENCH_ROTATION_ROUNDS", 3),
            stampede_callers: env_or("BENCH_STAMPEDE_CALLERS", 10_000),
            stampede_subjects: env_or("BENCH_STAMPEDE_SUBJECTS", 1_000),
            stampede_per_subject: env_or("BENCH_STAMPEDE_PER_SUBJECT", 10),
            memory_entries: env_or("BENCH_MEMORY_ENTRIES", 100_000),
            wrk_seconds: env_or("BENCH_WRK_SECONDS", 3),
            wrk_rounds: env_or("BENCH_WRK_ROUNDS", 5),
            wrk_connections: env_or("BENCH_WRK_CONNECTIONS", 64),
            wrk_threads: env_or("BENCH_WRK_THREADS", 2),
        }
    }
}

fn main() {
    if !common::bench_mode() {
        eprintln!("load: run with `cargo bench --bench load -- <scenario>`; nothing to do here");
        return;
    }
    let scenario = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "all".to_owned());
    let settings = Settings::from_env();
    let run = |name: &str| match name {
        "fetch" => common::write_json("fetch", &fetch(&settings)),
        "stampede" => common::write_json("stampede", &stampede(&settings)),
        "rotation" => common::write_json("rotation", &rotation(&settings)),
        "memory" => common::write_json("memory", &memory(&settings)),
        "wrk" => common::write_json("wrk", &wrk(&settings)),
        other => {
            panic!("unknown scenario {other:?}: fetch, stampede, rotation, memory, wrk or all")
        }
    };
    if scenario == "all" {
        for name in ["fetch", "stampede", "rotation", "memory", "wrk"] {
            run(name);
        }
    } else {
        run(&scenario);
    }
}

fn runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000_000, 3).expect("histogram")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The first and third quartiles (nearest rank).
fn quartiles(mut values: Vec<f64>) -> [f64; 2] {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return [f64::NAN; 2];
    }
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    [at(0.25), at(0.75)]
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

/// What one timed segment of load measured.
struct Segment {
    latency: Histogram<u64>,
    max_ns: u64,
    errors: u64,
    slow: u64,
    elapsed: Duration,
}

impl Segment {
    fn empty() -> Self {
        Self {
            latency: histogram(),
            max_ns: 0,
            errors: 0,
            slow: 0,
            elapsed: Duration::ZERO,
        }
    }

    fn merge(&mut self, other: &Segment) {
        self.latency.add(&other.latency).expect("same bounds");
        self.max_ns = self.max_ns.max(other.max_ns);
        self.errors += other.errors;
        self.slow += other.slow;
        self.elapsed += other.elapsed;
    }

    fn throughput(&self) -> f64 {
        self.latency.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn quantile_us(&self, q: f64) -> f64 {
        us(self.latency.value_at_quantile(q))
    }

    fn summary(&self) -> Value {
        json!({
            "requests": self.latency.len(),
            "errors": self.errors,
            "seconds": self.elapsed.as_secs_f64(),
            "throughput_rps": self.throughput(),
            "mean_us": self.latency.mean() / 1_000.0,
            "p50_us": self.quantile_us(0.50),
            "p90_us": self.quantile_us(0.90),
            "p99_us": self.quantile_us(0.99),
            "p999_us": self.quantile_us(0.999),
            "max_us": us(self.max_ns),
            "over_50ms": self.slow,
        })
    }

    /// `[percentile, microseconds]` points of the latency distribution.
    fn curve(&self) -> Value {
        let points: Vec<[f64; 2]> = CURVE
            .iter()
            .map(|&p| {
                let value = if p >= 100.0 {
                    us(self.max_ns)
                } else {
                    self.quantile_us(p / 100.0)
                };
                [p, value]
            })
            .collect();
        json!(points)
    }
}

/// How a worker calls the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `OAuth2Service::fetch`: token from the cache, attached per request.
    Fetch,
    /// A request built by `reqwest`, given its token by
    /// `OAuth2Service::authorize`, sent with `Client::execute`: the token
    /// attaching part of fetch without the rest.
    Authorize,
    /// `reqwest` with a fixed `Authorization` header: no token management.
    Raw,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Fetch, Mode::Authorize, Mode::Raw];

    fn name(self) -> &'static str {
        match self {
            Self::Fetch => "fetch",
            Self::Authorize => "authorize",
            Self::Raw => "raw",
        }
    }
}

/// The upstream, and the two ways of calling it.
struct Target {
    service: OAuth2Service,
    client: reqwest::Client,
    url: String,
    /// `Bearer <token>`, static: cloning it touches no reference count.
    header: HeaderValue,
}

impl Target {
    /// Builds both clients (identically configured) and, through
    /// `service`, the fixed header for the raw one.
    async fn new(service: OAuth2Service, url: String) -> Self {
        let token = service.get_token(PROVIDER, None).await.expect("token");
        let header: &'static str = Box::leak(format!("Bearer {}", token.secret()).into_boxed_str());
        let mut header = HeaderValue::from_static(header);
        header.set_sensitive(true);
        Self {
            service,
            client: common::http_client(),
            url,
            header,
        }
    }

    async fn call(&self, mode: Mode) -> bool {
        let response = match mode {
            Mode::Fetch => self
                .service
                .fetch(PROVIDER, &self.url, FetchOptions::default())
                .await
                .ok(),
            Mode::Authorize => {
                let Ok(mut request) = self.client.get(&self.url).build() else {
                    return false;
                };
                if self
                    .service
                    .authorize(PROVIDER, &mut request, None)
                    .await
                    .is_err()
                {
                    return false;
                }
                self.client.execute(request).await.ok()
            }
            Mode::Raw => self
                .client
                .get(&self.url)
                .header(AUTHORIZATION, self.header.clone())
                .send()
                .await
                .ok(),
        };
        match response {
            Some(r) if r.status() == StatusCode::OK => r.bytes().await.is_ok(),
            _ => false,
        }
    }
}

/// `concurrency` workers call the upstream back to back for `duration`.
async fn load(target: &Arc<Target>, mode: Mode, concurrency: usize, duration: Duration) -> Segment {
    let start = Instant::now();
    let deadline = start + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let target = Arc::clone(target);
            tokio::spawn(async move {
                let mut segment = Segment::empty();
                let mut sent = 0;
                while sent < MAX_REQUESTS_PER_WORKER && Instant::now() < deadline {
                    sent += 1;
                    let t = Instant::now();
                    let ok = target.call(mode).await;
                    let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    if ok {
                        segment.latency.saturating_record(ns);
                        segment.max_ns = segment.max_ns.max(ns);
                        if ns > SLOW.as_nanos() as u64 {
                            segment.slow += 1;
                        }
                    } else {
                        segment.errors += 1;
                    }
                }
                segment
            })
        })
        .collect();
    let mut total = Segment::empty();
    for worker in workers {
        total.merge(&worker.await.expect("worker"));
    }
    total.elapsed = start.elapsed();
    total
}

// ----------------------------------------------------------------- fetch

fn fetch(s: &Settings) -> Value {
    let rt = runtime(2);
    let endpoint = TokenEndpoint::new(TokenSettings::default());
    let token_url = endpoint.serve(rt.handle());
    let upstream = common::serve_upstream(rt.handle());
    let target = rt.block_on(async {
        let service = common::service(&token_url, Duration::from_secs(60), Duration::from_secs(10));
        Arc::new(Target::new(service, upstream).await)
    });
    let duration = Duration::from_secs_f64(s.seconds);
    let mut levels = Vec::new();
    for &concurrency in &s.concurrency {
        eprintln!(
            "fetch: {concurrency} workers, {} rounds of {:.1} s per mode",
            s.fetch_rounds, s.seconds
        );
        rt.block_on(async {
            for mode in Mode::ALL {
                load(&target, mode, concurrency, Duration::from_secs(1)).await;
            }
        });
        let mut rounds = Vec::new();
        let mut totals = Mode::ALL.map(|_| Segment::empty());
        // Ratios to raw, per round: [fetch, authorize] × [throughput, p50, p99].
        let mut ratios: [[Vec<f64>; 3]; 2] = Default::default();
        for round in 0..s.fetch_rounds {
            let mut order = Mode::ALL;
            if round % 2 == 1 {
                order.reverse();
            }
            let mut segments = Mode::ALL.map(|_| None);
            for mode in order {
                let segment = rt.block_on(load(&target, mode, concurrency, duration));
                segments[mode as usize] = Some(segment);
            }
            let segments = segments.map(|s| s.expect("every mode ran"));
            let raw = &segments[Mode::Raw as usize];
            let mut entry = serde_json::Map::new();
            entry.insert("order".into(), json!(order.map(Mode::name)));
            for mode in Mode::ALL {
                let segment = &segments[mode as usize];
                entry.insert(mode.name().into(), segment.summary());
                if mode == Mode::Raw {
                    continue;
                }
                let figures = [
                    segment.throughput() / raw.throughput(),
                    segment.quantile_us(0.5) / raw.quantile_us(0.5),
                    segment.quantile_us(0.99) / raw.quantile_us(0.99),
                ];
                for (list, figure) in ratios[mode as usize].iter_mut().zip(figures) {
                    list.push(figure);
                }
                entry.insert(
                    format!("{}_ratio", mode.name()),
                    json!({ "throughput": figures[0], "p50": figures[1], "p99": figures[2] }),
                );
            }
            eprintln!(
                "  round {round}: {}",
                Mode::ALL
                    .map(|m| {
                        let s = &segments[m as usize];
                        format!(
                            "{} {:.0} req/s p99 {:.0} µs",
                            m.name(),
                            s.throughput(),
                            s.quantile_us(0.99)
                        )
                    })
                    .join(" | ")
            );
            for (total, segment) in totals.iter_mut().zip(&segments) {
                total.merge(segment);
            }
            rounds.push(Value::Object(entry));
        }
        let raw = &totals[Mode::Raw as usize];
        let median_ratio = |mode: Mode| {
            let [thr, p50, p99] = ratios[mode as usize].clone().map(median);
            let [thr_q, _, p99_q] = ratios[mode as usize].clone().map(quartiles);
            json!({
                "throughput": thr,
                "p50": p50,
                "p99": p99,
                "throughput_quartiles": thr_q,
                "p99_quartiles": p99_q,
            })
        };
        let all_rounds_ratio = |mode: Mode| {
            let t = &totals[mode as usize];
            json!({
                "throughput": t.throughput() / raw.throughput(),
                "p50": t.quantile_us(0.5) / raw.quantile_us(0.5),
                "p99": t.quantile_us(0.99) / raw.quantile_us(0.99),
            })
        };
        levels.push(json!({
            "concurrency": concurrency,
            "rounds": rounds,
            "median_ratio": median_ratio(Mode::Fetch),
            "median_ratio_authorize": median_ratio(Mode::Authorize),
            "all_rounds": Mode::ALL.map(|m| (m.name().to_owned(), totals[m as usize].summary()))
                .into_iter()
                .collect::<serde_json::Map<_, _>>(),
            "all_rounds_ratio": all_rounds_ratio(Mode::Fetch),
            "all_rounds_ratio_authorize": all_rounds_ratio(Mode::Authorize),
            "curves": Mode::ALL.map(|m| (m.name().to_owned(), totals[m as usize].curve()))
                .into_iter()
                .collect::<serde_json::Map<_, _>>(),
        }));
    }
    json!({
        "scenario": "fetch",
        "seconds_per_segment": s.seconds,
        "rounds": s.fetch_rounds,
        "token_requests": endpoint.client_credentials(),
        "levels": levels,
    })
}

// -------------------------------------------------------------- stampede

/// What a crowd of callers saw.
struct Crowd {
    all_done: Duration,
    median_done: Duration,
    errors: usize,
}

/// `callers` tasks wait at a start line, then call `get_token` at once;
/// caller `i` exchanges `subject(i)` when it gives one.
async fn crowd(
    service: &OAuth2Service,
    callers: usize,
    subject: impl Fn(usize) -> Option<String>,
) -> Crowd {
    let (go, start_line) = tokio::sync::watch::channel(false);
    let tasks: Vec<_> = (0..callers)
        .map(|i| {
            let service = service.clone();
            let mut start_line = start_line.clone();
            let exchange = subject(i).map(TokenExchangeOptions::new);
            tokio::spawn(async move {
                let _ = start_line.wait_for(|go| *go).await;
                let ok = service.get_token(PROVIDER, exchange.as_ref()).await.is_ok();
                (ok, Instant::now())
            })
        })
        .collect();
    // Let every task reach the start line.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    go.send(true).expect("callers wait");
    let mut done = Vec::with_capacity(callers);
    let mut errors = 0;
    for task in tasks {
        let (ok, at) = task.await.expect("caller");
        errors += usize::from(!ok);
        done.push(at.saturating_duration_since(start));
    }
    done.sort();
    Crowd {
        all_done: done.last().copied().unwrap_or_default(),
        median_done: done.get(done.len() / 2).copied().unwrap_or_default(),
        errors,
    }
}

fn stampede(s: &Settings) -> Value {
    let rt = runtime(2);
    let endpoint = TokenEndpoint::new(TokenSettings::default());
    let token_url = endpoint.serve(rt.handle());
    let fresh = || {
        let _rt = rt.enter();
        common::service(&token_url, Duration::from_secs(60), Duration::from_secs(30))
    };
    let mut client_credentials = Vec::new();
    let mut exchange = Vec::new();
    for round in 0..s.rounds {
        let service = fresh();
        let before = endpoint.client_credentials();
        let crowd_cc = rt.block_on(crowd(&service, s.stampede_callers, |_| None));
        let requests = endpoint.client_credentials() - before;
        eprintln!(
            "stampede round {round}: {} callers -> {requests} token request(s), all served in {:.1} ms",
            s.stampede_callers,
            crowd_cc.all_done.as_secs_f64() * 1e3
        );
        client_credentials.push(json!({
            "callers": s.stampede_callers,
            "token_requests": requests,
            "errors": crowd_cc.errors,
            "all_served_ms": crowd_cc.all_done.as_secs_f64() * 1e3,
            "median_served_ms": crowd_cc.median_done.as_secs_f64() * 1e3,
        }));

        let service = fresh();
        let before = endpoint.exchanges();
        let per = s.stampede_per_subject;
        let callers = s.stampede_subjects * per;
        let crowd_ex = rt.block_on(crowd(&service, callers, |i| {
            Some(format!("round-{round}-subject-{}", i / per))
        }));
        let requests = endpoint.exchanges() - before;
        eprintln!(
            "stampede round {round}: {} subjects x {per} callers -> {requests} exchange(s), all served in {:.1} ms",
            s.stampede_subjects,
            crowd_ex.all_done.as_secs_f64() * 1e3
        );
        exchange.push(json!({
            "subjects": s.stampede_subjects,
            "callers_per_subject": per,
            "callers": callers,
            "exchanges": requests,
            "errors": crowd_ex.errors,
            "all_served_ms": crowd_ex.all_done.as_secs_f64() * 1e3,
            "median_served_ms": crowd_ex.median_done.as_secs_f64() * 1e3,
        }));
    }
    let median_of = |rounds: &[Value], key: &str| {
        median(rounds.iter().filter_map(|r| r[key].as_f64()).collect())
    };
    json!({
        "scenario": "stampede",
        "client_credentials": {
            "rounds": client_credentials,
            "median_all_served_ms": median_of(&client_credentials, "all_served_ms"),
            "max_token_requests": client_credentials.iter().filter_map(|r| r["token_requests"].as_u64()).max(),
        },
        "token_exchange": {
            "rounds": exchange,
            "median_all_served_ms": median_of(&exchange, "all_served_ms"),
            "max_exchanges": exchange.iter().filter_map(|r| r["exchanges"].as_u64()).max(),
        },
    })
}

// -------------------------------------------------------------- rotation

fn rotation(s: &Settings) -> Value {
    const CONCURRENCY: usize = 64;
    let rt = runtime(2);
    let upstream = common::serve_upstream(rt.handle());
    let delay = Duration::from_millis(300);
    let buffer = Duration::from_secs(1);
    let variants = [("rotation", 2), ("no_rotation", 3600)].map(|(name, expires_in)| {
        let endpoint = TokenEndpoint::new(TokenSettings {
            delay,
            expires_in,
            ..TokenSettings::default()
        });
        let token_url = endpoint.serve(rt.handle());
        let target = rt.block_on(async {
            let service = common::service(&token_url, buffer, Duration::from_secs(10));
            Arc::new(Target::new(service, upstream.clone()).await)
        });
        (name, endpoint, target)
    });
    let duration = Duration::from_secs_f64(s.rotation_seconds);
    let mut rounds = Vec::new();
    let mut totals = [Segment::empty(), Segment::empty()];
    let mut token_rates = [Vec::new(), Vec::new()];
    for round in 0..s.rotation_rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut entry = serde_json::Map::new();
        for index in order {
            let (name, endpoint, target) = &variants[index];
            eprintln!(
                "rotation round {round}: {name}, {CONCURRENCY} workers for {:.0} s",
                duration.as_secs_f64()
            );
            // Warm-up: after an idle spell the token may have expired;
            // the first callers then wait for one (not measured).
            rt.block_on(load(
                target,
                Mode::Fetch,
                CONCURRENCY,
                Duration::from_secs(1),
            ));
            let before = endpoint.client_credentials();
            let segment = rt.block_on(load(target, Mode::Fetch, CONCURRENCY, duration));
            let requests = endpoint.client_credentials() - before;
            let per_20s = requests as f64 * 20.0 / segment.elapsed.as_secs_f64();
            token_rates[index].push(per_20s);
            eprintln!(
                "  p99 {:.0} µs, max {:.1} ms, {} over 50 ms, {requests} token requests",
                segment.quantile_us(0.99),
                segment.max_ns as f64 / 1e6,
                segment.slow
            );
            let mut summary = segment.summary();
            summary["token_requests"] = json!(requests);
            summary["token_requests_per_20s"] = json!(per_20s);
            entry.insert((*name).to_owned(), summary);
            totals[index].merge(&segment);
        }
        rounds.push(Value::Object(entry));
    }
    let [a, b] = &totals;
    json!({
        "scenario": "rotation",
        "concurrency": CONCURRENCY,
        "seconds_per_segment": s.rotation_seconds,
        "token_lifetime_s": 2,
        "refresh_buffer_s": 1,
        "token_endpoint_delay_ms": 300,
        "rounds": rounds,
        "all_rounds": { "rotation": a.summary(), "no_rotation": b.summary() },
        "median_token_requests_per_20s": {
            "rotation": median(token_rates[0].clone()),
            "no_rotation": median(token_rates[1].clone()),
        },
        "curves": { "rotation": a.curve(), "no_rotation": b.curve() },
    })
}

// ---------------------------------------------------------------- memory

/// Resident memory of this process, in bytes.
fn vm_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Exchanges the subjects `range` (64 at a time); returns the failures.
async fn fill(service: &OAuth2Service, tag: &str, range: Range<usize>) -> usize {
    futures_util::stream::iter(range)
        .map(|i| async move {
            let exchange = TokenExchangeOptions::new(format!("{tag}-subject-{i}"));
            service.get_token(PROVIDER, Some(&exchange)).await.is_ok()
        })
        .buffer_unordered(64)
        .filter(|ok| std::future::ready(!ok))
        .count()
        .await
}

/// What a memory measurement keeps alive until every measurement is done,
/// so that a later one cannot reuse its memory and look smaller.
struct Kept {
    _service: OAuth2Service,
    _client: Runtime,
    _server: Runtime,
}

/// Caches `entries` exchanged tokens of `token_len` bytes and measures what
/// they retain. Everything the client does runs on this thread (a
/// current-thread runtime), so the thread's allocation count is the
/// cache's; the token endpoint runs on its own runtime.
fn memory_with(entries: usize, token_len: usize) -> (Value, Kept) {
    let server_rt = runtime(1);
    let endpoint = TokenEndpoint::new(TokenSettings {
        token_len,
        ..TokenSettings::default()
    });
    let token_url = endpoint.serve(server_rt.handle());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let service = {
        let _rt = rt.enter();
        // A generous bound on each token request: 100k of them run here.
        common::service(&token_url, Duration::from_secs(60), Duration::from_secs(60))
    };
    let tag = format!("len{token_len}");
    // Warm-up: connections, and the fixed part of the cache's tables.
    let warm = 1_000;
    let warm_errors = rt.block_on(fill(&service, &tag, 0..warm));
    let rss_before = vm_rss();
    let started = Instant::now();
    let mut errors = 0;
    let info = allocation_counter::measure(|| {
        errors = rt.block_on(fill(&service, &tag, warm..warm + entries));
    });
    let elapsed = started.elapsed();
    let rss_after = vm_rss();
    let cached = service.cached_tokens();
    let per_entry = info.bytes_current as f64 / entries as f64;
    let rss_per_entry = rss_after.saturating_sub(rss_before) as f64 / entries as f64;
    eprintln!(
        "memory: {entries} tokens of {token_len} B in {:.1} s: {per_entry:.0} B per entry \
         ({:.0} beyond the token), RSS +{:.1} MiB ({rss_per_entry:.0} B per entry)",
        elapsed.as_secs_f64(),
        per_entry - token_len as f64,
        rss_after.saturating_sub(rss_before) as f64 / 1_048_576.0
    );
    let report = json!({
        "entries": entries,
        "token_len": token_len,
        "errors": errors + warm_errors,
        "cached_tokens": cached,
        "exchanges": endpoint.exchanges(),
        "seconds": elapsed.as_secs_f64(),
        "retained_bytes": info.bytes_current,
        "retained_allocations": info.count_current,
        "bytes_per_entry": per_entry,
        "allocations_per_entry": info.count_current as f64 / entries as f64,
        "bytes_per_entry_beyond_token": per_entry - token_len as f64,
        "rss_before_bytes": rss_before,
        "rss_after_bytes": rss_after,
        "rss_bytes_per_entry": rss_per_entry,
    });
    let kept = Kept {
        _service: service,
        _client: rt,
        _server: server_rt,
    };
    (report, kept)
}

fn memory(s: &Settings) -> Value {
    let (jwt, kept) = memory_with(s.memory_entries, 1024);
    let (short, kept_too) = memory_with(s.memory_entries, 64);
    drop((kept, kept_too));
    // bytes per entry = fixed + copies × token length: two lengths give both.
    let (a, b) = (
        jwt["bytes_per_entry"].as_f64().unwrap_or(f64::NAN),
        short["bytes_per_entry"].as_f64().unwrap_or(f64::NAN),
    );
    let copies = (a - b) / (1024.0 - 64.0);
    let fixed = a - copies * 1024.0;
    json!({
        "scenario": "memory",
        "jwt_1KiB": jwt,
        "token_64B": short,
        "model": {
            "token_bytes_held_per_token_byte": copies,
            "fixed_bytes_per_entry": fixed,
        },
    })
}

// ------------------------------------------------------------------- wrk

/// Prints a wrk run's figures as one JSON line (latencies in microseconds).
const WRK_SCRIPT: &str = r#"-- Reports the run as one line of JSON (latencies in microseconds).
done = function(summary, latency, requests)
  local points = {}
  for _, p in ipairs({10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96.25,
                      97.5, 98, 98.5, 99, 99.25, 99.5, 99.75, 99.9, 99.95, 99.99}) do
    points[#points + 1] = string.format("[%g,%d]", p, latency:percentile(p))
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"non_2xx":%d,' ..
    '"mean_us":%.1f,"min_us":%d,"max_us":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"p999_us":%d,"curve":[[0,%d],%s,[100,%d]]}\n',
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency.mean, latency.min, latency.max, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.min, table.concat(points, ","), latency.max))
end
"#;

#[derive(Clone)]
struct Harness {
    oauth2: OAuth2Extension,
    client: reqwest::Client,
    url: Arc<str>,
    header: HeaderValue,
}

/// `GET /via-extension`: the upstream through `state.oauth2.fetch(…)`.
async fn via_extension(State(h): State<Harness>) -> Response {
    match h
        .oauth2
        .fetch(server::DEMO_PROVIDER, &*h.url, FetchOptions::default())
        .await
    {
        Ok(response) => relay(response).await,
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// `GET /raw`: the upstream through a shared client with a fixed header.
async fn raw(State(h): State<Harness>) -> Response {
    match h
        .client
        .get(&*h.url)
        .header(AUTHORIZATION, h.header.clone())
        .send()
        .await
    {
        Ok(response) => relay(response).await,
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn relay(response: reqwest::Response) -> Response {
    let status = response.status();
    match response.bytes().await {
        Ok(body) => (status, [(CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

fn wrk_installed() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

fn run_wrk(s: &Settings, script: &std::path::Path, url: &str) -> Value {
    let output = Command::new("wrk")
        .args([
            "-t",
            &s.wrk_threads.to_string(),
            "-c",
            &s.wrk_connections.to_string(),
            "-d",
            &format!("{}s", s.wrk_seconds),
            "--timeout",
            "5s",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .expect("run wrk");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("WRKJSON "))
        .unwrap_or_else(|| panic!("wrk printed no report: {stdout}"));
    let mut report: Value = serde_json::from_str(line).expect("wrk report");
    let requests = report["requests"].as_f64().unwrap_or(0.0);
    let seconds = report["duration_us"].as_f64().unwrap_or(1.0) / 1e6;
    report["requests_per_s"] = json!(requests / seconds);
    report
}

fn wrk(s: &Settings) -> Value {
    if !wrk_installed() {
        eprintln!("wrk: not installed (apt-get install -y wrk); skipped");
        return json!({ "scenario": "wrk", "skipped": "wrk is not installed" });
    }
    let rt = runtime(2);
    let upstream = common::serve(rt.handle(), common::upstream_router());
    // The template's development token endpoint, on its own port, issues
    // the `demo` provider's tokens.
    let (client_id, client_secret) = ("bench-client", "bench-secret-not-for-production");
    let authority =
        server::DevAuthority::new(client_id, client_secret.into(), Duration::from_secs(3600));
    let token_server = common::serve(rt.handle(), authority.clone().router());
    let vars: BTreeMap<String, String> = [
        ("APP_ENV", "production".to_owned()),
        (
            "OAUTH2_DEMO_TOKEN_URL",
            format!("http://{token_server}/dev/oauth/token"),
        ),
        ("OAUTH2_DEMO_CLIENT_ID", client_id.to_owned()),
        ("OAUTH2_DEMO_CLIENT_SECRET", client_secret.to_owned()),
        ("DEMO_API_URL", format!("http://{upstream}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let state = {
        let _rt = rt.enter();
        server::state_from_vars(&vars).expect("template state")
    };
    // The raw route's fixed header carries the token the extension holds.
    let token = rt
        .block_on(state.oauth2.get_token(server::DEMO_PROVIDER, None))
        .expect("token");
    let header: &'static str = Box::leak(format!("Bearer {}", token.secret()).into_boxed_str());
    let mut header = HeaderValue::from_static(header);
    header.set_sensitive(true);
    let harness = Harness {
        oauth2: state.oauth2.clone(),
        client: common::http_client(),
        url: format!("http://{upstream}{}", common::UPSTREAM_PATH).into(),
        header,
    };
    let app = Router::new()
        .route("/via-extension", get(via_extension))
        .route("/raw", get(raw))
        .with_state(harness)
        .merge(server::app(state));
    let addr = common::serve(rt.handle(), app);
    let routes = ["/via-extension", "/raw", "/demo/orders"];
    rt.block_on(async {
        let client = common::http_client();
        for route in routes {
            let response = client
                .get(format!("http://{addr}{route}"))
                .send()
                .await
                .expect("warm-up request");
            assert_eq!(response.status(), StatusCode::OK, "{route}");
        }
    });
    let script = common::results_dir().join("wrk_report.lua");
    std::fs::write(&script, WRK_SCRIPT).expect("write the wrk script");

    // Warm-up: wrk's connections, and the upstream connections each route
    // opens to serve them (not measured).
    let warm_up = Settings {
        wrk_seconds: 1,
        ..Settings::from_env()
    };
    for route in routes {
        run_wrk(&warm_up, &script, &format!("http://{addr}{route}"));
    }

    let mut rounds = Vec::new();
    let mut per_route: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let (mut rps_ratio, mut p99_ratio) = (Vec::new(), Vec::new());
    for round in 0..s.wrk_rounds {
        let mut order = routes;
        if round % 2 == 1 {
            order.reverse();
        }
        let mut entry = serde_json::Map::new();
        for route in order {
            let report = run_wrk(s, &script, &format!("http://{addr}{route}"));
            eprintln!(
                "wrk round {round} {route}: {:.0} req/s, p99 {} µs",
                report["requests_per_s"].as_f64().unwrap_or(0.0),
                report["p99_us"]
            );
            per_route.entry(route).or_default().push(report.clone());
            entry.insert(route.to_owned(), report);
        }
        let figure = |route: &str, key: &str| entry[route][key].as_f64().unwrap_or(f64::NAN);
        rps_ratio
            .push(figure("/via-extension", "requests_per_s") / figure("/raw", "requests_per_s"));
        p99_ratio.push(figure("/via-extension", "p99_us") / figure("/raw", "p99_us"));
        entry.insert("order".to_owned(), json!(order));
        rounds.push(Value::Object(entry));
    }
    let medians: serde_json::Map<String, Value> = per_route
        .iter()
        .map(|(route, reports)| {
            let of = |key: &str| median(reports.iter().filter_map(|r| r[key].as_f64()).collect());
            let mut by_rate: Vec<&Value> = reports.iter().collect();
            by_rate.sort_by(|a, b| {
                let rate = |r: &Value| r["requests_per_s"].as_f64().unwrap_or(0.0);
                rate(a).total_cmp(&rate(b))
            });
            let middle = by_rate.get(by_rate.len() / 2).map(|r| r["curve"].clone());
            (
                (*route).to_owned(),
                json!({
                    "requests_per_s": of("requests_per_s"),
                    "p50_us": of("p50_us"),
                    "p99_us": of("p99_us"),
                    "max_us": of("max_us"),
                    "errors": reports.iter().filter_map(|r| r["errors"].as_u64()).sum::<u64>(),
                    "non_2xx": reports.iter().filter_map(|r| r["non_2xx"].as_u64()).sum::<u64>(),
                    "curve_of_median_round": middle,
                }),
            )
        })
        .collect();
    json!({
        "scenario": "wrk",
        "threads": s.wrk_threads,
        "connections": s.wrk_connections,
        "seconds": s.wrk_seconds,
        "rounds": rounds,
        "medians": medians,
        "median_ratio": {
            "requests_per_s": median(rps_ratio),
            "p99": median(p99_ratio),
        },
        "token_endpoint_requests": authority.tokens_issued(),
    })
}
