//! The RFC 9421 worst case the verifier bounds, shared by
//! `tests/http_signature_policy.rs` and `benches/http_signature.rs`.

use bytes::Bytes;

/// 8 signatures × 64 components, 62 of them forms of one 32 KiB dictionary
/// field (`x-big`), made at `created` by `keyid` (the signatures themselves
/// are garbage): without a bound each signature re-parses the field for
/// every member it covers and the bases add up to about 1 MiB.
pub(crate) fn hostile_request(created: u64, keyid: &str) -> http::Request<Bytes> {
    let members: Vec<String> = (0..1000).map(|i| format!("m{i}=\"{i:024}\"")).collect();
    // @method, @target-uri, then 62 forms of the one large field.
    let forms = ["".to_owned(), ";sf".to_owned(), ";bs".to_owned()]
        .into_iter()
        .chain((0..59).map(|i| format!(r#";key="m{i}""#)));
    let components: Vec<String> = [r#""@method""#.to_owned(), r#""@target-uri""#.to_owned()]
        .into_iter()
        .chain(forms.map(|form| format!(r#""x-big"{form}"#)))
        .collect();
    assert_eq!(components.len(), 64);
    let inputs: Vec<String> = (0..8)
        .map(|label| {
            format!(
                r#"s{label}=({});created={created};keyid="{keyid}";nonce="n{label}""#,
                components.join(" ")
            )
        })
        .collect();
    let signatures: Vec<String> = (0..8)
        .map(|label| format!("s{label}=:{}:", "A".repeat(44)))
        .collect();
    let big = members.join(", ");
    assert!(big.len() > 32 * 1024, "{}", big.len());
    http::Request::get("https://api.example.com/v1/orders")
        .header("x-big", big)
        .header("signature-input", inputs.join(", "))
        .header("signature", signatures.join(", "))
        .body(Bytes::new())
        .unwrap_or_else(|e| panic!("request: {e}"))
}
