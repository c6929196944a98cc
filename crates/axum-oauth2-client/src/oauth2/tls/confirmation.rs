//! Bound access tokens (RFC 7800 `cnf`): a JWT access token bound to the
//! client certificate carries its SHA-256 thumbprint as `cnf.x5t#S256`
//! (RFC 8705 §3.1), one bound to a DPoP key the key's thumbprint as
//! `cnf.jkt` (RFC 9449 §6.1). A token bound to another certificate or key
//! would be refused by every resource server, so it is refused when it
//! arrives.

use serde_json::Value;

use crate::oauth2::endpoint::response::jwt_claims;

/// `Err` with the reason when `access_token` is a JWT whose
/// `cnf.x5t#S256` is not `x5t_s256`. An opaque token, a JWT without `cnf`
/// and a `cnf` with another confirmation method (a DPoP `jkt`, RFC 9449
/// §6.1) pass: only a thumbprint that disagrees is an error. The claims are
/// read without verifying the signature, as a resource server will check
/// them; this check only spares a token that cannot work.
pub(crate) fn check_certificate_binding(access_token: &str, x5t_s256: &str) -> Result<(), String> {
    check_binding(access_token, "x5t#S256", x5t_s256)
}

/// As [`check_certificate_binding`], for `cnf.jkt` and the DPoP key's
/// RFC 7638 thumbprint (RFC 9449 §6.1).
pub(crate) fn check_key_binding(access_token: &str, jkt: &str) -> Result<(), String> {
    check_binding(access_token, "jkt", jkt)
}

fn check_binding(access_token: &str, member: &str, expected: &str) -> Result<(), String> {
    let Some(claims) = jwt_claims(access_token) else {
        return Ok(());
    };
    let Some(cnf) = claims.get("cnf") else {
        return Ok(());
    };
    match cnf.as_object().map(|cnf| cnf.get(member)) {
        None => Err("the access token's cnf claim is not a JSON object (RFC 7800 §3.1)".into()),
        Some(None) => Ok(()),
        Some(Some(Value::String(bound))) if bound == expected => Ok(()),
        Some(Some(Value::String(_))) => Err(format!(
            "the access token's cnf.{member} is not the thumbprint of the client's {}: it is bound to another",
            if member == "jkt" {
                "DPoP key"
            } else {
                "certificate"
            }
        )),
        Some(Some(_)) => Err(format!("the access token's cnf.{member} is not a string")),
    }
}

#[cfg(test)]
mod key_binding_tests {
    use base64::Engine as _;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_dpop_token_bound_to_another_key_is_refused() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = |claims: Value| format!("e30.{}.sig", b64.encode(claims.to_string()));
        assert!(check_key_binding(&jwt(json!({"cnf": {"jkt": "mine"}})), "mine").is_ok());
        assert!(check_key_binding("opaque", "mine").is_ok());
        let err = check_key_binding(&jwt(json!({"cnf": {"jkt": "other"}})), "mine");
        assert!(err.is_err_and(|e| e.contains("cnf.jkt")));
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use serde_json::json;

    use super::*;

    fn jwt(claims: &Value) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            b64.encode(br#"{"alg":"ES256","typ":"at+jwt"}"#),
            b64.encode(claims.to_string())
        )
    }

    #[test]
    fn a_token_bound_to_the_certificate_or_to_nothing_passes() {
        let thumbprint = "PDmQX_-1UeRMo2szgvTHLbWDKlRsfQnJ6-07h5iU-LE";
        for token in [
            "opaque-token".to_owned(),
            jwt(&json!({"sub": "orders"})),
            jwt(&json!({"cnf": {"x5t#S256": thumbprint}})),
            jwt(&json!({"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})),
        ] {
            assert_eq!(
                check_certificate_binding(&token, thumbprint),
                Ok(()),
                "{token}"
            );
        }
    }

    #[test]
    fn a_token_bound_elsewhere_is_refused_naming_the_claim() {
        let thumbprint = "PDmQX_-1UeRMo2szgvTHLbWDKlRsfQnJ6-07h5iU-LE";
        for cnf in [
            json!({"x5t#S256": "BLCxRODAUuqgF9ODukRpAC0BggkV0t1QEDdVqpOHmJU"}),
            json!({"x5t#S256": 7}),
            json!("x5t#S256"),
        ] {
            let reason = check_certificate_binding(&jwt(&json!({ "cnf": cnf })), thumbprint)
                .expect_err("refused");
            assert!(reason.contains("cnf"), "{reason}");
        }
    }
}
