//! The verifier's defaults against hostile or replayed requests: nonce
//! replay up to the edge of the age window (RFC 9421 §7.2.2), and nonces
//! sent and required by default.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum_oauth2_client::http_signature::{
    Algorithm, Clock, InMemoryKeyResolver, MessageSigner, VerificationKey, VerifiedSignature,
    Verifier, VerifyError, VerifyErrorKind,
};
use bytes::Bytes;
use http::Request;

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
        Clock::from_fn(move || now.load(Ordering::SeqCst))
    };
    let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("k", key()?))
        .max_age(Duration::from_secs(300))
        .clock_skew(Duration::from_secs(30))
        .clock(clock)
        .build();
    let mut request = api_request()?;
    signer()?
        .nonce(true)
        .clock(Clock::fixed(10_000))
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
