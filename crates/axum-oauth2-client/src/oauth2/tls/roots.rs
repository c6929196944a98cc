//! [`TlsRoots`]: the certificate authorities a provider's HTTP clients
//! trust, for a private identity provider or a private upstream CA.

use std::fmt;
use std::sync::Arc;

use super::error::TlsError;
use super::pem::certificate_blocks;
use crate::jose::Certificate;

/// Trust anchors for a provider's token endpoint, its issuer's metadata
/// and its upstreams: one or more CA certificates, in place of the
/// built-in roots (the platform's, through reqwest) unless
/// [`with_built_in_roots`](Self::with_built_in_roots) keeps those too.
///
/// Trusting only the given CAs is the default because a private identity
/// provider's CA is exactly what the client should accept for it: any
/// public CA could otherwise issue a certificate for the same host name.
///
/// Cheap to clone; `Debug` shows the CA subjects.
///
/// ```
/// use axum_oauth2_client::{ProviderConfig, TlsRoots};
///
/// # fn run(ca_pem: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let roots = TlsRoots::from_pem(ca_pem)?;
/// assert!(!roots.trusts_built_in_roots());
/// let provider = ProviderConfig::new(
///     "https://idp.internal.example/oauth2/token".parse()?,
///     "orders-service",
///     "s3cr3t",
/// )
/// .tls_roots(roots);
/// assert!(provider.trusted_roots().is_some());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsRoots {
    certificates: Arc<[reqwest::Certificate]>,
    subjects: Arc<[String]>,
    built_in: bool,
}

impl TlsRoots {
    /// Reads every `CERTIFICATE` block of a PEM bundle (text between the
    /// blocks is ignored). Default: the built-in roots are not trusted.
    ///
    /// # Errors
    /// [`TlsError::NoCertificate`] when the bundle holds none;
    /// [`TlsError::MalformedCertificate`] when a block does not decode as an
    /// X.509 certificate or is of another kind (a private key pasted into
    /// a CA file is refused, not ignored); [`TlsError::Unusable`] when the
    /// HTTP client refuses one.
    pub fn from_pem(pem: &str) -> Result<Self, TlsError> {
        let mut certificates = Vec::new();
        let mut subjects = Vec::new();
        for block in certificate_blocks(pem, "the CA bundle") {
            let block = block?;
            let certificate = Certificate::from_der(&block.der).map_err(TlsError::certificate)?;
            subjects.push(certificate.subject);
            certificates
                .push(reqwest::Certificate::from_der(&block.der).map_err(TlsError::Unusable)?);
        }
        if certificates.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        Ok(Self {
            certificates: certificates.into(),
            subjects: subjects.into(),
            built_in: false,
        })
    }

    /// Whether the built-in roots stay trusted beside these (default
    /// `false`: only these CAs). Set it when the same provider reaches
    /// both a private and a public server, such as public discovery
    /// metadata in front of a private mutual-TLS token endpoint.
    #[must_use]
    pub fn with_built_in_roots(mut self, keep: bool) -> Self {
        self.built_in = keep;
        self
    }

    /// Whether the built-in roots are trusted as well.
    #[must_use]
    pub fn trusts_built_in_roots(&self) -> bool {
        self.built_in
    }

    /// The subject of each CA certificate, in the order given.
    #[must_use]
    pub fn subjects(&self) -> &[String] {
        &self.subjects
    }

    /// Makes `builder` trust these roots, alone or beside the built-in ones.
    pub(crate) fn apply(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        let certificates = self.certificates.iter().cloned();
        if self.built_in {
            builder.tls_certs_merge(certificates)
        } else {
            builder.tls_certs_only(certificates)
        }
    }
}

impl fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsRoots")
            .field("subjects", &self.subjects)
            .field("built_in", &self.built_in)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_CERT: &str = include_str!("../../jose/testdata/rsa-2048.cert.pem");
    const EC_CERT: &str = include_str!("../../jose/testdata/ec-p256.cert.pem");

    #[test]
    fn every_certificate_of_a_bundle_is_read_and_built_in_roots_are_off_by_default() {
        let bundle = format!("# corporate roots\n{RSA_CERT}\nsubject=x\n{EC_CERT}");
        let roots = TlsRoots::from_pem(&bundle).expect("bundle");
        assert_eq!(roots.subjects().len(), 2);
        assert!(!roots.trusts_built_in_roots());
        assert!(roots.with_built_in_roots(true).trusts_built_in_roots());
    }

    #[test]
    fn an_empty_bundle_or_one_with_a_key_is_refused() {
        let err = TlsRoots::from_pem("nothing here").expect_err("empty");
        assert_eq!(err.code(), "no_certificate");
        let key = include_str!("../../jose/testdata/ec-p256.pem");
        let err = TlsRoots::from_pem(&format!("{RSA_CERT}{key}")).expect_err("key");
        assert_eq!(err.code(), "malformed_certificate");
        let key_line = key.lines().nth(1).expect("a line of the key");
        assert!(!err.to_string().contains(key_line), "{err}");
        let truncated = &RSA_CERT[..RSA_CERT.len() / 2];
        let err = TlsRoots::from_pem(truncated).expect_err("truncated");
        assert_eq!(err.code(), "malformed_certificate");
    }
}
