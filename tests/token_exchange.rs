//! Token exchange (RFC 8693 §2.1) against a real HTTP token endpoint.

mod common;

use axum_oauth2_client::{AuthMethod, FetchOptions, TokenExchangeOptions};
use common::*;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const SUBJECT: &str = "eyJhbGciOiJSUzI1NiJ9.user-alice.sig";
const ACTOR: &str = "eyJhbGciOiJSUzI1NiJ9.actor-gateway.sig";

#[tokio::test]
async fn sends_every_optional_parameter_and_client_authentication() {
    let server = token_server(Issuer::new()).await;
    let oauth2 = service("p", provider(&server));
    let exchange = TokenExchangeOptions::new(SUBJECT)
        .audience("payments-api")
        .audience("ledger-api")
        .resource("https://payments.example/v1")
        .scope("payments:read")
        .requested_token_type("urn:ietf:params:oauth:token-type:access_token")
        .actor_token(ACTOR, "urn:ietf:params:oauth:token-type:jwt");

    let token = oauth2.get_token("p", Some(&exchange)).await.expect("token");
    assert_eq!(token.secret(), "tok-1");
    assert_eq!(
        token.issued_token_type(),
        Some("urn:ietf:params:oauth:token-type:access_token")
    );

    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        header(request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        basic_credentials(request),
        Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
    );
    let form = form(request);
    let field = |name: &str| form.get(name).map(String::as_str);
    assert_eq!(
        field("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:token-exchange")
    );
    assert_eq!(field("subject_token"), Some(SUBJECT));
    assert_eq!(
        field("subject_token_type"),
        Some("urn:ietf:params:oauth:token-type:access_token")
    );
    assert_eq!(
        form_all(request, "audience"),
        ["payments-api", "ledger-api"]
    );
    assert_eq!(field("resource"), Some("https://payments.example/v1"));
    assert_eq!(field("scope"), Some("payments:read"));
    assert_eq!(
        field("requested_token_type"),
        Some("urn:ietf:params:oauth:token-type:access_token")
    );
    assert_eq!(field("actor_token"), Some(ACTOR));
    assert_eq!(
        field("actor_token_type"),
        Some("urn:ietf:params:oauth:token-type:jwt")
    );
}

#[tokio::test]
async fn minimal_exchange_sends_only_required_parameters_with_post_auth() {
    let server = token_server(Issuer::new()).await;
    let oauth2 = service(
        "p",
        provider(&server)
            .scope("ignored-for-exchange")
            .auth_method(AuthMethod::ClientSecretPost),
    );
    oauth2
        .get_token("p", Some(&TokenExchangeOptions::new(SUBJECT)))
        .await
        .expect("token");
    let requests = token_requests(&server).await;
    let mut keys: Vec<String> = form(&requests[0]).into_keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "client_id",
            "client_secret",
            "grant_type",
            "subject_token",
            "subject_token_type"
        ]
    );
}

#[tokio::test]
async fn exchanged_tokens_are_cached_per_subject_and_apart_from_client_credentials() {
    let server = token_server(Issuer::new()).await;
    let oauth2 = service("p", provider(&server));
    let alice = TokenExchangeOptions::new("alice-token");
    let bob = TokenExchangeOptions::new("bob-token");

    let a1 = oauth2.get_token("p", Some(&alice)).await.expect("alice");
    let b1 = oauth2.get_token("p", Some(&bob)).await.expect("bob");
    let cc = oauth2
        .get_token("p", None)
        .await
        .expect("client credentials");
    let a2 = oauth2
        .get_token("p", Some(&alice))
        .await
        .expect("alice again");
    let aud = oauth2
        .get_token("p", Some(&alice.clone().audience("other")))
        .await
        .expect("other audience");

    assert_eq!(a1.secret(), a2.secret());
    assert_ne!(a1.secret(), b1.secret());
    assert_ne!(a1.secret(), cc.secret());
    assert_ne!(
        a1.secret(),
        aud.secret(),
        "a different audience is a different token"
    );
    assert_eq!(token_requests(&server).await.len(), 4);
}

#[tokio::test]
async fn fetch_with_token_exchange_sends_the_exchanged_token() {
    let server = token_server(Issuer::new()).await;
    Mock::given(method("GET"))
        .and(path("/api/me"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let oauth2 = service("p", provider(&server));
    oauth2
        .get_token("p", None)
        .await
        .expect("client credentials token first: tok-1");
    let res = oauth2
        .fetch(
            "p",
            &format!("{}/api/me", server.uri()),
            FetchOptions::default().token_exchange(TokenExchangeOptions::new(SUBJECT)),
        )
        .await
        .expect("fetch");
    assert_eq!(res.status(), 200);
    let api: Vec<_> = server
        .received_requests()
        .await
        .expect("rec")
        .into_iter()
        .filter(|r| r.url.path() == "/api/me")
        .collect();
    assert_eq!(header(&api[0], "authorization"), Some("Bearer tok-2"));
}

#[tokio::test]
async fn invalid_exchange_parameters_fail_before_any_request() {
    let server = token_server(Issuer::new()).await;
    let oauth2 = service("p", provider(&server));
    let err = oauth2
        .get_token("p", Some(&TokenExchangeOptions::new("")))
        .await
        .expect_err("empty");
    assert_eq!(err.code(), "invalid_request");
    let mut no_type = TokenExchangeOptions::new(SUBJECT);
    no_type.actor_token = Some(ACTOR.into());
    let err = oauth2
        .get_token("p", Some(&no_type))
        .await
        .expect_err("actor without type");
    assert_eq!(err.code(), "invalid_request");
    assert!(!err.to_string().contains(ACTOR) && !err.to_string().contains(SUBJECT));
    assert!(token_requests(&server).await.is_empty());
}

#[tokio::test]
async fn refused_exchange_keeps_the_rfc6749_error() {
    let server = token_server(ResponseTemplate::new(400).set_body_json(json!({
        "error": "invalid_grant", "error_description": "subject token expired"
    })))
    .await;
    let err = service("p", provider(&server))
        .get_token("p", Some(&TokenExchangeOptions::new(SUBJECT)))
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "token_endpoint_error");
    assert_eq!(err.oauth_error(), Some("invalid_grant"));
    assert!(!format!("{err} {err:?}").contains(SUBJECT));
}

/// An unsigned JWT whose `exp` is `seconds` from now (the crate reads the
/// claim for timing only, never to trust the token).
fn jwt_expiring_in(seconds: u64) -> String {
    use base64::Engine as _;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + seconds;
    let encode = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.sig",
        encode(json!({"alg": "RS256"})),
        encode(json!({"sub": "alice", "exp": exp}))
    )
}

