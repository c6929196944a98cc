//! DPoP (RFC 9449) on the wire against stubs: the proofs on token and
//! upstream requests, the nonce dances of both servers inside one retry,
//! and the answers that are refused.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum_oauth2_client::dpop::DpopKey;
use axum_oauth2_client::{FetchOptions, ProviderConfig};
use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use sha2::Digest as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn decode(part: &str) -> Value {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&raw).expect("json")
}

/// The header and claims of the request's `DPoP` proof.
fn proof(request: &Request) -> (Value, Value) {
    let value = header(request, "dpop").expect("a DPoP header");
    let parts: Vec<&str> = value.split('.').collect();
    assert_eq!(parts.len(), 3);
    (decode(parts[0]), decode(parts[1]))
}

fn dpop_provider(server: &MockServer) -> ProviderConfig {
    provider(server).dpop(DpopKey::generate())
}

/// A token endpoint that wants a nonce: without `nonce` in the proof it
/// answers 400 `use_dpop_nonce` with `DPoP-Nonce: n-<k>`, with one it
/// issues a DPoP token. `rotate` gives a new nonce on every refusal and
/// refuses every proof (a nonce loop).
struct NonceDemanding {
    refusals: Arc<AtomicUsize>,
    issued: Arc<AtomicUsize>,
    rotate: bool,
    token_type: &'static str,
}

impl NonceDemanding {
    fn new(token_type: &'static str) -> Self {
        Self {
            refusals: Arc::default(),
            issued: Arc::default(),
            rotate: false,
            token_type,
        }
    }
}

impl Respond for NonceDemanding {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (_, claims) = proof(request);
        let has_nonce = claims.get("nonce").is_some_and(|n| n == "n-1");
        if self.rotate || !has_nonce {
            let k = self.refusals.fetch_add(1, Ordering::SeqCst) + 1;
            return ResponseTemplate::new(400)
                .insert_header("DPoP-Nonce", format!("n-{k}").as_str())
                .set_body_json(
                    json!({"error": "use_dpop_nonce", "error_description": "nonce required"}),
                );
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("dpop-tok-{n}"),
            "token_type": self.token_type,
            "expires_in": 3600,
        }))
    }
}

#[tokio::test]
async fn a_token_request_takes_the_servers_nonce_once_inside_the_single_flight() {
    let responder = NonceDemanding::new("DPoP");
    let refusals = responder.refusals.clone();
    let server = token_server(responder).await;
    let key = DpopKey::generate();
    let oauth2 = service("p", provider(&server).dpop(key.clone()));

    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let oauth2 = oauth2.clone();
            tokio::spawn(async move { oauth2.get_token("p", None).await })
        })
        .collect();
    for caller in callers {
        let token = caller.await.expect("joined").expect("token");
        assert_eq!(token.secret(), "dpop-tok-1");
        assert_eq!(token.authorization(), "DPoP dpop-tok-1");
    }
    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 2, "one refusal, one retry with the nonce");
    assert_eq!(refusals.load(Ordering::SeqCst), 1);

    let token_url = format!("{}{TOKEN_PATH}", server.uri());
    for (i, request) in requests.iter().enumerate() {
        let (header, claims) = proof(request);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        let jwk = header["jwk"].as_object().expect("jwk");
        assert!(!jwk.contains_key("d"), "the public key only");
        assert_eq!(header["jwk"], Value::Object(key.public_jwk()));
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], token_url.as_str());
        assert!(claims["iat"].is_u64());
        assert!(claims.get("ath").is_none(), "no token yet");
        assert_eq!(
            claims.get("nonce").and_then(Value::as_str),
            [None, Some("n-1")][i]
        );
    }
    let (_, first) = proof(&requests[0]);
    let (_, second) = proof(&requests[1]);
    assert_ne!(first["jti"], second["jti"], "a fresh proof per request");
}

#[tokio::test]
async fn a_nonce_refused_again_is_dpop_nonce_rejected_without_a_third_request() {
    let mut responder = NonceDemanding::new("DPoP");
    responder.rotate = true;
    let server = token_server(responder).await;
    let oauth2 = service("p", dpop_provider(&server));
    let err = oauth2.get_token("p", None).await.expect_err("a nonce loop");
    assert_eq!(err.code(), "dpop_nonce_rejected");
    assert_eq!(token_requests(&server).await.len(), 2);
}

#[tokio::test]
async fn a_malformed_nonce_is_ignored_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("DPoP-Nonce", "two words")
                .set_body_json(json!({"error": "use_dpop_nonce"})),
        )
        .mount(&server)
        .await;
    let logs = capture_logs();
    let oauth2 = service("p", dpop_provider(&server));
    let err = oauth2
        .get_token("p", None)
        .await
        .expect_err("no usable nonce");
    assert_eq!(err.code(), "dpop_nonce_rejected");
    assert_eq!(token_requests(&server).await.len(), 1);
    assert!(logs.text().contains("DPoP-Nonce is not"), "logged");
    assert!(!logs.text().contains("two words"), "without its value");
}

