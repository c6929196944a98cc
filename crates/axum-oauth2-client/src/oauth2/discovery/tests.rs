//! Discovery against a real HTTP server on 127.0.0.1: which URLs are asked,
//! what is refused, what is retried, what is cached. Time is a
//! [`ManualClock`], so retry waits and refresh intervals take no real time.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::fetch::MAX_METADATA_BYTES;
use super::{Discovery, MetadataRequest};
use crate::oauth2::endpoint::retry::RetryPolicy;
use crate::oauth2::error::OAuth2Error;
use crate::oauth2::time::clock::{Clock, ManualClock};

const RFC8414_PATH: &str = "/.well-known/oauth-authorization-server/tenant";
const OIDC_PATH: &str = "/tenant/.well-known/openid-configuration";

/// What the server answers to its `n`th request (from 0) for `path`.
type Answer = dyn Fn(&str, usize, &str) -> Response + Send + Sync;

/// A request as the server saw it: its path and its `Accept` header.
type Seen = (String, Option<String>);

/// A server on a free loopback port that records every request.
struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    async fn start(answer: impl Fn(&str, usize, &str) -> Response + Send + Sync + 'static) -> Self {
        Self::start_slow(Duration::ZERO, answer).await
    }

    /// Answers each request after `delay`, so that concurrent callers
    /// overlap.
    async fn start_slow(
        delay: Duration,
        answer: impl Fn(&str, usize, &str) -> Response + Send + Sync + 'static,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answer> = Arc::new(answer);
        let (record, origin) = (Arc::clone(&seen), base.clone());
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let n = {
                let mut seen = record.lock().expect("lock");
                seen.push((uri.path().to_owned(), accept));
                seen.len() - 1
            };
            let (answer, origin) = (Arc::clone(&answer), origin.clone());
            async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                answer(uri.path(), n, &origin)
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, seen }
    }

    fn issuer(&self) -> String {
        format!("{}/tenant", self.base)
    }

    fn paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .map(|(path, _)| path.clone())
            .collect()
    }
}

/// A metadata document for the test server's issuer.
fn document(origin: &str, token_path: &str) -> Response {
    json_answer(json!({
        "issuer": format!("{origin}/tenant"),
        "token_endpoint": format!("{origin}{token_path}"),
        "grant_types_supported": ["client_credentials"],
    }))
}

fn json_answer(value: serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn status(status: u16) -> Response {
    StatusCode::from_u16(status)
        .expect("status")
        .into_response()
}

/// What a provider passes to a metadata request, owned.
struct Context {
    http: reqwest::Client,
    clock: Arc<ManualClock>,
    retry: RetryPolicy,
    closed: AtomicBool,
}

impl Context {
    fn new() -> Self {
        Self::with_client(
            reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        )
    }

    fn with_client(http: reqwest::Client) -> Self {
        Self {
            http,
            clock: Arc::new(ManualClock::new()),
            retry: RetryPolicy::default(),
            closed: AtomicBool::new(false),
        }
    }

    fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    fn request(&self) -> MetadataRequest<'_> {
        MetadataRequest {
            http: &self.http,
            provider: "idp",
            clock: &*self.clock,
            retry: &self.retry,
            timeout: Duration::from_secs(5),
            closed: &self.closed,
        }
    }
}

fn discovery(server: &Server) -> Discovery {
    Discovery::new(&server.issuer(), false).expect("issuer")
}

#[tokio::test]
async fn metadata_is_found_at_the_rfc8414_url() {
    let server = Server::start(|path, _, origin| match path {
        RFC8414_PATH => document(origin, "/oauth/token"),
        _ => status(404),
    })
    .await;
    let ctx = Context::new();
    let discovery = discovery(&server);
    assert_eq!(discovery.issuer(), server.issuer());
    let metadata = discovery.metadata(&ctx.request()).await.expect("metadata");
    assert_eq!(metadata.issuer(), server.issuer());
    assert_eq!(
        metadata.token_endpoint().as_str(),
        format!("{}/oauth/token", server.base)
    );
    let seen = server.seen.lock().expect("lock").clone();
    assert_eq!(
        seen,
        [(RFC8414_PATH.to_owned(), Some("application/json".to_owned()))]
    );
}

