//! DPoP (RFC 9449) end to end against real servers: the oidc-provider
//! authorization server (a client whose tokens must be bound, with nonces
//! always required) issues DPoP-bound tokens, and the test resource server
//! (tests/support/dpop_resource_server.rs, which checks every proof with
//! its own verifier) accepts them — its own nonce included.
//!
//! Skips loudly without `node` or `tests/interop/node_modules`; fails
//! instead when `CI` is set.

mod common;
#[path = "support/dpop_resource_server.rs"]
mod support;

use axum_oauth2_client::dpop::DpopKey;
use axum_oauth2_client::jose::JwsAlgorithm;
use axum_oauth2_client::{
    FetchOptions, OAuth2Config, OAuth2Service, ProviderConfig, TokenExchangeOptions,
};
use common::authorization_server::*;
use support::{DpopResourceServer, DpopResourceServerOptions};

fn key(alg: JwsAlgorithm) -> DpopKey {
    let pem = match alg {
        JwsAlgorithm::ES256 => include_str!("fixtures/jose/ec-p256.pem"),
        JwsAlgorithm::ES384 => include_str!("fixtures/jose/ec-p384.pem"),
        JwsAlgorithm::EdDSA => include_str!("fixtures/jose/ed25519.pem"),
        _ => include_str!("fixtures/jose/rsa-2048.pem"),
    };
    DpopKey::from_pem_or_jwk(pem, Some(alg)).expect("fixture key")
}

fn dpop_service(server: &AuthorizationServer, key: DpopKey) -> OAuth2Service {
    let config = ProviderConfig::discovered(server.issuer_str(), DPOP_CLIENT)
        .client_secret(client_secret(DPOP_CLIENT))
        .dpop(key);
    OAuth2Service::new(OAuth2Config::new().provider("idp", config)).expect("service")
}

async fn token_requests(server: &AuthorizationServer) -> Vec<serde_json::Value> {
    server
        .requests()
        .await
        .into_iter()
        .filter(|r| r["path"] == "/token")
        .collect()
}

#[tokio::test]
async fn the_authorization_server_binds_tokens_to_each_key_after_one_nonce_round() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    for alg in [
        JwsAlgorithm::ES256,
        JwsAlgorithm::ES384,
        JwsAlgorithm::PS256,
        JwsAlgorithm::RS256,
        JwsAlgorithm::EdDSA,
    ] {
        server.clear_requests().await;
        let key = key(alg);
        let oauth2 = dpop_service(&server, key.clone());
        let token = oauth2
            .get_token("idp", None)
            .await
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert!(
            token
                .authorization()
                .to_str()
                .is_ok_and(|a| a.starts_with("DPoP "))
        );
        let info = server.introspect(token.secret()).await;
        assert_eq!(info["active"], true, "{alg:?}: {info}");
        assert_eq!(info["token_type"], "DPoP", "{alg:?}: {info}");
        assert_eq!(
            info["cnf"]["jkt"],
            key.thumbprint(),
            "{alg:?}: bound to this key"
        );

        let requests = token_requests(&server).await;
        assert_eq!(requests.len(), 2, "{alg:?}: one use_dpop_nonce, one retry");
        assert_eq!(requests[0]["status"], 400);
        let first = logged_dpop_proof(&requests[0]).expect("a proof");
        let second = logged_dpop_proof(&requests[1]).expect("a proof");
        assert!(!first.has_nonce && second.has_nonce, "{alg:?}");
        assert_eq!(second.nonce.as_deref(), logged_dpop_nonce(&requests[0]));
        assert_eq!(second.htu.as_deref(), Some(server.token_url().as_str()));
    }
}

#[tokio::test]
async fn a_bound_token_reaches_a_resource_server_that_checks_every_proof_and_asks_its_own_nonce() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let key = key(JwsAlgorithm::ES256);
    let oauth2 = dpop_service(&server, key.clone());
    let token = oauth2.get_token("idp", None).await.expect("token");
    let api = DpopResourceServer::start(DpopResourceServerOptions::default()).await;
    api.bind_token(token.secret(), key.thumbprint());

    let url = api.url("/orders?page=1");
    let res = oauth2
        .fetch("idp", url.as_str(), FetchOptions::default())
        .await
        .expect("fetched");
    assert_eq!(res.status(), 200);

    api.require_nonce(true);
    let res = oauth2
        .fetch(
            "idp",
            url.as_str(),
            FetchOptions::default().method(reqwest::Method::POST),
        )
        .await
        .expect("fetched with the resource server's nonce");
    assert_eq!(res.status(), 200);
    let seen = api.requests();
    assert_eq!(seen.len(), 3, "one pass, one nonce challenge, one retry");
    assert!(seen[0].passed() && !seen[1].passed() && seen[2].passed());
    assert_eq!(
        token_requests(&server).await.len(),
        2,
        "the nonce challenge kept the token"
    );
}

#[tokio::test]
async fn an_exchanged_token_is_bound_to_the_key_too() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let subject = OAuth2Service::new(OAuth2Config::new().provider(
        "basic",
        ProviderConfig::new(
            server.token_url(),
            BASIC_CLIENT,
            client_secret(BASIC_CLIENT),
        ),
    ))
    .expect("service")
    .get_token("basic", None)
    .await
    .expect("subject token");
    let key = key(JwsAlgorithm::EdDSA);
    let oauth2 = dpop_service(&server, key.clone());
    let exchange = TokenExchangeOptions::new(subject.secret()).audience(ORDERS_AUDIENCE);
    let token = oauth2
        .get_token("idp", Some(&exchange))
        .await
        .expect("exchanged");
    let info = server.introspect(token.secret()).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["cnf"]["jkt"], key.thumbprint());
    assert!(
        token
            .authorization()
            .to_str()
            .is_ok_and(|a| a.starts_with("DPoP "))
    );
}
