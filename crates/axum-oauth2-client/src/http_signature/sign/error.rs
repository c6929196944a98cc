//! Why a request could not be signed (RFC 9421 §3.1): a [`SignError`]
//! with a [`SignErrorKind`] and its stable code.

use std::error::Error as StdError;

/// Which step of signing failed. See [`SignErrorKind::code`] for the
/// stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignErrorKind {
    /// The key could not sign, or the signer failed otherwise (the kind of
    /// [`SignError::new`], for signers outside this crate too).
    SigningFailed,
    /// The body is a stream, so its `Content-Digest` (RFC 9530) cannot be
    /// computed; buffer the body or do not cover `content-digest`.
    UnsupportedBody,
    /// The request cannot be signed as it is: it has no host or authority,
    /// or its `Signature-Input` / `Signature` fields cannot take the new
    /// member (RFC 9421 §4.3).
    InvalidRequest,
    /// A covered derived component is not in the request, or a covered
    /// value cannot be canonicalised (RFC 9421 §2.5).
    MissingComponent,
    /// A signature parameter (`keyid`, `tag`, the label) cannot be
    /// serialized (RFC 9421 §2.3, §4.1).
    InvalidParameter,
}

impl SignErrorKind {
    /// The stable snake_case code: `signing_failed`, `unsupported_body`,
    /// `invalid_request`, `missing_component` or `invalid_parameter`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            SignErrorKind::SigningFailed => "signing_failed",
            SignErrorKind::UnsupportedBody => "unsupported_body",
            SignErrorKind::InvalidRequest => "invalid_request",
            SignErrorKind::MissingComponent => "missing_component",
            SignErrorKind::InvalidParameter => "invalid_parameter",
        }
    }
}

/// Why a request could not be signed.
///
/// The message names what was wrong (a missing covered component, an
/// unreadable key, …) and never contains key material; [`SignError::kind`]
/// says which step failed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SignError {
    kind: SignErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl SignError {
    /// A signing error ([`SignErrorKind::SigningFailed`]) with a message
    /// that names what went wrong.
    pub fn new(message: impl Into<String>) -> Self {
        Self::with_kind(SignErrorKind::SigningFailed, message)
    }

    /// A signing error of `kind` with a message that names what went wrong.
    pub fn with_kind(kind: SignErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A signing error ([`SignErrorKind::SigningFailed`]) caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            kind: SignErrorKind::SigningFailed,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// Which step of signing failed.
    #[must_use]
    pub fn kind(&self) -> SignErrorKind {
        self.kind
    }

    /// The stable snake_case code of [`SignError::kind`].
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_kind_code_and_source() {
        let plain = SignError::new("no key");
        assert_eq!(plain.kind(), SignErrorKind::SigningFailed);
        assert_eq!(plain.code(), "signing_failed");
        assert!(plain.source().is_none());

        let typed = SignError::with_kind(SignErrorKind::UnsupportedBody, "streaming body");
        assert_eq!(typed.code(), "unsupported_body");
        assert_eq!(typed.to_string(), "streaming body");

        let caused = SignError::with_source("Content-Digest value", std::fmt::Error);
        assert_eq!(caused.kind(), SignErrorKind::SigningFailed);
        assert!(caused.source().is_some());
    }

    #[test]
    fn every_kind_has_a_distinct_code() {
        let kinds = [
            SignErrorKind::SigningFailed,
            SignErrorKind::UnsupportedBody,
            SignErrorKind::InvalidRequest,
            SignErrorKind::MissingComponent,
            SignErrorKind::InvalidParameter,
        ];
        let codes: std::collections::HashSet<_> = kinds.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), kinds.len());
    }
}