#[tokio::test]
async fn a_404_at_the_rfc8414_url_falls_back_on_openid_configuration() {
    let server = Server::start(|path, _, origin| match path {
        OIDC_PATH => document(origin, "/token"),
        _ => status(404),
    })
    .await;
    let ctx = Context::new();
    let metadata = discovery(&server)
        .metadata(&ctx.request())
        .await
        .expect("metadata");
    assert_eq!(metadata.token_endpoint().path(), "/token");
    assert_eq!(server.paths(), [RFC8414_PATH, OIDC_PATH]);
}

#[tokio::test]
async fn when_neither_url_has_metadata_the_error_names_both() {
    let server = Server::start(|path, _, _| match path {
        RFC8414_PATH => status(404),
        _ => status(410),
    })
    .await;
    let ctx = Context::new();
    let error = discovery(&server)
        .metadata(&ctx.request())
        .await
        .expect_err("no metadata");
    assert_eq!(error.code(), "discovery_failed");
    assert_eq!(error.provider(), "idp");
    assert_eq!(error.status(), Some(StatusCode::GONE));
    assert!(!error.is_unavailable(), "a 4xx is an answer, not an outage");
    let OAuth2Error::DiscoveryFailed { tried, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        tried,
        &[
            format!("{}{RFC8414_PATH}", server.base),
            format!("{}{OIDC_PATH}", server.base)
        ]
    );
    let shown = error.to_string();
    assert!(
        shown.contains(RFC8414_PATH) && shown.contains(OIDC_PATH),
        "{shown}"
    );
    assert_eq!(server.paths().len(), 2, "a 4xx is not retried");
}

#[tokio::test]
async fn metadata_naming_another_issuer_is_refused() {
    let server = Server::start(|_, _, origin| {
        json_answer(json!({
            "issuer": "https://user:pw@evil.example/tenant?token=abc",
            "token_endpoint": format!("{origin}/token"),
        }))
    })
    .await;
    let ctx = Context::new();
    let error = discovery(&server)
        .metadata(&ctx.request())
        .await
        .expect_err("mismatch");
    assert_eq!(error.code(), "issuer_mismatch");
    assert!(!error.is_unavailable());
    let OAuth2Error::IssuerMismatch {
        expected, found, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, &server.issuer());
    assert_eq!(found, "https://evil.example/tenant");
    let shown = error.to_string();
    assert!(!shown.contains("abc") && !shown.contains("pw"), "{shown}");
    assert_eq!(server.paths(), [RFC8414_PATH], "a 2xx answer is final");
}

#[tokio::test]
async fn metadata_without_a_token_endpoint_is_refused() {
    let server =
        Server::start(|_, _, origin| json_answer(json!({ "issuer": format!("{origin}/tenant") })))
            .await;
    let ctx = Context::new();
    let error = discovery(&server)
        .metadata(&ctx.request())
        .await
        .expect_err("no token endpoint");
    assert_eq!(error.code(), "invalid_metadata");
    assert!(!error.is_unavailable());
    assert!(
        matches!(
            &error,
            OAuth2Error::InvalidMetadata {
                field: Some("token_endpoint"),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("`token_endpoint` is missing"),
        "{error}"
    );
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused_while_it_is_read() {
    // Streamed, so there is no Content-Length to refuse it up front.
    let server = Server::start(|_, _, _| {
        let chunk = bytes::Bytes::from(vec![b' '; 16 * 1024]);
        let chunks = (0..(MAX_METADATA_BYTES / chunk.len() + 1))
            .map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
        Response::new(Body::from_stream(futures_util::stream::iter(chunks)))
    })
    .await;
    let ctx = Context::new();
    let error = discovery(&server)
        .metadata(&ctx.request())
        .await
        .expect_err("too large");
    assert_eq!(error.code(), "invalid_metadata");
    assert!(error.to_string().contains("exceeds 65536 bytes"), "{error}");
    assert_eq!(server.paths().len(), 1);
}

#[tokio::test]
async fn a_503_is_retried_within_the_policy_and_retry_after_is_honoured() {
    let server = Server::start(|_, n, origin| match n {
        0 => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "2")],
        )
            .into_response(),
        _ => document(origin, "/token"),
    })
    .await;
    let ctx = Context::new();
    let start = ctx.clock.now();
    discovery(&server)
        .metadata(&ctx.request())
        .await
        .expect("metadata after a retry");
    assert_eq!(server.paths(), [RFC8414_PATH, RFC8414_PATH]);
    assert!(
        ctx.clock.now() - start >= Duration::from_secs(2),
        "the wait asked for was kept (on the manual clock)"
    );
}

