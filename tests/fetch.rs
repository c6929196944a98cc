//! `OAuth2Service::fetch`: the token on the request, signing last, and the
//! single retry after a 401.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum_oauth2_client::http_signature::BoxFuture;
use axum_oauth2_client::{
    FetchOptions, ManualClock, OAuth2Config, OAuth2Service, SignError, Signer,
};
use common::*;
use reqwest::Method;
use serde_json::json;
use wiremock::matchers::{header as header_is, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Debug)]
struct FailingSigner;

impl Signer for FailingSigner {
    fn sign<'a>(&'a self, _: &'a mut reqwest::Request) -> BoxFuture<'a, Result<(), SignError>> {
        Box::pin(async { Err(SignError::new("key unavailable")) })
    }
}

#[tokio::test]
async fn attaches_the_bearer_token_and_passes_method_headers_and_body() {
    let server = token_server(Issuer::new()).await;
    Mock::given(method("POST"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let oauth2 = service("p", provider(&server));
    let res = oauth2
        .fetch(
            "p",
            &format!("{}/api/orders?page=2", server.uri()),
            FetchOptions::default()
                .method(Method::POST)
                .header("x-request-id", "r-1")
                .json(&json!({"amount": 10})),
        )
        .await
        .expect("fetch");
    assert_eq!(res.status(), 201);
    let api = api_requests(&server).await;
    assert_eq!(api.len(), 1);
    assert_eq!(
        header(&api[0], "authorization"),
        Some("Bearer tok-1"),
        "the managed token"
    );
    assert_eq!(header(&api[0], "x-request-id"), Some("r-1"));
    assert_eq!(header(&api[0], "content-type"), Some("application/json"));
    assert_eq!(api[0].url.query(), Some("page=2"));
    assert_eq!(api[0].body, br#"{"amount":10}"#);
}

#[tokio::test]
async fn a_401_drops_the_token_and_retries_once_with_a_new_one() {
    let server = token_server(Issuer::new()).await;
    Mock::given(path("/api/orders"))
        .and(header_is("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let oauth2 = service("p", provider(&server));
    let res = oauth2
        .fetch(
            "p",
            &format!("{}/api/orders", server.uri()),
            FetchOptions::default()
                .method(Method::PUT)
                .body("replayable"),
        )
        .await
        .expect("fetch");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "ok");
    let api = api_requests(&server).await;
    assert_eq!(api.len(), 2, "one retry");
    assert_eq!(header(&api[1], "authorization"), Some("Bearer tok-2"));
    assert_eq!(api[1].body, b"replayable", "the body is sent again");
    assert_eq!(api[1].method.as_str(), "PUT");
    assert_eq!(token_requests(&server).await.len(), 2);
    // The new token is the cached one now.
    assert_eq!(
        oauth2.get_token("p", None).await.expect("token").secret(),
        "tok-2"
    );
}

#[tokio::test]
async fn a_second_401_is_returned_as_unauthorized_without_a_third_attempt() {
    let server = token_server(Issuer::new()).await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let oauth2 = service("p", provider(&server));
    let err = get(&oauth2, &server, "/api/orders")
        .await
        .expect_err("unauthorized");
    assert_eq!(err.code(), "unauthorized");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(
        api_requests(&server).await.len(),
        2,
        "never more than one retry"
    );
    assert_eq!(token_requests(&server).await.len(), 2);
}

#[tokio::test]
async fn other_error_statuses_are_returned_untouched_and_keep_the_token() {
    let server = token_server(Issuer::new()).await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    let oauth2 = service("p", provider(&server));
    let res = get(&oauth2, &server, "/api/orders")
        .await
        .expect("a 403 is a response");
    assert_eq!(res.status(), 403);
    assert_eq!(api_requests(&server).await.len(), 1);
    assert_eq!(
        oauth2.get_token("p", None).await.expect("token").secret(),
        "tok-1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_401s_share_one_new_token() {
    let server = token_server(Issuer::new()).await;
    Mock::given(path("/api/orders"))
        .and(header_is("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401).set_delay(std::time::Duration::from_millis(50)))
        .mount(&server)
        .await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let oauth2 = service("p", provider(&server));
    oauth2.get_token("p", None).await.expect("warm: tok-1");
    let url = format!("{}/api/orders", server.uri());
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (oauth2, url) = (oauth2.clone(), url.clone());
            tokio::spawn(async move {
                oauth2
                    .fetch("p", &url, FetchOptions::default())
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.expect("join").expect("fetch"), 200);
    }
    assert_eq!(
        token_requests(&server).await.len(),
        2,
        "the rejected token is replaced once, not per caller"
    );
}

#[tokio::test]
async fn the_signer_runs_after_the_token_is_set_and_again_on_retry() {
    let server = token_server(Issuer::new()).await;
    Mock::given(path("/api/orders"))
        .and(header_is("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let signer = Arc::new(RecordingSigner::default());
    let oauth2 = service("p", provider(&server));
    oauth2
        .fetch(
            "p",
            &format!("{}/api/orders", server.uri()),
            FetchOptions::default()
                .method(Method::POST)
                .body("abc")
                .signer(signer.clone()),
        )
        .await
        .expect("fetch");
    assert_eq!(
        *signer.seen.lock().expect("lock"),
        ["Bearer tok-1", "Bearer tok-2"]
    );
    let api = api_requests(&server).await;
    assert_eq!(
        header(&api[0], "x-test-signature"),
        Some("covers[Bearer tok-1] body[3]")
    );
    assert_eq!(
        header(&api[1], "x-test-signature"),
        Some("covers[Bearer tok-2] body[3]"),
        "re-signed with the new token"
    );
}

#[tokio::test]
async fn a_provider_signer_applies_unless_the_request_brings_its_own() {
    let server = token_server(Issuer::new()).await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let provider_signer = Arc::new(RecordingSigner::default());
    let request_signer = Arc::new(RecordingSigner::default());
    let oauth2 = service("p", provider(&server).signer(provider_signer.clone()));
    let url = format!("{}/api/orders", server.uri());
    oauth2
        .fetch("p", &url, FetchOptions::default())
        .await
        .expect("fetch");
    oauth2
        .fetch(
            "p",
            &url,
            FetchOptions::default().signer(request_signer.clone()),
        )
        .await
        .expect("fetch");
    assert_eq!(provider_signer.seen.lock().expect("lock").len(), 1);
    assert_eq!(request_signer.seen.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn signing_failure_is_signing_failed_and_nothing_is_sent() {
    let server = token_server(Issuer::new()).await;
    let oauth2 = service("p", provider(&server));
    let err = oauth2
        .fetch(
            "p",
            &format!("{}/api/orders", server.uri()),
            FetchOptions::default().signer(Arc::new(FailingSigner)),
        )
        .await
        .expect_err("signing fails");
    assert_eq!(err.code(), "signing_failed");
    assert!(err.to_string().contains("key unavailable"));
    assert!(api_requests(&server).await.is_empty());
}

#[tokio::test]
async fn malformed_requests_are_invalid_request_without_echoing_values() {
    let server = token_server(Issuer::new()).await;
    let oauth2 = service("p", provider(&server));
    let err = oauth2
        .fetch("p", "not a url?token=secret", FetchOptions::default())
        .await
        .expect_err("url");
    assert_eq!(err.code(), "invalid_request");
    assert!(!err.to_string().contains("secret"), "{err}");
    let err = oauth2
        .fetch("p", "ftp://files.example/x", FetchOptions::default())
        .await
        .expect_err("scheme");
    assert_eq!(err.code(), "invalid_request");
    let err = oauth2
        .fetch(
            "p",
            &server.uri(),
            FetchOptions::default().header("x-key", "line\nbreak-secret"),
        )
        .await
        .expect_err("header");
    assert_eq!(err.code(), "invalid_request");
    assert!(!err.to_string().contains("break-secret"), "{err}");
    assert!(
        token_requests(&server).await.is_empty(),
        "nothing sent for a malformed request"
    );
}

#[tokio::test]
async fn transport_failure_to_the_upstream_is_request_failed() {
    let server = token_server(Issuer::new()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let err = service("p", provider(&server))
        .fetch(
            "p",
            &format!("http://127.0.0.1:{port}/x?api_key=k"),
            FetchOptions::default(),
        )
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "request_failed");
    assert!(!err.to_string().contains("api_key"), "{err}");
}

#[tokio::test]
async fn authorize_sets_the_managed_token_on_a_request_built_elsewhere() {
    let server = token_server(Issuer::new()).await;
    let oauth2 = service("p", provider(&server));
    let mut request =
        reqwest::Request::new(Method::GET, "https://api.example/x".parse().expect("url"));
    request
        .headers_mut()
        .insert("authorization", "Bearer stale".parse().expect("header"));
    oauth2
        .authorize("p", &mut request, None)
        .await
        .expect("authorize");
    let value = request.headers().get("authorization").expect("set");
    assert_eq!(value.to_str().expect("ascii"), "Bearer tok-1");
    assert!(value.is_sensitive());
    oauth2
        .authorize("p", &mut request, None)
        .await
        .expect("cached");
    assert_eq!(token_requests(&server).await.len(), 1);
}

/// `GET` of `path` on `server` through `fetch`, with default options.
async fn get(
    oauth2: &OAuth2Service,
    server: &MockServer,
    path: &str,
) -> Result<reqwest::Response, axum_oauth2_client::OAuth2Error> {
    oauth2
        .fetch(
            "p",
            format!("{}{path}", server.uri()),
            FetchOptions::default(),
        )
        .await
}

/// An upstream at `/api/bad` that refuses every token, and one at
/// `/api/good` that accepts any.
async fn refusing_and_accepting_upstreams(server: &MockServer) {
    Mock::given(path("/api/bad"))
        .respond_with(ResponseTemplate::new(401))
        .mount(server)
        .await;
    Mock::given(path("/api/good"))
        .respond_with(ResponseTemplate::new(200))
        .mount(server)
        .await;
}

#[tokio::test]
async fn an_upstream_that_refuses_every_token_forces_at_most_one_new_token_per_interval() {
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    refusing_and_accepting_upstreams(&server).await;
    let oauth2 = service("p", provider(&server));
    let (bad, good) = (
        format!("{}/api/bad", server.uri()),
        format!("{}/api/good", server.uri()),
    );
    let started = std::time::Instant::now();
    for call in 0..30 {
        let err = oauth2
            .fetch("p", &bad, FetchOptions::default())
            .await
            .expect_err("always 401");
        assert_eq!(err.code(), "unauthorized", "call {call}");
        let res = oauth2
            .fetch("p", &good, FetchOptions::default())
            .await
            .expect("the other upstream");
        assert_eq!(res.status(), 200, "call {call}: the shared token stays");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "30 calls in 5 s"
    );
    assert_eq!(
        issuer.issued(),
        2,
        "one token, and one forced by the first 401"
    );
    let requests = api_requests(&server).await;
    let bad_calls = requests
        .iter()
        .filter(|r| r.url.path() == "/api/bad")
        .count();
    assert_eq!(bad_calls, 31, "one retry, for the first call only");
    assert!(
        requests
            .iter()
            .filter(|r| r.url.path() == "/api/good")
            .all(|r| header(r, "authorization") == Some("Bearer tok-2")),
        "the accepting upstream kept getting the one token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refusals_force_at_most_one_new_token_per_interval() {
    let issuer = Issuer::new().delay(Duration::from_millis(50));
    let server = token_server(issuer.clone()).await;
    refusing_and_accepting_upstreams(&server).await;
    let oauth2 = service("p", provider(&server));
    let bad = format!("{}/api/bad", server.uri());
    oauth2.get_token("p", None).await.expect("a first token");
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (oauth2, bad) = (oauth2.clone(), bad.clone());
            tokio::spawn(async move { oauth2.fetch("p", &bad, FetchOptions::default()).await })
        })
        .collect();
    for call in calls {
        let err = call.await.expect("join").expect_err("always 401");
        assert_eq!(err.code(), "unauthorized");
    }
    assert_eq!(issuer.issued(), 2, "50 concurrent refusals force one token");
}

#[tokio::test]
async fn the_forced_refresh_budget_renews_after_its_interval() {
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    refusing_and_accepting_upstreams(&server).await;
    let clock = Arc::new(ManualClock::new());
    let oauth2 = OAuth2Service::builder(OAuth2Config::new().provider(
        "p",
        provider(&server).forced_refresh_interval(Duration::from_secs(30)),
    ))
    .clock(clock.clone())
    .build()
    .expect("service");
    let bad = format!("{}/api/bad", server.uri());
    let refuse = || oauth2.fetch("p", &bad, FetchOptions::default());
    assert_eq!(refuse().await.expect_err("401").code(), "unauthorized");
    assert_eq!(issuer.issued(), 2);
    clock.advance(Duration::from_secs(29));
    assert_eq!(refuse().await.expect_err("401").code(), "unauthorized");
    assert_eq!(issuer.issued(), 2, "inside the interval: no token request");
    clock.advance(Duration::from_secs(1));
    assert_eq!(refuse().await.expect_err("401").code(), "unauthorized");
    assert_eq!(issuer.issued(), 3, "after it: one more forced token");
}

#[tokio::test]
async fn a_zero_interval_lets_every_401_force_a_new_token() {
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    refusing_and_accepting_upstreams(&server).await;
    let oauth2 = service(
        "p",
        provider(&server).forced_refresh_interval(Duration::ZERO),
    );
    let bad = format!("{}/api/bad", server.uri());
    for _ in 0..3 {
        let err = oauth2.fetch("p", &bad, FetchOptions::default()).await;
        assert_eq!(err.expect_err("401").code(), "unauthorized");
    }
    assert_eq!(issuer.issued(), 4, "the first token and one per 401");
}

/// A second origin on loopback: another port.
async fn other_origin() -> MockServer {
    let other = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_string("other origin"))
        .mount(&other)
        .await;
    other
}

async fn redirect(server: &MockServer, from: &str, status: u16, to: &str) {
    Mock::given(path(from))
        .respond_with(ResponseTemplate::new(status).insert_header("location", to))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_401_after_a_redirect_is_returned_as_it_is_and_keeps_the_token() {
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    redirect(&server, "/api/moved", 302, "/api/final").await;
    Mock::given(path("/api/final"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let oauth2 = service("p", provider(&server));
    let res = get(&oauth2, &server, "/api/moved")
        .await
        .expect("the 401 itself");
    assert_eq!(res.status(), 401);
    assert_eq!(res.url().path(), "/api/final");
    let requests = api_requests(&server).await;
    assert_eq!(requests.len(), 2, "one request and its hop, no retry");
    assert_eq!(issuer.issued(), 1, "the token was not dropped");
    oauth2.get_token("p", None).await.expect("still cached");
    assert_eq!(issuer.issued(), 1);
}

#[tokio::test]
async fn with_allowed_origins_a_redirect_elsewhere_stops_and_carries_nothing() {
    let server = token_server(Issuer::new()).await;
    let other = other_origin().await;
    redirect(
        &server,
        "/api/moved",
        307,
        &format!("{}/steal", other.uri()),
    )
    .await;
    let allowed = provider(&server).allowed_origins([server.uri().parse().expect("url")]);
    let oauth2 = service("p", allowed);
    let signer = Arc::new(RecordingSigner::default());
    let res = oauth2
        .fetch(
            "p",
            &format!("{}/api/moved", server.uri()),
            FetchOptions::default()
                .method(Method::POST)
                .body("payload-for-the-api")
                .signer(signer.clone()),
        )
        .await
        .expect("the 3xx is the answer");
    assert_eq!(res.status(), 307);
    assert_eq!(
        other.received_requests().await.expect("recording").len(),
        0,
        "no body, signature or token reached the other origin"
    );
    assert_eq!(signer.seen.lock().expect("lock").len(), 1, "signed once");
}

#[tokio::test]
async fn with_allowed_origins_a_redirect_to_another_allowed_origin_is_followed() {
    let server = token_server(Issuer::new()).await;
    let other = other_origin().await;
    redirect(
        &server,
        "/api/moved",
        302,
        &format!("{}/api/here", other.uri()),
    )
    .await;
    let allowed = provider(&server).allowed_origins([
        server.uri().parse().expect("url"),
        other.uri().parse().expect("url"),
    ]);
    let res = service("p", allowed)
        .fetch(
            "p",
            &format!("{}/api/moved", server.uri()),
            FetchOptions::default(),
        )
        .await
        .expect("followed");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "other origin");
}

#[tokio::test]
async fn without_allowed_origins_a_cross_origin_redirect_drops_the_token() {
    let server = token_server(Issuer::new()).await;
    let other = other_origin().await;
    redirect(
        &server,
        "/api/moved",
        302,
        &format!("{}/api/here", other.uri()),
    )
    .await;
    let res = service("p", provider(&server))
        .fetch(
            "p",
            &format!("{}/api/moved", server.uri()),
            FetchOptions::default(),
        )
        .await
        .expect("followed");
    assert_eq!(res.status(), 200);
    let received = other.received_requests().await.expect("recording");
    assert_eq!(received.len(), 1);
    assert_eq!(header(&received[0], "authorization"), None);
}

#[tokio::test]
async fn a_given_client_that_leaves_the_allowed_origins_gets_origin_not_allowed() {
    let server = token_server(Issuer::new()).await;
    let other = other_origin().await;
    redirect(
        &server,
        "/api/moved",
        302,
        &format!("{}/api/here", other.uri()),
    )
    .await;
    let allowed = provider(&server).allowed_origins([server.uri().parse().expect("url")]);
    let oauth2 = OAuth2Service::builder(OAuth2Config::new().provider("p", allowed))
        .http_client(reqwest::Client::new())
        .build()
        .expect("service");
    let err = get(&oauth2, &server, "/api/moved")
        .await
        .expect_err("the answer came from elsewhere");
    assert_eq!(err.code(), "origin_not_allowed");
}

#[tokio::test]
async fn plain_http_off_loopback_is_refused_before_any_token_is_fetched() {
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let oauth2 = service("p", provider(&server));
    for url in [
        "http://api.example.com/v1/orders?key=k",
        "http://10.0.0.7/x",
        "http://localhost.example.com/x",
    ] {
        let err = oauth2
            .fetch("p", url, FetchOptions::default())
            .await
            .expect_err("insecure");
        assert_eq!(err.code(), "insecure_url", "{url}");
        assert!(!err.to_string().contains("key=k"), "{err}");
    }
    assert_eq!(issuer.issued(), 0, "no token was fetched");
}

#[tokio::test]
async fn headers_the_client_owns_are_refused_naming_the_header_never_its_value() {
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let oauth2 = service("p", provider(&server));
    let url = format!("{}/api/x", server.uri());
    for name in [
        "host",
        "Authorization",
        "connection",
        "transfer-encoding",
        "te",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "keep-alive",
        "trailer",
    ] {
        let err = oauth2
            .fetch(
                "p",
                &url,
                FetchOptions::default().header(name, "value-that-is-secret"),
            )
            .await
            .expect_err("refused");
        assert_eq!(err.code(), "invalid_request", "{name}");
        let shown = err.to_string();
        assert!(shown.contains(&name.to_ascii_lowercase()), "{shown}");
        assert!(!shown.contains("value-that-is-secret"), "{shown}");
    }
    let mut map = reqwest::header::HeaderMap::new();
    map.insert("x-fine", "1".parse().expect("value"));
    map.insert("upgrade", "h2c".parse().expect("value"));
    let err = oauth2
        .fetch("p", &url, FetchOptions::default().headers(map))
        .await
        .expect_err("refused in a map too");
    assert!(err.to_string().contains("upgrade"), "{err}");
    assert_eq!(issuer.issued(), 0);
    assert!(api_requests(&server).await.is_empty());
}

#[tokio::test]
async fn query_and_form_options_shape_the_request_and_the_url_is_parsed_once() {
    let server = token_server(Issuer::new()).await;
    Mock::given(path("/api/search"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let oauth2 = service("p", provider(&server));
    let url: reqwest::Url = format!("{}/api/search?page=2", server.uri())
        .parse()
        .expect("url");
    oauth2
        .fetch(
            "p",
            url,
            FetchOptions::default()
                .method(Method::POST)
                .query(&[("q", "a b&c")])
                .query(&[("lang", "en")])
                .form(&[("name", "ünï"), ("note", "x=y")])
                .version(reqwest::Version::HTTP_11),
        )
        .await
        .expect("fetch");
    let api = api_requests(&server).await;
    assert_eq!(api.len(), 1);
    assert_eq!(api[0].url.query(), Some("page=2&q=a+b%26c&lang=en"));
    assert_eq!(
        header(&api[0], "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(api[0].body, b"name=%C3%BCn%C3%AF&note=x%3Dy");
}
