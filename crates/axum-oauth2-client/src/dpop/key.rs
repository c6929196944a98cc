//! The key pair a client proves possession of with DPoP (RFC 9449 §2): its
//! private half signs the proofs, its public half travels in each proof's
//! `jwk` header (RFC 9449 §4.2) and its JWK thumbprint (RFC 7638) is what
//! the authorization server binds the access token to (`cnf.jkt`, RFC 9449
//! §6.1).

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;

use super::proof;
use super::thumbprint::jwk_thumbprint;
use crate::jose::{ClientKey, JwsAlgorithm, JwsError, KeyError};
use crate::oauth2::Secret;

/// A DPoP key: a private key bound to one asymmetric [`JwsAlgorithm`], with
/// its public JWK and RFC 7638 thumbprint computed once.
///
/// Cheap to clone (the key is shared). `Debug` shows the algorithm and the
/// thumbprint only.
///
/// ```
/// use axum_oauth2_client::dpop::DpopKey;
/// use axum_oauth2_client::jose::JwsAlgorithm;
/// use url::Url;
///
/// // A key for the life of the process; or load one with from_pem_or_jwk.
/// let key = DpopKey::generate();
/// assert_eq!(key.algorithm(), JwsAlgorithm::ES256);
/// assert_eq!(key.thumbprint().len(), 43);
///
/// // The DPoP header of GET https://api.example.com/v1/orders?page=2,
/// // bound to the access token sent as `Authorization: DPoP <token>`.
/// let url = Url::parse("https://api.example.com/v1/orders?page=2")?;
/// let proof = key.proof_for(&http::Method::GET, &url, Some("the-access-token"), None)?;
/// assert_eq!(proof.expose_secret().split('.').count(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DpopKey {
    inner: Arc<Inner>,
}

struct Inner {
    key: ClientKey,
    jwk: Map<String, Value>,
    thumbprint: Box<str>,
    /// The base64url protected header, the same for every proof.
    header: Box<str>,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("algorithm", &self.algorithm().as_str())
            .field("thumbprint", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// Loads a private key from PEM (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA
    /// PRIVATE KEY`, SEC1 `EC PRIVATE KEY`) or a private JWK (RFC 7517),
    /// as [`ClientKey::from_pem_or_jwk`] does.
    ///
    /// With `alg` `None` the key decides: P-256 signs `ES256`, P-384
    /// `ES384`, Ed25519 `EdDSA`, a JWK with an `alg` member that algorithm
    /// and any other RSA key `RS256`; ask for `PS256` (or `PS384`, `PS512`,
    /// `RS384`, `RS512`) explicitly.
    ///
    /// # Errors
    /// [`KeyError::SymmetricAlgorithm`] for an `HS*` algorithm or an `oct`
    /// key (RFC 9449 §4.2: proofs are signed with an asymmetric algorithm),
    /// [`KeyError::PublicKey`] for a public key, and the other
    /// [`KeyError`]s of [`ClientKey::from_pem_or_jwk`] (text that does not
    /// decode, a key that does not fit `alg`, an RSA key below 2048 bits).
    pub fn from_pem_or_jwk(text: &str, alg: Option<JwsAlgorithm>) -> Result<Self, KeyError> {
        if let Some(algorithm) = alg.filter(|alg| alg.is_symmetric()) {
            return Err(KeyError::SymmetricAlgorithm { algorithm });
        }
        Self::from_client_key(ClientKey::from_pem_or_jwk(text, alg)?)
    }

    /// A fresh P-256 key for `ES256`, from a CSPRNG (the thread-local
    /// generator of `rand`, seeded by the operating system). It lives as
    /// long as this value and its clones: tokens bound to it are useless
    /// once the process ends, which is what a DPoP key without storage is
    /// for.
    #[must_use]
    pub fn generate() -> Self {
        // A P-256 key always has a public JWK, so the first key is taken;
        // drawing again rather than panicking keeps this path panic-free.
        loop {
            if let Ok(key) = Self::from_client_key(ClientKey::generate_es256()) {
                return key;
            }
        }
    }

    fn from_client_key(key: ClientKey) -> Result<Self, KeyError> {
        let algorithm = key.algorithm();
        if algorithm.is_symmetric() {
            return Err(KeyError::SymmetricAlgorithm { algorithm });
        }
        let jwk = key
            .public_jwk()
            .ok_or(KeyError::SymmetricAlgorithm { algorithm })?;
        let thumbprint = jwk_thumbprint(&jwk).ok_or(KeyError::SymmetricAlgorithm { algorithm })?;
        let header = proof::encoded_header(algorithm, &jwk);
        Ok(Self {
            inner: Arc::new(Inner {
                key,
                jwk,
                thumbprint: thumbprint.into_boxed_str(),
                header: header.into_boxed_str(),
            }),
        })
    }

    /// The algorithm the proofs are signed with (their `alg` header).
    #[must_use]
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.inner.key.algorithm()
    }

    /// The public key as a JWK, with its public members only: `kty`, `crv`,
    /// `x`, `y` for EC keys, `kty`, `n`, `e` for RSA keys, `kty`, `crv`, `x`
    /// for Ed25519 keys. This is the proofs' `jwk` header (RFC 9449 §4.2).
    #[must_use]
    pub fn public_jwk(&self) -> Map<String, Value> {
        self.inner.jwk.clone()
    }

