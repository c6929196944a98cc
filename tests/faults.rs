//! Fault injection: the token path against slow, dead, rate-limiting and
//! lying token endpoints, with every case's error code and time printed as
//! a table; and, across the whole matrix, no secret in any log line (at
//! TRACE, every crate), error message or `Debug` output.

mod common;

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_oauth2_client::{
    BreakerPolicy, FetchOptions, OAuth2Config, OAuth2Error, OAuth2Service, ProviderConfig,
    RetryPolicy, TokenExchangeOptions,
};
use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SUBJECT: &str = "SUBJECT-TOKEN-fault-5e1";
const ACTOR: &str = "ACTOR-TOKEN-fault-9b2";
const TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
const BUDGET: Duration = Duration::from_secs(3);

/// What must never show: the client secret, the subject and actor
/// tokens, and every access token the mocks issue (they all start so).
const SECRETS: &[&str] = &[CLIENT_SECRET, SUBJECT, ACTOR, "LEAKCHECK-AT-"];

fn provider_at(url: &str) -> ProviderConfig {
    ProviderConfig::new(url.parse().expect("url"), CLIENT_ID, CLIENT_SECRET)
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .base_delay(Duration::from_millis(20))
                .max_delay(Duration::from_millis(100))
                .max_retry_after(Duration::from_secs(2))
                .budget(BUDGET),
        )
        .breaker(
            BreakerPolicy::default()
                .threshold(0)
                .cooldown(Duration::from_secs(1)),
        )
}

fn token(access: &str) -> serde_json::Value {
    json!({
        "access_token": format!("LEAKCHECK-AT-{access}"),
        "token_type": "Bearer",
        "expires_in": 3600,
        // RFC 8693 §2.2.1: an exchange's answer says what it issued.
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
    })
}

/// A listener whose accept queue is full: connection attempts hang.
async fn blackhole() -> (std::net::SocketAddr, Vec<std::net::TcpStream>) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let listener = socket.listen(1).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut held = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(stream) => held.push(stream),
            Err(_) => break,
        }
    }
    std::mem::forget(listener); // never accepts, never closes
    (addr, held)
}

/// A server that reads the request and then answers with `respond`.
async fn raw_server<F, Fut>(respond: F) -> std::net::SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let respond = respond.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                respond(stream).await;
            });
        }
    });
    addr
}

struct Case {
    name: &'static str,
    expect: &'static str,
    requests: Option<usize>,
    bound: Duration,
}

struct Outcome {
    code: String,
    elapsed: Duration,
}

async fn run(url: &str, exchange: bool) -> Outcome {
    let oauth2 = OAuth2Service::new(
        OAuth2Config::new().provider("p", provider_at(url).allow_insecure_http(true)),
    )
    .expect("service");
    let options = TokenExchangeOptions::new(SUBJECT)
        .actor_token(ACTOR, "urn:ietf:params:oauth:token-type:jwt");
    let started = Instant::now();
    let result = oauth2.get_token("p", exchange.then_some(&options)).await;
    let elapsed = started.elapsed();
    let code = match &result {
        Ok(token) => {
            assert_no_secret("token Debug", &format!("{token:?}"), SECRETS);
            "ok".to_owned()
        }
        Err(err) => {
            check(err);
            err.code().to_owned()
        }
    };
    Outcome { code, elapsed }
}

fn check(err: &OAuth2Error) {
    assert_error_shows_no_secret(err, SECRETS);
}

async fn mock(response: ResponseTemplate) -> MockServer {
    token_server(response).await
}

fn url(server: &MockServer) -> String {
    format!("{}{TOKEN_PATH}", server.uri())
}

/// A case may take the whole retry budget, and a second more.
fn budget_bound() -> Duration {
    BUDGET + Duration::from_secs(1)
}

/// A case that is never retried answers at once.
fn short() -> Duration {
    Duration::from_secs(2)
}

