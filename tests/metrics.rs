//! The metrics the template serves: scripted runs against wiremock token
//! endpoints and upstreams, then `/metrics` scraped and read, and where
//! production serves it. A test binary of its own: the recorder is
//! process-global, so each test compares two scrapes and uses provider
//! names no other test uses.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum_oauth2_client::dpop::DpopKey;
use axum_oauth2_client::{
    ManualClock, OAuth2Config, OAuth2Extension, OAuth2Service, ProviderConfig, RetryPolicy,
};
use axum_oauth2_template::{self as server, AppConfig, AppState};
use axum_test::TestServer;
use common::*;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One scrape: each series (its name and its labels, sorted) and value.
#[derive(Debug)]
struct Scrape {
    text: String,
    series: BTreeMap<String, f64>,
}

impl Scrape {
    fn parse(text: String) -> Self {
        let mut series = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (name, value) = line.rsplit_once(' ').expect("a series and its value");
            series.insert(normalize(name), value.parse().expect("a number"));
        }
        Self { text, series }
    }

    /// The value of `name` with `labels`; 0 for a series not there (yet).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.series.get(&key(name, labels)).copied().unwrap_or(0.0)
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.series.contains_key(&key(name, labels))
    }

    /// The names `# TYPE` declares, with their type.
    fn types(&self) -> Vec<(&str, &str)> {
        self.text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_once(' '))
            .collect()
    }
}

/// `name{a="1",b="2"}` with its labels in order.
fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    labels.sort();
    if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    }
}

fn normalize(series: &str) -> String {
    let Some((name, labels)) = series.split_once('{') else {
        return series.to_owned();
    };
    let labels = labels.trim_end_matches('}');
    let pairs: Vec<(&str, &str)> = labels
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k, v.trim_matches('"')))
        .collect();
    key(name, &pairs)
}

async fn scrape(test: &TestServer) -> Scrape {
    let res = test.get("/metrics").await;
    res.assert_status_ok();
    let content_type = res.header("content-type");
    assert!(
        content_type
            .to_str()
            .expect("ascii")
            .starts_with("text/plain"),
        "{content_type:?}"
    );
    Scrape::parse(res.text())
}

fn app(service: OAuth2Service) -> TestServer {
    let state = AppState {
        oauth2: OAuth2Extension::new(service),
        config: Arc::new(AppConfig::development()),
        dev: None,
    };
    TestServer::new(server::app(state))
}

/// A provider that retries quickly.
fn quick(server: &MockServer) -> ProviderConfig {
    provider(server).retry(RetryPolicy::default().base_delay(Duration::from_millis(5)))
}

