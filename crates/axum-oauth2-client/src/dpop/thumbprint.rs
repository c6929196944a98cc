//! JWK thumbprints (RFC 7638): the SHA-256 digest of a JWK's required
//! members, by which DPoP binds an access token to a key (RFC 9449 §6,
//! `cnf.jkt`).

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

const BASE64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The members RFC 7638 §3.2 hashes for each key type, already in
/// lexicographic order (RFC 7638 §3.3): EC (RFC 7518 §6.2.1), RSA (RFC 7518
/// §6.3.1), OKP (RFC 8037 §2) and oct (RFC 7518 §6.4.1).
fn required_members(kty: &str) -> Option<&'static [&'static str]> {
    Some(match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        "oct" => &["k", "kty"],
        _ => return None,
    })
}

/// The RFC 7638 thumbprint of `jwk`, base64url without padding: SHA-256
/// over the JSON object of the required members only, in lexicographic
/// order, with no whitespace (RFC 7638 §3.1–§3.3). Other members (`kid`,
/// `alg`, `use`, …) do not count.
///
/// `None` when the key type is unknown or a required member is missing or
/// not a string.
pub(crate) fn jwk_thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let kty = jwk.get("kty")?.as_str()?;
    let mut canonical = String::with_capacity(128);
    canonical.push('{');
    for (i, &name) in required_members(kty)?.iter().enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        let value = jwk.get(name)?.as_str()?;
        // serde_json writes a string with the minimal escaping RFC 7638 §3
        // asks for (RFC 8259 §7); the names need none.
        canonical.push('"');
        canonical.push_str(name);
        canonical.push_str("\":");
        canonical.push_str(&serde_json::to_string(value).ok()?);
    }
    canonical.push('}');
    Some(BASE64URL.encode(Sha256::digest(canonical.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The RSA key of RFC 7638 §3.1 (the one of RFC 7517 Appendix A.1):
    /// its modulus and exponent, with `alg` and `kid` members that the
    /// thumbprint ignores.
    fn rfc7638_key() -> Map<String, Value> {
        let n = concat!(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B",
            "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD",
            "W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vM",
            "QFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        );
        let jwk = json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"});
        jwk.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn rfc7638_example_thumbprint() {
        assert_eq!(
            jwk_thumbprint(&rfc7638_key()).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn optional_members_and_member_order_do_not_count() {
        let mut reordered = Map::new();
        let key = rfc7638_key();
        for name in ["n", "kid", "e", "kty"] {
            if let Some(value) = key.get(name) {
                reordered.insert(name.to_owned(), value.clone());
            }
        }
        reordered.insert("use".to_owned(), Value::from("sig"));
        assert_eq!(jwk_thumbprint(&reordered), jwk_thumbprint(&key));
    }

    #[test]
    fn an_ec_thumbprint_hashes_crv_kty_x_y() {
        let jwk = json!({"y": "WQ", "x": "WA", "kty": "EC", "crv": "P-256", "kid": "k"});
        let expected = BASE64URL.encode(Sha256::digest(
            br#"{"crv":"P-256","kty":"EC","x":"WA","y":"WQ"}"#,
        ));
        assert_eq!(jwk.as_object().and_then(jwk_thumbprint), Some(expected));
    }

    #[test]
    fn unknown_types_and_missing_or_non_string_members_have_none() {
        for jwk in [
            json!({"kty": "EC", "crv": "P-256", "x": "WA"}),
            json!({"kty": "RSA", "n": "AQAB", "e": 3}),
            json!({"kty": "XYZ", "x": "WA"}),
            json!({"crv": "Ed25519", "x": "WA"}),
        ] {
            assert_eq!(jwk.as_object().and_then(jwk_thumbprint), None, "{jwk}");
        }
    }
}
