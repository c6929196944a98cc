//! Cost of signing and verifying one request with each RFC 9421 algorithm.
//!
//! The request is a JSON POST covering `@method`, `@target-uri`,
//! `content-digest`, `content-type` and `authorization` (the default
//! policy), so each figure includes the body digest, the signature base and
//! the header serialization, not only the primitive. Signing includes the
//! default nonce; the verify group checks one signed request over and over,
//! so it is signed without a nonce and verified with `require_nonce(false)`
//! (a nonce would be a replay from the second iteration on).
//!
//! `verify/hostile_8x64` is the bounded-work case: 8 signatures of 64
//! components each, 62 of them forms of one 32 KiB dictionary field,
//! refused once the 64 KiB base budget is spent.
//!
//! Run: `cargo bench --bench http_signature -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use axum_oauth2_client::http_signature::{
    Algorithm, InMemoryKeyResolver, MessageSigner, UnixClock, VerificationKey, Verifier,
};
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};

const KEYS: [(&str, &str); 6] = [
    (
        "rsa-pss-sha512",
        include_str!("../tests/fixtures/rfc9421/test-key-rsa-pss.pem"),
    ),
    (
        "rsa-v1_5-sha256",
        include_str!("../tests/fixtures/rfc9421/test-key-rsa-pss.pem"),
    ),
    (
        "hmac-sha256",
        include_str!("../tests/fixtures/rfc9421/test-shared-secret.b64"),
    ),
    (
        "ecdsa-p256-sha256",
        include_str!("../tests/fixtures/rfc9421/test-key-ecc-p256.pem"),
    ),
    (
        "ecdsa-p384-sha384",
        include_str!("../tests/fixtures/interop-keys/ecc-p384.pem"),
    ),
    (
        "ed25519",
        include_str!("../tests/fixtures/rfc9421/test-key-ed25519.pem"),
    ),
];

fn request() -> http::Request<Bytes> {
    http::Request::post("https://api.example.com/v1/orders?id=7")
        .header("content-type", "application/json")
        .header("authorization", "Bearer 0123456789abcdef0123456789abcdef")
        .body(Bytes::from_static(
            br#"{"amount": 100, "currency": "EUR", "reference": "bench"}"#,
        ))
        .unwrap_or_else(|e| panic!("request: {e}"))
}

#[path = "../tests/support/hostile_request.rs"]
mod hostile;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let mut sign = c.benchmark_group("sign");
    let mut signed_requests = Vec::new();
    for (alg, key) in KEYS {
        let signer = MessageSigner::from_config(alg, key, Some("bench"), None)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        sign.bench_function(alg, |b| {
            b.iter(|| {
                let mut req = request();
                signer
                    .sign_http_request(black_box(&mut req))
                    .unwrap_or_else(|e| panic!("{alg}: {e}"));
                req
            });
        });
        let mut signed = request();
        signer
            .clone()
            .nonce(false)
            .sign_http_request(&mut signed)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        signed_requests.push((alg, signer.signing_key().verification_key(), signed));
    }
    sign.finish();

    let mut verify = c.benchmark_group("verify");
    for (alg, key, signed) in signed_requests {
        let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("bench", key))
            .require_nonce(false)
            .build();
        verify.bench_function(alg, |b| {
            b.to_async(&runtime).iter(|| async {
                verifier
                    .verify(black_box(&signed))
                    .await
                    .unwrap_or_else(|e| panic!("{alg}: {e}"))
            });
        });
    }
    let created = 1_700_000_000;
    let hostile = hostile::hostile_request(created, "bench");
    let key = VerificationKey::from_pem_or_jwk(Algorithm::HmacSha256, KEYS[2].1)
        .unwrap_or_else(|e| panic!("hmac key: {e}"));
    let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("bench", key))
        .clock(UnixClock::fixed(created))
        .build();
    verify.bench_function("hostile_8x64", |b| {
        b.to_async(&runtime).iter(|| async {
            let refused = verifier.verify(black_box(&hostile)).await;
            assert!(refused.is_err());
            refused
        });
    });
    verify.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