#[tokio::test]
async fn a_bearer_answer_to_a_dpop_request_is_refused_unless_allowed() {
    let server = token_server(NonceDemanding::new("Bearer")).await;
    let err = service("p", dpop_provider(&server))
        .get_token("p", None)
        .await
        .expect_err("not bound");
    assert_eq!(err.code(), "invalid_token_response");
    assert!(
        err.to_string()
            .contains("Bearer in answer to a DPoP request"),
        "{err}"
    );

    let server = token_server(NonceDemanding::new("Bearer")).await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let oauth2 = service("p", dpop_provider(&server).dpop_allow_bearer(true));
    oauth2
        .fetch(
            "p",
            &format!("{}/api", server.uri()),
            FetchOptions::default(),
        )
        .await
        .expect("allowed");
    let api = api_requests(&server).await;
    assert_eq!(header(&api[0], "authorization"), Some("Bearer dpop-tok-1"));
    assert_eq!(
        header(&api[0], "dpop"),
        None,
        "a bearer token needs no proof"
    );
}

#[tokio::test]
async fn a_dpop_token_is_never_taken_without_a_proof() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"access_token": "t", "token_type": "DPoP", "expires_in": 60}),
            ),
        )
        .mount(&server)
        .await;
    let err = service("p", provider(&server))
        .get_token("p", None)
        .await
        .expect_err("no proof was sent");
    assert_eq!(err.code(), "invalid_token_response");
}

/// An upstream that asks for its own nonce once, then answers 200.
async fn nonce_demanding_upstream(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header(
                    "WWW-Authenticate",
                    r#"DPoP error="use_dpop_nonce", algs="ES256""#,
                )
                .insert_header("DPoP-Nonce", "rs-nonce-1"),
        )
        .up_to_n_times(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200))
        .mount(server)
        .await;
}

#[tokio::test]
async fn upstream_requests_carry_a_bound_proof_and_answer_a_nonce_challenge_with_the_same_token() {
    let server = token_server(NonceDemanding::new("DPoP")).await;
    nonce_demanding_upstream(&server).await;
    let oauth2 = service("p", dpop_provider(&server));
    let url = format!("{}/api/orders?page=2#top", server.uri());
    let res = oauth2
        .fetch("p", &url, FetchOptions::default())
        .await
        .expect("fetched");
    assert_eq!(res.status(), 200);

    let api = api_requests(&server).await;
    assert_eq!(api.len(), 2, "one challenge, one retry");
    assert_eq!(token_requests(&server).await.len(), 2, "the token was kept");
    let ath = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(b"dpop-tok-1"));
    for (i, request) in api.iter().enumerate() {
        assert_eq!(header(request, "authorization"), Some("DPoP dpop-tok-1"));
        let (header, claims) = proof(request);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], format!("{}/api/orders", server.uri()));
        assert_eq!(claims["ath"], ath.as_str());
        // The token endpoint's nonce `n-1` is its own: the API, on the
        // same origin, gets only the one it asked for.
        assert_eq!(
            claims.get("nonce").and_then(Value::as_str),
            [None, Some("rs-nonce-1")][i]
        );
    }
}

#[tokio::test]
async fn authorize_adds_the_proof_to_a_request_built_elsewhere() {
    let server = token_server(NonceDemanding::new("DPoP")).await;
    let oauth2 = service("p", dpop_provider(&server));
    let url: reqwest::Url = format!("{}/api/x", server.uri()).parse().expect("url");
    let mut request = reqwest::Request::new(reqwest::Method::DELETE, url);
    oauth2
        .authorize("p", &mut request, None)
        .await
        .expect("authorized");
    assert_eq!(
        request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("DPoP dpop-tok-1")
    );
    let proof = request
        .headers()
        .get("dpop")
        .expect("proof")
        .to_str()
        .expect("ascii");
    let claims = decode(proof.split('.').nth(1).expect("claims"));
    assert_eq!(claims["htm"], "DELETE");
    // A hit: the token is cached, a new proof is made.
    let mut again = reqwest::Request::new(reqwest::Method::DELETE, request.url().clone());
    oauth2.authorize("p", &mut again, None).await.expect("hit");
    assert_ne!(again.headers().get("dpop"), request.headers().get("dpop"));
    assert_eq!(token_requests(&server).await.len(), 2);
}

#[tokio::test]
async fn the_dpop_key_never_shows_in_a_debug_or_a_log() {
    let logs = capture_logs();
    let key =
        DpopKey::from_pem_or_jwk(include_str!("fixtures/jose/ec-p256.pem"), None).expect("key");
    let server = token_server(NonceDemanding::new("DPoP")).await;
    let config = provider(&server).dpop(key.clone());
    let shown = format!("{config:?} {key:?}");
    service("p", config)
        .get_token("p", None)
        .await
        .expect("token");
    let pem = include_str!("fixtures/jose/ec-p256.pem");
    let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_no_secret("Debug", &shown, &body);
    assert_no_secret("logs", &logs.text(), &body);
    assert!(
        shown.contains(key.thumbprint()),
        "the thumbprint names the key"
    );
}

/// An upstream that answers every request with `status` and `headers`.
async fn upstream_answering(server: &MockServer, template: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(template)
        .mount(server)
        .await;
}

