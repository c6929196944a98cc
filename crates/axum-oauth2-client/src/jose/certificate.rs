//! The X.509 certificate of a client key (RFC 5280 §4.1) and its
//! thumbprints for the JWS `x5t#S256` and `x5t` header parameters
//! (RFC 7515 §4.1.8, §4.1.7).
//!
//! Only what the header needs is read: the DER bytes (the thumbprints hash
//! them exactly as given) and the subject public key, which must be the
//! public half of the signing key. Nothing else in the certificate (dates,
//! issuer, extensions) is checked: the authorization server that registered
//! the certificate is the one that trusts it.

use base64::Engine as _;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use x509_cert::der::{Decode as _, Encode as _};

use super::error::KeyError;
use super::signing_key::{SigningKey, decoded_public_key_der};
use crate::http_signature::keys::{decode_spki, parse_pem};

const BEGIN_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";

/// A certificate as the JWS header uses it.
pub(crate) struct Certificate {
    /// base64url SHA-256 of the DER certificate (`x5t#S256`).
    pub(crate) x5t_s256: String,
    /// base64url SHA-1 of the DER certificate (`x5t`).
    pub(crate) x5t: String,
    /// The subject public key as DER SPKI, re-encoded the way
    /// [`SigningKey::public_key_der`](super::signing_key::SigningKey::public_key_der)
    /// encodes keys; `None` when the key type is one this crate cannot sign
    /// with (so no client key can match it).
    pub(crate) public_key_der: Option<Vec<u8>>,
    /// The subject's distinguished name (RFC 4514 form), for logs.
    pub(crate) subject: String,
}

impl Certificate {
    /// Reads the first `CERTIFICATE` block of `pem`.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let start = pem
            .find(BEGIN_CERTIFICATE)
            .ok_or(KeyError::MalformedCertificate {
                reason: "no -----BEGIN CERTIFICATE----- block",
            })?;
        let (_, der) = parse_pem(&pem[start..]).map_err(|_| KeyError::MalformedCertificate {
            reason: "the CERTIFICATE block is not valid PEM",
        })?;
        Self::from_der(&der)
    }

    /// Reads a DER certificate.
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let cert =
            x509_cert::Certificate::from_der(der).map_err(|_| KeyError::MalformedCertificate {
                reason: "the certificate is not a DER X.509 certificate",
            })?;
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|_| KeyError::MalformedCertificate {
                reason: "the subject public key does not encode",
            })?;
        // Decoding and re-encoding makes equal keys compare equal however
        // the certificate wrote them (a compressed EC point, say).
        let public_key_der = decode_spki(&spki)
            .ok()
            .and_then(|key| decoded_public_key_der(&key));
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        Ok(Self {
            x5t_s256: b64.encode(Sha256::digest(der)),
            x5t: b64.encode(Sha1::digest(der)),
            public_key_der,
            subject: cert.tbs_certificate().subject().to_string(),
        })
    }

    /// [`KeyError::CertificateMismatch`] unless the subject public key is
    /// the public half of `key` (a shared secret matches no certificate).
    pub(crate) fn check_key(&self, key: &SigningKey) -> Result<(), KeyError> {
        match (self.public_key_der.as_deref(), key.public_key_der()) {
            (Some(cert), Some(own)) if cert == own => Ok(()),
            _ => Err(KeyError::CertificateMismatch),
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    const RSA_CERT: &str = include_str!("testdata/rsa-2048.cert.pem");

    fn der_of(pem: &str) -> Vec<u8> {
        parse_pem(pem)
            .map(|(_, der)| der.to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn thumbprints_match_the_ones_openssl_computes() -> Result<(), KeyError> {
        // openssl x509 -in rsa-2048.cert.pem -outform DER | openssl dgst -sha256 -binary | base64url
        let cert = Certificate::from_pem(RSA_CERT)?;
        assert_eq!(cert.x5t_s256, "LHhsQJ-I68-QjTOtRs6vhK8A1LeMGYSQnCqicnuWLFk");
        // ... | openssl dgst -sha1 -binary | base64url
        assert_eq!(cert.x5t, "NlnddWYs3c2zLzhONOc8F4r8Neo");
        assert!(cert.public_key_der.is_some());
        assert!(cert.subject.contains("CN="), "{}", cert.subject);
        Ok(())
    }

    #[test]
    fn the_first_certificate_block_is_read_after_other_text() -> Result<(), KeyError> {
        let text = format!(
            "subject=CN = jose-test-client\n{RSA_CERT}{}",
            include_str!("testdata/ec-p256.cert.pem")
        );
        let cert = Certificate::from_pem(&text)?;
        assert_eq!(cert.x5t_s256, "LHhsQJ-I68-QjTOtRs6vhK8A1LeMGYSQnCqicnuWLFk");
        Ok(())
    }

    #[test]
    fn truncated_and_garbage_certificates_are_errors_not_panics() {
        let der = der_of(RSA_CERT);
        assert!(!der.is_empty());
        for len in 0..der.len() {
            let result = Certificate::from_der(&der[..len]);
            assert_eq!(
                result.err().map(|e| e.code()),
                Some("malformed_certificate"),
                "{len}"
            );
        }
        let mut flipped = der.clone();
        for i in (0..flipped.len()).step_by(7) {
            flipped[i] ^= 0xA5;
            // Anything may come of it but a panic.
            let _ = Certificate::from_der(&flipped);
            flipped[i] ^= 0xA5;
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        for text in [
            String::new(),
            "-----BEGIN CERTIFICATE-----".to_owned(),
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----".to_owned(),
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----".to_owned(),
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
                b64.encode(&der[..der.len() / 2])
            ),
            include_str!("testdata/rsa-2048.pem").to_owned(),
        ] {
            let result = Certificate::from_pem(&text);
            assert_eq!(
                result.err().map(|e| e.code()),
                Some("malformed_certificate"),
                "{text}"
            );
        }
    }
}
