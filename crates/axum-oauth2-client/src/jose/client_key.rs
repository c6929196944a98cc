//! The key a client signs its JWTs with (RFC 7523 §2.2 `private_key_jwt`
//! and `client_secret_jwt`, OIDC Core §9; RFC 7523 §2.1 JWT bearer grants),
//! and the compact JWS serialization (RFC 7515 §7.1).

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::algorithm::JwsAlgorithm;
use super::certificate::Certificate;
use super::error::{JwsError, KeyError};
use super::public_jwk::public_jwk;
use super::signing_key::{SigningKey, default_algorithm};
use crate::http_signature::keys::{DecodedKey, parse_pem_or_jwk};
use crate::oauth2::Secret;
use crate::oauth2::scrubbed_json::ScrubbedJson;

const BASE64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A private key (or shared secret) bound to one [`JwsAlgorithm`], with the
/// header parameters that identify it: `kid` and, once a certificate is
/// attached, `x5t#S256` (and optionally `x5t`).
///
/// Cheap to clone (the key is shared). `Debug` shows the algorithm and the
/// key id only.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use axum_oauth2_client::jose::{ClientAssertion, ClientKey, JwsAlgorithm};
///
/// // An Ed25519 key in PKCS#8 PEM; the key decides the algorithm.
/// let pem = "-----BEGIN PRIVATE KEY-----\n\
///            MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n\
///            -----END PRIVATE KEY-----\n";
/// let key = ClientKey::from_pem_or_jwk(pem, None)?.key_id("client-key-1");
/// assert_eq!(key.algorithm(), JwsAlgorithm::EdDSA);
/// assert_eq!(key.kid(), Some("client-key-1"));
///
/// let jwt = ClientAssertion::new(
///     "my-client",
///     "my-client",
///     vec!["https://idp.example.com/token".to_owned()],
/// )
/// .lifetime(Duration::from_secs(60))
/// .sign(&key, SystemTime::now())?;
/// assert_eq!(jwt.expose_secret().split('.').count(), 3);
///
/// // client_secret_jwt: an HMAC key at least as long as the hash output.
/// let shared = ClientKey::hmac(&[0x5a; 32], JwsAlgorithm::HS256)?;
/// assert!(shared.algorithm().is_symmetric());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ClientKey {
    algorithm: JwsAlgorithm,
    key: Arc<SigningKey>,
    kid: Option<Arc<str>>,
    certificate: Option<Arc<Certificate>>,
    send_x5t: bool,
    /// The base64url protected header, rebuilt by every builder method.
    header: Arc<str>,
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("algorithm", &self.algorithm.as_str())
            .field("kid", &self.kid.as_deref())
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The JOSE header of the JWTs a client key signs (RFC 7515 §4.1, RFC 7519
/// §5.1 `typ`).
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    x5t_s256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x5t: Option<&'a str>,
}

impl ClientKey {
    /// Loads a private key from PEM (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA
    /// PRIVATE KEY`, SEC1 `EC PRIVATE KEY`) or a private JWK (RFC 7517).
    ///
    /// With `alg` `None` the key decides: P-256 signs `ES256`, P-384
    /// `ES384`, Ed25519 `EdDSA`, a JWK with an `alg` member that algorithm,
    /// any other RSA key `RS256` and any other `oct` JWK `HS256`. A JWK's
    /// `kid` becomes the key id.
    ///
    /// # Errors
    /// [`KeyError`] when the text does not decode, is a public key, does not
    /// fit `alg` (or the JWK's own `alg`), or is weak (RSA below 2048 bits,
    /// a shared secret shorter than the hash output).
    pub fn from_pem_or_jwk(text: &str, alg: Option<JwsAlgorithm>) -> Result<Self, KeyError> {
        let decoded = parse_pem_or_jwk(text)?;
        let (declared, kid) = jwk_alg_and_kid(text)?;
        let algorithm = match (alg, declared) {
            (Some(requested), Some(declared)) if requested != declared => {
                return Err(KeyError::JwkAlgorithmConflict {
                    requested,
                    declared,
                });
            }
            (Some(alg), _) | (None, Some(alg)) => alg,
            (None, None) => default_algorithm(&decoded),
        };
        let key = Self::from_decoded(algorithm, decoded)?;
        Ok(match kid {
            Some(kid) => key.key_id(kid),
            None => key,
        })
    }