#[tokio::test]
async fn an_exchanged_token_is_cached_no_longer_than_its_subject_token_lives() {
    let server = token_server(Issuer::new().expires_in(Some(3600))).await;
    let oauth2 = service("p", provider(&server));
    let short = TokenExchangeOptions::new(jwt_expiring_in(120));
    let token = oauth2.get_token("p", Some(&short)).await.expect("token");
    let left = token.expires_at() - std::time::Instant::now();
    assert!(
        left <= std::time::Duration::from_secs(120) && left > std::time::Duration::from_secs(100),
        "cut to the subject's exp: {left:?}"
    );
    // A subject that is not a JWT, or lives longer, leaves the lifetime alone.
    for subject in [SUBJECT.to_owned(), jwt_expiring_in(7200)] {
        let token = oauth2
            .get_token("p", Some(&TokenExchangeOptions::new(subject)))
            .await
            .expect("token");
        let left = token.expires_at() - std::time::Instant::now();
        assert!(left > std::time::Duration::from_secs(3500), "{left:?}");
    }
}

/// A token endpoint that answers an exchange with `body`.
async fn answering(body: serde_json::Value) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path(TOKEN_PATH))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn an_issued_token_type_other_than_the_requested_one_is_refused() {
    let server = answering(json!({
        "access_token": "issued-secret-token",
        "token_type": "Bearer",
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
    }))
    .await;
    let oauth2 = service("p", provider(&server));
    let asked = TokenExchangeOptions::new("subject")
        .requested_token_type("urn:ietf:params:oauth:token-type:jwt");
    let err = oauth2
        .get_token("p", Some(&asked))
        .await
        .expect_err("mismatch");
    assert_eq!(err.code(), "invalid_token_response");
    assert!(err.to_string().contains("is not the requested"), "{err}");
    assert_error_shows_no_secret(&err, &["issued-secret-token", "subject"]);
    assert_eq!(oauth2.cached_tokens(), 0, "nothing cached");
}

#[tokio::test]
async fn an_answer_without_issued_token_type_is_refused_when_a_type_was_requested() {
    let server = answering(json!({"access_token": "t", "token_type": "Bearer"})).await;
    let oauth2 = service("p", provider(&server));
    let plain = TokenExchangeOptions::new("subject");
    let token = oauth2
        .get_token("p", Some(&plain))
        .await
        .expect("an access token");
    assert_eq!(token.issued_token_type(), None);
    let typed = plain.requested_token_type("urn:ietf:params:oauth:token-type:jwt");
    let err = oauth2
        .get_token("p", Some(&typed))
        .await
        .expect_err("the requested type cannot be confirmed");
    assert_eq!(err.code(), "invalid_token_response");
    assert!(err.to_string().contains("issued_token_type"), "{err}");
}

#[tokio::test]
async fn a_token_that_is_no_access_token_may_come_as_n_a_with_a_custom_subject_type() {
    let server = answering(json!({
        "access_token": "an-id-token",
        "token_type": "N_A",
        "issued_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "expires_in": 60,
    }))
    .await;
    let oauth2 = service("p", provider(&server));
    let asked = TokenExchangeOptions::new("subject")
        .subject_token_type("urn:acme:legacy-session")
        .requested_token_type("urn:ietf:params:oauth:token-type:id_token");
    let token = oauth2
        .get_token("p", Some(&asked))
        .await
        .expect("N_A accepted");
    assert_eq!(token.secret(), "an-id-token");
    assert_eq!(
        token.issued_token_type(),
        Some("urn:ietf:params:oauth:token-type:id_token")
    );
    let requests = token_requests(&server).await;
    let form = form(&requests[0]);
    assert_eq!(
        form.get("subject_token_type").map(String::as_str),
        Some("urn:acme:legacy-session"),
        "a provider's own subject token type URI is sent as given"
    );
    // Not an access token: never sent upstream, by fetch or authorize.
    let url = format!("{}/api", server.uri());
    let err = oauth2
        .fetch(
            "p",
            &url,
            FetchOptions::default().token_exchange(asked.clone()),
        )
        .await
        .expect_err("N_A is not for upstreams");
    assert_eq!(err.code(), "invalid_request");
    assert!(err.to_string().contains("N_A"), "{err}");
    let mut request = reqwest::Request::new(reqwest::Method::GET, url.parse().expect("url"));
    let err = oauth2
        .authorize("p", &mut request, Some(&asked))
        .await
        .expect_err("N_A is not for upstreams");
    assert_eq!(err.code(), "invalid_request");
    assert!(request.headers().get("authorization").is_none());
    assert_eq!(api_requests(&server).await.len(), 0);
}
