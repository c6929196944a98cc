//! [`TlsError`]: why a TLS client identity or a set of trusted roots
//! cannot be loaded. No variant ever holds key bytes or key text.

use crate::jose::KeyError;

/// Why a [`TlsIdentity`](super::TlsIdentity) or
/// [`TlsRoots`](super::TlsRoots) cannot be loaded. Its messages name what
/// is wrong, never key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The text holds no `CERTIFICATE` block. Code `no_certificate`.
    #[error("no -----BEGIN CERTIFICATE----- block")]
    NoCertificate,
    /// A certificate is not a PEM `CERTIFICATE` block holding a DER X.509
    /// certificate (RFC 5280 §4.1), or the bundle holds a block of another
    /// kind. Code `malformed_certificate`.
    #[error("malformed certificate: {reason}")]
    MalformedCertificate {
        /// What is wrong, without any certificate bytes.
        reason: String,
    },
    /// The private key is not one PEM private key (PKCS#8, PKCS#1, SEC1) of
    /// a supported type and strength. The code is the key decoder's
    /// (`malformed_key`, `unsupported_key`, `weak_key`, …).
    #[error("unusable private key: {0}")]
    Key(#[source] KeyError),
    /// The leaf certificate's subject public key is not the public half of
    /// the private key: the TLS handshake would fail. Code
    /// `certificate_mismatch`.
    #[error("the leaf certificate is not for the private key")]
    CertificateMismatch,
    /// The HTTP client refused the identity or a certificate. Code
    /// `tls_unusable`.
    #[error("the HTTP client cannot use it: {0}")]
    Unusable(#[source] reqwest::Error),
}

impl TlsError {
    /// A stable snake_case code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCertificate => "no_certificate",
            Self::MalformedCertificate { .. } => "malformed_certificate",
            Self::Key(inner) => inner.code(),
            Self::CertificateMismatch => "certificate_mismatch",
            Self::Unusable(_) => "tls_unusable",
        }
    }

    /// Whether the error is about the private key rather than the
    /// certificates (for naming the file that is wrong).
    #[must_use]
    pub fn is_about_key(&self) -> bool {
        matches!(self, Self::Key(_))
    }

    /// A certificate error of the JOSE decoder, or a malformed one.
    pub(super) fn certificate(error: KeyError) -> Self {
        match error {
            KeyError::MalformedCertificate { reason } => Self::MalformedCertificate {
                reason: reason.to_owned(),
            },
            other => Self::MalformedCertificate {
                reason: other.to_string(),
            },
        }
    }
}
