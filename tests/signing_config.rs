//! RFC 9421 signing configured per provider from the environment: every
//! request `fetch` sends is signed, the signature covers the token, and a
//! malformed setting stops start-up naming the variable.

mod common;

use axum_oauth2_client::http_signature::{
    Algorithm, InMemoryKeyResolver, VerificationKey, Verifier,
};
use axum_oauth2_client::{FetchOptions, OAuth2Config, OAuth2Service};
use common::*;
use reqwest::Method;
use wiremock::matchers::path;
use wiremock::{Mock, ResponseTemplate};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rfc9421");

fn vars(token_url: &str, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut vars = vec![
        ("OAUTH2_PAYMENTS_TOKEN_URL".to_owned(), token_url.to_owned()),
        ("OAUTH2_PAYMENTS_CLIENT_ID".to_owned(), CLIENT_ID.to_owned()),
        (
            "OAUTH2_PAYMENTS_CLIENT_SECRET".to_owned(),
            CLIENT_SECRET.to_owned(),
        ),
    ];
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    vars
}

#[tokio::test]
async fn a_provider_signing_key_signs_every_fetch_and_covers_the_token() {
    let server = token_server(Issuer::new()).await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let config = OAuth2Config::from_vars(vars(
        &format!("{}{TOKEN_PATH}", server.uri()),
        &[
            (
                "OAUTH2_PAYMENTS_SIGNING_KEY_FILE",
                format!("{FIXTURES}/test-key-ed25519.pem"),
            ),
            ("OAUTH2_PAYMENTS_SIGNING_ALG", "ed25519".into()),
            ("OAUTH2_PAYMENTS_SIGNING_KEY_ID", "payments-key".into()),
        ],
    ))
    .expect("valid signing configuration");
    let oauth2 = OAuth2Service::new(config).expect("service");
    oauth2
        .fetch(
            "payments",
            &format!("{}/api/orders", server.uri()),
            FetchOptions::default()
                .method(Method::POST)
                .header("content-type", "application/json")
                .body(r#"{"amount":1}"#),
        )
        .await
        .expect("fetch");

    let received = server
        .received_requests()
        .await
        .expect("recording")
        .into_iter()
        .find(|r| r.url.path() == "/api/orders")
        .expect("upstream called");
    // wiremock records the path; the authority the client used is in Host.
    let host = header(&received, "host").expect("host");
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{host}{}", received.url.path()));
    for (name, value) in &received.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(bytes::Bytes::from(received.body.clone()))
        .expect("request");
    let public =
        std::fs::read_to_string(format!("{FIXTURES}/test-key-ed25519.pub.pem")).expect("key");
    let key = VerificationKey::from_pem_or_jwk(Algorithm::Ed25519, &public).expect("public key");
    let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("payments-key", key))
        .scheme("http")
        .build();
    let verified = verifier
        .verify(&request)
        .await
        .expect("the upstream can verify the signature");
    let covered: Vec<String> = verified
        .covered_components()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        covered.contains(&"\"authorization\"".to_owned()),
        "{covered:?}"
    );
    assert!(
        covered.contains(&"\"content-digest\"".to_owned()),
        "{covered:?}"
    );
    assert_eq!(verified.key_id(), "payments-key");
}

#[test]
fn malformed_signing_settings_name_the_variable_and_hide_the_key() {
    let key_file = format!("{FIXTURES}/test-key-ed25519.pem");
    let key_text = std::fs::read_to_string(&key_file).expect("key");
    let secret_line = key_text.lines().nth(1).expect("base64 line").to_owned();
    let not_a_key = std::env::temp_dir().join(format!("not-a-key-{}", std::process::id()));
    std::fs::write(
        &not_a_key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![
                ("OAUTH2_PAYMENTS_SIGNING_KEY_FILE", key_file.clone()),
                ("OAUTH2_PAYMENTS_SIGNING_ALG", "rot13".into()),
            ],
            "OAUTH2_PAYMENTS_SIGNING_ALG",
        ),
        (
            vec![("OAUTH2_PAYMENTS_SIGNING_KEY_FILE", key_file.clone())],
            "OAUTH2_PAYMENTS_SIGNING_ALG",
        ),
        (
            vec![("OAUTH2_PAYMENTS_SIGNING_ALG", "ed25519".into())],
            "OAUTH2_PAYMENTS_SIGNING_KEY_FILE",
        ),
        (
            vec![
                ("OAUTH2_PAYMENTS_SIGNING_KEY_FILE", key_file.clone()),
                ("OAUTH2_PAYMENTS_SIGNING_ALG", "rsa-pss-sha512".into()),
            ],
            "OAUTH2_PAYMENTS_SIGNING_KEY_FILE",
        ),
        (
            vec![
                (
                    "OAUTH2_PAYMENTS_SIGNING_KEY_FILE",
                    not_a_key.to_str().expect("utf8").to_owned(),
                ),
                ("OAUTH2_PAYMENTS_SIGNING_ALG", "ed25519".into()),
            ],
            "OAUTH2_PAYMENTS_SIGNING_KEY_FILE",
        ),
        (
            vec![
                ("OAUTH2_PAYMENTS_SIGNING_KEY_FILE", key_file.clone()),
                ("OAUTH2_PAYMENTS_SIGNING_ALG", "ed25519".into()),
                (
                    "OAUTH2_PAYMENTS_SIGNING_COMPONENTS",
                    "@method @no-such-thing".into(),
                ),
            ],
            "OAUTH2_PAYMENTS_SIGNING_COMPONENTS",
        ),
    ];
    for (extra, variable) in cases {
        let e = OAuth2Config::from_vars(vars("https://auth.example/token", &extra))
            .expect_err("invalid");
        let shown = format!("{e} {e:?}");
        assert_eq!(e.variable(), variable, "{shown}");
        assert!(
            !shown.contains(&secret_line),
            "key material leaked: {shown}"
        );
    }
    std::fs::remove_file(&not_a_key).ok();
}
