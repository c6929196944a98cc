//! The token manager against a real, independent authorization server:
//! oidc-provider (npm) under Node.js, started per test by
//! `common::authorization_server` (see `tests/interop/README.md`). Every
//! issued token is checked by introspecting it, every request by the
//! server's request log.
//!
//! Skips loudly without `node` or `tests/interop/node_modules`; fails
//! instead when `CI` is set.

mod common;

use axum_oauth2_client::{AuthMethod, ProviderConfig, TokenExchangeOptions};
use common::authorization_server::*;
use common::{assert_error_shows_no_secret, service};
use serde_json::{Value, json};

fn provider(server: &AuthorizationServer, client_id: &str, method: AuthMethod) -> ProviderConfig {
    ProviderConfig::new(server.token_url(), client_id, client_secret(client_id)).auth_method(method)
}

fn field<'a>(request: &'a Value, name: &str) -> &'a Value {
    &request["form"][name]
}

/// The one request of the log, after checking there is exactly one.
async fn only_request(server: &AuthorizationServer) -> Value {
    let mut requests = server.requests().await;
    assert_eq!(requests.len(), 1, "token requests: {requests:#?}");
    let request = requests.remove(0);
    assert_eq!(request["method"], "POST");
    assert_eq!(request["path"], "/token");
    assert!(
        request["content_type"]
            .as_str()
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded")),
        "{request}"
    );
    assert_eq!(request["status"], 200, "{request}");
    request
}

#[tokio::test]
async fn client_secret_basic_gets_a_token_the_server_knows() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let oauth2 = service(
        "idp",
        provider(&server, BASIC_CLIENT, AuthMethod::ClientSecretBasic).scope("orders:read"),
    );

    let token = oauth2.get_token("idp", None).await.expect("token");
    assert_eq!(token.scope(), Some("orders:read"));

    let info = server.introspect(token.secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], BASIC_CLIENT);
    assert_eq!(info["scope"], "orders:read");
    assert_eq!(info["grant_type"], "client_credentials");
    assert_eq!(info["token_type"], "Bearer", "{info}");
    assert_eq!(info["cnf"], Value::Null, "not sender-constrained: {info}");

    let request = only_request(&server).await;
    assert_eq!(logged_dpop_proof(&request), None);
    assert_eq!(logged_dpop_nonce(&request), None);
    assert_eq!(request["authorization"], "Basic");
    assert_eq!(field(&request, "grant_type"), "client_credentials");
    assert_eq!(field(&request, "scope"), "orders:read");
    assert_eq!(field(&request, "client_id"), &Value::Null);
    assert_eq!(field(&request, "client_secret"), &Value::Null);
}

#[tokio::test]
async fn client_secret_post_sends_the_credentials_in_the_form() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let oauth2 = service(
        "idp",
        provider(&server, POST_CLIENT, AuthMethod::ClientSecretPost),
    );

    let token = oauth2.get_token("idp", None).await.expect("token");
    let info = server.introspect(token.secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], POST_CLIENT);

    let request = only_request(&server).await;
    assert_eq!(request["authorization"], Value::Null);
    assert_eq!(field(&request, "grant_type"), "client_credentials");
    assert_eq!(field(&request, "client_id"), POST_CLIENT);
    // The log records the secret's length, never the secret.
    assert_eq!(
        field(&request, "client_secret"),
        &json!(client_secret(POST_CLIENT).len())
    );
}

#[tokio::test]
async fn basic_credentials_are_form_encoded_before_base64() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let secret = client_secret(SPECIAL_SECRET_CLIENT);
    for reserved in ['+', '%', ':', ' '] {
        assert!(
            secret.contains(reserved),
            "the fixture secret lacks {reserved:?}"
        );
    }
    let oauth2 = service(
        "idp",
        provider(
            &server,
            SPECIAL_SECRET_CLIENT,
            AuthMethod::ClientSecretBasic,
        ),
    );

    let token = oauth2.get_token("idp", None).await.expect("token");
    let info = server.introspect(token.secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], SPECIAL_SECRET_CLIENT);
    assert_eq!(only_request(&server).await["authorization"], "Basic");
}

#[tokio::test]
async fn every_requested_scope_is_granted() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let oauth2 = service(
        "idp",
        provider(&server, BASIC_CLIENT, AuthMethod::ClientSecretBasic)
            .scope("orders:read orders:write billing:read"),
    );

    let token = oauth2.get_token("idp", None).await.expect("token");
    assert_eq!(token.scope(), Some("orders:read orders:write billing:read"));
    let info = server.introspect(token.secret()).await;
    assert_eq!(
        info["scope"], "orders:read orders:write billing:read",
        "{info}"
    );
}

#[tokio::test]
async fn the_second_token_comes_from_the_cache() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let oauth2 = service(
        "idp",
        provider(&server, BASIC_CLIENT, AuthMethod::ClientSecretBasic),
    );

    let first = oauth2.get_token("idp", None).await.expect("token");
    let second = oauth2.get_token("idp", None).await.expect("token");
    assert_eq!(first.secret(), second.secret());
    only_request(&server).await;
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_client_and_never_shown() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let wrong = "wrong-secret-3d9f1a7c";
    let oauth2 = service(
        "idp",
        ProviderConfig::new(server.token_url(), BASIC_CLIENT, wrong),
    );

    let err = oauth2.get_token("idp", None).await.expect_err("refused");
    assert_eq!(err.code(), "token_endpoint_error", "{err:?}");
    assert_eq!(err.oauth_error(), Some("invalid_client"), "{err:?}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert_error_shows_no_secret(&err, &[wrong, &client_secret(BASIC_CLIENT)]);

    let requests = server.requests().await;
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0]["status"], 401);
}

