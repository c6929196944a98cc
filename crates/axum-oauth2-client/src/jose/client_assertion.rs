//! The claims of a JWT used for client authentication or as an
//! authorization grant (RFC 7523 §3; OIDC Core §9 for `private_key_jwt`
//! and `client_secret_jwt`).

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::client_key::ClientKey;
use super::error::JwsError;
use crate::oauth2::Secret;

/// The claims [`ClientAssertion::sign`] sets itself; extras may not use them.
const REGISTERED: [&str; 7] = ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"];

/// The default lifetime of an assertion.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

/// The longest extra claim name an error repeats, in characters.
const MAX_NAME_SHOWN: usize = 64;

/// A JWT assertion (RFC 7523 §3): who issues it (`iss`), whom it is about
/// (`sub`), who it is for (`aud`), and for how long it is valid.
///
/// For client authentication (RFC 7523 §2.2, OIDC Core §9) `iss` and `sub`
/// are both the `client_id` and `aud` is the token endpoint (or the issuer,
/// as the authorization server documents). Each [`sign`](Self::sign) makes
/// a new JWT with a fresh `jti`, since servers may refuse a `jti` they have
/// seen.
///
/// Defaults: a lifetime of 60 seconds, no extra claims.
#[derive(Debug, Clone)]
pub struct ClientAssertion {
    issuer: String,
    /// `sub`; `None` leaves it out (Google service accounts without
    /// domain-wide delegation).
    subject: Option<String>,
    audience: Vec<String>,
    lifetime: Duration,
    extra: Map<String, Value>,
}

