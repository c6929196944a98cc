//! Entry point for the `signature_input` fuzz target in `fuzz/` (feature
//! `fuzzing`): any bytes as the `Signature-Input` and `Signature` fields of
//! a fixed request, through parsing (RFC 9421 §4.1, §4.2) and signature
//! base building (§2.5) to the verdict.
//!
//! Besides "never panics", each run checks the verifier's promises: the
//! signature bases of one message stay within the budget, each field is
//! parsed at most once per structured type, a failure is a 400 or a 401,
//! and no error repeats the request's bearer token.

use std::future::Future;

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::HeaderValue;

use super::{Algorithm, InMemoryKeyResolver, UnixClock, VerificationKey, Verifier};

/// The RFC 9421 Appendix B.1.5 shared secret, trusted as keyid `k`.
pub const SECRET: &str =
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";
/// The bearer token of the fixed request: no error may repeat it.
pub const TOKEN: &str = "fuzz-token-3b8e61d0c4";
/// The Unix time the verifiers' clock reads.
pub const NOW: u64 = 1_700_000_000;
/// The base budget of the permissive verifier (small, so the fuzzer meets it).
const SMALL_BUDGET: usize = 4096;

/// The fixed request: `data` split at each `\n` gives the field lines,
/// alternately `Signature-Input` and `Signature` (a line that is not a
/// valid field value is left out).
fn request(data: &[u8]) -> http::Request<Bytes> {
    let mut builder = http::Request::post("https://api.example.com/v1/orders?id=7&note=a%20b&id=8")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header(
            "content-digest",
            "sha-256=:2Wayd+gxfbWbB3EHy7Qtcn9fNE5tzRMfURwWvun2g3w=:",
        )
        .header("x-dict", "a=1, b=(x y);p=?0, c=:AAAA:")
        .header("x-list", "(1 2), 3;q")
        .header("x-item", "\"text\";p=1")
        .header("x-multi", "one")
        .header("x-multi", "two");
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let Ok(value) = HeaderValue::from_bytes(line) else {
            continue;
        };
        let name = if i % 2 == 0 {
            "signature-input"
        } else {
            "signature"
        };
        builder = builder.header(name, value);
    }
    builder
        .body(Bytes::from_static(br#"{"amount": 100}"#))
        .unwrap_or_else(|e| panic!("the fixed request is valid: {e}"))
}

/// The default policy, and a permissive one that lets any signature by
/// `k` reach base building (nothing required but the expected authority)
/// with a small base budget.
fn verifiers() -> [(Verifier, usize); 2] {
    let key = || {
        VerificationKey::from_pem_or_jwk(Algorithm::HmacSha256, SECRET)
            .unwrap_or_else(|e| panic!("the fixed key is valid: {e}"))
    };
    let resolver = || InMemoryKeyResolver::new().with_key("k", key());
    let default = Verifier::builder(resolver())
        .clock(UnixClock::fixed(NOW))
        .build();
    let permissive = Verifier::builder(resolver())
        .required_components(vec![])
        .require_content_digest(false)
        .require_created(false)
        .require_nonce(false)
        .authority("api.example.com")
        .max_signature_base_bytes(SMALL_BUDGET)
        .clock(UnixClock::fixed(NOW))
        .build();
    [
        (default, super::verify::policy::DEFAULT_MAX_BASE_BYTES),
        (permissive, SMALL_BUDGET),
    ]
}

/// Drives a future that never waits (the in-memory resolver answers at once).
fn ready<F: Future>(future: F) -> F::Output {
    future
        .now_or_never()
        .unwrap_or_else(|| panic!("verification waited on an in-memory key resolver"))
}

/// Verifies the fixed request carrying `data` as its signature fields.
///
/// # Panics
/// When the verifier breaks one of the promises in the module docs.
pub fn signature_headers(data: &[u8]) {
    let request = request(data);
    let echoes_token = String::from_utf8_lossy(data).contains(TOKEN);
    for (verifier, budget) in verifiers() {
        let (result, work, base_bytes) = ready(verifier.verify_counting(&request));
        assert!(
            base_bytes <= budget,
            "{base_bytes} bytes of base over a {budget} byte budget"
        );
        // Three structured types at most per field; one query to decode.
        assert!(work.structured_parses <= 3 * work.fields_read, "{work:?}");
        assert!(work.query_decodes <= 1, "{work:?}");
        if let Err(err) = result {
            let status = err.status().as_u16();
            assert!(status == 400 || status == 401, "{status}: {err}");
            let shown = format!("{err} {err:?}");
            assert!(
                echoes_token || !shown.contains(TOKEN),
                "the bearer token leaked into: {shown}"
            );
        }
        let _ = verifier.signature_base(&request, "sig1");
    }
}
