//! Client credentials grant (RFC 6749 §4.4) against a real HTTP token
//! endpoint: what is sent, what comes back, and every failure path.

mod common;

use std::time::{Duration, Instant};

use axum_oauth2_client::{AuthMethod, OAuth2Error, ProviderConfig};
use common::*;
use reqwest::StatusCode;
use serde_json::json;
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn basic_auth_sends_form_encoded_credentials_and_the_grant() {
    let server = token_server(Issuer::new()).await;
    let oauth2 = service(
        "payments",
        provider(&server).scope("orders:read orders:write"),
    );

    let token = oauth2.get_token("payments", None).await.expect("token");
    assert_eq!(token.secret(), "tok-1");

    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        header(request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(request, "accept"), Some("application/json"));
    assert_eq!(
        basic_credentials(request),
        Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
    );
    let form = form(request);
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("client_credentials")
    );
    assert_eq!(
        form.get("scope").map(String::as_str),
        Some("orders:read orders:write")
    );
    assert!(
        !form.contains_key("client_secret"),
        "basic auth keeps the secret out of the body"
    );
    assert!(!form.contains_key("client_id"));
}

#[tokio::test]
async fn basic_auth_encodes_reserved_characters_before_base64() {
    let server = token_server(Issuer::new()).await;
    let config = ProviderConfig::new(
        format!("{}{TOKEN_PATH}", server.uri())
            .parse()
            .expect("url"),
        "id:with colon",
        "se:cr%et+",
    );
    service("p", config)
        .get_token("p", None)
        .await
        .expect("token");
    let requests = token_requests(&server).await;
    let raw = header(&requests[0], "authorization")
        .expect("auth")
        .to_owned();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(raw.strip_prefix("Basic ").expect("basic"))
        .expect("b64");
    assert_eq!(
        String::from_utf8(decoded).expect("utf8"),
        "id%3Awith+colon:se%3Acr%25et%2B"
    );
}

#[tokio::test]
async fn client_secret_post_sends_credentials_in_the_form() {
    let server = token_server(Issuer::new()).await;
    let oauth2 = service(
        "p",
        provider(&server).auth_method(AuthMethod::ClientSecretPost),
    );
    oauth2.get_token("p", None).await.expect("token");
    let requests = token_requests(&server).await;
    let form = form(&requests[0]);
    assert_eq!(form.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(
        form.get("client_secret").map(String::as_str),
        Some(CLIENT_SECRET)
    );
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("client_credentials")
    );
    assert!(
        !form.contains_key("scope"),
        "no scope configured, none sent"
    );
    assert!(header(&requests[0], "authorization").is_none());
}

#[tokio::test]
async fn expires_in_as_numeric_string_sets_the_expiry() {
    let server = token_server(
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token":"a","token_type":"bearer","expires_in":"120"})),
    )
    .await;
    let before = Instant::now();
    let token = service("p", provider(&server))
        .get_token("p", None)
        .await
        .expect("token");
    assert_lifetime(&token, before, Duration::from_secs(120));
}

#[tokio::test]
async fn missing_expires_in_uses_the_configured_default_lifetime() {
    let server = token_server(Issuer::new().expires_in(None)).await;
    let before = Instant::now();
    let oauth2 = service(
        "p",
        provider(&server).default_lifetime(Duration::from_secs(42)),
    );
    let token = oauth2.get_token("p", None).await.expect("token");
    assert_lifetime(&token, before, Duration::from_secs(42));
    assert_eq!(ProviderConfig::DEFAULT_LIFETIME, Duration::from_secs(300));
}

/// The expiry is the lifetime after the moment the request was sent, which
/// lies between `before` and now.
fn assert_lifetime(token: &axum_oauth2_client::AccessToken, before: Instant, lifetime: Duration) {
    let after = Instant::now();
    assert!(
        token.expires_at() >= before + lifetime && token.expires_at() <= after + lifetime,
        "expiry outside [{before:?}, {after:?}] + {lifetime:?}"
    );
}

async fn failure(response: ResponseTemplate) -> OAuth2Error {
    let server = token_server(response).await;
    service("p", provider(&server))
        .get_token("p", None)
        .await
        .expect_err("must fail")
}

#[tokio::test]
async fn rfc6749_error_body_is_kept_as_token_endpoint_error() {
    let err = failure(ResponseTemplate::new(401).set_body_json(json!({
        "error": "invalid_client",
        "error_description": "Client authentication failed",
        "error_uri": "https://auth.example/docs/errors#invalid_client"
    })))
    .await;
    assert_eq!(err.code(), "token_endpoint_error");
    assert_eq!(err.provider(), "p");
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(err.oauth_error(), Some("invalid_client"));
    assert_eq!(
        err.error_description(),
        Some("Client authentication failed")
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("invalid_client"), "{err}");
}

