//! JWT client authentication (RFC 7523 §2.2, OpenID Connect Core §9) and
//! the JWT bearer grant (RFC 7523 §2.1) on the wire: the claims and header
//! of every assertion, a fresh one per attempt, and no key material in any
//! log, error or `Debug`.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use axum_oauth2_client::jose::{ClientKey, JwsAlgorithm};
use axum_oauth2_client::{
    AssertionAudience, AuthMethod, GrantType, OAuth2Config, OAuth2Service, ProviderConfig,
    RetryPolicy,
};
use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RSA_PEM: &str = include_str!("fixtures/jose/rsa-2048.pem");
const RSA_CERT: &str = include_str!("fixtures/jose/rsa-2048.cert.pem");
const P256_PEM: &str = include_str!("fixtures/jose/ec-p256.pem");
/// `x5t#S256` of `rsa-2048.cert.pem` (openssl, see the fixtures' README).
const RSA_CERT_X5T_S256: &str = "LHhsQJ-I68-QjTOtRs6vhK8A1LeMGYSQnCqicnuWLFk";

fn decode(part: &str) -> Value {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&raw).expect("json")
}

/// The header and claims of a compact JWS.
fn jwt(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS");
    (decode(parts[0]), decode(parts[1]))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn token_url(server: &MockServer) -> reqwest::Url {
    format!("{}{TOKEN_PATH}", server.uri())
        .parse()
        .expect("url")
}

#[tokio::test]
async fn private_key_jwt_sends_a_signed_assertion_with_the_rfc_7523_claims() {
    let server = token_server(Issuer::new()).await;
    let key = ClientKey::from_pem_or_jwk(RSA_PEM, Some(JwsAlgorithm::PS256))
        .expect("key")
        .key_id("2026-06")
        .certificate_pem(RSA_CERT)
        .expect("matching certificate");
    let oauth2 = service(
        "entra",
        ProviderConfig::with_key(token_url(&server), CLIENT_ID, key),
    );
    oauth2.get_token("entra", None).await.expect("token");

    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(header(&requests[0], "authorization"), None, "no Basic");
    let form = form(&requests[0]);
    assert_eq!(form.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(
        form.get("client_assertion_type").map(String::as_str),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert!(!form.contains_key("client_secret"));
    let (header, claims) = jwt(&form["client_assertion"]);
    assert_eq!(header["alg"], "PS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], "2026-06");
    assert_eq!(header["x5t#S256"], RSA_CERT_X5T_S256);
    assert_eq!(header.get("x5t"), None, "SHA-1 only on request");
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["aud"], token_url(&server).as_str());
    let iat = claims["iat"].as_u64().expect("iat");
    assert!(iat.abs_diff(now()) <= 5, "iat is now");
    assert_eq!(claims["exp"].as_u64(), Some(iat + 60), "60 s by default");
    assert_eq!(claims["nbf"].as_u64(), Some(iat));
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
}

#[tokio::test]
async fn every_attempt_carries_a_new_assertion() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(Issuer::new())
        .mount(&server)
        .await;
    let key = ClientKey::from_pem_or_jwk(P256_PEM, None).expect("key");
    let retry = RetryPolicy::default()
        .base_delay(std::time::Duration::from_millis(1))
        .max_delay(std::time::Duration::from_millis(2));
    let oauth2 = service(
        "p",
        ProviderConfig::with_key(token_url(&server), CLIENT_ID, key).retry(retry),
    );
    oauth2.get_token("p", None).await.expect("third attempt");
    let jtis: Vec<String> = token_requests(&server)
        .await
        .iter()
        .map(|r| {
            jwt(&form(r)["client_assertion"]).1["jti"]
                .as_str()
                .expect("jti")
                .to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), 3);
    assert!(
        jtis[0] != jtis[1] && jtis[1] != jtis[2] && jtis[0] != jtis[2],
        "{jtis:?}"
    );
}

#[tokio::test]
async fn client_secret_jwt_signs_hs256_with_the_secret_and_never_sends_it() {
    let server = token_server(Issuer::new()).await;
    let secret = "a-client-secret-of-at-least-32-bytes!";
    let oauth2 = service(
        "okta",
        ProviderConfig::new(token_url(&server), CLIENT_ID, secret)
            .auth_method(AuthMethod::ClientSecretJwt)
            .assertion_audience(AssertionAudience::Value("https://okta.example/".into()))
            .assertion_lifetime(std::time::Duration::from_secs(30)),
    );
    oauth2.get_token("okta", None).await.expect("token");
    let requests = token_requests(&server).await;
    let form = form(&requests[0]);
    assert!(!String::from_utf8_lossy(&requests[0].body).contains(secret));
    let assertion = &form["client_assertion"];
    let (header, claims) = jwt(assertion);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(claims["aud"], "https://okta.example/");
    assert_eq!(
        claims["exp"]
            .as_u64()
            .zip(claims["iat"].as_u64())
            .map(|(e, i)| e - i),
        Some(30)
    );
    // The signature is the HMAC of the signing input with the secret.
    let (input, signature) = assertion.rsplit_once('.').expect("signature");
    use hmac::{KeyInit as _, Mac as _};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac");
    mac.update(input.as_bytes());
    let expected =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    assert_eq!(signature, expected);
}

#[tokio::test]
async fn a_short_secret_cannot_sign_client_secret_jwt_and_a_key_method_needs_a_key() {
    let server = token_server(Issuer::new()).await;
    let err = OAuth2Service::new(
        OAuth2Config::new().provider(
            "p",
            ProviderConfig::new(token_url(&server), CLIENT_ID, "short-secret")
                .auth_method(AuthMethod::ClientSecretJwt),
        ),
    )
    .expect_err("too short for HS256");
    assert_eq!(err.code(), "invalid_config");
    assert!(err.to_string().contains("32 bytes"), "{err}");
    assert_error_shows_no_secret(&err, &["short-secret"]);
    let err = OAuth2Service::new(
        OAuth2Config::new().provider(
            "p",
            ProviderConfig::new(token_url(&server), CLIENT_ID, "s")
                .auth_method(AuthMethod::PrivateKeyJwt),
        ),
    )
    .expect_err("no key");
    assert!(err.to_string().contains("needs a client key"), "{err}");
}

#[tokio::test]
async fn the_jwt_bearer_grant_puts_the_scope_in_the_assertion_when_asked() {
    let server = token_server(Issuer::new()).await;
    let key = ClientKey::from_pem_or_jwk(RSA_PEM, None)
        .expect("key")
        .key_id("abc123");
    let oauth2 = service(
        "google",
        ProviderConfig::with_key(
            token_url(&server),
            "svc@project.iam.gserviceaccount.com",
            key,
        )
        .auth_method(AuthMethod::None)
        .grant(GrantType::JwtBearer)
        .scope_in_assertion(true)
        .assertion_subject("admin@example.com")
        .scope("https://www.googleapis.com/auth/cloud-platform"),
    );
    oauth2.get_token("google", None).await.expect("token");
    let requests = token_requests(&server).await;
    let sent: Vec<(String, String)> = url::form_urlencoded::parse(&requests[0].body)
        .into_owned()
        .collect();
    let names: Vec<&str> = sent.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["grant_type", "assertion"],
        "no client authentication, no scope field"
    );
    assert_eq!(sent[0].1, "urn:ietf:params:oauth:grant-type:jwt-bearer");
    assert_eq!(header(&requests[0], "authorization"), None);
    let (header, claims) = jwt(&sent[1].1);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "abc123");
    assert_eq!(claims["iss"], "svc@project.iam.gserviceaccount.com");
    assert_eq!(claims["sub"], "admin@example.com");
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/cloud-platform"
    );
    assert_eq!(claims["aud"], token_url(&server).as_str());
}

