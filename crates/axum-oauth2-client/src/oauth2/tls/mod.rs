//! Mutual TLS (RFC 8705): the client certificate a provider's HTTP
//! clients present ([`identity`]), the CAs they trust ([`roots`]), and the
//! check of certificate-bound tokens ([`confirmation`]).
//!
//! With a [`TlsIdentity`], a provider's token requests and upstream calls
//! present its certificate: the token endpoint can authenticate the client
//! by it (`tls_client_auth`, `self_signed_tls_client_auth`, RFC 8705 §2)
//! and bind the tokens it issues to it (§3), which the upstreams then
//! check against the certificate on their own connections.

pub(crate) mod confirmation;
mod error;
mod identity;
mod pem;
mod roots;

pub use error::TlsError;
pub use identity::TlsIdentity;
pub use roots::TlsRoots;

/// `builder` with the provider's client identity and trusted roots, when
/// it has them.
pub(crate) fn configure(
    mut builder: reqwest::ClientBuilder,
    identity: Option<&TlsIdentity>,
    roots: Option<&TlsRoots>,
) -> reqwest::ClientBuilder {
    if let Some(identity) = identity {
        builder = builder.identity(identity.reqwest_identity());
    }
    if let Some(roots) = roots {
        builder = roots.apply(builder);
    }
    builder
}