#[tokio::test]
async fn token_exchange_with_audience_and_resource() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    // The subject token: a token of basic-client.
    let subject = service(
        "subject",
        provider(&server, BASIC_CLIENT, AuthMethod::ClientSecretBasic)
            .scope("orders:read orders:write"),
    )
    .get_token("subject", None)
    .await
    .expect("subject token");
    server.clear_requests().await;

    let oauth2 = service(
        "exchange",
        provider(&server, POST_CLIENT, AuthMethod::ClientSecretPost),
    );
    let exchange = TokenExchangeOptions::new(subject.secret())
        .audience(ORDERS_AUDIENCE)
        .resource(API_RESOURCE);
    let token = oauth2
        .get_token("exchange", Some(&exchange))
        .await
        .expect("exchanged token");
    assert_eq!(token.issued_token_type(), Some(TOKEN_TYPE_ACCESS_TOKEN));
    assert_ne!(token.secret(), subject.secret());

    let info = server.introspect(token.secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], POST_CLIENT);
    assert_eq!(info["grant_type"], GRANT_TOKEN_EXCHANGE);
    assert_eq!(info["sub"], BASIC_CLIENT, "the subject is basic-client");
    assert_eq!(info["subject_client_id"], BASIC_CLIENT);
    assert_eq!(info["subject_token_type"], TOKEN_TYPE_ACCESS_TOKEN);
    assert_eq!(
        info["scope"], "orders:read orders:write",
        "the subject token's scope"
    );
    assert_eq!(audiences(&info["aud"]), [ORDERS_AUDIENCE, API_RESOURCE]);
    assert_eq!(info["audience"], json!([ORDERS_AUDIENCE]));
    assert_eq!(info["resource"], json!([API_RESOURCE]));

    let request = only_request(&server).await;
    assert_eq!(request["authorization"], Value::Null);
    assert_eq!(field(&request, "grant_type"), GRANT_TOKEN_EXCHANGE);
    assert_eq!(
        field(&request, "subject_token"),
        &json!(subject.secret().len())
    );
    assert_eq!(
        field(&request, "subject_token_type"),
        TOKEN_TYPE_ACCESS_TOKEN
    );
    assert_eq!(field(&request, "audience"), ORDERS_AUDIENCE);
    assert_eq!(field(&request, "resource"), API_RESOURCE);
    assert_eq!(field(&request, "client_id"), POST_CLIENT);
}

/// A client credentials request of `client` (client_secret_basic) sent by
/// hand, with `dpop` as its `DPoP` header: (status, JSON body).
async fn token_request_with_dpop(
    server: &AuthorizationServer,
    client: &str,
    dpop: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(server.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .header(
            "authorization",
            basic_authorization(client, &client_secret(client)),
        )
        .body("grant_type=client_credentials");
    if let Some(proof) = dpop {
        request = request.header("DPoP", proof);
    }
    let response = request.send().await.expect("token request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("token response json"))
}

/// DPoP (RFC 9449), which the crate does not send yet: the DPoP client is
/// refused without a proof, and the log shows what a `DPoP` header was.
/// The node self-test covers valid proofs, nonces and bound tokens.
#[tokio::test]
async fn the_dpop_client_needs_a_proof_and_the_log_shows_the_header() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let fixture = client_fixture(DPOP_CLIENT);
    assert_eq!(fixture.method, "client_secret_basic");
    assert!(fixture.dpop_bound_access_tokens && fixture.require_dpop_nonce);
    assert!(!client_fixture(BASIC_CLIENT).dpop_bound_access_tokens);

    let (status, body) = token_request_with_dpop(&server, DPOP_CLIENT, None).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
    let (status, body) = token_request_with_dpop(&server, DPOP_CLIENT, Some("not-a-jwt")).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_dpop_proof")),
        "{body}"
    );

    let requests = server.requests().await;
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(logged_dpop_proof(&requests[0]), None);
    assert_eq!(
        logged_dpop_proof(&requests[1]),
        Some(LoggedDpopProof {
            length: "not-a-jwt".len(),
            decoded: false,
            typ: None,
            alg: None,
            jwk_kty: None,
            jwk_crv: None,
            htm: None,
            htu: None,
            iat: None,
            has_jti: false,
            has_nonce: false,
            nonce: None,
        })
    );
    for request in &requests {
        assert_eq!(request["authorization"], "Basic");
        assert_eq!(request["status"], 400);
        assert_eq!(logged_dpop_nonce(request), None, "{request}");
    }
}

/// The server side of what the crate does not send yet (client_secret_jwt,
/// private_key_jwt for every key type, the JWT bearer grant, token exchange
/// with actors and custom token types, DPoP proofs and nonces), proven with
/// the npm package `jose`.
#[tokio::test]
async fn the_server_passes_its_node_self_test() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let (passed, output) = server.run_selftest();
    eprintln!("oidc-provider {}:\n{output}", server.version());
    assert!(
        passed,
        "authorization-server-selftest.mjs failed:\n{output}"
    );
    assert!(output.contains("all checks passed"), "{output}");
}
