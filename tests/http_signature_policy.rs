//! The verifier's defaults against hostile or replayed requests: nonce
//! replay up to the edge of the age window (RFC 9421 §7.2.2), nonces sent
//! and required by default, bounded work for many signatures over a large
//! field, and the expected authority (§3.2.1).

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum_oauth2_client::http_signature::{
    Algorithm, ComponentId, InMemoryKeyResolver, MessageSigner, UnixClock, VerificationKey,
    VerifiedSignature, Verifier, VerifyError, VerifyErrorKind,
};
use bytes::Bytes;
use http::Request;

#[path = "support/hostile_request.rs"]
mod support;
use support::hostile_request;

type TestResult = Result<(), Box<dyn Error>>;

const SHARED_SECRET: &str = include_str!("fixtures/rfc9421/test-shared-secret.b64");

fn key() -> Result<VerificationKey, Box<dyn Error>> {
    Ok(VerificationKey::from_pem_or_jwk(
        Algorithm::HmacSha256,
        SHARED_SECRET,
    )?)
}

fn signer() -> Result<MessageSigner, Box<dyn Error>> {
    Ok(MessageSigner::from_config(
        "hmac-sha256",
        SHARED_SECRET,
        Some("k"),
        None,
    )?)
}

fn api_request() -> Result<Request<Bytes>, http::Error> {
    Request::post("https://api.example.com/v1/orders?id=7")
        .header("content-type", "application/json")
        .header("authorization", "Bearer token-value")
        .body(Bytes::from_static(br#"{"amount": 100}"#))
}

fn header<B>(request: &Request<B>, name: &str) -> String {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn kind(result: Result<VerifiedSignature, VerifyError>) -> Option<VerifyErrorKind> {
    result.map_err(|e| e.kind()).err()
}

/// A signature is accepted until `created + max_age + skew` inclusive, so
/// its nonce must be remembered for that whole second too.
#[tokio::test]
async fn a_nonce_stays_a_replay_until_its_signature_is_too_old() -> TestResult {
    let now = Arc::new(AtomicU64::new(10_000));
    let clock = {
        let now = now.clone();
        UnixClock::from_fn(move || now.load(Ordering::SeqCst))
    };
    let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("k", key()?))
        .max_age(Duration::from_secs(300))
        .clock_skew(Duration::from_secs(30))
        .clock(clock)
        .build();
    let mut request = api_request()?;
    signer()?
        .nonce(true)
        .clock(UnixClock::fixed(10_000))
        .sign_http_request(&mut request)?;

    assert_eq!(kind(verifier.verify(&request).await), None);
    now.store(10_329, Ordering::SeqCst);
    assert_eq!(
        kind(verifier.verify(&request).await),
        Some(VerifyErrorKind::NonceReplayed)
    );
    // The last second in which the signature is still young enough.
    now.store(10_330, Ordering::SeqCst);
    assert_eq!(
        kind(verifier.verify(&request).await),
        Some(VerifyErrorKind::NonceReplayed)
    );
    now.store(10_331, Ordering::SeqCst);
    assert_eq!(
        kind(verifier.verify(&request).await),
        Some(VerifyErrorKind::SignatureTooOld)
    );
    Ok(())
}

#[tokio::test]
async fn signers_send_a_fresh_nonce_and_verifiers_require_one_by_default() -> TestResult {
    let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("k", key()?)).build();
    let mut first = api_request()?;
    signer()?.sign_http_request(&mut first)?;
    let mut second = api_request()?;
    signer()?.sign_http_request(&mut second)?;
    let nonce = |request: &Request<Bytes>| {
        header(request, "signature-input")
            .split_once(";nonce=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(nonce, _)| nonce.to_owned())
    };
    let (one, two) = (nonce(&first), nonce(&second));
    assert!(
        one.as_ref().is_some_and(|n| n.len() >= 22),
        "{}",
        header(&first, "signature-input")
    );
    assert_ne!(one, two, "each signature has its own nonce");

    assert_eq!(kind(verifier.verify(&first).await), None);
    assert_eq!(
        kind(verifier.verify(&first).await),
        Some(VerifyErrorKind::NonceReplayed)
    );
    assert_eq!(kind(verifier.verify(&second).await), None);

    // Without a nonce: refused by default, accepted by the documented opt-out.
    let mut bare = api_request()?;
    signer()?.nonce(false).sign_http_request(&mut bare)?;
    assert!(!header(&bare, "signature-input").contains("nonce"));
    assert_eq!(
        kind(verifier.verify(&bare).await),
        Some(VerifyErrorKind::MissingNonce)
    );
    let lenient = Verifier::builder(InMemoryKeyResolver::new().with_key("k", key()?))
        .require_nonce(false)
        .build();
    assert_eq!(kind(lenient.verify(&bare).await), None);
    Ok(())
}

#[tokio::test]
async fn many_signatures_over_a_large_field_are_refused_within_the_base_budget() -> TestResult {
    let created = 1_700_000_000;
    let request = hostile_request(created, "k");
    let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("k", key()?))
        .clock(UnixClock::fixed(created))
        .build();
    let started = Instant::now();
    let rounds = 20;
    let mut result = None;
    for _ in 0..rounds {
        result = Some(verifier.verify(&request).await);
    }
    let elapsed = started.elapsed() / rounds;
    let err = result.ok_or("no round")?.err().ok_or("accepted")?;
    eprintln!(
        "8 signatures x 64 components over a {} byte field: {} ({}) in {elapsed:?} per request",
        header(&request, "x-big").len(),
        err.code(),
        err
    );
    assert_eq!(err.kind(), VerifyErrorKind::SignatureBaseTooLarge, "{err}");
    assert_eq!(err.code(), "signature_base_too_large");
    assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    assert!(err.to_string().contains("65536"), "{err}");
    // The field's value is never repeated in the error.
    assert!(!err.to_string().contains("m0="), "{err}");
    Ok(())
}

#[tokio::test]
async fn an_expected_authority_refuses_signatures_made_for_another_service() -> TestResult {
    let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("k", key()?))
        .authority("API.example.com:443")
        .build();
    let signed_for = |uri: &'static str| -> Result<Request<Bytes>, Box<dyn Error>> {
        let mut request = Request::post(uri)
            .header("content-type", "application/json")
            .body(Bytes::from_static(br#"{"amount": 100}"#))?;
        signer()?.sign_http_request(&mut request)?;
        Ok(request)
    };

    // The default signer covers @target-uri, which carries the authority.
    let ours = signed_for("https://api.example.com/v1/orders")?;
    assert_eq!(kind(verifier.verify(&ours).await), None);
    let theirs = signed_for("https://other.example.com/v1/orders")?;
    let err = verifier.verify(&theirs).await.err().ok_or("accepted")?;
    assert_eq!(err.kind(), VerifyErrorKind::AuthorityMismatch);
    assert_eq!(
        (err.code(), err.status()),
        ("authority_mismatch", http::StatusCode::UNAUTHORIZED)
    );
    assert!(!err.to_string().contains("other"), "{err}");
    let other_port = signed_for("https://api.example.com:8443/v1/orders")?;
    assert_eq!(
        kind(verifier.verify(&other_port).await),
        Some(VerifyErrorKind::AuthorityMismatch)
    );

    // What a server sees: an origin-form URI and a Host header; a
    // signature over @authority alone is checked the same way.
    let by_authority = Verifier::builder(InMemoryKeyResolver::new().with_key("k", key()?))
        .required_components(ComponentId::parse_list("@method @authority")?)
        .authority("api.example.com")
        .build();
    let authority_signer = signer()?.components(ComponentId::parse_list("@method @authority")?);
    for (host, expected) in [
        ("api.example.com", None),
        ("Api.Example.com:443", None),
        (
            "api.example.com.evil.test",
            Some(VerifyErrorKind::AuthorityMismatch),
        ),
    ] {
        let mut request = Request::get("/v1/orders")
            .header("host", host)
            .body(Bytes::new())?;
        authority_signer.sign_http_request(&mut request)?;
        assert_eq!(
            kind(by_authority.verify(&request).await),
            expected,
            "{host}"
        );
    }

    // An expected authority needs a signature that covers it.
    let lenient = Verifier::builder(InMemoryKeyResolver::new().with_key("k", key()?))
        .required_components(ComponentId::parse_list("@method")?)
        .authority("api.example.com")
        .build();
    let mut uncovered = Request::get("https://api.example.com/v1/orders").body(Bytes::new())?;
    signer()?
        .components(ComponentId::parse_list("@method @path")?)
        .sign_http_request(&mut uncovered)?;
    let err = lenient.verify(&uncovered).await.err().ok_or("accepted")?;
    assert_eq!(
        err.kind(),
        VerifyErrorKind::MissingRequiredComponent,
        "{err}"
    );
    assert!(err.to_string().contains("@authority"), "{err}");
    Ok(())
}
