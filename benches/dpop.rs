//! What DPoP (RFC 9449) costs: one proof per algorithm (the claims, a
//! fresh `jti`, `ath` over a 1 KiB token, the JSON and base64url encoding
//! and the signature, as every upstream request of a DPoP provider makes
//! it), and a whole `fetch` to a loopback upstream with a DPoP-bound token
//! against the same `fetch` with a bearer token (the proof is the
//! difference).
//!
//! Run: `cargo bench --bench dpop -- --warm-up-time 1 --measurement-time 3`

mod common;

use std::hint::black_box;
use std::time::Duration;

use axum_oauth2_client::dpop::DpopKey;
use axum_oauth2_client::jose::JwsAlgorithm;
use axum_oauth2_client::{FetchOptions, OAuth2Config, OAuth2Service, ProviderConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use url::Url;

const RSA: &str = include_str!("../tests/fixtures/jose/rsa-2048.pem");
const P256: &str = include_str!("../tests/fixtures/jose/ec-p256.pem");
const P384: &str = include_str!("../tests/fixtures/jose/ec-p384.pem");
const ED25519: &str = include_str!("../tests/fixtures/jose/ed25519.pem");

fn keys() -> Vec<DpopKey> {
    let load = |text: &str, alg| {
        DpopKey::from_pem_or_jwk(text, Some(alg)).unwrap_or_else(|e| panic!("{alg}: {e}"))
    };
    vec![
        load(P256, JwsAlgorithm::ES256),
        load(P384, JwsAlgorithm::ES384),
        load(ED25519, JwsAlgorithm::EdDSA),
        load(RSA, JwsAlgorithm::PS256),
        load(RSA, JwsAlgorithm::RS256),
    ]
}

fn proofs(c: &mut Criterion) {
    let url = Url::parse("https://api.example.com/v1/orders?page=2").expect("url");
    let token = common::jwt_like("bench", 1024);
    let mut group = c.benchmark_group("dpop_proof");
    for key in keys() {
        group.bench_function(key.algorithm().as_str(), |b| {
            b.iter(|| {
                black_box(
                    key.proof_for(&http::Method::GET, &url, Some(&token), Some("nonce-1"))
                        .expect("proof"),
                )
            });
        });
    }
    group.finish();
}

/// A service whose provider's tokens come from a loopback endpoint, bound
/// to `dpop` when given.
fn service(token_url: &str, dpop: Option<DpopKey>) -> OAuth2Service {
    let mut provider = ProviderConfig::new(
        token_url.parse().expect("url"),
        "bench-client",
        "bench-secret",
    );
    if let Some(key) = dpop {
        provider = provider.dpop(key);
    }
    OAuth2Service::builder(OAuth2Config::new().provider(common::PROVIDER, provider))
        .http_client(common::http_client())
        .build()
        .expect("service")
}

fn fetches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let endpoint = common::TokenEndpoint::new(common::TokenSettings {
        expires_in: 3600,
        ..Default::default()
    });
    let token_url = endpoint.serve(rt.handle());
    let upstream = common::serve_upstream(rt.handle());
    let ways = [
        ("bearer", service(&token_url, None)),
        ("dpop_es256", service(&token_url, Some(DpopKey::generate()))),
    ];
    let mut group = c.benchmark_group("fetch");
    group.measurement_time(Duration::from_secs(3));
    for (name, oauth2) in &ways {
        let _rt = rt.enter();
        rt.block_on(oauth2.get_token(common::PROVIDER, None))
            .expect("token");
        group.bench_function(*name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let response = oauth2
                        .fetch(common::PROVIDER, &upstream, FetchOptions::default())
                        .await
                        .expect("fetch");
                    black_box(response.bytes().await.expect("body"));
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, proofs, fetches);
criterion_main!(benches);
