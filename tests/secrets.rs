//! No client secret, access token, subject token or actor token reaches a
//! log line (tracing captured at TRACE, every crate), an error message or a
//! `Debug` print, across the success and failure paths.

mod common;

use std::time::Duration;

use axum_oauth2_client::{
    AuthMethod, FetchOptions, OAuth2Config, OAuth2Error, OAuth2Service, ProviderConfig,
    TokenExchangeOptions,
};
use common::*;
use serde_json::json;
use wiremock::matchers::{body_string_contains, header as header_is, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "CLIENT-SECRET-1b7e";
const ACCESS: &str = "ACCESS-TOKEN-9f3a";
const ACCESS_2: &str = "ACCESS-TOKEN-2-9f3a";
const SUBJECT: &str = "SUBJECT-TOKEN-c41d";
const ACTOR: &str = "ACTOR-TOKEN-77e0";
const SECRETS: &[&str] = &[SECRET, ACCESS, ACCESS_2, SUBJECT, ACTOR];

fn assert_clean(what: &str, text: &str) {
    assert_no_secret(what, text, SECRETS);
}

fn check_error(err: &OAuth2Error) {
    assert_error_shows_no_secret(err, SECRETS);
}

async fn mock_endpoints() -> MockServer {
    let server = MockServer::start().await;
    let token = |access: &str| {
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access, "token_type": "Bearer", "expires_in": 3600,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"
        }))
    };
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token(ACCESS))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token(ACCESS_2))
        .mount(&server)
        .await;
    // The upstream refuses the first token: a 401 retry is on the path.
    Mock::given(path("/api"))
        .and(header_is(
            "authorization",
            format!("Bearer {ACCESS}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(path("/api"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    // Failure endpoints.
    Mock::given(path("/refused"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client", "error_description": "bad client"
        })))
        .mount(&server)
        .await;
    Mock::given(path("/down"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(path("/garbage"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!("<html>{ACCESS}")))
        .mount(&server)
        .await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    Mock::given(path("/no-type"))
        .and(body_string_contains("grant_type"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": ACCESS})))
        .mount(&server)
        .await;
    server
}

fn provider_at(server: &MockServer, route: &str) -> ProviderConfig {
    ProviderConfig::new(
        format!("{}{route}", server.uri()).parse().expect("url"),
        CLIENT_ID,
        SECRET,
    )
    .timeout(Duration::from_millis(300))
}

#[tokio::test]
async fn no_secret_in_logs_errors_or_debug_output() {
    let logs = capture_logs();
    let server = mock_endpoints().await;
    let config = OAuth2Config::new()
        .provider("basic", provider_at(&server, "/token"))
        .provider(
            "post",
            provider_at(&server, "/token").auth_method(AuthMethod::ClientSecretPost),
        )
        .provider("refused", provider_at(&server, "/refused"))
        .provider("down", provider_at(&server, "/down"))
        .provider("garbage", provider_at(&server, "/garbage"))
        .provider("slow", provider_at(&server, "/slow"))
        .provider("no_type", provider_at(&server, "/no-type"));
    assert_clean("config Debug", &format!("{config:?} {config:#?}"));
    let oauth2 = OAuth2Service::new(config).expect("service");
    assert_clean("service Debug", &format!("{oauth2:?}"));

    let exchange = TokenExchangeOptions::new(SUBJECT)
        .actor_token(ACTOR, "urn:ietf:params:oauth:token-type:jwt");
    assert_clean("exchange Debug", &format!("{exchange:?} {exchange:#?}"));
    let options = FetchOptions::default()
        .header("x-api-key", SECRET)
        .body(SUBJECT)
        .token_exchange(exchange.clone());
    assert_clean("fetch options Debug", &format!("{options:?} {options:#?}"));

    // Success paths: both auth methods, exchange, fetch with a 401 retry.
    let token = oauth2.get_token("basic", None).await.expect("token");
    assert_clean("token Debug", &format!("{token:?} {token:#?}"));
    oauth2
        .get_token("post", Some(&exchange))
        .await
        .expect("exchange");
    let res = oauth2
        .fetch(
            "basic",
            &format!("{}/api?q=1", server.uri()),
            FetchOptions::default(),
        )
        .await
        .expect("fetch");
    assert_eq!(res.status(), 200);
    oauth2
        .fetch("post", &format!("{}/api", server.uri()), options)
        .await
        .expect("fetch exchanged");

    // Failure paths.
    for provider in ["refused", "down", "garbage", "slow", "no_type"] {
        let err = oauth2
            .get_token(provider, Some(&exchange))
            .await
            .expect_err(provider);
        check_error(&err);
        let err = oauth2.get_token(provider, None).await.expect_err(provider);
        check_error(&err);
    }
    let err = oauth2
        .fetch(
            "basic",
            &format!("http://{SECRET}@127.0.0.1:1/{ACCESS}"),
            FetchOptions::default(),
        )
        .await
        .expect_err("user info in a URL is refused");
    assert_eq!(err.code(), "invalid_request");
    check_error(&err);
    let err = oauth2
        .get_token("unknown", Some(&TokenExchangeOptions::new("")))
        .await
        .expect_err("unknown");
    check_error(&err);

    let text = logs.text();
    assert!(
        text.contains("TRACE") || text.contains("DEBUG"),
        "tracing was captured at a verbose level"
    );
    assert!(
        text.contains("token issued"),
        "the crate's own events were captured"
    );
    assert_clean("logs", &text);
}