#[tokio::test]
async fn key_material_and_assertions_never_reach_a_log_an_error_or_a_debug() {
    let logs = capture_logs();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})))
        .mount(&server)
        .await;
    let key = ClientKey::from_pem_or_jwk(RSA_PEM, None).expect("key");
    let config = ProviderConfig::with_key(token_url(&server), CLIENT_ID, key);
    let shown = format!("{config:?}");
    let oauth2 = service("keyed", config);
    let err = oauth2.get_token("keyed", None).await.expect_err("refused");
    let requests = token_requests(&server).await;
    let assertion = form(&requests[0])["client_assertion"].clone();
    // Distinctive pieces of the key's PEM body and of the assertion sent.
    let pem_body: Vec<&str> = RSA_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let secrets = [pem_body[1], pem_body[5], &assertion[assertion.len() - 40..]];
    assert_no_secret("Debug of the provider", &shown, &secrets);
    assert_error_shows_no_secret(&err, &secrets);
    assert_no_secret("logs", &logs.text(), &secrets);
}

#[tokio::test]
async fn client_credentials_without_client_authentication_and_shared_secret_keys_are_refused() {
    let server = token_server(Issuer::new()).await;
    let key = ClientKey::from_pem_or_jwk(P256_PEM, None).expect("key");
    let err = OAuth2Service::new(OAuth2Config::new().provider(
        "p",
        ProviderConfig::with_key(token_url(&server), CLIENT_ID, key).auth_method(AuthMethod::None),
    ))
    .expect_err("RFC 6749 §4.4: confidential clients only");
    assert!(
        err.to_string().contains("needs client authentication"),
        "{err}"
    );

    let hmac = ClientKey::hmac(&[7; 32], JwsAlgorithm::HS256).expect("hmac key");
    let err = OAuth2Service::new(OAuth2Config::new().provider(
        "p",
        ProviderConfig::new(token_url(&server), CLIENT_ID, "a-secret").client_key(hmac),
    ))
    .expect_err("a shared secret is no private key");
    assert!(err.to_string().contains("shared secret"), "{err}");
    assert!(token_requests(&server).await.is_empty());
}
