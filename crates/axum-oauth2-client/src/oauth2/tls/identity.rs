//! [`TlsIdentity`]: the certificate and private key a client presents in
//! the TLS handshake, for mutual-TLS client authentication (RFC 8705 §2)
//! and certificate-bound access tokens (RFC 8705 §3).

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::error::TlsError;
use super::pem::{blocks, certificate_blocks};
use crate::jose::{Certificate, KeyError, SigningKey};

/// The PEM labels of the private keys a TLS stack reads.
const KEY_LABELS: [&str; 3] = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

/// A TLS client identity: a certificate chain and the private key of its
/// leaf.
///
/// Loading checks that the leaf certificate (the first block of the chain)
/// is for the key, so that a mismatch fails at configuration rather than
/// in every handshake. The leaf's SHA-256 thumbprint
/// ([`x5t_s256`](Self::x5t_s256), RFC 8705 §3.1) is what an authorization
/// server puts in the `cnf` claim of the tokens it binds to the
/// certificate.
///
/// Cheap to clone. `Debug` shows the leaf's subject and thumbprint, never
/// the key; the PEM buffer handed to the TLS stack is zeroed once it has
/// been read.
///
/// ```
/// use axum_oauth2_client::{AuthMethod, ProviderConfig, TlsIdentity};
///
/// # fn run(cert_pem: &str, key_pem: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let identity = TlsIdentity::from_pem(cert_pem, key_pem)?;
/// let provider = ProviderConfig::with_tls_identity(
///     "https://mtls.auth.example.com/oauth2/token".parse()?,
///     "orders-service",
///     identity,
/// );
/// assert_eq!(provider.method(), AuthMethod::TlsClientAuth);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsIdentity {
    identity: reqwest::Identity,
    x5t_s256: Arc<str>,
    subject: Arc<str>,
}

impl TlsIdentity {
    /// Loads an identity from a PEM certificate chain, leaf first then any
    /// intermediates the server needs to build a path to its trust anchor,
    /// and the leaf's PEM private key (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA
    /// PRIVATE KEY` or SEC1 `EC PRIVATE KEY`; RSA of at least 2048 bits,
    /// P-256, P-384 or Ed25519).
    ///
    /// # Errors
    /// [`TlsError::NoCertificate`] or [`TlsError::MalformedCertificate`]
    /// when the chain holds no certificate, a block that does not decode or
    /// a block that is not a certificate; [`TlsError::Key`] when the key
    /// text is not exactly one usable private key;
    /// [`TlsError::CertificateMismatch`] when the leaf is not for the key;
    /// [`TlsError::Unusable`] when the TLS stack refuses them.
    pub fn from_pem(cert_chain_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        let mut chain = Vec::new();
        for block in certificate_blocks(cert_chain_pem, "the certificate chain") {
            chain.push(block?);
        }
        let leaf = chain.first().ok_or(TlsError::NoCertificate)?;
        let certificate = Certificate::from_der(&leaf.der).map_err(TlsError::certificate)?;
        for intermediate in &chain[1..] {
            Certificate::from_der(&intermediate.der).map_err(TlsError::certificate)?;
        }

        let key_block = private_key_block(key_pem)?;
        let key = SigningKey::from_private_pem(key_block).map_err(TlsError::Key)?;
        certificate
            .check_key(&key)
            .map_err(|_| TlsError::CertificateMismatch)?;
        drop(key);

        // reqwest's rustls backend reads the key and the certificates from
        // one PEM buffer; sized up front so it never moves while it grows.
        let chain_len: usize = chain.iter().map(|b| b.text.len() + 1).sum();
        let mut buffer = Zeroizing::new(Vec::with_capacity(key_block.len() + 1 + chain_len));
        buffer.extend_from_slice(key_block.as_bytes());
        buffer.push(b'\n');
        for block in &chain {
            buffer.extend_from_slice(block.text.as_bytes());
            buffer.push(b'\n');
        }
        let identity = reqwest::Identity::from_pem(&buffer).map_err(TlsError::Unusable)?;
        Ok(Self {
            identity,
            x5t_s256: certificate.x5t_s256.into(),
            subject: certificate.subject.into(),
        })
    }

    /// The base64url SHA-256 thumbprint of the leaf certificate's DER
    /// (`x5t#S256`, RFC 8705 §3.1): the `cnf` member of the access tokens
    /// bound to this certificate.
    #[must_use]
    pub fn x5t_s256(&self) -> &str {
        &self.x5t_s256
    }

    /// The leaf certificate's subject distinguished name (RFC 4514 form):
    /// what `tls_client_auth` registers as `tls_client_auth_subject_dn`
    /// (RFC 8705 §2.1.2).
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The identity as reqwest takes it
    /// ([`ClientBuilder::identity`](reqwest::ClientBuilder::identity)), for
    /// an HTTP client of your own that must present the certificate.
    #[must_use]
    pub fn reqwest_identity(&self) -> reqwest::Identity {
        self.identity.clone()
    }
}

