//! The DPoP resource server of the tests (tests/support) against proofs
//! made with the crate's public API (`DpopKey::proof_for`, `proof_at`):
//! a valid proof passes with every algorithm and either kind of binding,
//! and each check of RFC 9449 §4.3 and §7.1 refuses what it should with a
//! 401 and the right challenge; a required nonce is asked for (§9) and
//! then accepted.

use std::error::Error;
use std::time::{Duration, SystemTime};

use axum_oauth2_client::dpop::DpopKey;
use axum_oauth2_client::jose::{ClientKey, JwsAlgorithm};
use http::Method;
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

#[path = "support/dpop_resource_server.rs"]
mod support;
use support::{
    DpopResourceServer, DpopResourceServerOptions, Failure, jwt_access_token, thumbprint,
};

type TestResult = Result<(), Box<dyn Error>>;

const P256: &str = include_str!("fixtures/jose/ec-p256.pem");
const P384: &str = include_str!("fixtures/jose/ec-p384.pem");
const RSA: &str = include_str!("fixtures/jose/rsa-2048.pem");
const ED25519: &str = include_str!("fixtures/jose/ed25519.pem");

const TOKEN: &str = "opaque-access-token-1";

async fn server() -> DpopResourceServer {
    DpopResourceServer::start(DpopResourceServerOptions::default()).await
}

/// Sends `method url` with `Authorization: DPoP <token>` and each of
/// `proofs` as a `DPoP` header.
async fn send(
    method: Method,
    url: &Url,
    token: &str,
    proofs: &[&str],
) -> Result<reqwest::Response, Box<dyn Error>> {
    let mut request = reqwest::Client::new()
        .request(method, url.clone())
        .header("authorization", format!("DPoP {token}"));
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    Ok(request.send().await?)
}

/// Sends one request with a proof made now by `key` for `method url`.
async fn send_proved(
    key: &DpopKey,
    method: Method,
    url: &Url,
    token: &str,
    nonce: Option<&str>,
) -> Result<reqwest::Response, Box<dyn Error>> {
    let proof = key.proof_for(&method, url, Some(token), nonce)?;
    send(method, url, token, &[proof.expose_secret()]).await
}

fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Asserts a 401 whose challenge names `error`, and that the server
/// recorded `failure` for the last request.
fn assert_refused(
    server: &DpopResourceServer,
    response: &reqwest::Response,
    error: &str,
    failure: Failure,
) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = challenge(response);
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains(&format!(r#"error="{error}""#)),
        "{challenge}"
    );
    let last = server.requests().pop().and_then(|r| r.failure);
    assert_eq!(last, Some(failure));
}

fn load(pem: &str, alg: JwsAlgorithm) -> DpopKey {
    DpopKey::from_pem_or_jwk(pem, Some(alg)).unwrap_or_else(|e| panic!("{alg}: {e}"))
}

#[tokio::test]
async fn a_valid_proof_for_a_bound_token_passes() -> TestResult {
    let server = server().await;
    let key = DpopKey::generate();
    server.bind_token(TOKEN, key.thumbprint());
    let url = server.url("/v1/orders?page=2");

    let response = send_proved(&key, Method::GET, &url, TOKEN, None).await?;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await?;
    assert_eq!(body["path"], "/v1/orders");
    assert_eq!(body["jkt"], key.thumbprint());

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].passed());
    assert_eq!(requests[0].method, Method::GET);
    assert_eq!(requests[0].uri, "/v1/orders?page=2");
    assert!(requests[0].headers.contains_key("dpop"));
    Ok(())
}

#[tokio::test]
async fn the_servers_thumbprint_agrees_with_the_crates() {
    for key in [
        load(P256, JwsAlgorithm::ES256),
        load(P384, JwsAlgorithm::ES384),
        load(RSA, JwsAlgorithm::RS256),
        load(ED25519, JwsAlgorithm::EdDSA),
    ] {
        let jwk = key.public_jwk();
        assert_eq!(thumbprint(&jwk).as_deref(), Some(key.thumbprint()));
    }
}