/// Runs one row of the fault matrix against `url`: the error code, the
/// token requests `server` saw, the time bound, no secret in the error or
/// in any log line so far; then prints the row (`cargo test --test faults
/// fault_ -- --nocapture --test-threads=1` prints the table in order).
async fn row(case: Case, url: &str, exchange: bool, server: Option<&MockServer>) -> Outcome {
    let logs = capture_logs();
    let outcome = run(url, exchange).await;
    let requests = match server {
        Some(server) => Some(token_requests(server).await.len()),
        None => None,
    };
    assert_eq!(outcome.code, case.expect, "{}", case.name);
    if let Some(expected) = case.requests {
        assert_eq!(requests, Some(expected), "{}: token requests", case.name);
    }
    assert!(
        outcome.elapsed <= case.bound,
        "{} took {:?}, bound {:?}",
        case.name,
        outcome.elapsed,
        case.bound
    );
    println!(
        "| {} | `{}` | {} | {} ms |",
        case.name,
        outcome.code,
        requests.map_or("-".to_owned(), |n| n.to_string()),
        outcome.elapsed.as_millis()
    );
    assert_no_secret("logs", &logs.text(), SECRETS);
    outcome
}

#[test]
fn fault_0_table_header() {
    println!("| case | error code | token requests | time to answer |");
    println!("|---|---|---|---|");
}

/// A fault-matrix row whose token endpoint answers `response`.
macro_rules! answer_case {
    ($test:ident, $name:expr, $response:expr, $expect:expr, $requests:expr, $bound:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let server = mock($response).await;
            let case = Case {
                name: $name,
                expect: $expect,
                requests: $requests,
                bound: $bound,
            };
            row(case, &url(&server), false, Some(&server)).await;
        }
    };
}

/// A fault-matrix row with a token endpoint that breaks below HTTP.
macro_rules! transport_case {
    ($test:ident, $name:expr, $url:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let case = Case {
                name: $name,
                expect: "token_request_failed",
                requests: None,
                bound: budget_bound(),
            };
            let (url, _held): (String, Vec<std::net::TcpStream>) = $url.await;
            row(case, &url, false, None).await;
        }
    };
}

transport_case!(fault_connection_refused, "connection refused", async {
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    (format!("http://{refused}/token"), Vec::new())
});

transport_case!(
    fault_host_does_not_resolve,
    "host does not resolve (`.invalid`)",
    async { ("http://token-endpoint.invalid/token".to_owned(), Vec::new()) }
);

transport_case!(
    fault_connect_timeout,
    "connect timeout (accept queue full)",
    async {
        let (hole, held) = blackhole().await;
        (format!("http://{hole}/token"), held)
    }
);

