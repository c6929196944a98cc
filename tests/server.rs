//! The template server: routes, error mapping, the axum state, the
//! development token server end to end, and graceful shutdown.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::get;
use axum_oauth2_client::{OAuth2Config, OAuth2Extension, ProviderConfig};
use axum_oauth2_template::{self as server, AppConfig, AppEnv, AppState};
use axum_test::TestServer;
use common::*;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn state(config: AppConfig, providers: OAuth2Config) -> AppState {
    AppState {
        oauth2: OAuth2Extension::from_config(providers).expect("extension"),
        config: Arc::new(config),
        dev: None,
    }
}

/// Development config whose demo API is `api`.
fn demo_config(api: &MockServer) -> AppConfig {
    let mut config = AppConfig::development();
    config.demo_api_url = Some(format!("{}/api", api.uri()).parse().expect("url"));
    config
}

async fn demo_upstream(token_response: impl wiremock::Respond + 'static) -> MockServer {
    let server = token_server(token_response).await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": [1, 2]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"subject": "alice"})))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn health_answers_ok() {
    let app = server::app(state(AppConfig::development(), OAuth2Config::new()));
    let res = TestServer::new(app).get("/health").await;
    res.assert_status_ok();
    assert_eq!(res.json::<Value>(), json!({"status": "ok"}));
    assert!(
        res.maybe_header("x-request-id").is_some(),
        "every answer carries a request id"
    );
}

#[tokio::test]
async fn demo_routes_fetch_with_managed_tokens() {
    let upstream = demo_upstream(Issuer::new()).await;
    let providers = OAuth2Config::new().provider("demo", provider(&upstream));
    let test = TestServer::new(server::app(state(demo_config(&upstream), providers)));

    for _ in 0..3 {
        let res = test.get("/demo/orders").await;
        res.assert_status_ok();
        let body = res.json::<Value>();
        assert_eq!(body["upstream"], json!({"orders": [1, 2]}));
        assert_eq!(body["grant"], "client_credentials");
    }
    let me = test
        .get("/demo/me")
        .authorization_bearer("alice-subject-token")
        .await;
    me.assert_status_ok();
    assert_eq!(me.json::<Value>()["upstream"]["subject"], "alice");

    let tokens = token_requests(&upstream).await;
    assert_eq!(
        tokens.len(),
        2,
        "one client credentials token for three calls, one exchange"
    );
    assert_eq!(
        form(&tokens[1]).get("subject_token").map(String::as_str),
        Some("alice-subject-token")
    );
    assert_eq!(
        form(&tokens[1]).get("audience").map(String::as_str),
        Some("demo-api")
    );
}

#[tokio::test]
async fn demo_me_without_a_bearer_token_is_401() {
    let upstream = demo_upstream(Issuer::new()).await;
    let providers = OAuth2Config::new().provider("demo", provider(&upstream));
    let test = TestServer::new(server::app(state(demo_config(&upstream), providers)));
    let res = test.get("/demo/me").await;
    assert_eq!(res.status_code(), 401);
    assert_eq!(res.json::<Value>()["code"], "missing_bearer_token");
    assert_eq!(res.header("www-authenticate"), "Bearer");
}

/// Runs `/demo/orders` against a token endpoint answering `token_response`.
async fn problem_for(
    token_response: ResponseTemplate,
    providers: Option<OAuth2Config>,
) -> (u16, Value, String) {
    let upstream = demo_upstream(token_response).await;
    let providers =
        providers.unwrap_or_else(|| OAuth2Config::new().provider("demo", provider(&upstream)));
    let test = TestServer::new(server::app(state(demo_config(&upstream), providers)));
    let res = test.get("/demo/orders").await;
    let content_type = res
        .header("content-type")
        .to_str()
        .expect("ascii")
        .to_owned();
    (
        res.status_code().as_u16(),
        res.json::<Value>(),
        content_type,
    )
}