#[tokio::test]
async fn a_transient_failure_that_outlasts_the_retries_is_unavailable() {
    let server = Server::start(|_, _, _| status(503)).await;
    let ctx = Context::new().retry(RetryPolicy::default().max_attempts(2));
    let error = discovery(&server)
        .metadata(&ctx.request())
        .await
        .expect_err("down");
    assert_eq!(error.code(), "discovery_failed");
    assert!(error.is_unavailable());
    assert_eq!(
        server.paths(),
        [RFC8414_PATH, RFC8414_PATH],
        "a 5xx is retried, and does not fall back on the other URL"
    );
}

#[tokio::test]
async fn a_server_that_cannot_be_reached_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let ctx = Context::new().retry(RetryPolicy::none());
    let discovery =
        Discovery::new(&format!("http://127.0.0.1:{port}/tenant"), false).expect("issuer");
    let error = discovery
        .metadata(&ctx.request())
        .await
        .expect_err("refused");
    assert_eq!(error.code(), "discovery_request_failed");
    assert!(error.is_unavailable());
    assert!(error.to_string().contains(RFC8414_PATH), "{error}");
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = Server::start(|path, _, origin| match path {
        RFC8414_PATH => (
            StatusCode::FOUND,
            [(header::LOCATION, format!("{origin}{OIDC_PATH}"))],
        )
            .into_response(),
        _ => document(origin, "/token"),
    })
    .await;
    let ctx = Context::new();
    let error = discovery(&server)
        .metadata(&ctx.request())
        .await
        .expect_err("redirect");
    assert_eq!(error.code(), "discovery_failed");
    assert_eq!(error.status(), Some(StatusCode::FOUND));
    assert!(!error.is_unavailable());
    assert!(error.to_string().contains("not followed"), "{error}");
    assert_eq!(
        server.paths(),
        [RFC8414_PATH],
        "neither followed nor fallen back on"
    );

    // A client that follows redirects anyway gets the answer refused.
    let following = Context::with_client(
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
    );
    let error = discovery(&server)
        .metadata(&following.request())
        .await
        .expect_err("answer from another URL");
    assert_eq!(error.code(), "invalid_metadata");
}

#[tokio::test]
async fn fresh_metadata_is_served_from_memory() {
    let server = Server::start(|_, _, origin| document(origin, "/token")).await;
    let ctx = Context::new();
    let discovery = discovery(&server);
    let first = discovery.metadata(&ctx.request()).await.expect("first");
    ctx.clock.advance(Duration::from_secs(3600));
    let second = discovery.metadata(&ctx.request()).await.expect("second");
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(server.paths().len(), 1);
    assert!(discovery.cached().is_some_and(|m| Arc::ptr_eq(&m, &first)));
}