    /// A shared secret for `client_secret_jwt` (RFC 7523 §2.2 with an `HS*`
    /// algorithm, RFC 7518 §3.2). For OIDC Core §9 the secret is the bytes
    /// of the client secret as registered.
    ///
    /// # Errors
    /// [`KeyError::TypeMismatch`] when `alg` is not `HS256`, `HS384` or
    /// `HS512`; [`KeyError::Weak`] when the secret is shorter than the hash
    /// output (32, 48 or 64 bytes).
    pub fn hmac(secret: &[u8], alg: JwsAlgorithm) -> Result<Self, KeyError> {
        Self::from_decoded(alg, DecodedKey::Symmetric(Zeroizing::new(secret.to_vec())))
    }

    /// A fresh P-256 key that signs `ES256`, generated from a CSPRNG (see
    /// `SigningKey::generate_es256`). It has no key id and no certificate.
    pub(crate) fn generate_es256() -> Self {
        Self::from_signing_key(JwsAlgorithm::ES256, SigningKey::generate_es256())
    }

    fn from_decoded(algorithm: JwsAlgorithm, key: DecodedKey) -> Result<Self, KeyError> {
        Ok(Self::from_signing_key(
            algorithm,
            SigningKey::new(algorithm, key)?,
        ))
    }

    fn from_signing_key(algorithm: JwsAlgorithm, key: SigningKey) -> Self {
        Self {
            algorithm,
            key: Arc::new(key),
            kid: None,
            certificate: None,
            send_x5t: false,
            header: Arc::from(""),
        }
        .with_header()
    }

