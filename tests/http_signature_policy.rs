//! The verifier's defaults against hostile or replayed requests: nonce
//! replay up to the edge of the age window (RFC 9421 §7.2.2).

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
