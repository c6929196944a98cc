//! Cost of one RFC 7523 client assertion per JWS algorithm: the claims
//! map, a fresh `jti`, the JSON and base64url encoding and the signature,
//! as [`ClientAssertion::sign`] does it for every token request. Every key
//! has a `kid`; the RS256 key also sends its certificate's `x5t#S256`.
//! The fixture keys are RSA 2048, P-256, P-384 and Ed25519; HS256 signs
//! with a 36-byte secret.
//!
//! Run: `cargo bench --bench jwt_assertion -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::SystemTime;

use axum_oauth2_client::jose::{ClientAssertion, ClientKey, JwsAlgorithm};
use criterion::{Criterion, criterion_group, criterion_main};

const RSA: &str = include_str!("../tests/fixtures/jose/rsa-2048.pem");
const RSA_CERT: &str = include_str!("../tests/fixtures/jose/rsa-2048.cert.pem");
const P256: &str = include_str!("../tests/fixtures/jose/ec-p256.pem");
const P384: &str = include_str!("../tests/fixtures/jose/ec-p384.pem");
const ED25519: &str = include_str!("../tests/fixtures/jose/ed25519.pem");

fn keys() -> Vec<ClientKey> {
    let load = |text: &str, alg| {
        ClientKey::from_pem_or_jwk(text, Some(alg))
            .unwrap_or_else(|e| panic!("{alg}: {e}"))
            .key_id("bench")
    };
    let hmac = ClientKey::hmac(b"a client secret of at least 32 bytes", JwsAlgorithm::HS256)
        .unwrap_or_else(|e| panic!("HS256: {e}"));
    vec![
        load(RSA, JwsAlgorithm::RS256)
            .certificate_pem(RSA_CERT)
            .unwrap_or_else(|e| panic!("certificate: {e}")),
        load(RSA, JwsAlgorithm::PS256),
        load(P256, JwsAlgorithm::ES256),
        load(P384, JwsAlgorithm::ES384),
        load(ED25519, JwsAlgorithm::EdDSA),
        hmac,
    ]
}

fn bench(c: &mut Criterion) {
    let assertion = ClientAssertion::new(
        "bench-client",
        "bench-client",
        vec!["https://idp.example.com/oauth2/token".to_owned()],
    );
    let mut group = c.benchmark_group("client_assertion");
    for key in keys() {
        group.bench_function(key.algorithm().as_str(), |b| {
            b.iter(|| {
                assertion
                    .sign(black_box(&key), SystemTime::now())
                    .unwrap_or_else(|e| panic!("{}: {e}", key.algorithm()))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