#[tokio::test]
async fn a_scripted_run_shows_in_the_metrics_with_bounded_labels_and_no_secret() {
    // `metered`: tokens, and an upstream that refuses the first one.
    let upstream = token_server(Issuer::new()).await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": []})))
        .mount(&upstream)
        .await;
    // `refused`: a token endpoint that refuses the client.
    let refusing =
        token_server(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_client"})))
            .await;
    // `flaky`: unavailable once, then fine.
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(Issuer::new())
        .mount(&flaky)
        .await;
    let service = OAuth2Service::new(
        OAuth2Config::new()
            .provider("metered", quick(&upstream))
            .provider("refused", quick(&refusing))
            .provider("flaky", quick(&flaky)),
    )
    .expect("service");
    let test = app(service.clone());
    let before = scrape(&test).await;

    // One miss and one token request, then hits.
    assert_eq!(
        service
            .get_token("metered", None)
            .await
            .expect("token")
            .secret(),
        "tok-1"
    );
    const HITS: u32 = 5;
    for _ in 0..HITS {
        service.get_token("metered", None).await.expect("hit");
    }
    // A hit, a 401, the token dropped, a miss, a second token request, the retry.
    let res = service
        .fetch(
            "metered",
            &format!("{}/api/orders", upstream.uri()),
            Default::default(),
        )
        .await
        .expect("fetch");
    assert_eq!(res.status(), 200);
    // A refused token request, and one retried once.
    let error = service
        .get_token("refused", None)
        .await
        .expect_err("refused");
    assert_eq!(error.code(), "token_endpoint_error");
    service
        .get_token("flaky", None)
        .await
        .expect("after a retry");

    let after = scrape(&test).await;
    let delta =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let metered = [("provider", "metered")];
    assert_eq!(
        delta("oauth2_cache_hits_total", &metered),
        f64::from(HITS + 1)
    );
    assert_eq!(delta("oauth2_cache_misses_total", &metered), 2.0);
    assert_eq!(delta("oauth2_cache_waits_total", &metered), 2.0);
    assert_eq!(delta("oauth2_cache_stale_serves_total", &metered), 0.0);
    let requests = |provider, outcome| {
        delta(
            "oauth2_token_requests_total",
            &[
                ("provider", provider),
                ("grant", "client_credentials"),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(requests("metered", "ok"), 2.0);
    assert_eq!(requests("refused", "token_endpoint_error"), 1.0);
    assert_eq!(
        requests("flaky", "ok"),
        1.0,
        "retries are within one request"
    );
    assert_eq!(
        delta(
            "oauth2_token_request_retries_total",
            &[("provider", "flaky")]
        ),
        1.0
    );
    assert_eq!(delta("oauth2_token_request_retries_total", &metered), 0.0);
    assert_eq!(delta("oauth2_upstream_401_retries_total", &metered), 1.0);
    assert_eq!(delta("oauth2_forced_refreshes_total", &metered), 1.0);
    assert_eq!(delta("oauth2_forced_refreshes_denied_total", &metered), 0.0);
    let timed = [("provider", "metered"), ("grant", "client_credentials")];
    assert_eq!(
        delta("oauth2_token_request_duration_seconds_count", &timed),
        2.0
    );
    assert!(after.has(
        "oauth2_token_request_duration_seconds_bucket",
        &[
            ("provider", "metered"),
            ("grant", "client_credentials"),
            ("le", "+Inf")
        ]
    ));
    assert_eq!(
        after.get("oauth2_breaker_open", &[("provider", "refused")]),
        0.0
    );
    assert_eq!(after.get("oauth2_cache_waiters", &metered), 0.0);

    // Prometheus names: counters end in `_total`, histograms in `_seconds`.
    let types = after.types();
    assert!(types.iter().any(|(name, _)| name.starts_with("oauth2_")));
    for (name, kind) in types.into_iter().filter(|(n, _)| n.starts_with("oauth2_")) {
        match kind {
            "counter" => assert!(name.ends_with("_total"), "{name}"),
            "histogram" => assert!(name.ends_with("_seconds"), "{name}"),
            "gauge" => assert!(!name.ends_with("_total"), "{name}"),
            other => panic!("{name} is a {other}"),
        }
    }
    // Only bounded labels; no secret, token, client id or URL.
    for series in after.series.keys().filter(|s| s.starts_with("oauth2_")) {
        let labels = series.split_once('{').map_or("", |(_, l)| l);
        for pair in labels
            .trim_end_matches('}')
            .split(',')
            .filter(|p| !p.is_empty())
        {
            let name = pair.split_once('=').expect("name=value").0;
            assert!(
                ["provider", "grant", "outcome", "state", "le"].contains(&name),
                "{series}"
            );
        }
    }
    assert_no_secret(
        "/metrics",
        &after.text,
        &[
            CLIENT_SECRET,
            CLIENT_ID,
            "tok-1",
            "tok-2",
            "http://",
            &upstream.address().to_string(),
        ],
    );
}

#[tokio::test]
async fn waiters_stale_serves_and_background_refreshes_are_counted() {
    let issuer = Issuer::new().delay(Duration::from_millis(300));
    let upstream = token_server(issuer.clone()).await;
    let clock = Arc::new(ManualClock::new());
    let service =
        OAuth2Service::builder(OAuth2Config::new().provider("stale", provider(&upstream)))
            .clock(clock.clone())
            .build()
            .expect("service");
    let test = app(service.clone());
    let labels = [("provider", "stale")];
    let before = scrape(&test).await;

    // Five callers on a cold cache wait on one request.
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let service = service.clone();
            tokio::spawn(async move { service.get_token("stale", None).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let during = scrape(&test).await;
    assert_eq!(during.get("oauth2_cache_waiters", &labels), 5.0);
    for waiter in waiters {
        waiter.await.expect("join").expect("token");
    }
    assert_eq!(issuer.issued(), 1);

    // In the refresh window: served stale while one refresh runs.
    clock.advance(Duration::from_secs(3570));
    for _ in 0..2 {
        assert_eq!(
            service
                .get_token("stale", None)
                .await
                .expect("stale")
                .secret(),
            "tok-1"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(issuer.issued(), 2);
    assert_eq!(
        service
            .get_token("stale", None)
            .await
            .expect("new")
            .secret(),
        "tok-2"
    );

    let after = scrape(&test).await;
    let delta = |name: &str| after.get(name, &labels) - before.get(name, &labels);
    assert_eq!(delta("oauth2_cache_misses_total"), 5.0);
    assert_eq!(delta("oauth2_cache_waits_total"), 5.0);
    assert_eq!(after.get("oauth2_cache_waiters", &labels), 0.0);
    assert_eq!(delta("oauth2_cache_stale_serves_total"), 2.0);
    assert_eq!(
        delta("oauth2_cache_hits_total"),
        3.0,
        "stale serves are hits"
    );
    assert_eq!(delta("oauth2_cache_background_refreshes_total"), 1.0);
}

#[tokio::test]
async fn an_open_breaker_shows_as_one_with_its_transitions() {
    let down = token_server(ResponseTemplate::new(503)).await;
    let service = OAuth2Service::new(
        OAuth2Config::new().provider(
            "tripped",
            provider(&down)
                .retry(RetryPolicy::none())
                .breaker(axum_oauth2_client::BreakerPolicy::default().threshold(2)),
        ),
    )
    .expect("service");
    let test = app(service.clone());
    let labels = [("provider", "tripped")];
    let opened = [("provider", "tripped"), ("state", "open")];
    let before = scrape(&test).await;
    assert_eq!(before.get("oauth2_breaker_open", &labels), 0.0);
    for _ in 0..2 {
        service.get_token("tripped", None).await.expect_err("down");
    }
    let refused = service.get_token("tripped", None).await.expect_err("open");
    assert_eq!(refused.code(), "token_endpoint_unavailable");
    let after = scrape(&test).await;
    assert_eq!(after.get("oauth2_breaker_open", &labels), 1.0);
    assert_eq!(
        after.get("oauth2_breaker_transitions_total", &opened)
            - before.get("oauth2_breaker_transitions_total", &opened),
        1.0
    );
    let outcome = |outcome| {
        after.get(
            "oauth2_token_requests_total",
            &[
                ("provider", "tripped"),
                ("grant", "client_credentials"),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(outcome("token_endpoint_error"), 2.0);
    assert_eq!(outcome("token_endpoint_unavailable"), 1.0);
}

/// An upstream's DPoP nonce challenge (RFC 9449 §9) is a 401 sent once
/// more, with the same token: counted as an upstream 401 retry, never as a
/// forced refresh, and no second token request.
#[tokio::test]
async fn a_dpop_nonce_retry_counts_as_an_upstream_401_retry_and_keeps_the_token() {
    let server = token_server(ResponseTemplate::new(200).set_body_json(
        json!({"access_token": "dpop-tok", "token_type": "DPoP", "expires_in": 3600}),
    ))
    .await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", r#"DPoP error="use_dpop_nonce""#)
                .insert_header("DPoP-Nonce", "rs-nonce-1"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let service = OAuth2Service::new(
        OAuth2Config::new().provider("nonced", provider(&server).dpop(DpopKey::generate())),
    )
    .expect("service");
    let test = app(service.clone());
    let before = scrape(&test).await;
    let res = service
        .fetch(
            "nonced",
            &format!("{}/api/orders", server.uri()),
            Default::default(),
        )
        .await
        .expect("fetch");
    assert_eq!(res.status(), 200);
    let after = scrape(&test).await;
    let delta =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let nonced = [("provider", "nonced")];
    assert_eq!(delta("oauth2_upstream_401_retries_total", &nonced), 1.0);
    assert_eq!(delta("oauth2_forced_refreshes_total", &nonced), 0.0);
    assert_eq!(
        delta(
            "oauth2_token_requests_total",
            &[
                ("provider", "nonced"),
                ("grant", "client_credentials"),
                ("outcome", "ok"),
            ],
        ),
        1.0,
        "the token was kept"
    );
}

/// Two distinct ports free on loopback now.
async fn free_ports() -> (u16, u16) {
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let (a, b) = (bind().await.expect("bind"), bind().await.expect("bind"));
    let port = |l: &tokio::net::TcpListener| l.local_addr().expect("addr").port();
    (port(&a), port(&b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_serves_metrics_on_the_metrics_port_only() {
    let (port, metrics_port) = free_ports().await;
    let vars: BTreeMap<String, String> = [
        ("APP_ENV", "production"),
        ("HOST", "127.0.0.1"),
        ("PORT", &port.to_string()),
        ("METRICS_PORT", &metrics_port.to_string()),
        ("OAUTH2_PORTED_TOKEN_URL", "https://auth.example.com/token"),
        ("OAUTH2_PORTED_CLIENT_ID", "id"),
        ("OAUTH2_PORTED_CLIENT_SECRET", "secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        server::run(&vars, async move {
            let _ = stopped.await;
        })
        .await
    });
    let http = reqwest::Client::new();
    let main = format!("http://127.0.0.1:{port}");
    let metrics = format!("http://127.0.0.1:{metrics_port}");
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{main}/health")).send().await.is_ok()
            && http.get(format!("{metrics}/metrics")).send().await.is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(up, "both listeners answer");

    let public = http
        .get(format!("{main}/metrics"))
        .send()
        .await
        .expect("main port");
    assert_eq!(public.status(), 404, "the public port never serves metrics");
    let scraped = http
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .expect("metrics port");
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.expect("body");
    assert!(
        text.contains("oauth2_breaker_open{provider=\"ported\"} 0"),
        "{text}"
    );
    let other = http
        .get(format!("{metrics}/health"))
        .send()
        .await
        .expect("metrics port");
    assert_eq!(other.status(), 404, "the metrics port serves metrics only");

    stop.send(()).expect("running");
    running.await.expect("join").expect("run");
    assert!(
        reqwest::Client::new()
            .get(format!("{metrics}/metrics"))
            .send()
            .await
            .is_err(),
        "the metrics listener stopped with the server"
    );
}

#[tokio::test]
async fn production_without_a_metrics_port_serves_no_metrics() {
    let vars: BTreeMap<String, String> = [
        ("APP_ENV", "production"),
        (
            "OAUTH2_UNPORTED_TOKEN_URL",
            "https://auth.example.com/token",
        ),
        ("OAUTH2_UNPORTED_CLIENT_ID", "id"),
        ("OAUTH2_UNPORTED_CLIENT_SECRET", "secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let state = server::state_from_vars(&vars).expect("state");
    assert_eq!(state.config.metrics_port, None);
    let test = TestServer::new(server::app(state));
    assert_eq!(test.get("/metrics").await.status_code(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_store_counts_its_hits_misses_lease_waits_and_errors() {
    use axum_oauth2_client::store::{EncryptionKeys, Namespace, StoreConfig};
    let Some(mut redis) = common::redis_server::RedisServer::start() else {
        return;
    };
    let issuer = Issuer::new().delay(Duration::from_millis(200));
    let server = token_server(issuer.clone()).await;
    let namespace = Namespace::new(&format!("m{}", rand::random::<u32>())).expect("namespace");
    let url = redis.url();
    let replica = || {
        let store = StoreConfig::new(&url, EncryptionKeys::from_bytes(&[[7; 32]]).expect("keys"))
            .expect("store")
            .namespace(namespace.clone());
        OAuth2Service::new(
            OAuth2Config::new()
                .provider("shared_metrics", provider(&server))
                .token_store(store),
        )
        .expect("service")
    };
    let (a, b, c) = (replica(), replica(), replica());
    let test = app(a.clone());
    let labels = [("provider", "shared_metrics")];
    let before = scrape(&test).await;

    // A and B start together: one requests the token, the other waits for
    // it under the lease; C then reads it.
    let (ta, tb) = tokio::join!(
        a.get_token("shared_metrics", None),
        b.get_token("shared_metrics", None)
    );
    assert_eq!(ta.unwrap().secret(), tb.unwrap().secret());
    // The token is published and the lease released in the background:
    // one key, the token's.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !(redis.command("DBSIZE") == ":1" && redis.command("KEYS *:lease:*") == "*0") {
        assert!(std::time::Instant::now() < deadline, "published");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    c.get_token("shared_metrics", None).await.unwrap();
    assert_eq!(issuer.issued(), 1);
    // With Redis gone, a new replica's read fails and it requests its own.
    redis.kill_9();
    replica().get_token("shared_metrics", None).await.unwrap();
    assert_eq!(issuer.issued(), 2);

    let after = scrape(&test).await;
    let delta =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    assert_eq!(delta("oauth2_store_hits_total", &labels), 2.0, "B and C");
    assert_eq!(
        delta("oauth2_store_misses_total", &labels),
        2.0,
        "A and the last replica"
    );
    assert_eq!(delta("oauth2_store_lease_waits_total", &labels), 1.0);
    assert_eq!(
        delta(
            "oauth2_store_errors_total",
            &[("provider", "shared_metrics"), ("call", "get")]
        ),
        1.0
    );
    assert!(
        after
            .types()
            .contains(&("oauth2_store_hits_total", "counter"))
    );
}
