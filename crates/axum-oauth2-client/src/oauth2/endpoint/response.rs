//! Parsing a successful token response (RFC 6749 §5.1, RFC 8693 §2.2.1).
//!
//! Strict where it matters (an `access_token` that fits in a header, a
//! `token_type` of Bearer in any case), lenient where servers differ
//! (`expires_in` as a number or a numeric string, fractional or absent).

use std::time::Duration;

use serde_json::Value;

use crate::oauth2::scrubbed_json::ScrubbedJson;
use crate::oauth2::secret::Secret;

/// The longest lifetime believed; longer ones are cut to this so that a
/// huge `expires_in` cannot overflow an `Instant` or outlive a key rotation.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The fields of a token response the cache uses.
#[derive(Debug)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: Secret,
    /// The lifetime the server announced, clamped to `0..=MAX_LIFETIME`;
    /// `None` when it sent no `expires_in`.
    pub(crate) expires_in: Option<Duration>,
    pub(crate) scope: Option<String>,
    pub(crate) issued_token_type: Option<String>,
    /// `token_type` was `N_A` (RFC 8693 §2.2.1): not an access token.
    pub(crate) not_access_token: bool,
    /// `token_type` was `DPoP`: the token is bound to the proof's key.
    pub(crate) dpop: bool,
}

/// What a token request asked for, which its answer must match.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Expected<'a> {
    /// A token exchange (RFC 8693 §2.2.1): the answer must carry
    /// `issued_token_type`, and its `token_type` may be `N_A` when the
    /// issued token is not an access token.
    pub(crate) exchange: bool,
    /// The `requested_token_type` sent, which `issued_token_type` must equal.
    pub(crate) requested_token_type: Option<&'a str>,
    /// A DPoP proof was sent (RFC 9449 §5): `token_type: DPoP` is taken,
    /// and `Bearer` only with `dpop_allow_bearer`.
    pub(crate) dpop: bool,
    /// Whether a `Bearer` answer to a DPoP request is taken.
    pub(crate) dpop_allow_bearer: bool,
}

/// The `issued_token_type` of an access token (RFC 8693 §3).
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Parses a 2xx token response body. The error text names the field that
/// is wrong and never contains the token.
pub(crate) fn parse_token_response(
    body: &[u8],
    expected: Expected<'_>,
) -> Result<TokenResponse, String> {
    // Besides the access token, the answer may hold a refresh or an ID
    // token: every string is zeroed when the document is dropped.
    let value = ScrubbedJson(serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            "body is not JSON".to_owned()
        } else {
            format!("body is not valid JSON: {e}")
        }
    })?);
    let Value::Object(map) = &value.0 else {
        return Err("body is not a JSON object".to_owned());
    };

    let access_token = match map.get("access_token") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::String(_)) => return Err("access_token is empty".to_owned()),
        Some(_) => return Err("access_token is not a string".to_owned()),
        None => return Err("access_token is missing".to_owned()),
    };
    // RFC 6750 §2.1: the token goes into `Authorization: Bearer <token>`,
    // so it must be visible ASCII without spaces.
    if !access_token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("access_token contains characters that cannot be sent in a header".to_owned());
    }

    let issued_token_type = match map.get("issued_token_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err("issued_token_type is not a string".to_owned()),
    };
    if expected.exchange {
        match (issued_token_type, expected.requested_token_type) {
            (Some(issued), Some(requested)) if issued != requested => {
                return Err(format!(
                    "issued_token_type `{}` is not the requested `{}`",
                    crate::oauth2::error::sanitize(issued),
                    crate::oauth2::error::sanitize(requested)
                ));
            }
            // RFC 8693 §2.2.1 requires it; Auth0's custom token exchange
            // leaves it out of an ordinary access token answer. Without a
            // requested type, such an answer is taken as an access token;
            // with one, what was issued must be said.
            (None, Some(_)) => {
                return Err(
                    "issued_token_type is missing, so the requested token type cannot be confirmed (RFC 8693 §2.2.1)"
                        .to_owned(),
                );
            }
            _ => {}
        }
    }
    let mut not_access_token = false;
    let mut dpop = false;
    match map.get("token_type") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {
            if expected.dpop && !expected.dpop_allow_bearer {
                return Err(
                    "token_type is Bearer in answer to a DPoP request: the token is not bound to the key (allow it with dpop_allow_bearer)"
                        .to_owned(),
                );
            }
        }
        // RFC 9449 §5.1: the token is bound to the proof's key.
        Some(Value::String(t)) if t.eq_ignore_ascii_case("dpop") && expected.dpop => {
            dpop = true;
        }
        // RFC 8693 §2.2.1: a token that is not an access token.
        Some(Value::String(t))
            if t == "N_A"
                && expected.exchange
                && issued_token_type.is_some_and(|i| i != ACCESS_TOKEN_TYPE) =>
        {
            not_access_token = true;
        }
        Some(Value::String(t)) => {
            return Err(format!(
                "token_type `{}` is not Bearer",
                crate::oauth2::error::sanitize(t)
            ));
        }
        Some(_) => return Err("token_type is not a string".to_owned()),
        None => return Err("token_type is missing".to_owned()),
    }

    let expires_in = match map.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(lifetime_from_number(n.as_f64(), n.as_i64())?),
        Some(Value::String(s)) => {
            let s = s.trim();
            let number: f64 = s
                .parse()
                .map_err(|_| "expires_in is not a number".to_owned())?;
            Some(lifetime_from_number(Some(number), s.parse::<i64>().ok())?)
        }
        Some(_) => return Err("expires_in is not a number".to_owned()),
    };

    let text = |name: &str| -> Result<Option<String>, String> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{name} is not a string")),
        }
    };

    Ok(TokenResponse {
        access_token: Secret::new(access_token.as_str()),
        expires_in,
        scope: text("scope")?,
        issued_token_type: issued_token_type.map(str::to_owned),
        not_access_token,
        dpop,
    })
}