#[tokio::test]
async fn token_endpoint_failures_become_problem_responses() {
    let logs = capture_logs();
    let (status, body, content_type) = problem_for(ResponseTemplate::new(503), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("token_endpoint_error"))
    );
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["provider"], "demo");

    let (status, body, _) = problem_for(
        ResponseTemplate::new(401)
            .set_body_json(json!({"error": "invalid_client", "error_description": "nope"})),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("token_endpoint_error"))
    );

    let (status, body, _) =
        problem_for(ResponseTemplate::new(200).set_body_string("<html>"), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("invalid_token_response"))
    );
    let shown = body.to_string();
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
    // The server logs each failure with its cause chain; the client
    // secret (sent to the token endpoint on every attempt) is not in it.
    let logged = logs.text();
    assert!(logged.contains("invalid_token_response"), "{logged}");
    assert!(!logged.contains(CLIENT_SECRET), "{logged}");
}

#[tokio::test]
async fn unreachable_token_endpoint_is_503_and_unknown_provider_500() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let unreachable = OAuth2Config::new().provider(
        "demo",
        ProviderConfig::new(
            format!("http://127.0.0.1:{port}/t").parse().expect("url"),
            "id",
            "secret",
        ),
    );
    let (status, body, _) = problem_for(ResponseTemplate::new(200), Some(unreachable)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("token_request_failed"))
    );

    let (status, body, _) =
        problem_for(ResponseTemplate::new(200), Some(OAuth2Config::new())).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (500, Some("unknown_provider"))
    );
}