#[tokio::test]
async fn every_algorithm_passes() -> TestResult {
    let server = server().await;
    let url = server.url("/resource");
    for (i, key) in [
        load(P256, JwsAlgorithm::ES256),
        load(P384, JwsAlgorithm::ES384),
        load(RSA, JwsAlgorithm::RS256),
        load(RSA, JwsAlgorithm::PS256),
        load(RSA, JwsAlgorithm::PS512),
        load(ED25519, JwsAlgorithm::EdDSA),
    ]
    .into_iter()
    .enumerate()
    {
        let token = format!("token-{i}");
        server.bind_token(&token, key.thumbprint());
        let response = send_proved(&key, Method::POST, &url, &token, None).await?;
        assert_eq!(response.status(), StatusCode::OK, "{}", key.algorithm());
    }
    Ok(())
}

#[tokio::test]
async fn a_jwt_access_token_is_bound_by_its_cnf_jkt() -> TestResult {
    let server = server().await;
    let (key, other) = (DpopKey::generate(), DpopKey::generate());
    let token = jwt_access_token(key.thumbprint(), "client-1");
    let url = server.url("/jwt");

    let response = send_proved(&key, Method::GET, &url, &token, None).await?;
    assert_eq!(response.status(), StatusCode::OK);

    // cnf.jkt wins over a registered binding.
    server.bind_token(&token, other.thumbprint());
    let response = send_proved(&other, Method::GET, &url, &token, None).await?;
    assert_refused(
        &server,
        &response,
        "invalid_dpop_proof",
        Failure::KeyMismatch,
    );
    Ok(())
}

#[tokio::test]
async fn a_wrong_method_is_refused() -> TestResult {
    let server = server().await;
    let key = DpopKey::generate();
    server.bind_token(TOKEN, key.thumbprint());
    let url = server.url("/v1/orders");
    let proof = key.proof_for(&Method::GET, &url, Some(TOKEN), None)?;
    let response = send(Method::POST, &url, TOKEN, &[proof.expose_secret()]).await?;
    assert_refused(&server, &response, "invalid_dpop_proof", Failure::Htm);
    Ok(())
}