    /// Sets the `kid` header parameter (RFC 7515 §4.1.4), replacing one
    /// taken from a JWK. Default: none, or the JWK's `kid`.
    #[must_use]
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(Arc::from(kid.into()));
        self.with_header()
    }

    /// Attaches the X.509 certificate of this key (the first `CERTIFICATE`
    /// block of `pem`) and sends its SHA-256 thumbprint as `x5t#S256`
    /// (RFC 7515 §4.1.8), as authorization servers that register client
    /// certificates rather than keys (Microsoft Entra ID, for one) expect.
    /// Default: no certificate.
    ///
    /// # Errors
    /// [`KeyError::MalformedCertificate`] when there is no certificate or it
    /// does not decode; [`KeyError::CertificateMismatch`] when its subject
    /// public key is not this key's public half.
    pub fn certificate_pem(mut self, pem: &str) -> Result<Self, KeyError> {
        let certificate = Certificate::from_pem(pem)?;
        certificate.check_key(&self.key)?;
        self.certificate = Some(Arc::new(certificate));
        Ok(self.with_header())
    }

    /// Whether to send the SHA-1 thumbprint `x5t` (RFC 7515 §4.1.7) as well
    /// as `x5t#S256`, for servers that only know the older parameter. Has
    /// an effect only once a certificate is attached. Default: `false`.
    #[must_use]
    pub fn with_x5t(mut self, send: bool) -> Self {
        self.send_x5t = send;
        self.with_header()
    }

    /// The algorithm this key signs with.
    #[must_use]
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.algorithm
    }

    /// The key id sent as `kid`, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Signs `claims` as a JWT in the JWS compact serialization (RFC 7515
    /// §7.1, RFC 7519 §7.1): `base64url(header) . base64url(claims) .
    /// base64url(signature)`, with the protected header `{"alg", "typ":
    /// "JWT", "kid"?, "x5t#S256"?, "x5t"?}`.
    ///
    /// # Errors
    /// [`JwsError::Signing`] when the signature primitive fails,
    /// [`JwsError::Encoding`] when the claims do not serialise.
    pub fn sign_jwt(&self, claims: &Map<String, Value>) -> Result<Secret, JwsError> {
        self.sign_with_header(&self.header, claims)
    }

    /// The public half of this key as a JWK with its public members only
    /// (see `public_jwk`), or `None` for a shared secret.
    pub(crate) fn public_jwk(&self) -> Option<Map<String, Value>> {
        public_jwk(&self.key)
    }

    /// Signs `claims` in the JWS compact serialization (RFC 7515 §7.1)
    /// under a protected header the caller has built and base64url-encoded
    /// itself (for JWTs whose header differs from [`ClientKey::sign_jwt`]'s,
    /// such as DPoP proofs, RFC 9449 §4.2). The header must name this key's
    /// algorithm in `alg`.
    ///
    /// # Errors
    /// As [`ClientKey::sign_jwt`].
    pub(crate) fn sign_with_header(
        &self,
        encoded_header: &str,
        claims: &impl Serialize,
    ) -> Result<Secret, JwsError> {
        let payload = Zeroizing::new(serde_json::to_vec(claims).map_err(|_| JwsError::Encoding)?);
        let mut signing_input = Zeroizing::new(String::with_capacity(
            encoded_header.len() + 1 + base64::encoded_len(payload.len(), false).unwrap_or(0),
        ));
        signing_input.push_str(encoded_header);
        signing_input.push('.');
        BASE64URL.encode_string(&*payload, &mut signing_input);
        let signature = self
            .key
            .sign(signing_input.as_bytes())
            .map_err(|_| JwsError::Signing {
                algorithm: self.algorithm,
            })?;
        // Sized exactly, so that turning it into a `Secret` moves it
        // rather than leaving an unzeroed copy behind.
        let signature_len = base64::encoded_len(signature.len(), false).unwrap_or(0);
        let mut jwt = String::with_capacity(signing_input.len() + 1 + signature_len);
        jwt.push_str(&signing_input);
        jwt.push('.');
        BASE64URL.encode_string(&signature, &mut jwt);
        Ok(Secret::new(jwt))
    }

    /// Recomputes the encoded header after a builder change.
    fn with_header(mut self) -> Self {
        let certificate = self.certificate.as_deref();
        let header = Header {
            alg: self.algorithm.as_str(),
            typ: "JWT",
            kid: self.kid.as_deref(),
            x5t_s256: certificate.map(|c| c.x5t_s256.as_str()),
            x5t: certificate
                .filter(|_| self.send_x5t)
                .map(|c| c.x5t.as_str()),
        };
        // A struct of strings always serialises.
        let json = serde_json::to_vec(&header).unwrap_or_default();
        self.header = Arc::from(BASE64URL.encode(json));
        self
    }
}

/// The `alg` and `kid` members of a JWK, when `text` is one. The key itself
/// has been decoded already, so `text` is valid JSON here.
fn jwk_alg_and_kid(text: &str) -> Result<(Option<JwsAlgorithm>, Option<String>), KeyError> {
    let text = text.trim();
    if !text.starts_with('{') {
        return Ok((None, None));
    }
    // The document holds the private members: zeroed when dropped.
    let document = ScrubbedJson::parse(text.as_bytes())
        .map_err(|_| crate::http_signature::KeyError::malformed("JWK is not a JSON object"))?;
    let jwk = document
        .object()
        .ok_or_else(|| crate::http_signature::KeyError::malformed("JWK is not a JSON object"))?;
    let member = |name: &'static str| -> Result<Option<&str>, KeyError> {
        match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.as_str())),
            Some(_) => Err(crate::http_signature::KeyError::malformed(format!(
                "JWK member {name:?} is not a string"
            ))
            .into()),
        }
    };
    let alg = member("alg")?
        .map(str::parse::<JwsAlgorithm>)
        .transpose()
        .map_err(KeyError::UnknownAlgorithm)?;
    Ok((alg, member("kid")?.map(str::to_owned)))
}

#[cfg(test)]
mod tests;