/// The claims of a JWS compact serialization (RFC 7515 §7.1), read
/// without verifying the signature; `None` when `token` is not a JWT whose
/// payload is a JSON object (an opaque token, say).
pub(crate) fn jwt_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.len() > 16 * 1024 {
        return None;
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice::<Value>(&raw).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// The lifetime a JWT's `exp` claim (RFC 7519 §4.1.4) announces, read
/// without verifying the token: it only times the refresh, it grants
/// nothing. `None` when the token is not a JWT or has no usable `exp`.
pub(crate) fn jwt_lifetime(token: &str) -> Option<Duration> {
    let claims = jwt_claims(token)?;
    let exp = claims.get("exp")?.as_f64()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    lifetime_from_number(Some(exp - now), None).ok()
}

/// Clamps a numeric `expires_in` to `0..=MAX_LIFETIME`, logging when it had to.
fn lifetime_from_number(float: Option<f64>, int: Option<i64>) -> Result<Duration, String> {
    let seconds = match (int, float) {
        (Some(i), _) => i as f64,
        (None, Some(f)) => f,
        (None, None) => return Err("expires_in is not a number".to_owned()),
    };
    if !seconds.is_finite() {
        return Err("expires_in is not a finite number".to_owned());
    }
    if seconds <= 0.0 {
        tracing::warn!(
            expires_in = seconds,
            "token response has a non-positive expires_in; the token will not be reused"
        );
        return Ok(Duration::ZERO);
    }
    if seconds > MAX_LIFETIME.as_secs_f64() {
        tracing::warn!(
            expires_in = seconds,
            max = MAX_LIFETIME.as_secs(),
            "token response has an expires_in beyond the maximum; clamped"
        );
        return Ok(MAX_LIFETIME);
    }
    Ok(Duration::from_secs(seconds as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenResponse, String> {
        parse_token_response(body.as_bytes(), Expected::default())
    }

    fn exchange(body: &str, requested: Option<&str>) -> Result<TokenResponse, String> {
        let expected = Expected {
            exchange: true,
            requested_token_type: requested,
            ..Expected::default()
        };
        parse_token_response(body.as_bytes(), expected)
    }

    #[test]
    fn an_exchange_answer_must_say_what_it_issued() {
        let jwt = "urn:ietf:params:oauth:token-type:jwt";
        let ok =
            format!(r#"{{"access_token":"a","token_type":"Bearer","issued_token_type":"{jwt}"}}"#);
        assert!(exchange(&ok, None).is_ok());
        assert!(exchange(&ok, Some(jwt)).is_ok());
        assert_eq!(
            exchange(&ok, Some(ACCESS_TOKEN_TYPE)).err().as_deref(),
            Some(
                "issued_token_type `urn:ietf:params:oauth:token-type:jwt` is not the requested `urn:ietf:params:oauth:token-type:access_token`"
            )
        );
        let missing = r#"{"access_token":"a","token_type":"Bearer"}"#;
        assert!(
            exchange(missing, Some(jwt)).is_err_and(|e| e.contains("issued_token_type is missing"))
        );
        assert!(
            exchange(missing, None).is_ok(),
            "Auth0's answer: an access token"
        );
        assert!(parse(missing).is_ok(), "other grants need none");
    }

    #[test]
    fn n_a_is_a_token_type_only_for_an_exchanged_token_that_is_no_access_token() {
        let id_token = r#"{"access_token":"a","token_type":"N_A","issued_token_type":"urn:ietf:params:oauth:token-type:id_token"}"#;
        assert!(exchange(id_token, None).is_ok());
        assert!(parse(id_token).is_err(), "not outside an exchange");
        let access = r#"{"access_token":"a","token_type":"N_A","issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}"#;
        assert!(exchange(access, None).is_err(), "an access token is Bearer");
    }

    #[test]
    fn reads_a_complete_response() {
        let r = parse(r#"{"access_token":"abc","token_type":"Bearer","expires_in":3600,"scope":"a b","issued_token_type":"urn:x"}"#)
            .expect("valid");
        assert_eq!(r.access_token.expose_secret(), "abc");
        assert_eq!(r.expires_in, Some(Duration::from_secs(3600)));
        assert_eq!(r.scope.as_deref(), Some("a b"));
        assert_eq!(r.issued_token_type.as_deref(), Some("urn:x"));
    }

    #[test]
    fn token_type_is_case_insensitive_and_required() {
        assert!(parse(r#"{"access_token":"a","token_type":"bEaReR"}"#).is_ok());
        assert_eq!(
            parse(r#"{"access_token":"a","token_type":"mac"}"#).expect_err("mac"),
            "token_type `mac` is not Bearer"
        );
        assert_eq!(
            parse(r#"{"access_token":"a"}"#).expect_err("missing"),
            "token_type is missing"
        );
    }

    #[test]
    fn expires_in_is_lenient() {
        let life = |v: &str| {
            parse(&format!(
                r#"{{"access_token":"a","token_type":"bearer","expires_in":{v}}}"#
            ))
            .map(|r| r.expires_in)
        };
        assert_eq!(life("\"3600\""), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(life("\" 60 \""), Ok(Some(Duration::from_secs(60))));
        assert_eq!(life("59.9"), Ok(Some(Duration::from_secs(59))));
        assert_eq!(life("0"), Ok(Some(Duration::ZERO)));
        assert_eq!(life("-1"), Ok(Some(Duration::ZERO)));
        assert_eq!(life("null"), Ok(None));
        assert_eq!(life("18446744073709551615"), Ok(Some(MAX_LIFETIME)));
        assert_eq!(life("1e300"), Ok(Some(MAX_LIFETIME)));
        assert_eq!(
            life("\"soon\""),
            Err("expires_in is not a number".to_owned())
        );
        assert_eq!(
            life("\"1e999\""),
            Err("expires_in is not a finite number".to_owned())
        );
        assert_eq!(life("true"), Err("expires_in is not a number".to_owned()));
        assert!(
            life("1e309").is_err(),
            "serde_json refuses an out-of-range number"
        );
        let absent = parse(r#"{"access_token":"a","token_type":"bearer"}"#).expect("valid");
        assert_eq!(absent.expires_in, None);
    }

    fn jwt(claims: &str) -> String {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims))
    }

    #[test]
    fn jwt_exp_gives_the_lifetime_when_expires_in_is_absent() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after epoch")
            .as_secs();
        let life =
            jwt_lifetime(&jwt(&format!(r#"{{"sub":"svc","exp":{}}}"#, now + 600))).expect("jwt");
        assert!(
            life <= Duration::from_secs(600) && life >= Duration::from_secs(598),
            "{life:?}"
        );
        assert_eq!(
            jwt_lifetime(&jwt(&format!(r#"{{"exp":{}}}"#, now - 10))),
            Some(Duration::ZERO)
        );
        assert_eq!(jwt_lifetime(&jwt(r#"{"exp":1e300}"#)), Some(MAX_LIFETIME));
        assert_eq!(jwt_lifetime(&jwt(r#"{"sub":"no exp"}"#)), None);
        assert_eq!(jwt_lifetime(&jwt(r#"{"exp":"soon"}"#)), None);
        assert_eq!(jwt_lifetime("opaque-token"), None);
        assert_eq!(jwt_lifetime("a.!!!.c"), None);
        assert_eq!(jwt_lifetime("a.b.c.d"), None);
    }

    #[test]
    fn rejects_unusable_bodies_without_echoing_the_token() {
        for (body, reason) in [
            ("<html>oops</html>", "body is not JSON"),
            ("", "body is not JSON"),
            (r#"{"access_token":"abc"#, "body is not JSON"),
            ("[1,2]", "body is not a JSON object"),
            (r#"{"token_type":"bearer"}"#, "access_token is missing"),
            (
                r#"{"access_token":"","token_type":"bearer"}"#,
                "access_token is empty",
            ),
            (
                r#"{"access_token":42,"token_type":"bearer"}"#,
                "access_token is not a string",
            ),
            (
                r#"{"access_token":"a b\nc","token_type":"bearer"}"#,
                "access_token contains characters that cannot be sent in a header",
            ),
            (
                r#"{"access_token":"a","token_type":"bearer","scope":7}"#,
                "scope is not a string",
            ),
        ] {
            assert_eq!(parse(body).expect_err(body), reason, "{body}");
        }
        let invalid_utf8 = parse_token_response(
            b"{\"access_token\":\"\xff\xfe\",\"token_type\":\"bearer\"}",
            Expected::default(),
        );
        assert!(invalid_utf8.is_err());
    }
}