#[tokio::test]
async fn server_errors_are_token_endpoint_errors_and_retryable() {
    for status in [500, 502, 503] {
        let err = failure(ResponseTemplate::new(status).set_body_string("upstream broke")).await;
        assert_eq!(err.code(), "token_endpoint_error");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(err.oauth_error(), None);
        assert!(err.is_retryable());
    }
    let err =
        failure(ResponseTemplate::new(400).set_body_json(json!({"error":"invalid_scope"}))).await;
    assert_eq!(err.oauth_error(), Some("invalid_scope"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn unusable_2xx_bodies_are_invalid_token_responses() {
    let cases: Vec<(ResponseTemplate, &str)> = vec![
        (
            ResponseTemplate::new(200).set_body_raw("<html>Login</html>", "text/html"),
            "body is not JSON",
        ),
        (
            ResponseTemplate::new(200).set_body_string(r#"{"access_token":"abc","tok"#),
            "body is not JSON",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"token_type":"Bearer"})),
            "access_token is missing",
        ),
        (
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token":"a","token_type":"mac"})),
            "token_type `mac` is not Bearer",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"access_token":"a"})),
            "token_type is missing",
        ),
        (
            ResponseTemplate::new(200)
                .set_body_raw(vec![0xff, 0xfe, 0x00, 0x7b], "application/json"),
            "body is not JSON",
        ),
        (
            ResponseTemplate::new(200).set_body_json(
                json!({"access_token":"a","token_type":"Bearer","expires_in":"soon"}),
            ),
            "expires_in is not a number",
        ),
    ];
    for (response, reason) in cases {
        let err = failure(response).await;
        assert_eq!(err.code(), "invalid_token_response", "{err}");
        assert_eq!(err.status(), Some(StatusCode::OK));
        assert!(
            err.to_string().ends_with(reason),
            "{err} should end with {reason}"
        );
    }
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let big = format!(
        r#"{{"access_token":"{}","token_type":"Bearer"}}"#,
        "a".repeat(10 * 1024 * 1024)
    );
    let err = failure(ResponseTemplate::new(200).set_body_raw(big, "application/json")).await;
    assert_eq!(err.code(), "invalid_token_response");
    assert!(err.to_string().contains("exceeds 65536 bytes"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_token_request_failed() {
    // Bind then drop: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let config = ProviderConfig::new(
        format!("http://127.0.0.1:{port}/token")
            .parse()
            .expect("url"),
        CLIENT_ID,
        CLIENT_SECRET,
    );
    let err = service("p", config)
        .get_token("p", None)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "token_request_failed");
    assert!(err.is_retryable() && err.is_unavailable());
    assert!(
        !err.to_string().contains(&port.to_string()),
        "no URL in the message: {err}"
    );
}

#[tokio::test]
async fn slow_token_endpoint_ends_at_the_timeout() {
    let server = token_server(Issuer::new().delay(Duration::from_secs(10))).await;
    let oauth2 = service("p", provider(&server).timeout(Duration::from_millis(200)));
    let err = tokio::time::timeout(Duration::from_secs(5), oauth2.get_token("p", None))
        .await
        .expect("bounded by the provider timeout")
        .expect_err("timed out");
    assert_eq!(err.code(), "token_request_failed");
}

#[tokio::test]
async fn unknown_provider_is_named() {
    let server = token_server(Issuer::new()).await;
    let err = service("p", provider(&server))
        .get_token("nope", None)
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), "unknown_provider");
    assert_eq!(err.provider(), "nope");
    assert_eq!(
        err.to_string(),
        "no OAuth2 provider named `nope` is configured"
    );
}

#[tokio::test]
async fn a_given_token_client_serves_the_token_endpoint_and_its_redirects_are_refused() {
    use axum_oauth2_client::{OAuth2Config, OAuth2Service};
    let server = token_server(Issuer::new()).await;
    Mock::given(wiremock::matchers::path("/moved/token"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}{TOKEN_PATH}", server.uri())),
        )
        .mount(&server)
        .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-client", "the-users-own".parse().expect("value"));
    let mine = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");
    let oauth2 = OAuth2Service::builder(OAuth2Config::new().provider("p", provider(&server)))
        .token_http_client(mine.clone())
        .build()
        .expect("service");
    oauth2.get_token("p", None).await.expect("token");
    let requests = token_requests(&server).await;
    assert_eq!(header(&requests[0], "x-client"), Some("the-users-own"));

    // That client follows redirects (reqwest's default): the answer of
    // another URL is refused, not cached.
    let moved = ProviderConfig::new(
        format!("{}/moved/token", server.uri())
            .parse()
            .expect("url"),
        CLIENT_ID,
        CLIENT_SECRET,
    );
    let oauth2 = OAuth2Service::builder(OAuth2Config::new().provider("m", moved))
        .token_http_client(mine)
        .build()
        .expect("service");
    let err = oauth2.get_token("m", None).await.expect_err("redirected");
    assert_eq!(err.code(), "invalid_token_response");
    assert!(err.to_string().contains("redirect"), "{err}");
}