#[tokio::test]
async fn a_wrong_url_is_refused_but_query_and_fragment_do_not_count() -> TestResult {
    let server = server().await;
    let key = DpopKey::generate();
    server.bind_token(TOKEN, key.thumbprint());

    let proof = key.proof_for(&Method::GET, &server.url("/v1/other"), Some(TOKEN), None)?;
    let response = send(
        Method::GET,
        &server.url("/v1/orders"),
        TOKEN,
        &[proof.expose_secret()],
    )
    .await?;
    assert_refused(&server, &response, "invalid_dpop_proof", Failure::Htu);

    // Another port is another URL.
    let mut elsewhere = server.url("/v1/orders");
    let port = elsewhere.port().map_or(1, |port| port.wrapping_add(1));
    elsewhere
        .set_port(Some(port))
        .map_err(|()| "cannot set the port")?;
    let proof = key.proof_for(&Method::GET, &elsewhere, Some(TOKEN), None)?;
    let response = send(
        Method::GET,
        &server.url("/v1/orders"),
        TOKEN,
        &[proof.expose_secret()],
    )
    .await?;
    assert_refused(&server, &response, "invalid_dpop_proof", Failure::Htu);

    // A proof made for another query of the same URL still fits.
    let proof = key.proof_for(
        &Method::GET,
        &server.url("/v1/orders?a=1#f"),
        Some(TOKEN),
        None,
    )?;
    let response = send(
        Method::GET,
        &server.url("/v1/orders?b=2"),
        TOKEN,
        &[proof.expose_secret()],
    )
    .await?;
    assert_eq!(response.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn a_stale_or_future_iat_is_refused() -> TestResult {
    let server = server().await;
    let key = DpopKey::generate();
    server.bind_token(TOKEN, key.thumbprint());
    let url = server.url("/r");
    for issued in [
        SystemTime::now() - Duration::from_secs(300),
        SystemTime::now() + Duration::from_secs(300),
    ] {
        let proof = key.proof_at(&Method::GET, &url, Some(TOKEN), None, issued)?;
        let response = send(Method::GET, &url, TOKEN, &[proof.expose_secret()]).await?;
        assert_refused(&server, &response, "invalid_dpop_proof", Failure::Iat);
    }
    // Within the window.
    let issued = SystemTime::now() - Duration::from_secs(30);
    let proof = key.proof_at(&Method::GET, &url, Some(TOKEN), None, issued)?;
    let response = send(Method::GET, &url, TOKEN, &[proof.expose_secret()]).await?;
    assert_eq!(response.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn a_replayed_proof_is_refused() -> TestResult {
    let server = server().await;
    let key = DpopKey::generate();
    server.bind_token(TOKEN, key.thumbprint());
    let url = server.url("/r");
    let proof = key.proof_for(&Method::GET, &url, Some(TOKEN), None)?;
    let first = send(Method::GET, &url, TOKEN, &[proof.expose_secret()]).await?;
    assert_eq!(first.status(), StatusCode::OK);
    let again = send(Method::GET, &url, TOKEN, &[proof.expose_secret()]).await?;
    assert_refused(&server, &again, "invalid_dpop_proof", Failure::Replay);
    // A fresh proof (a new jti) passes.
    let fresh = send_proved(&key, Method::GET, &url, TOKEN, None).await?;
    assert_eq!(fresh.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn a_proof_for_another_token_or_none_is_refused() -> TestResult {
    let server = server().await;
    let key = DpopKey::generate();
    server.bind_token(TOKEN, key.thumbprint());
    let url = server.url("/r");
    for token in [Some("another-token"), None] {
        let proof = key.proof_for(&Method::GET, &url, token, None)?;
        let response = send(Method::GET, &url, TOKEN, &[proof.expose_secret()]).await?;
        assert_refused(&server, &response, "invalid_dpop_proof", Failure::Ath);
    }
    Ok(())
}

#[tokio::test]
async fn a_proof_by_another_key_is_refused() -> TestResult {
    let server = server().await;
    let (bound, other) = (DpopKey::generate(), load(P256, JwsAlgorithm::ES256));
    server.bind_token(TOKEN, bound.thumbprint());
    let url = server.url("/r");
    let response = send_proved(&other, Method::GET, &url, TOKEN, None).await?;
    assert_refused(
        &server,
        &response,
        "invalid_dpop_proof",
        Failure::KeyMismatch,
    );
    Ok(())
}

#[tokio::test]
async fn a_required_nonce_is_asked_for_then_accepted() -> TestResult {
    let server = DpopResourceServer::start(DpopResourceServerOptions {
        require_nonce: true,
        ..DpopResourceServerOptions::default()
    })
    .await;
    let key = DpopKey::generate();
    server.bind_token(TOKEN, key.thumbprint());
    let url = server.url("/r");

    let response = send_proved(&key, Method::GET, &url, TOKEN, None).await?;
    assert_refused(&server, &response, "use_dpop_nonce", Failure::Nonce);
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or("no DPoP-Nonce")?;
    assert_eq!(nonce, server.nonce());

    let response = send_proved(&key, Method::GET, &url, TOKEN, Some(&nonce)).await?;
    assert_eq!(response.status(), StatusCode::OK);

    // A rotated nonce makes the old one stale; the refusal carries the new one.
    let rotated = server.rotate_nonce();
    assert_ne!(rotated, nonce);
    let response = send_proved(&key, Method::GET, &url, TOKEN, Some(&nonce)).await?;
    assert_refused(&server, &response, "use_dpop_nonce", Failure::Nonce);
    assert_eq!(
        response
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok()),
        Some(rotated.as_str())
    );
    let response = send_proved(&key, Method::GET, &url, TOKEN, Some(&rotated)).await?;
    assert_eq!(response.status(), StatusCode::OK);

    // No longer required: a proof without a nonce passes.
    server.require_nonce(false);
    let response = send_proved(&key, Method::GET, &url, TOKEN, None).await?;
    assert_eq!(response.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn missing_repeated_or_malformed_proofs_are_refused() -> TestResult {
    let server = server().await;
    let key = DpopKey::generate();
    server.bind_token(TOKEN, key.thumbprint());
    let url = server.url("/r");

    let response = send(Method::GET, &url, TOKEN, &[]).await?;
    assert_refused(
        &server,
        &response,
        "invalid_dpop_proof",
        Failure::MissingProof,
    );

    let (a, b) = (
        key.proof_for(&Method::GET, &url, Some(TOKEN), None)?,
        key.proof_for(&Method::GET, &url, Some(TOKEN), None)?,
    );
    let response = send(
        Method::GET,
        &url,
        TOKEN,
        &[a.expose_secret(), b.expose_secret()],
    )
    .await?;
    assert_refused(
        &server,
        &response,
        "invalid_dpop_proof",
        Failure::SeveralProofs,
    );

    for garbage in ["not-a-jwt", "a.b.c", "eyJ9.eyJ9.AA"] {
        let response = send(Method::GET, &url, TOKEN, &[garbage]).await?;
        assert_refused(&server, &response, "invalid_dpop_proof", Failure::Malformed);
    }

    // A JWT of another type, even signed: ClientKey signs `typ: "JWT"`.
    let client_key = ClientKey::from_pem_or_jwk(P256, None)?;
    let mut claims = serde_json::Map::new();
    claims.insert("htm".to_owned(), Value::from("GET"));
    claims.insert("htu".to_owned(), Value::from(url.as_str()));
    let jwt = client_key.sign_jwt(&claims)?;
    let response = send(Method::GET, &url, TOKEN, &[jwt.expose_secret()]).await?;
    assert_refused(&server, &response, "invalid_dpop_proof", Failure::Typ);

    // A tampered signature.
    let proof = key.proof_for(&Method::GET, &url, Some(TOKEN), None)?;
    let (signed, signature) = proof.expose_secret().rsplit_once('.').ok_or("not a JWS")?;
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
    let response = send(Method::GET, &url, TOKEN, &[&tampered]).await?;
    assert_refused(&server, &response, "invalid_dpop_proof", Failure::Signature);
    Ok(())
}

#[tokio::test]
async fn tokens_that_are_not_dpop_bound_are_refused() -> TestResult {
    let server = server().await;
    let key = DpopKey::generate();
    let url = server.url("/r");

    // An unknown opaque token.
    let response = send_proved(&key, Method::GET, &url, "unknown", None).await?;
    assert_refused(&server, &response, "invalid_token", Failure::UnknownToken);

    // A Bearer token with a proof.
    server.bind_token(TOKEN, key.thumbprint());
    let proof = key.proof_for(&Method::GET, &url, Some(TOKEN), None)?;
    let response = reqwest::Client::new()
        .get(url.clone())
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("dpop", proof.expose_secret())
        .send()
        .await?;
    assert_refused(&server, &response, "invalid_token", Failure::NoDpopToken);

    // The scheme is case-insensitive.
    let proof = key.proof_for(&Method::GET, &url, Some(TOKEN), None)?;
    let response = reqwest::Client::new()
        .get(url.clone())
        .header("authorization", format!("dpop {TOKEN}"))
        .header("dpop", proof.expose_secret())
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn the_allowed_algorithms_can_be_narrowed() -> TestResult {
    let server = DpopResourceServer::start(DpopResourceServerOptions {
        algs: vec!["ES256"],
        ..DpopResourceServerOptions::default()
    })
    .await;
    let key = load(ED25519, JwsAlgorithm::EdDSA);
    server.bind_token(TOKEN, key.thumbprint());
    let response = send_proved(&key, Method::GET, &server.url("/r"), TOKEN, None).await?;
    assert_refused(&server, &response, "invalid_dpop_proof", Failure::Alg);
    assert!(challenge(&response).contains(r#"algs="ES256""#));
    Ok(())
}
