//! `OAuth2Service::fetch`: the token on the request, signing last, and the
//! single retry after a 401.

mod common;

use std::sync::{Arc, Mutex};

use axum_oauth2_client::http_signature::BoxFuture;
use axum_oauth2_client::{FetchOptions, SignError, Signer};
use common::*;
use reqwest::Method;
use serde_json::json;
use wiremock::matchers::{header as header_is, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Records the `Authorization` header it saw and adds a signature header
/// that covers it, as an RFC 9421 signer would.
#[derive(Debug, Default)]
struct RecordingSigner {
    seen: Mutex<Vec<String>>,
}

impl Signer for RecordingSigner {
    fn sign<'a>(
        &'a self,
        request: &'a mut reqwest::Request,
    ) -> BoxFuture<'a, Result<(), SignError>> {
        Box::pin(async move {
            let auth = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| SignError::new("authorization must be set before signing"))?
                .to_owned();
            let body = request
                .body()
                .and_then(|b| b.as_bytes())
                .map(<[u8]>::len)
                .unwrap_or(0);
            request.headers_mut().insert(
                "x-test-signature",
                format!("covers[{auth}] body[{body}]")
                    .parse()
                    .expect("header"),
            );
            self.seen.lock().expect("lock").push(auth);
            Ok(())
        })
    }
}

#[derive(Debug)]
struct FailingSigner;

impl Signer for FailingSigner {
    fn sign<'a>(&'a self, _: &'a mut reqwest::Request) -> BoxFuture<'a, Result<(), SignError>> {
        Box::pin(async { Err(SignError::new("key unavailable")) })
    }
}

async fn api_requests(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("recording")
        .into_iter()
        .filter(|r| r.url.path().starts_with("/api"))
        .collect()
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
                .header("authorization", "Bearer caller-supplied")
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
        "the managed token replaces any other"
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
    let err = oauth2
        .fetch(
            "p",
            &format!("{}/api/orders", server.uri()),
            FetchOptions::default(),
        )
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
    let res = oauth2
        .fetch(
            "p",
            &format!("{}/api/orders", server.uri()),
            FetchOptions::default(),
        )
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
