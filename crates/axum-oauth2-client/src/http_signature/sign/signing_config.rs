//! Building a [`MessageSigner`] from configuration strings, such as the
//! `OAUTH2_<NAME>_SIGNING_*` environment variables.

use super::message_signer::MessageSigner;
use crate::http_signature::keys::{Algorithm, KeyError, SigningKey, UnknownAlgorithm};
use crate::http_signature::wire::components::{ComponentError, ComponentId, Derived};
use crate::http_signature::wire::params::is_sf_string;

/// Why a signing configuration was refused. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningConfigError {
    /// The algorithm name is not one of RFC 9421 §3.3.
    #[error("signing algorithm: {0}")]
    UnknownAlgorithm(#[from] UnknownAlgorithm),
    /// The key is malformed, of the wrong type for the algorithm, public, or too weak.
    #[error("signing key: {0}")]
    Key(#[from] KeyError),
    /// The key id cannot be sent as the `keyid` parameter.
    #[error("signing key id: {reason}")]
    BadKeyId {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An entry of the component list is not valid for a request.
    #[error("signing components: {0}")]
    BadComponent(#[from] ComponentError),
}

impl SigningConfigError {
    /// A stable snake_case code: `unknown_algorithm`, `malformed_key`,
    /// `key_type_mismatch`, `unsupported_key`, `weak_key`,
    /// `public_key_for_signing`, `bad_key_id` or `bad_component`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            SigningConfigError::UnknownAlgorithm(_) => "unknown_algorithm",
            SigningConfigError::Key(err) => err.code(),
            SigningConfigError::BadKeyId { .. } => "bad_key_id",
            SigningConfigError::BadComponent(_) => "bad_component",
        }
    }
}

impl MessageSigner {
    /// Builds a request signer from configuration strings.
    ///
    /// - `alg`: an RFC 9421 algorithm name (`rsa-pss-sha512`,
    ///   `rsa-v1_5-sha256`, `hmac-sha256`, `ecdsa-p256-sha256`,
    ///   `ecdsa-p384-sha384`, `ed25519`); surrounding space and case are ignored.
    /// - `key_pem_or_jwk`: the private key as PEM (PKCS#8, PKCS#1 or SEC1) or
    ///   a JWK; for `hmac-sha256` also a base64 secret.
    /// - `key_id`: sent as `keyid` when given.
    /// - `components`: covered components separated by spaces or commas
    ///   (`@method @target-uri content-digest`); `None` or blank gives the
    ///   default list of [`MessageSigner`].
    ///
    /// # Errors
    /// [`SigningConfigError`] naming what is wrong; see
    /// [`SigningConfigError::code`].
    pub fn from_config(
        alg: &str,
        key_pem_or_jwk: &str,
        key_id: Option<&str>,
        components: Option<&str>,
    ) -> Result<Self, SigningConfigError> {
        let algorithm: Algorithm = alg.trim().to_ascii_lowercase().parse()?;
        let key = SigningKey::from_pem_or_jwk(algorithm, key_pem_or_jwk)?;
        let mut signer = MessageSigner::new(key);
        if let Some(key_id) = key_id {
            let key_id = key_id.trim();
            if key_id.is_empty() {
                return Err(SigningConfigError::BadKeyId {
                    reason: "it is empty",
                });
            }
            if !is_sf_string(key_id) {
                return Err(SigningConfigError::BadKeyId {
                    reason: "it must be printable ASCII",
                });
            }
            signer = signer.key_id(key_id);
        }
        if let Some(list) = components.filter(|list| !list.trim().is_empty()) {
            let list = ComponentId::parse_list(list)?;
            for id in &list {
                if id.derived() == Some(Derived::Status) || id.is_req() {
                    return Err(ComponentError::for_requests(id).into());
                }
            }
            signer = signer.components(list);
        }
        Ok(signer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n\
        -----END PRIVATE KEY-----\n";
    const ED25519_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
        MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n\
        -----END PUBLIC KEY-----\n";

    fn code(result: Result<MessageSigner, SigningConfigError>) -> &'static str {
        result.err().map_or("ok", |e| e.code())
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert_eq!(
            code(MessageSigner::from_config(
                "rsa-sha1",
                ED25519_PEM,
                None,
                None
            )),
            "unknown_algorithm"
        );
        assert_eq!(
            code(MessageSigner::from_config(
                "ed25519",
                "not a key",
                None,
                None
            )),
            "malformed_key"
        );
        assert_eq!(
            code(MessageSigner::from_config(
                "ecdsa-p256-sha256",
                ED25519_PEM,
                None,
                None
            )),
            "key_type_mismatch"
        );
        assert_eq!(
            code(MessageSigner::from_config(
                "ed25519",
                ED25519_PUBLIC_PEM,
                None,
                None
            )),
            "public_key_for_signing"
        );
        assert_eq!(
            code(MessageSigner::from_config(
                "ed25519",
                ED25519_PEM,
                None,
                Some("@method @bogus")
            )),
            "bad_component"
        );
        assert_eq!(
            code(MessageSigner::from_config(
                "ed25519",
                ED25519_PEM,
                None,
                Some("@status")
            )),
            "bad_component"
        );
        assert_eq!(
            code(MessageSigner::from_config(
                "ed25519",
                ED25519_PEM,
                Some("é"),
                None
            )),
            "bad_key_id"
        );
        assert_eq!(
            code(MessageSigner::from_config(
                " Ed25519 ",
                ED25519_PEM,
                Some("k"),
                Some(" ")
            )),
            "ok"
        );
    }

    #[test]
    fn error_text_never_contains_key_material() {
        let err = MessageSigner::from_config("ecdsa-p256-sha256", ED25519_PEM, None, None).err();
        let shown = err.map(|e| format!("{e} {e:?}")).unwrap_or_default();
        assert!(!shown.contains("MC4CAQ"), "{shown}");
        assert!(shown.contains("Ed25519"), "{shown}");
        let signer = MessageSigner::from_config("ed25519", ED25519_PEM, Some("k"), None);
        let shown = format!("{signer:?}");
        assert!(
            !shown.contains("MC4CAQ") && shown.contains("[redacted]"),
            "{shown}"
        );
    }
}