fn nonce_challenge(nonce: Option<&str>) -> ResponseTemplate {
    let template = ResponseTemplate::new(401)
        .insert_header("WWW-Authenticate", r#"DPoP error="use_dpop_nonce""#);
    match nonce {
        Some(nonce) => template.insert_header("DPoP-Nonce", nonce),
        None => template,
    }
}

#[tokio::test]
async fn a_second_nonce_challenge_or_one_without_a_nonce_is_rejected_and_keeps_the_token() {
    for (first, always) in [(Some("rs-1"), true), (None, false)] {
        let server = token_server(NonceDemanding::new("DPoP")).await;
        upstream_answering(&server, nonce_challenge(first)).await;
        let oauth2 = service("p", dpop_provider(&server));
        let url = format!("{}/api/orders", server.uri());
        let err = oauth2
            .fetch("p", &url, FetchOptions::default())
            .await
            .expect_err("nonce refused");
        assert_eq!(err.code(), "dpop_nonce_rejected", "{first:?}");
        let calls = api_requests(&server).await.len();
        assert_eq!(calls, if always { 2 } else { 1 }, "no third request");
        assert_eq!(token_requests(&server).await.len(), 2, "the token was kept");
    }
}

#[tokio::test]
async fn a_refused_token_after_a_nonce_retry_is_dropped() {
    let server = token_server(NonceDemanding::new("DPoP")).await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(nonce_challenge(Some("rs-1")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    upstream_answering(
        &server,
        ResponseTemplate::new(401)
            .insert_header("WWW-Authenticate", r#"DPoP error="invalid_token""#),
    )
    .await;
    let oauth2 = service("p", dpop_provider(&server));
    let url = format!("{}/api/orders", server.uri());
    let err = oauth2
        .fetch("p", &url, FetchOptions::default())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "unauthorized");
    assert_eq!(api_requests(&server).await.len(), 2, "no third request");
    // The refused token is gone: the next call asks for a new one.
    assert_eq!(oauth2.cached_tokens(), 0);
}

#[tokio::test]
async fn the_middleware_sends_proofs_and_answers_a_nonce_challenge() {
    let server = token_server(NonceDemanding::new("DPoP")).await;
    nonce_demanding_upstream(&server).await;
    let oauth2 = service("p", dpop_provider(&server));
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(axum_oauth2_client::middleware::OAuth2Middleware::new(oauth2, "p").expect("p"))
        .build();
    let res = client
        .get(format!("{}/api/orders", server.uri()))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    let api = api_requests(&server).await;
    assert_eq!(api.len(), 2);
    let (_, claims) = proof(&api[1]);
    assert_eq!(claims["nonce"], "rs-nonce-1");
    assert!(claims["ath"].is_string());
}

#[tokio::test]
async fn a_dpop_provider_follows_no_redirect_and_owns_the_dpop_header() {
    let server = token_server(NonceDemanding::new("DPoP")).await;
    let elsewhere = MockServer::start().await;
    upstream_answering(
        &server,
        ResponseTemplate::new(307)
            .insert_header("Location", format!("{}/x", elsewhere.uri()).as_str()),
    )
    .await;
    let oauth2 = service("p", dpop_provider(&server));
    let url = format!("{}/api/orders", server.uri());
    let res = oauth2
        .fetch("p", &url, FetchOptions::default())
        .await
        .expect("the 3xx is the answer");
    assert_eq!(res.status(), 307);
    assert!(
        elsewhere
            .received_requests()
            .await
            .expect("recording")
            .is_empty()
    );
    let err = oauth2
        .fetch(
            "p",
            &url,
            FetchOptions::default().header("DPoP", "eyJ.forged.proof"),
        )
        .await
        .expect_err("the client's own header");
    assert_eq!(err.code(), "invalid_request");
}

#[tokio::test]
async fn an_rfc_9421_signature_covers_the_dpop_proof() {
    use axum_oauth2_client::MessageSigner;
    use axum_oauth2_client::http_signature::{ComponentId, SigningKey};
    let server = token_server(NonceDemanding::new("DPoP")).await;
    nonce_demanding_upstream(&server).await;
    let signer = MessageSigner::new(SigningKey::hmac_sha256(&[9; 32]).expect("key"))
        .key_id("k")
        .components(
            ComponentId::parse_list("@method @target-uri authorization dpop").expect("ids"),
        );
    let oauth2 = service("p", dpop_provider(&server).signer(Arc::new(signer)));
    let url = format!("{}/api/orders", server.uri());
    oauth2
        .fetch("p", &url, FetchOptions::default())
        .await
        .expect("fetched");
    let api = api_requests(&server).await;
    assert_eq!(api.len(), 2, "the nonce retry is signed again");
    for request in &api {
        let input = header(request, "signature-input").expect("signed");
        assert!(input.contains("\"dpop\""), "{input}");
        assert!(
            header(request, "dpop").is_some(),
            "the proof is there to cover"
        );
    }
    assert_ne!(
        header(&api[0], "signature"),
        header(&api[1], "signature"),
        "a new proof, a new signature"
    );
}