impl ClientAssertion {
    /// An assertion from `issuer` about `subject` for `audience`. One
    /// audience is sent as a string, several as an array (RFC 7519 §4.1.3).
    #[must_use]
    pub fn new(
        issuer: impl Into<String>,
        subject: impl Into<String>,
        audience: Vec<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            subject: Some(subject.into()),
            audience,
            lifetime: DEFAULT_LIFETIME,
            extra: Map::new(),
        }
    }

    /// Leaves `sub` out. RFC 7523 §3 requires it; Google's service
    /// account assertions take it only to name a user to act for.
    #[must_use]
    pub fn without_subject(mut self) -> Self {
        self.subject = None;
        self
    }

    /// How long the assertion is valid: `exp` is `iat` plus this, in whole
    /// seconds. Default: 60 seconds.
    ///
    /// Nothing is refused here, but authorization servers cap it and refuse
    /// longer ones: Keycloak by default accepts at most 60 seconds, Google
    /// at most one hour. Keep it short; a new assertion costs one signature.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Adds a claim beyond the registered ones, such as the `scope` of a
    /// Google service account assertion. A later call with the same name
    /// replaces the value. The registered claims (`iss`, `sub`, `aud`, `iat`,
    /// `nbf`, `exp`, `jti`) cannot be set this way: [`sign`](Self::sign)
    /// refuses them.
    #[must_use]
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// Signs the assertion with `key` at time `now`: `iat` and `nbf` are
    /// `now` (in whole seconds since the Unix epoch; `nbf` because some
    /// servers, Microsoft Entra ID among them, require it), `exp` is `iat`
    /// plus the lifetime, and `jti` is 128 random bits, base64url.
    ///
    /// # Errors
    /// [`JwsError::ReservedClaim`] when an extra claim is a registered one,
    /// [`JwsError::MissingAudience`] when the audience is empty,
    /// [`JwsError::InvalidTime`] when `now` is before the epoch or the
    /// expiry overflows, [`JwsError::Signing`] when signing fails.
    pub fn sign(&self, key: &ClientKey, now: SystemTime) -> Result<Secret, JwsError> {
        if let Some(name) = self
            .extra
            .keys()
            .find(|name| REGISTERED.contains(&name.as_str()))
        {
            return Err(JwsError::ReservedClaim {
                name: name.chars().take(MAX_NAME_SHOWN).collect(),
            });
        }
        let audience = match self.audience.as_slice() {
            [] => return Err(JwsError::MissingAudience),
            [one] => Value::from(one.as_str()),
            several => Value::from(several.to_vec()),
        };
        let iat = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| JwsError::InvalidTime {
                reason: "the time is before the Unix epoch",
            })?
            .as_secs();
        let exp = iat
            .checked_add(self.lifetime.as_secs())
            .ok_or(JwsError::InvalidTime {
                reason: "the expiry overflows",
            })?;
        let jti =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());

        let mut claims = Map::with_capacity(REGISTERED.len() + self.extra.len());
        claims.insert("iss".to_owned(), Value::from(self.issuer.as_str()));
        if let Some(subject) = &self.subject {
            claims.insert("sub".to_owned(), Value::from(subject.as_str()));
        }
        claims.insert("aud".to_owned(), audience);
        claims.insert("iat".to_owned(), Value::from(iat));
        claims.insert("nbf".to_owned(), Value::from(iat));
        claims.insert("exp".to_owned(), Value::from(exp));
        claims.insert("jti".to_owned(), Value::from(jti));
        for (name, value) in &self.extra {
            claims.insert(name.clone(), value.clone());
        }
        key.sign_jwt(&claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::JwsAlgorithm;

    fn hs256() -> ClientKey {
        ClientKey::hmac(&[0x42; 32], JwsAlgorithm::HS256)
            .unwrap_or_else(|e| panic!("hmac key: {e}"))
    }

    fn claims_of(jwt: &Secret) -> Map<String, Value> {
        let payload = jwt.expose_secret().split('.').nth(1).unwrap_or_default();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap_or_default();
        serde_json::from_slice(&json).unwrap_or_default()
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn registered_claims_are_set_from_the_builder_and_the_clock() -> Result<(), JwsError> {
        let jwt = ClientAssertion::new("client-1", "client-1", vec!["https://idp/token".into()])
            .lifetime(Duration::from_secs(90))
            .sign(&hs256(), at(1_700_000_000) + Duration::from_millis(999))?;
        let claims = claims_of(&jwt);
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["aud"], "https://idp/token");
        assert_eq!(claims["iat"], 1_700_000_000_u64);
        assert_eq!(claims["nbf"], 1_700_000_000_u64);
        assert_eq!(claims["exp"], 1_700_000_090_u64);
        assert_eq!(claims.len(), 7);
        Ok(())
    }

    #[test]
    fn the_default_lifetime_is_sixty_seconds() -> Result<(), JwsError> {
        let jwt = ClientAssertion::new("c", "c", vec!["a".into()]).sign(&hs256(), at(1000))?;
        let claims = claims_of(&jwt);
        let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
        assert_eq!(exp.zip(iat).map(|(exp, iat)| exp - iat), Some(60));
        Ok(())
    }

    #[test]
    fn several_audiences_are_an_array() -> Result<(), JwsError> {
        let audience = vec!["https://a/token".to_owned(), "https://a".to_owned()];
        let jwt = ClientAssertion::new("c", "c", audience.clone()).sign(&hs256(), at(1))?;
        assert_eq!(claims_of(&jwt)["aud"], Value::from(audience));
        Ok(())
    }

    #[test]
    fn every_signature_gets_a_fresh_128_bit_jti() -> Result<(), JwsError> {
        let assertion = ClientAssertion::new("c", "c", vec!["a".into()]);
        let (first, second) = (
            claims_of(&assertion.sign(&hs256(), at(5))?),
            claims_of(&assertion.sign(&hs256(), at(5))?),
        );
        let jti = |claims: &Map<String, Value>| claims["jti"].as_str().map(str::to_owned);
        assert_ne!(jti(&first), jti(&second));
        let decoded = jti(&first).and_then(|j| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(j)
                .ok()
        });
        assert_eq!(decoded.map(|bytes| bytes.len()), Some(16));
        Ok(())
    }

    #[test]
    fn extra_claims_are_added() -> Result<(), JwsError> {
        let jwt = ClientAssertion::new("sa@example", "sa@example", vec!["a".into()])
            .claim("scope", "https://www.googleapis.com/auth/cloud-platform")
            .claim("tenant", serde_json::json!({"id": 7}))
            .sign(&hs256(), at(5))?;
        let claims = claims_of(&jwt);
        assert_eq!(
            claims["scope"],
            "https://www.googleapis.com/auth/cloud-platform"
        );
        assert_eq!(claims["tenant"]["id"], 7);
        Ok(())
    }

    #[test]
    fn extra_claims_cannot_override_registered_ones() {
        for name in REGISTERED {
            let err = ClientAssertion::new("c", "c", vec!["a".into()])
                .claim(name, "forged")
                .sign(&hs256(), at(5))
                .err();
            assert_eq!(
                err,
                Some(JwsError::ReservedClaim {
                    name: name.to_owned()
                })
            );
            assert_eq!(err.map(|e| e.code()), Some("reserved_claim"));
        }
    }

    #[test]
    fn an_empty_audience_is_refused() {
        let err = ClientAssertion::new("c", "c", Vec::new())
            .sign(&hs256(), at(5))
            .err();
        assert_eq!(err.map(|e| e.code()), Some("missing_audience"));
    }

    #[test]
    fn times_before_the_epoch_and_overflowing_expiries_are_refused() {
        let assertion = ClientAssertion::new("c", "c", vec!["a".into()]);
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        let err = assertion.sign(&hs256(), before).err();
        assert_eq!(err.map(|e| e.code()), Some("invalid_time"));
        let err = assertion
            .lifetime(Duration::MAX)
            .sign(&hs256(), at(5))
            .err();
        assert_eq!(err.map(|e| e.code()), Some("invalid_time"));
    }
}