/// The one private key block of `key_pem`, as text. `EC PARAMETERS`
/// blocks (which `openssl ecparam -genkey` writes before the key) are
/// skipped; anything else is refused.
fn private_key_block(key_pem: &str) -> Result<&str, TlsError> {
    let unusable = |reason: &str| {
        TlsError::Key(KeyError::Decode(
            crate::http_signature::KeyError::malformed(reason),
        ))
    };
    let mut found = None;
    for block in blocks(key_pem) {
        let block = block.map_err(|e| TlsError::Key(KeyError::Decode(e)))?;
        match block.label {
            "EC PARAMETERS" => {}
            label if KEY_LABELS.contains(&label) => {
                if found.replace(block.text).is_some() {
                    return Err(unusable("the key text holds more than one private key"));
                }
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(unusable(
                    "encrypted private keys are not supported; decrypt the key first",
                ));
            }
            _ => {
                return Err(unusable(
                    "the key text holds a block that is not a private key",
                ));
            }
        }
    }
    found.ok_or_else(|| unusable("no PEM private key block"))
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("subject", &&*self.subject)
            .field("x5t_s256", &&*self.x5t_s256)
            .field("key", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_KEY: &str = include_str!("../../jose/testdata/rsa-2048.pem");
    const RSA_CERT: &str = include_str!("../../jose/testdata/rsa-2048.cert.pem");
    const EC_KEY: &str = include_str!("../../jose/testdata/ec-p256.pem");
    const EC_CERT: &str = include_str!("../../jose/testdata/ec-p256.cert.pem");

    #[test]
    fn a_matching_pair_loads_with_the_leaf_thumbprint_and_subject() {
        let identity = TlsIdentity::from_pem(RSA_CERT, RSA_KEY).expect("identity");
        // openssl x509 -outform DER | openssl dgst -sha256 -binary | base64url
        assert_eq!(
            identity.x5t_s256(),
            "LHhsQJ-I68-QjTOtRs6vhK8A1LeMGYSQnCqicnuWLFk"
        );
        assert_eq!(identity.subject(), "CN=jose-test-client");
        // A chain: the leaf is the first block.
        let chain = format!("subject=CN = jose-test-client\n{RSA_CERT}{EC_CERT}");
        let identity = TlsIdentity::from_pem(&chain, RSA_KEY).expect("chain");
        assert_eq!(
            identity.x5t_s256(),
            "LHhsQJ-I68-QjTOtRs6vhK8A1LeMGYSQnCqicnuWLFk"
        );
        assert!(TlsIdentity::from_pem(EC_CERT, EC_KEY).is_ok());
    }

    #[test]
    fn debug_shows_the_subject_and_thumbprint_never_the_key() {
        let identity = TlsIdentity::from_pem(RSA_CERT, RSA_KEY).expect("identity");
        let shown = format!("{identity:?}");
        assert!(shown.contains("CN=jose-test-client"), "{shown}");
        assert!(shown.contains("LHhsQJ-I68"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        for line in RSA_KEY.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!shown.contains(line), "{shown}");
        }
    }

    #[test]
    fn a_certificate_for_another_key_is_refused() {
        let err = TlsIdentity::from_pem(EC_CERT, RSA_KEY).expect_err("mismatch");
        assert_eq!(err.code(), "certificate_mismatch");
        let other = include_str!("../../jose/testdata/rsa-other.cert.pem");
        let err = TlsIdentity::from_pem(other, RSA_KEY).expect_err("mismatch");
        assert_eq!(err.code(), "certificate_mismatch");
        assert!(!err.is_about_key());
    }

    #[test]
    fn unusable_chains_and_keys_are_typed_errors_without_key_text() {
        let public = include_str!("../../jose/testdata/ec-p256.pub.pem");
        let weak = include_str!("../../jose/testdata/rsa-1024.pem");
        let cases: [(String, String, &str); 8] = [
            (String::new(), RSA_KEY.into(), "no_certificate"),
            (RSA_KEY.into(), RSA_KEY.into(), "malformed_certificate"),
            (
                format!("{RSA_CERT}{RSA_KEY}"),
                RSA_KEY.into(),
                "malformed_certificate",
            ),
            (RSA_CERT.into(), String::new(), "malformed_key"),
            (RSA_CERT.into(), RSA_CERT.into(), "malformed_key"),
            (EC_CERT.into(), public.into(), "malformed_key"),
            (
                RSA_CERT.into(),
                format!("{RSA_KEY}{RSA_KEY}"),
                "malformed_key",
            ),
            (RSA_CERT.into(), weak.into(), "weak_key"),
        ];
        for (chain, key, code) in cases {
            let err = TlsIdentity::from_pem(&chain, &key).expect_err(code);
            assert_eq!(err.code(), code, "{err}");
            let shown = format!("{err} {err:?}");
            for line in RSA_KEY.lines().filter(|l| !l.starts_with("-----")) {
                assert!(!shown.contains(line), "{shown}");
            }
        }
    }

    #[test]
    fn ec_parameters_before_the_key_are_skipped_and_encrypted_keys_refused() {
        let block = EC_KEY.trim();
        let with_params = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{block}\n"
        );
        assert_eq!(private_key_block(&with_params).expect("key"), block);
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAQID\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = private_key_block(encrypted).expect_err("encrypted");
        assert!(err.to_string().contains("encrypted"), "{err}");
    }
}