    /// The RFC 7638 JWK thumbprint of the public key (SHA-256, base64url):
    /// the `jkt` of RFC 9449 §6, as sent in `dpop_jkt` (§10) and found in
    /// a bound token's `cnf.jkt` (§6.1).
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// A DPoP proof (RFC 9449 §4.2) for a request of `method` to `url`,
    /// issued now, to send as the value of the `DPoP` header.
    ///
    /// `htu` is `url` without its query and fragment (and without any
    /// userinfo); with `access_token` the proof carries `ath`, the hash
    /// that binds it to the token (RFC 9449 §4.2, for requests to a
    /// resource server, §7); with `nonce` it carries the server's nonce
    /// (§8, §9). Every proof has a fresh `jti`.
    ///
    /// # Errors
    /// [`JwsError::Signing`] when the signature primitive fails.
    pub fn proof_for(
        &self,
        method: &http::Method,
        url: &Url,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<Secret, JwsError> {
        self.proof_at(method, url, access_token, nonce, SystemTime::now())
    }

    /// As [`DpopKey::proof_for`], issued at `now` (its `iat`).
    ///
    /// # Errors
    /// [`JwsError::InvalidTime`] when `now` is before the Unix epoch;
    /// [`JwsError::Signing`] when the signature primitive fails.
    pub fn proof_at(
        &self,
        method: &http::Method,
        url: &Url,
        access_token: Option<&str>,
        nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<Secret, JwsError> {
        proof::proof(self, method, url, access_token, nonce, now)
    }

    /// Signs `claims` under the DPoP header of this key.
    pub(super) fn sign(&self, claims: &impl Serialize) -> Result<Secret, JwsError> {
        self.inner.key.sign_with_header(&self.inner.header, claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256: &str = include_str!("../jose/testdata/ec-p256.pem");
    const P384: &str = include_str!("../jose/testdata/ec-p384.pem");
    const P256_PUB: &str = include_str!("../jose/testdata/ec-p256.pub.pem");
    const RSA: &str = include_str!("../jose/testdata/rsa-2048.pem");
    const ED25519: &str = include_str!("../jose/testdata/ed25519.pem");

    fn load(text: &str, alg: Option<JwsAlgorithm>) -> DpopKey {
        DpopKey::from_pem_or_jwk(text, alg).unwrap_or_else(|e| panic!("{alg:?}: {e}"))
    }

    #[test]
    fn the_key_decides_the_algorithm_unless_one_is_asked_for() {
        assert_eq!(load(P256, None).algorithm(), JwsAlgorithm::ES256);
        assert_eq!(load(P384, None).algorithm(), JwsAlgorithm::ES384);
        assert_eq!(load(RSA, None).algorithm(), JwsAlgorithm::RS256);
        assert_eq!(load(ED25519, None).algorithm(), JwsAlgorithm::EdDSA);
        let ps256 = load(RSA, Some(JwsAlgorithm::PS256));
        assert_eq!(ps256.algorithm(), JwsAlgorithm::PS256);
    }

    #[test]
    fn shared_secrets_and_public_keys_are_refused() {
        let code = |text: &str, alg| DpopKey::from_pem_or_jwk(text, alg).err().map(|e| e.code());
        let oct = r#"{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}"#;
        assert_eq!(code(oct, None), Some("symmetric_algorithm"));
        assert_eq!(
            code(oct, Some(JwsAlgorithm::HS256)),
            Some("symmetric_algorithm")
        );
        assert_eq!(
            code(P256, Some(JwsAlgorithm::HS512)),
            Some("symmetric_algorithm")
        );
        assert_eq!(code(P256_PUB, None), Some("public_key_for_signing"));
        assert_eq!(
            code(P256, Some(JwsAlgorithm::RS256)),
            Some("key_type_mismatch")
        );
        assert_eq!(code("not a key", None), Some("malformed_key"));
    }

    #[test]
    fn the_thumbprint_is_that_of_the_public_jwk() {
        for key in [
            load(P256, None),
            load(RSA, Some(JwsAlgorithm::PS256)),
            load(ED25519, None),
            DpopKey::generate(),
        ] {
            let jwk = key.public_jwk();
            assert_eq!(jwk_thumbprint(&jwk).as_deref(), Some(key.thumbprint()));
            for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
                assert!(!jwk.contains_key(private), "{private}");
            }
        }
    }

    #[test]
    fn the_same_key_has_the_same_thumbprint_however_it_is_loaded() {
        let (a, b) = (
            load(RSA, Some(JwsAlgorithm::RS256)),
            load(RSA, Some(JwsAlgorithm::PS256)),
        );
        assert_eq!(a.thumbprint(), b.thumbprint());
        assert_ne!(a.thumbprint(), load(P256, None).thumbprint());
    }

    #[test]
    fn generated_keys_are_fresh_es256_keys() {
        let (a, b) = (DpopKey::generate(), DpopKey::generate());
        assert_eq!(a.algorithm(), JwsAlgorithm::ES256);
        assert_eq!(a.public_jwk().get("crv"), Some(&Value::from("P-256")));
        assert_ne!(a.thumbprint(), b.thumbprint());
        let clone = a.clone();
        assert_eq!(clone.thumbprint(), a.thumbprint());
        assert!(Arc::ptr_eq(&clone.inner, &a.inner));
    }

    #[test]
    fn debug_shows_the_algorithm_and_thumbprint_only() {
        let key = load(P256, None);
        let shown = format!("{key:?} {key:#?}");
        assert!(
            shown.contains("ES256") && shown.contains(key.thumbprint()),
            "{shown}"
        );
        // Neither the private key nor the public coordinates.
        let body = P256.lines().nth(1).unwrap_or_default();
        assert!(
            !shown.contains(&body[body.len().saturating_sub(40)..]),
            "{shown}"
        );
        for member in ["x", "y"] {
            let value = key
                .public_jwk()
                .get(member)
                .and_then(|v| v.as_str().map(str::to_owned));
            assert!(!shown.contains(&value.unwrap_or_default()), "{shown}");
        }
    }
}