transport_case!(fault_read_timeout, "read timeout (no answer)", async {
    let silent = raw_server(|stream| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    (format!("http://{silent}/token"), Vec::new())
});

transport_case!(fault_slow_drip_body, "slow drip body", async {
    let drip = raw_server(|mut stream| async move {
        let head =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n{";
        if stream.write_all(head).await.is_err() {
            return;
        }
        for _ in 0..300 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if stream.write_all(b" ").await.is_err() {
                return;
            }
        }
    })
    .await;
    (format!("http://{drip}/token"), Vec::new())
});

// Status faults (retried: 3 attempts).
answer_case!(
    fault_500,
    "500",
    ResponseTemplate::new(500),
    "token_endpoint_error",
    Some(3),
    budget_bound()
);
answer_case!(
    fault_502,
    "502",
    ResponseTemplate::new(502),
    "token_endpoint_error",
    Some(3),
    budget_bound()
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_503_with_retry_after_seconds() {
    let server = mock(ResponseTemplate::new(503).insert_header("retry-after", "1")).await;
    let case = Case {
        name: "503 with `Retry-After: 1`",
        expect: "token_endpoint_error",
        requests: Some(3),
        bound: budget_bound(),
    };
    let outcome = row(case, &url(&server), false, Some(&server)).await;
    assert!(
        outcome.elapsed >= Duration::from_secs(2),
        "Retry-After: 1 honoured twice: {:?}",
        outcome.elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_429_with_retry_after_date() {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(1));
    let server = mock(ResponseTemplate::new(429).insert_header("retry-after", date.as_str())).await;
    let case = Case {
        name: "429 with `Retry-After: <HTTP-date>`",
        expect: "token_endpoint_error",
        requests: None,
        bound: budget_bound(),
    };
    row(case, &url(&server), false, Some(&server)).await;
    assert!(token_requests(&server).await.len() >= 2, "429 is retried");
}

answer_case!(
    fault_429_with_retry_after_over_the_cap,
    "429 with `Retry-After: 3600` (over the cap)",
    ResponseTemplate::new(429).insert_header("retry-after", "3600"),
    "token_endpoint_error",
    Some(1),
    short()
);

// Refusals: never retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_400_invalid_client_token_exchange() {
    let server =
        mock(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_client"}))).await;
    let case = Case {
        name: "400 `invalid_client` (token exchange)",
        expect: "token_endpoint_error",
        requests: Some(1),
        bound: short(),
    };
    row(case, &url(&server), true, Some(&server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_other_refusals_are_final() {
    for error in ["invalid_grant", "invalid_scope", "unauthorized_client"] {
        let server = mock(ResponseTemplate::new(400).set_body_json(json!({"error": error}))).await;
        let outcome = run(&url(&server), false).await;
        assert_eq!(token_requests(&server).await.len(), 1, "{error} is final");
        assert_eq!(outcome.code, "token_endpoint_error");
    }
}

answer_case!(
    fault_401_from_the_token_endpoint,
    "401 from the token endpoint",
    ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})),
    "token_endpoint_error",
    Some(1),
    short()
);

// Lying bodies.
answer_case!(
    fault_html_page_with_200,
    "HTML error page with 200",
    ResponseTemplate::new(200).set_body_raw("<html><body>Sign in</body></html>", "text/html"),
    "invalid_token_response",
    Some(1),
    short()
);
answer_case!(
    fault_json_without_access_token,
    "JSON without `access_token`",
    ResponseTemplate::new(200).set_body_json(json!({"token_type": "Bearer"})),
    "invalid_token_response",
    Some(1),
    short()
);
answer_case!(
    fault_token_type_other_than_bearer,
    "`token_type` other than Bearer",
    ResponseTemplate::new(200)
        .set_body_json(json!({"access_token": "LEAKCHECK-AT-x", "token_type": "DPoP"})),
    "invalid_token_response",
    Some(1),
    short()
);
answer_case!(
    fault_10_mib_body,
    "10 MiB body",
    ResponseTemplate::new(200).set_body_raw(vec![b' '; 10 * 1024 * 1024], "application/json"),
    "invalid_token_response",
    Some(1),
    short()
);
answer_case!(
    fault_invalid_utf8,
    "invalid UTF-8",
    ResponseTemplate::new(200).set_body_raw(vec![b'{', 0xff, 0xfe, b'}'], "application/json"),
    "invalid_token_response",
    Some(1),
    short()
);
answer_case!(
    fault_expires_in_negative,
    "`expires_in: -1`",
    ResponseTemplate::new(200).set_body_raw(
        r#"{"access_token":"LEAKCHECK-AT-a","token_type":"Bearer","expires_in":-1}"#,
        "application/json",
    ),
    "ok",
    Some(1),
    short()
);
answer_case!(
    fault_expires_in_zero,
    "`expires_in: 0`",
    ResponseTemplate::new(200).set_body_raw(
        r#"{"access_token":"LEAKCHECK-AT-a","token_type":"Bearer","expires_in":0}"#,
        "application/json",
    ),
    "ok",
    Some(1),
    short()
);
answer_case!(
    fault_expires_in_string,
    "`expires_in: \"3600\"`",
    ResponseTemplate::new(200).set_body_raw(
        r#"{"access_token":"LEAKCHECK-AT-a","token_type":"Bearer","expires_in":"3600"}"#,
        "application/json",
    ),
    "ok",
    Some(1),
    short()
);
answer_case!(
    fault_expires_in_overflow,
    "`expires_in: 1e309`",
    ResponseTemplate::new(200).set_body_raw(
        r#"{"access_token":"LEAKCHECK-AT-a","token_type":"Bearer","expires_in":1e309}"#,
        "application/json",
    ),
    "invalid_token_response",
    Some(1),
    short()
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_recovery_after_two_failures() {
    let logs = capture_logs();
    let server = MockServer::start().await;
    Mock::given(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token("recovered")))
        .mount(&server)
        .await;
    let case = Case {
        name: "token endpoint recovers after two failures",
        expect: "ok",
        requests: Some(3),
        bound: budget_bound(),
    };
    row(case, &url(&server), false, Some(&server)).await;
    assert!(
        logs.text().contains("retrying"),
        "the retry path was logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_upstream_answers_401_twice() {
    let logs = capture_logs();
    let server = mock(ResponseTemplate::new(200).set_body_json(token("upstream"))).await;
    Mock::given(path("/api"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let oauth2 = OAuth2Service::new(OAuth2Config::new().provider("p", provider_at(&url(&server))))
        .expect("service");
    let started = Instant::now();
    let err = oauth2
        .fetch(
            "p",
            &format!("{}/api", server.uri()),
            FetchOptions::default(),
        )
        .await
        .expect_err("401 twice");
    let elapsed = started.elapsed();
    check(&err);
    assert_eq!(err.code(), "unauthorized");
    assert_eq!(token_requests(&server).await.len(), 2);
    let upstream = server
        .received_requests()
        .await
        .expect("rec")
        .iter()
        .filter(|r| r.url.path() == "/api")
        .count();
    assert_eq!(upstream, 2, "one retry, never a second");
    assert!(elapsed <= short(), "{elapsed:?}");
    println!(
        "| upstream answers 401 twice | `unauthorized` | 2 | {} ms |",
        elapsed.as_millis()
    );
    assert_no_secret("logs", &logs.text(), SECRETS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_run_inside_the_single_flight() {
    let server = MockServer::start().await;
    Mock::given(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(503).set_delay(Duration::from_millis(50)))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token("sf")))
        .mount(&server)
        .await;
    let oauth2 = OAuth2Service::new(OAuth2Config::new().provider("p", provider_at(&url(&server))))
        .expect("service");
    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let oauth2 = oauth2.clone();
            tokio::spawn(async move { oauth2.get_token("p", None).await.map(|_| ()) })
        })
        .collect();
    for caller in callers {
        caller
            .await
            .expect("join")
            .expect("token after two retried failures");
    }
    assert_eq!(
        token_requests(&server).await.len(),
        3,
        "1,000 callers, one sequence of 3 attempts"
    );
}

#[tokio::test]
async fn open_breaker_fails_fast_serves_valid_tokens_and_probes_once() {
    let clock = Arc::new(axum_oauth2_client::ManualClock::new());
    let server = MockServer::start().await;
    Mock::given(path(TOKEN_PATH))
        .and(wiremock::matchers::body_string_contains(
            "client_credentials",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(token("cc")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let provider = provider_at(&url(&server))
        .retry(RetryPolicy::none())
        .breaker(
            BreakerPolicy::default()
                .threshold(2)
                .cooldown(Duration::from_secs(30)),
        );
    let oauth2 = OAuth2Service::builder(OAuth2Config::new().provider("p", provider))
        .clock(clock.clone())
        .build()
        .expect("service");
    oauth2
        .get_token("p", None)
        .await
        .expect("a valid client credentials token");

    for subject in ["a", "b"] {
        let err = oauth2
            .get_token("p", Some(&TokenExchangeOptions::new(subject)))
            .await
            .expect_err("503");
        assert_eq!(err.code(), "token_endpoint_error");
    }
    let requests_when_open = token_requests(&server).await.len();
    assert_eq!(requests_when_open, 3);

    // Open: no request is made, the caller learns when to come back.
    let err = oauth2
        .get_token("p", Some(&TokenExchangeOptions::new("c")))
        .await
        .expect_err("open");
    assert_eq!(err.code(), "token_endpoint_unavailable");
    assert!(err.is_retryable());
    assert_eq!(
        token_requests(&server).await.len(),
        requests_when_open,
        "failed fast"
    );
    // A still-valid cached token keeps being served while the circuit is open.
    assert!(oauth2.get_token("p", None).await.is_ok());

    // After the cool-down one probe goes through; it fails, so the circuit re-opens.
    clock.advance(Duration::from_secs(30));
    let err = oauth2
        .get_token("p", Some(&TokenExchangeOptions::new("d")))
        .await
        .expect_err("probe fails");
    assert_eq!(err.code(), "token_endpoint_error");
    let err = oauth2
        .get_token("p", Some(&TokenExchangeOptions::new("e")))
        .await
        .expect_err("open again");
    assert_eq!(err.code(), "token_endpoint_unavailable");
    assert_eq!(
        token_requests(&server).await.len(),
        requests_when_open + 1,
        "one probe"
    );

    // A successful probe closes it.
    server.reset().await;
    Mock::given(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(token("back")))
        .mount(&server)
        .await;
    clock.advance(Duration::from_secs(30));
    oauth2
        .get_token("p", Some(&TokenExchangeOptions::new("f")))
        .await
        .expect("probe succeeds");
    oauth2
        .get_token("p", Some(&TokenExchangeOptions::new("g")))
        .await
        .expect("closed");
}

#[tokio::test]
async fn allowed_origins_confine_the_token() {
    let server = mock(ResponseTemplate::new(200).set_body_json(token("o"))).await;
    Mock::given(path("/api"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let allowed: reqwest::Url = server.uri().parse().expect("url");
    let oauth2 = OAuth2Service::new(
        OAuth2Config::new().provider("p", provider_at(&url(&server)).allowed_origins([allowed])),
    )
    .expect("service");
    oauth2
        .fetch(
            "p",
            &format!("{}/api", server.uri()),
            FetchOptions::default(),
        )
        .await
        .expect("allowed");
    let other = format!("http://localhost:{}/api", server.address().port());
    let err = oauth2
        .fetch("p", &other, FetchOptions::default())
        .await
        .expect_err("other host");
    assert_eq!(err.code(), "origin_not_allowed");
    assert!(err.to_string().contains("http://localhost:"), "{err}");
    let err = oauth2
        .fetch("p", "https://evil.example/api", FetchOptions::default())
        .await
        .expect_err("other origin");
    assert_eq!(err.code(), "origin_not_allowed");
    assert_eq!(
        token_requests(&server).await.len(),
        1,
        "no token is fetched for a refused origin"
    );
}

#[tokio::test]
async fn redirects_never_carry_the_token_to_another_origin() {
    let target = MockServer::start().await;
    Mock::given(path("/landing"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&target)
        .await;
    let server = mock(ResponseTemplate::new(200).set_body_json(token("r"))).await;
    Mock::given(path("/api"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/landing", target.uri()).as_str()),
        )
        .mount(&server)
        .await;
    let oauth2 = OAuth2Service::new(OAuth2Config::new().provider("p", provider_at(&url(&server))))
        .expect("service");
    let res = oauth2
        .fetch(
            "p",
            &format!("{}/api", server.uri()),
            FetchOptions::default(),
        )
        .await
        .expect("redirected");
    assert_eq!(res.status(), 200);
    let landed = target.received_requests().await.expect("rec");
    assert_eq!(landed.len(), 1, "the redirect was followed");
    assert!(
        landed[0].headers.get("authorization").is_none(),
        "no token sent to another origin"
    );
}

#[test]
fn plain_http_token_urls_need_loopback_or_an_explicit_opt_in() {
    let remote = ProviderConfig::new(
        "http://auth.example.com/token".parse().expect("url"),
        "id",
        "s",
    );
    let err =
        OAuth2Service::new(OAuth2Config::new().provider("p", remote.clone())).expect_err("refused");
    assert_eq!(err.code(), "invalid_config");
    assert!(err.to_string().contains("https"), "{err}");
    OAuth2Service::new(OAuth2Config::new().provider("p", remote.allow_insecure_http(true)))
        .expect("opted in");
    for local in [
        "http://127.0.0.1:8080/t",
        "http://localhost/t",
        "http://[::1]/t",
        "https://auth.example.com/t",
    ] {
        let config = ProviderConfig::new(local.parse().expect("url"), "id", "s");
        OAuth2Service::new(OAuth2Config::new().provider("p", config)).expect(local);
    }
    let from_env = OAuth2Config::from_vars([
        ("OAUTH2_P_TOKEN_URL", "http://auth.example.com/token"),
        ("OAUTH2_P_CLIENT_ID", "id"),
        ("OAUTH2_P_CLIENT_SECRET", "s"),
    ])
    .expect_err("refused");
    assert_eq!(from_env.variable(), "OAUTH2_P_TOKEN_URL");
    assert!(
        from_env
            .to_string()
            .contains("OAUTH2_P_ALLOW_INSECURE_HTTP"),
        "{from_env}"
    );
    OAuth2Config::from_vars([
        ("OAUTH2_P_TOKEN_URL", "http://auth.example.com/token"),
        ("OAUTH2_P_CLIENT_ID", "id"),
        ("OAUTH2_P_CLIENT_SECRET", "s"),
        ("OAUTH2_P_ALLOW_INSECURE_HTTP", "true"),
    ])
    .expect("opted in");
}

#[tokio::test]
async fn a_streaming_body_is_not_replayed_after_401_and_403_never_retries() {
    let server = mock(ResponseTemplate::new(200).set_body_json(token("s"))).await;
    Mock::given(path("/upload"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(path("/forbidden"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("www-authenticate", r#"Bearer error="insufficient_scope""#),
        )
        .mount(&server)
        .await;
    let oauth2 = OAuth2Service::new(OAuth2Config::new().provider("p", provider_at(&url(&server))))
        .expect("service");
    let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![Ok(b"part-1"), Ok(b"part-2")];
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let res = oauth2
        .fetch(
            "p",
            &format!("{}/upload", server.uri()),
            FetchOptions::default()
                .method(reqwest::Method::PUT)
                .body_stream(stream),
        )
        .await
        .expect("the 401 reaches the caller");
    assert_eq!(res.status(), 401);
    let uploads = server
        .received_requests()
        .await
        .expect("rec")
        .iter()
        .filter(|r| r.url.path() == "/upload")
        .count();
    assert_eq!(uploads, 1, "not retried");

    let res = oauth2
        .fetch(
            "p",
            &format!("{}/forbidden", server.uri()),
            FetchOptions::default(),
        )
        .await
        .expect("403");
    assert_eq!(res.status(), 403);
    let forbidden = server
        .received_requests()
        .await
        .expect("rec")
        .iter()
        .filter(|r| r.url.path() == "/forbidden")
        .count();
    assert_eq!(forbidden, 1, "403 is not retried");
    let before = token_requests(&server).await.len();
    oauth2.get_token("p", None).await.expect("token");
    assert_eq!(
        token_requests(&server).await.len(),
        before,
        "403 keeps the token"
    );
}

#[tokio::test]
async fn jwt_exp_times_a_token_without_expires_in() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("epoch")
        .as_secs()
        + 900;
    let jwt = format!(
        "{}.{}.sig",
        b64(r#"{"alg":"RS256"}"#),
        b64(&format!(r#"{{"exp":{exp}}}"#))
    );
    let server = mock(
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": jwt, "token_type": "Bearer"})),
    )
    .await;
    let oauth2 = OAuth2Service::new(OAuth2Config::new().provider("p", provider_at(&url(&server))))
        .expect("service");
    let before = Instant::now();
    let token = oauth2.get_token("p", None).await.expect("token");
    let lifetime = token.expires_at() - before;
    assert!(
        lifetime > Duration::from_secs(890) && lifetime <= Duration::from_secs(901),
        "{lifetime:?}"
    );
}

/// A token endpoint fast enough for 100,000 exchanges: an in-process axum
/// handler answering each subject with a distinct token.
/// A token endpoint answering at once, and how many requests it served.
async fn fast_token_endpoint() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::routing::post;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let app = axum::Router::new().route(
        "/token",
        post(move |body: String| async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let subject = url::form_urlencoded::parse(body.as_bytes())
                .find(|(k, _)| k == "subject_token")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            axum::Json(json!({
                "access_token": format!("at-{subject}"),
                "token_type": "Bearer",
                "expires_in": 3600,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            }))
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/token"), served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_stays_at_its_bound_for_100_000_subjects() {
    const SUBJECTS: usize = 100_000;
    const CAP: usize = 5_000;
    let (endpoint, served) = fast_token_endpoint().await;
    let config = OAuth2Config::new()
        .provider("p", provider_at(&endpoint).timeout(Duration::from_secs(10)))
        .cache_max_entries(CAP);
    let oauth2 = OAuth2Service::new(config).expect("service");
    let workers: Vec<_> = (0..32)
        .map(|w| {
            let oauth2 = oauth2.clone();
            tokio::spawn(async move {
                let mut max_seen = 0;
                for i in (w..SUBJECTS).step_by(32) {
                    let exchange = TokenExchangeOptions::new(format!("subject-{i}"));
                    oauth2
                        .get_token("p", Some(&exchange))
                        .await
                        .expect("exchange");
                    max_seen = max_seen.max(oauth2.exchange_entries());
                }
                max_seen
            })
        })
        .collect();
    let mut max_seen = 0;
    for worker in workers {
        max_seen = max_seen.max(worker.await.expect("join"));
    }
    let entries = oauth2.exchange_entries();
    println!("100,000 subjects, cap {CAP}: {entries} entries at the end, at most {max_seen} seen");
    assert!(entries <= CAP, "{entries} entries");
    assert!(
        entries >= CAP * 8 / 10,
        "{entries} entries: eviction keeps the recent ones"
    );
    // Concurrent insertions may pass the bound by at most one per worker.
    assert!(max_seen <= CAP + 32, "{max_seen}");
    // The most recent subjects are still cached: asking again makes no
    // token request.
    let requests = served.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(requests, SUBJECTS, "one exchange per subject");
    let recent = TokenExchangeOptions::new(format!("subject-{}", SUBJECTS - 1));
    let t = oauth2.get_token("p", Some(&recent)).await.expect("cached");
    assert_eq!(t.secret(), format!("at-subject-{}", SUBJECTS - 1));
    assert_eq!(
        served.load(std::sync::atomic::Ordering::SeqCst),
        requests,
        "the most recent subject was evicted"
    );
    let _ = std::io::stdout().flush();
}

/// A manual clock whose `sleep` (a token request's backoff, inside the
/// request's task) panics while armed.
#[derive(Debug, Default)]
struct PanickyClock {
    inner: axum_oauth2_client::ManualClock,
    armed: std::sync::atomic::AtomicBool,
}

impl axum_oauth2_client::Clock for PanickyClock {
    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(
        &self,
        duration: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>> {
        if self.armed.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("clock failure inside a token request");
        }
        self.inner.sleep(duration)
    }
}

/// A token endpoint that answers 503 until `up` is set, then issues tokens.
async fn flaky_token_endpoint() -> (MockServer, Arc<std::sync::atomic::AtomicBool>) {
    struct Flaky(Arc<std::sync::atomic::AtomicBool>);
    impl wiremock::Respond for Flaky {
        fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
            if self.0.load(std::sync::atomic::Ordering::SeqCst) {
                ResponseTemplate::new(200).set_body_json(token("after-panic"))
            } else {
                ResponseTemplate::new(503)
            }
        }
    }
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = token_server(Flaky(up.clone())).await;
    (server, up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_inside_a_token_request_fails_its_waiters_and_the_next_call_starts_afresh() {
    let (server, up) = flaky_token_endpoint().await;
    let clock = Arc::new(PanickyClock::default());
    let provider = provider_at(&url(&server)).retry(RetryPolicy::default().max_attempts(2));
    let oauth2 = OAuth2Service::builder(OAuth2Config::new().provider("p", provider))
        .clock(clock.clone())
        .build()
        .expect("service");
    clock.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let waiters: Vec<_> = (0..20)
        .map(|_| {
            let oauth2 = oauth2.clone();
            tokio::spawn(async move { oauth2.get_token("p", None).await.map(|_| ()) })
        })
        .collect();
    for waiter in waiters {
        let err = waiter
            .await
            .expect("a waiter never panics")
            .expect_err("panicked");
        assert_eq!(err.code(), "internal");
        assert!(!err.to_string().contains("clock failure"), "{err}");
    }
    assert_eq!(
        token_requests(&server).await.len(),
        1,
        "one request, then the panic"
    );

    clock
        .armed
        .store(false, std::sync::atomic::Ordering::SeqCst);
    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let token = oauth2.get_token("p", None).await.expect("a fresh request");
    assert!(token.secret().ends_with("after-panic"));
    assert_eq!(token_requests(&server).await.len(), 2);
}

#[tokio::test]
async fn a_breaker_probe_that_panics_lets_the_next_request_probe() {
    let (server, up) = flaky_token_endpoint().await;
    let clock = Arc::new(PanickyClock::default());
    let provider = provider_at(&url(&server))
        .retry(RetryPolicy::default().max_attempts(2))
        .breaker(
            BreakerPolicy::default()
                .threshold(1)
                .cooldown(Duration::from_secs(10)),
        );
    let oauth2 = OAuth2Service::builder(OAuth2Config::new().provider("p", provider))
        .clock(clock.clone())
        .build()
        .expect("service");
    let err = oauth2.get_token("p", None).await.expect_err("503 twice");
    assert_eq!(err.code(), "token_endpoint_error");
    let err = oauth2.get_token("p", None).await.expect_err("open");
    assert_eq!(err.code(), "token_endpoint_unavailable");

    // After the cool-down the probe goes out, and panics in its backoff.
    clock.inner.advance(Duration::from_secs(11));
    clock.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = oauth2
        .get_token("p", None)
        .await
        .expect_err("the probe panicked");
    assert_eq!(err.code(), "internal");
    assert_eq!(token_requests(&server).await.len(), 3);

    // The breaker is not stuck half-open: the next request probes.
    clock
        .armed
        .store(false, std::sync::atomic::Ordering::SeqCst);
    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let token = oauth2
        .get_token("p", None)
        .await
        .expect("a new probe succeeds");
    assert!(token.secret().ends_with("after-panic"));
}

#[tokio::test]
async fn shutdown_stops_a_token_request_between_its_attempts() {
    let server = mock(ResponseTemplate::new(503).insert_header("retry-after", "1")).await;
    let oauth2 = OAuth2Service::new(OAuth2Config::new().provider("p", provider_at(&url(&server))))
        .expect("service");
    let waiting = {
        let oauth2 = oauth2.clone();
        tokio::spawn(async move { oauth2.get_token("p", None).await.map(|_| ()) })
    };
    tokio::time::timeout(Duration::from_secs(5), async {
        while token_requests(&server).await.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the first attempt went out");
    oauth2.shutdown();
    let err = waiting.await.expect("join").expect_err("stopped");
    assert_eq!(err.code(), "shutting_down");
    assert_eq!(
        token_requests(&server).await.len(),
        1,
        "no attempt after shutdown"
    );
    let err = oauth2.get_token("p", None).await.expect_err("closed");
    assert_eq!(err.code(), "shutting_down");
    let err = oauth2
        .fetch("p", &url(&server), FetchOptions::default())
        .await
        .expect_err("closed");
    assert_eq!(err.code(), "shutting_down");
    assert_eq!(token_requests(&server).await.len(), 1);
}