#[tokio::test]
async fn stale_metadata_is_refreshed_after_the_interval() {
    let server = Server::start(|_, n, origin| document(origin, &format!("/token{n}"))).await;
    let ctx = Context::new();
    let discovery = discovery(&server).refresh_interval(Duration::from_secs(600));
    let first = discovery.metadata(&ctx.request()).await.expect("first");
    assert_eq!(first.token_endpoint().path(), "/token0");
    ctx.clock.advance(Duration::from_secs(599));
    discovery.metadata(&ctx.request()).await.expect("fresh");
    assert_eq!(server.paths().len(), 1);
    ctx.clock.advance(Duration::from_secs(1));
    let refreshed = discovery.metadata(&ctx.request()).await.expect("refreshed");
    assert_eq!(refreshed.token_endpoint().path(), "/token1");
    assert_eq!(server.paths().len(), 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_old_metadata_and_waits_before_the_next() {
    let server = Server::start(|_, n, origin| match n {
        0 => document(origin, "/token"),
        _ => status(503),
    })
    .await;
    let ctx = Context::new().retry(RetryPolicy::none());
    let discovery = discovery(&server).retry_interval(Duration::from_secs(30));
    let first = discovery.metadata(&ctx.request()).await.expect("first");
    ctx.clock.advance(Discovery::DEFAULT_REFRESH_INTERVAL);
    let kept = discovery.metadata(&ctx.request()).await.expect("kept");
    assert!(Arc::ptr_eq(&first, &kept));
    assert_eq!(server.paths().len(), 2, "the refresh was tried");
    discovery.metadata(&ctx.request()).await.expect("kept");
    assert_eq!(server.paths().len(), 2, "not again at once");
    ctx.clock.advance(Duration::from_secs(29));
    discovery.metadata(&ctx.request()).await.expect("kept");
    assert_eq!(server.paths().len(), 2, "not before the retry interval");
    ctx.clock.advance(Duration::from_secs(1));
    let kept = discovery.metadata(&ctx.request()).await.expect("kept");
    assert!(Arc::ptr_eq(&first, &kept));
    assert_eq!(
        server.paths().len(),
        3,
        "tried again after the retry interval"
    );
}

#[tokio::test]
async fn a_failed_first_fetch_is_an_error_and_is_not_kept() {
    let server = Server::start(|_, n, origin| match n {
        0 => status(500),
        _ => document(origin, "/token"),
    })
    .await;
    let ctx = Context::new().retry(RetryPolicy::none());
    let discovery = discovery(&server);
    let error = discovery
        .metadata(&ctx.request())
        .await
        .expect_err("first fetch fails");
    assert!(error.is_unavailable());
    assert!(discovery.cached().is_none());
    discovery
        .metadata(&ctx.request())
        .await
        .expect("the next call fetches again");
    assert_eq!(server.paths().len(), 2);
}

#[tokio::test]
async fn no_request_starts_once_the_service_shuts_down() {
    let server = Server::start(|_, _, origin| document(origin, "/token")).await;
    let ctx = Context::new();
    ctx.closed.store(true, std::sync::atomic::Ordering::Release);
    let error = discovery(&server)
        .metadata(&ctx.request())
        .await
        .expect_err("closed");
    assert_eq!(error.code(), "shutting_down");
    assert!(server.paths().is_empty());
}

/// Runs `metadata` from 50 tasks at once against `server`.
async fn fifty_first_calls(
    server: &Server,
    retry: RetryPolicy,
) -> Vec<Result<Arc<super::AuthorizationServerMetadata>, OAuth2Error>> {
    let ctx = Arc::new(Context::new().retry(retry));
    let discovery = Arc::new(discovery(server));
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (ctx, discovery, barrier) = (
                Arc::clone(&ctx),
                Arc::clone(&discovery),
                Arc::clone(&barrier),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                discovery.metadata(&ctx.request()).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_share_one_request() {
    let server = Server::start_slow(Duration::from_millis(50), |_, _, origin| {
        document(origin, "/token")
    })
    .await;
    let results = fifty_first_calls(&server, RetryPolicy::default()).await;
    let first = results[0].as_ref().expect("metadata");
    for result in &results {
        assert!(Arc::ptr_eq(first, result.as_ref().expect("metadata")));
    }
    assert_eq!(server.paths().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_share_one_failure() {
    let server = Server::start_slow(Duration::from_millis(50), |_, _, _| status(503)).await;
    let results = fifty_first_calls(&server, RetryPolicy::none()).await;
    for result in &results {
        let error = result.as_ref().expect_err("down");
        assert_eq!(error.code(), "discovery_failed");
    }
    assert_eq!(server.paths().len(), 1);
}
