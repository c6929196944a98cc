//! A provider configured by its issuer (RFC 8414, OpenID Connect
//! Discovery): the token endpoint and method it learns, and how a down or
//! wrong identity provider fails — never at start-up.

mod common;

use std::time::Duration;

use axum_oauth2_client::{
    AuthMethod, BreakerPolicy, OAuth2Config, OAuth2Service, ProviderConfig, RetryPolicy,
};
use common::*;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OIDC_PATH: &str = "/.well-known/openid-configuration";

fn metadata(issuer: &str, methods: &[&str]) -> serde_json::Value {
    json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "token_endpoint_auth_methods_supported": methods,
        "jwks_uri": format!("{issuer}/jwks"),
    })
}

async fn publish(server: &MockServer, body: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(OIDC_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

async fn metadata_requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .expect("recording")
        .iter()
        .filter(|r| r.url.path().contains("/.well-known/"))
        .count()
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(2)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(2))
}

fn discovered(server: &MockServer) -> ProviderConfig {
    ProviderConfig::discovered(server.uri(), CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .retry(quick_retries())
}

#[tokio::test]
async fn the_token_endpoint_and_method_come_from_the_metadata_fetched_once() {
    let server = token_server(Issuer::new()).await;
    publish(
        &server,
        metadata(&server.uri(), &["client_secret_post", "private_key_jwt"]),
    )
    .await;
    let oauth2 = service("p", discovered(&server));
    let found = oauth2
        .metadata("p")
        .await
        .expect("metadata")
        .expect("discovered");
    assert_eq!(found.issuer(), server.uri());
    oauth2.get_token("p", None).await.expect("token");
    oauth2.clear_cache(None);
    oauth2.get_token("p", None).await.expect("second token");

    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 2);
    let form = form(&requests[0]);
    assert_eq!(
        form.get("client_secret").map(String::as_str),
        Some(CLIENT_SECRET),
        "the one secret method listed: client_secret_post"
    );
    assert_eq!(header(&requests[0], "authorization"), None);
    // RFC 8414's URL first (404 here), then OpenID Connect's: once for all.
    assert_eq!(metadata_requests(&server).await, 2);
}

#[tokio::test]
async fn an_identity_provider_down_at_start_up_fails_calls_not_start_up() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(OIDC_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    publish(&server, metadata(&server.uri(), &["client_secret_basic"])).await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(Issuer::new())
        .mount(&server)
        .await;
    let oauth2 = OAuth2Service::new(OAuth2Config::new().provider("p", discovered(&server)))
        .expect("start-up never waits for the identity provider");
    let err = oauth2
        .get_token("p", None)
        .await
        .expect_err("both attempts 503");
    assert_eq!(err.code(), "discovery_failed");
    assert!(err.is_retryable(), "{err}");
    assert!(token_requests(&server).await.is_empty());
    let token = oauth2.get_token("p", None).await.expect("back up");
    assert_eq!(token.secret(), "tok-1");
}

#[tokio::test]
async fn discovery_failures_open_the_breaker_like_token_failures() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let config = discovered(&server).retry(RetryPolicy::none()).breaker(
        BreakerPolicy::default()
            .threshold(1)
            .cooldown(Duration::from_secs(60)),
    );
    let oauth2 = service("p", config);
    let first = oauth2.get_token("p", None).await.expect_err("down");
    assert_eq!(first.code(), "discovery_failed");
    let seen = metadata_requests(&server).await;
    let second = oauth2.get_token("p", None).await.expect_err("breaker open");
    assert_eq!(second.code(), "token_endpoint_unavailable");
    assert_eq!(
        metadata_requests(&server).await,
        seen,
        "no request while open"
    );
}

#[tokio::test]
async fn metadata_of_another_issuer_is_refused_and_nothing_is_sent() {
    let server = token_server(Issuer::new()).await;
    publish(
        &server,
        metadata("https://evil.example", &["client_secret_basic"]),
    )
    .await;
    let oauth2 = service("p", discovered(&server));
    let err = oauth2.get_token("p", None).await.expect_err("mismatch");
    assert_eq!(err.code(), "issuer_mismatch");
    assert!(!err.is_retryable());
    assert_error_shows_no_secret(&err, &[CLIENT_SECRET]);
    assert!(token_requests(&server).await.is_empty());
    // A wrong document is not asked for again on every call.
    let asked = metadata_requests(&server).await;
    let again = oauth2.get_token("p", None).await.expect_err("still wrong");
    assert_eq!(again.code(), "issuer_mismatch");
    assert_eq!(metadata_requests(&server).await, asked);
}

#[tokio::test]
async fn no_usable_method_and_no_token_endpoint_are_typed_errors() {
    let server = MockServer::start().await;
    publish(&server, metadata(&server.uri(), &["tls_client_auth"])).await;
    let err = service("p", discovered(&server))
        .get_token("p", None)
        .await
        .expect_err("no method for a secret");
    assert_eq!(err.code(), "invalid_metadata");
    assert!(err.to_string().contains("tls_client_auth"), "{err}");

    let other = MockServer::start().await;
    publish(&other, json!({ "issuer": other.uri() })).await;
    let err = service("p", discovered(&other))
        .get_token("p", None)
        .await
        .expect_err("no token endpoint");
    assert_eq!(err.code(), "invalid_metadata");
    assert!(err.to_string().contains("token_endpoint"), "{err}");
}

#[tokio::test]
async fn a_configured_token_url_and_method_override_the_metadata() {
    let server = token_server(Issuer::new()).await;
    publish(
        &server,
        json!({
            "issuer": server.uri(),
            "token_endpoint": "https://elsewhere.example/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
        }),
    )
    .await;
    let config = ProviderConfig::new(
        format!("{}{TOKEN_PATH}", server.uri())
            .parse()
            .expect("url"),
        CLIENT_ID,
        CLIENT_SECRET,
    )
    .issuer(server.uri())
    .auth_method(AuthMethod::ClientSecretBasic);
    let oauth2 = service("p", config);
    oauth2.get_token("p", None).await.expect("token");
    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 1, "sent to the configured URL");
    assert_eq!(
        basic_credentials(&requests[0]),
        Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
    );
    assert_eq!(
        metadata_requests(&server).await,
        0,
        "nothing left to discover"
    );
}

#[tokio::test]
async fn discovery_skips_methods_the_credentials_cannot_use() {
    // A secret too short for HS256 cannot do client_secret_jwt.
    let server = MockServer::start().await;
    publish(&server, metadata(&server.uri(), &["client_secret_jwt"])).await;
    let short = ProviderConfig::discovered(server.uri(), CLIENT_ID).client_secret("short");
    let err = service("p", short)
        .get_token("p", None)
        .await
        .expect_err("no usable method");
    assert_eq!(err.code(), "invalid_metadata");
    assert_error_shows_no_secret(&err, &["short"]);

    // Without credentials, client credentials never go out unauthenticated.
    let open = MockServer::start().await;
    publish(&open, metadata(&open.uri(), &["none"])).await;
    let err = OAuth2Service::new(
        OAuth2Config::new().provider("p", ProviderConfig::discovered(open.uri(), CLIENT_ID)),
    )
    .expect_err("no credentials for client credentials");
    assert_eq!(err.code(), "invalid_config");
}