#[tokio::test]
async fn production_mode_serves_no_development_routes() {
    let vars: BTreeMap<String, String> = [
        ("APP_ENV", "production"),
        ("OAUTH2_DEMO_TOKEN_URL", "https://auth.example.com/token"),
        ("OAUTH2_DEMO_CLIENT_ID", "id"),
        ("OAUTH2_DEMO_CLIENT_SECRET", "secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let state = server::state_from_vars(&vars).expect("state");
    assert_eq!(state.config.env, AppEnv::Production);
    assert!(state.dev.is_none());
    let test = TestServer::new(server::app(state));
    for route in [
        "/dev/oauth/token",
        "/dev/api/orders",
        "/demo/orders",
        "/demo/me",
        // metrics only on METRICS_PORT in production (tests/metrics.rs)
        "/metrics",
    ] {
        assert_eq!(test.get(route).await.status_code(), 404, "{route}");
    }
    assert_eq!(test.post("/dev/oauth/token").await.status_code(), 404);
    test.get("/health").await.assert_status_ok();
}

#[tokio::test]
async fn development_serves_prometheus_metrics_on_the_main_port() {
    let upstream = token_server(Issuer::new()).await;
    let state = state(
        AppConfig::development(),
        OAuth2Config::new().provider("served", provider(&upstream)),
    );
    // The app installs the recorder: what follows is recorded.
    let test = TestServer::new(server::app(state.clone()));
    state.oauth2.get_token("served", None).await.expect("token");
    let res = test.get("/metrics").await;
    res.assert_status_ok();
    let text = res.text();
    assert!(
        text.contains("oauth2_cache_misses_total{provider=\"served\"}"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE oauth2_token_requests_total counter"),
        "{text}"
    );
}

#[tokio::test]
async fn handlers_reach_the_extension_through_from_ref() {
    async fn cached(State(oauth2): State<OAuth2Extension>) -> String {
        oauth2
            .get_token("p", None)
            .await
            .map(|t| t.secret().to_owned())
            .unwrap_or_default()
    }
    let upstream = token_server(Issuer::new()).await;
    let state = state(
        AppConfig::development(),
        OAuth2Config::new().provider("p", provider(&upstream)),
    );
    let from_ref = OAuth2Extension::from_ref(&state);
    let app: Router = Router::new()
        .route("/token", get(cached))
        .with_state(state.clone());
    let test = TestServer::new(app);
    assert_eq!(test.get("/token").await.text(), "tok-1");
    // The extension in the state and the one handed out share one cache.
    assert_eq!(from_ref.cached_tokens(), 1);
    assert_eq!(
        state
            .oauth2
            .get_token("p", None)
            .await
            .expect("cached")
            .secret(),
        "tok-1"
    );
    assert_eq!(token_requests(&upstream).await.len(), 1);
}

/// Starts the real server on an ephemeral port from `vars` (with
/// `{port}` replaced), returning its address and a shutdown trigger.
async fn start(
    vars: &[(&str, &str)],
) -> (
    String,
    AppState,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.replace("{port}", &port.to_string())))
        .collect();
    let state = server::state_from_vars(&vars).expect("state");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server::serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    (format!("http://127.0.0.1:{port}"), state, tx, handle)
}

const DEV_VARS: &[(&str, &str)] = &[
    ("APP_ENV", "development"),
    (
        "OAUTH2_DEMO_TOKEN_URL",
        "http://127.0.0.1:{port}/dev/oauth/token",
    ),
    ("OAUTH2_DEMO_CLIENT_ID", "demo-client"),
    ("OAUTH2_DEMO_CLIENT_SECRET", "demo-secret"),
    ("DEMO_API_URL", "http://127.0.0.1:{port}/dev/api"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_mode_works_end_to_end_and_shutdown_clears_the_cache() {
    let (base, state, shutdown, handle) = start(DEV_VARS).await;
    let http = reqwest::Client::new();

    let first: Value = http
        .get(format!("{base}/demo/orders"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let second: Value = http
        .get(format!("{base}/demo/orders"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(first["upstream"]["orders"][0]["id"], "ord_1001");
    assert_eq!(first["token_endpoint_requests"], 1);
    assert_eq!(
        second["token_endpoint_requests"], 1,
        "the second call used the cached token"
    );

    let me: Value = http
        .get(format!("{base}/demo/me"))
        .bearer_auth("alice-token")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(
        me["upstream"]["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("sha256:")),
        "{me}"
    );
    assert!(
        !me.to_string().contains("alice-token"),
        "the subject token is never echoed"
    );
    assert_eq!(state.oauth2.cached_tokens(), 2);

    // RFC 9421: the demo signs its call (covering the token); the dev API
    // verifies the signature before answering, and refuses unsigned calls.
    let signed: Value = http
        .get(format!("{base}/demo/signed"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        signed["upstream"]["signature"]["verified"], true,
        "{signed}"
    );
    let covered = signed["upstream"]["signature"]["covered_components"].to_string();
    assert!(covered.contains("authorization"), "{covered}");
    let unsigned = http
        .get(format!("{base}/dev/api/signed"))
        .send()
        .await
        .expect("send");
    assert_eq!(unsigned.status(), 401);
    assert_eq!(
        unsigned.json::<Value>().await.expect("problem")["code"],
        "missing_signature"
    );

    // The development token endpoint refuses wrong credentials (RFC 6749 §5.2).
    let refused = http
        .post(format!("{base}/dev/oauth/token"))
        .basic_auth("demo-client", Some("wrong"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("send");
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.json::<Value>().await.expect("json")["error"],
        "invalid_client"
    );

    shutdown.send(()).expect("server running");
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("shuts down")
        .expect("join")
        .expect("serve");
    assert_eq!(
        state.oauth2.cached_tokens(),
        0,
        "graceful shutdown cleared the cache"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_when_a_request_hangs() {
    let upstream = token_server(Issuer::new()).await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&upstream)
        .await;
    let mut config = demo_config(&upstream);
    config.shutdown_timeout = Duration::from_millis(300);
    let state = state(
        config,
        OAuth2Config::new().provider("demo", provider(&upstream)),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server::serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    let hanging = tokio::spawn(reqwest::get(format!("http://{addr}/demo/orders")));
    // Once a token is cached, the request is waiting on the upstream.
    tokio::time::timeout(Duration::from_secs(10), async {
        while state.oauth2.cached_tokens() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the request reached the upstream");
    tx.send(()).expect("running");
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("shutdown does not wait for the hanging request")
        .expect("join")
        .expect("serve");
    assert_eq!(state.oauth2.cached_tokens(), 0);
    hanging.abort();
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn production_never_serves_the_demo_routes_even_with_a_demo_api_url() {
    let state = server::state_from_vars(&vars(&[
        ("APP_ENV", "production"),
        ("DEMO_API_URL", "https://api.example.com/v1"),
        ("OAUTH2_DEMO_TOKEN_URL", "https://auth.example.com/token"),
        ("OAUTH2_DEMO_CLIENT_ID", "id"),
        ("OAUTH2_DEMO_CLIENT_SECRET", "secret"),
    ]))
    .expect("state");
    let test = TestServer::new(server::app(state));
    for route in ["/demo/orders", "/demo/me", "/demo/signed"] {
        assert_eq!(test.get(route).await.status_code(), 404, "{route}");
    }
}

#[test]
fn development_never_listens_off_loopback() {
    for app_env in [Some("development"), Some(""), None] {
        let mut given = vec![("HOST", "0.0.0.0")];
        if let Some(env) = app_env {
            given.push(("APP_ENV", env));
        }
        let err = AppConfig::from_vars(&vars(&given)).expect_err("refused");
        let shown = err.to_string();
        assert!(
            shown.contains("HOST") && shown.contains("APP_ENV"),
            "{app_env:?}: {shown}"
        );
    }
    let dev = AppConfig::from_vars(&vars(&[("APP_ENV", ""), ("HOST", "::1")])).expect("loopback");
    assert_eq!(dev.env, AppEnv::Development, "an empty APP_ENV is unset");
    let prod = AppConfig::from_vars(&vars(&[("APP_ENV", "production"), ("HOST", "0.0.0.0")]))
        .expect("production may listen anywhere");
    assert_eq!(prod.env, AppEnv::Production);
}

#[test]
fn the_development_file_is_read_from_the_working_directory_only() {
    let empty = std::env::temp_dir().join(format!("no-config-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("dir");
    let loaded = server::with_development_file(vars(&[("APP_ENV", "development")]), &empty)
        .expect("a missing file is not an error");
    std::fs::remove_dir_all(&empty).ok();
    assert!(
        !loaded.keys().any(|k| k.starts_with("OAUTH2_")),
        "no file was found, so no provider: {loaded:?}"
    );
    let here = server::with_development_file(vars(&[]), std::path::Path::new("."))
        .expect("the package's own file");
    assert_eq!(
        here.get("OAUTH2_DEMO_CLIENT_ID").map(String::as_str),
        Some("demo-client")
    );
    let production = server::with_development_file(
        vars(&[("APP_ENV", "production")]),
        std::path::Path::new("."),
    )
    .expect("production");
    assert!(!production.contains_key("OAUTH2_DEMO_CLIENT_ID"));
}

#[test]
fn the_example_production_configuration_sets_no_demo_variable() {
    let example: BTreeMap<String, String> = dotenvy::from_path_iter("config/example.env")
        .expect("config/example.env")
        .map(|item| item.expect("a valid line"))
        .collect();
    assert_eq!(
        example.get("APP_ENV").map(String::as_str),
        Some("production")
    );
    let demo: Vec<&String> = example.keys().filter(|k| k.starts_with("DEMO_")).collect();
    assert!(demo.is_empty(), "{demo:?}");
    AppConfig::from_vars(&example).expect("the template's own variables parse");
}

#[tokio::test]
async fn production_warns_once_per_provider_without_allowed_origins() {
    let logs = capture_logs();
    let _state = server::state_from_vars(&vars(&[
        ("APP_ENV", "production"),
        (
            "OAUTH2_UNCONFINED_W1_TOKEN_URL",
            "https://auth.example.com/token",
        ),
        ("OAUTH2_UNCONFINED_W1_CLIENT_ID", "id"),
        ("OAUTH2_UNCONFINED_W1_CLIENT_SECRET", "secret"),
        (
            "OAUTH2_CONFINED_W1_TOKEN_URL",
            "https://auth.example.com/token",
        ),
        ("OAUTH2_CONFINED_W1_CLIENT_ID", "id"),
        ("OAUTH2_CONFINED_W1_CLIENT_SECRET", "secret"),
        (
            "OAUTH2_CONFINED_W1_ALLOWED_ORIGINS",
            "https://api.example.com",
        ),
    ]))
    .expect("state");
    let text = logs.text();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("has no allowed origins"))
        .collect();
    assert_eq!(
        warnings
            .iter()
            .filter(|l| l.contains("unconfined_w1"))
            .count(),
        1,
        "{warnings:?}"
    );
    assert!(
        !warnings
            .iter()
            .any(|l| l.contains("confined_w1") && !l.contains("unconfined_w1"))
    );
}

/// Development state whose `demo` provider and demo API are `upstream`,
/// with the template's upstream bounds from `extra`.
fn demo_vars(upstream: &MockServer, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let token_url = format!("{}{TOKEN_PATH}", upstream.uri());
    let api = format!("{}/api", upstream.uri());
    let mut all = vars(&[
        ("APP_ENV", "development"),
        ("DEMO_API_URL", &api),
        ("OAUTH2_DEMO_TOKEN_URL", &token_url),
        ("OAUTH2_DEMO_CLIENT_ID", CLIENT_ID),
        ("OAUTH2_DEMO_CLIENT_SECRET", CLIENT_SECRET),
    ]);
    all.extend(vars(extra));
    all
}

#[tokio::test]
async fn an_upstream_body_over_the_bound_is_a_502_problem() {
    let upstream = token_server(Issuer::new()).await;
    let big = json!({ "orders": "x".repeat(4096) });
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(big))
        .mount(&upstream)
        .await;
    let state = server::state_from_vars(&demo_vars(
        &upstream,
        &[("UPSTREAM_MAX_BODY_BYTES", "1024")],
    ))
    .expect("state");
    let res = TestServer::new(server::app(state))
        .get("/demo/orders")
        .await;
    assert_eq!(res.status_code(), 502);
    assert_eq!(res.json::<Value>()["code"], "upstream_body_too_large");
}

#[tokio::test]
async fn a_slow_upstream_is_cut_at_the_upstream_timeout_with_a_504_problem() {
    let upstream = token_server(Issuer::new()).await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(20)))
        .mount(&upstream)
        .await;
    let state =
        server::state_from_vars(&demo_vars(&upstream, &[("UPSTREAM_TIMEOUT_SECONDS", "1")]))
            .expect("state");
    let started = std::time::Instant::now();
    let res = TestServer::new(server::app(state))
        .get("/demo/orders")
        .await;
    assert_eq!(res.status_code(), 504);
    assert_eq!(res.json::<Value>()["code"], "upstream_timeout");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_shutdown_a_handler_still_running_cannot_fill_the_cache() {
    let issuer = Issuer::new();
    let upstream = token_server(issuer.clone()).await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": []})))
        .mount(&upstream)
        .await;
    let state = server::state_from_vars(&demo_vars(&upstream, &[])).expect("state");
    let test = TestServer::new(server::app(state.clone()));
    test.get("/demo/orders").await.assert_status_ok();
    assert_eq!(issuer.issued(), 1);

    state.oauth2.shutdown();
    let res = test.get("/demo/orders").await;
    assert_eq!(res.status_code(), 503);
    assert_eq!(res.json::<Value>()["code"], "shutting_down");
    let exchanged = test
        .get("/demo/me")
        .authorization_bearer("late-subject")
        .await;
    assert_eq!(exchanged.json::<Value>()["code"], "shutting_down");
    assert_eq!(issuer.issued(), 1, "no token request after shutdown");
    assert_eq!(state.oauth2.cached_tokens(), 0);
    assert_eq!(state.oauth2.exchange_entries(), 0);
}

#[tokio::test]
async fn development_answers_loopback_host_names_only() {
    let upstream = token_server(Issuer::new()).await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": []})))
        .mount(&upstream)
        .await;
    let state = server::state_from_vars(&demo_vars(&upstream, &[])).expect("state");
    let test = TestServer::new(server::app(state));
    for host in [
        "localhost:3000",
        "127.0.0.1:3000",
        "[::1]:3000",
        "LOCALHOST",
    ] {
        let res = test.get("/demo/orders").add_header("host", host).await;
        assert_eq!(res.status_code(), 200, "{host}");
    }
    // A page that rebound its own name to 127.0.0.1 sends its own name.
    for host in [
        "attacker.example",
        "attacker.example:3000",
        "127.0.0.1.attacker.example",
    ] {
        let res = test.get("/demo/orders").add_header("host", host).await;
        assert_eq!(res.status_code(), 403, "{host}");
    }
}

#[tokio::test]
async fn a_production_state_never_serves_the_development_routes() {
    // Even a state built by hand with a development authority in it.
    let mut config = AppConfig::development();
    config.env = AppEnv::Production;
    let mut state = state(config, OAuth2Config::new());
    state.dev = Some(server::DevAuthority::new(
        "id",
        axum_oauth2_client::Secret::new("secret"),
        Duration::from_secs(30),
    ));
    let test = TestServer::new(server::app(state));
    assert_eq!(test.post("/dev/oauth/token").await.status_code(), 404);
    assert_eq!(test.get("/dev/api/orders").await.status_code(), 404);
}
