//! Why a signature was not accepted (RFC 9421 §3.2): a [`VerifyError`]
//! with a [`VerifyErrorKind`], its stable code and its HTTP status, and the
//! mapping from the wire's parse errors to them.

use http::StatusCode;

use crate::http_signature::wire::base::BaseError;
use crate::http_signature::wire::component_values::DictionaryError;
use crate::http_signature::wire::digest::DigestError;
use crate::http_signature::wire::message::ValueError;
use crate::http_signature::wire::params::{ParamsError, SIGNATURE};

/// Which verification check failed. See [`VerifyErrorKind::code`] for the
/// stable code and [`VerifyErrorKind::status`] for the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// No `Signature-Input`/`Signature` (or none with the expected label).
    MissingSignature,
    /// `Signature-Input` does not parse or a member is malformed (§4.1).
    MalformedSignatureInput,
    /// `Signature` does not parse or lacks the label's byte sequence (§4.2).
    MalformedSignature,
    /// A covered component identifier is not valid (§2).
    InvalidComponent,
    /// A component the policy requires is not covered (§3.2.1).
    MissingRequiredComponent,
    /// A covered component is not in the message (§2.5).
    MissingComponent,
    /// A covered component cannot be canonicalised (non-ASCII value, …).
    InvalidComponentValue,
    /// No `created` parameter although the policy requires one.
    MissingCreated,
    /// `created` is later than now plus the allowed clock skew.
    CreatedInFuture,
    /// `created` is older than the maximum age.
    SignatureTooOld,
    /// `expires` has passed.
    SignatureExpired,
    /// No `nonce` although the policy requires one.
    MissingNonce,
    /// The nonce was already used with this key inside the age window.
    NonceReplayed,
    /// The nonce cache is full of unexpired nonces; try again later.
    ReplayCacheFull,
    /// No `keyid` parameter.
    MissingKeyId,
    /// The key resolver does not know the `keyid`.
    UnknownKey,
    /// The key resolver failed.
    KeyLookupFailed,
    /// The `alg` parameter is not the key's algorithm (§7.3.6).
    AlgorithmMismatch,
    /// `content-digest` is covered but the field is absent.
    MissingContentDigest,
    /// `Content-Digest` holds no `sha-256` or `sha-512` value, or is malformed.
    UnsupportedContentDigest,
    /// `Content-Digest` does not match the body.
    ContentDigestMismatch,
    /// The request body is larger than the verifier buffers.
    BodyTooLarge,
    /// The signature bases of the message would exceed the verifier's cap
    /// ([`VerifierBuilder::max_signature_base_bytes`](super::VerifierBuilder::max_signature_base_bytes)).
    SignatureBaseTooLarge,
    /// The signed authority is not the one the verifier expects
    /// ([`VerifierBuilder::authority`](super::VerifierBuilder::authority)).
    AuthorityMismatch,
    /// The signature does not verify over the signature base.
    InvalidSignature,
}

impl VerifyErrorKind {
    /// The stable snake_case code, e.g. `invalid_signature`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            VerifyErrorKind::MissingSignature => "missing_signature",
            VerifyErrorKind::MalformedSignatureInput => "malformed_signature_input",
            VerifyErrorKind::MalformedSignature => "malformed_signature",
            VerifyErrorKind::InvalidComponent => "invalid_component",
            VerifyErrorKind::MissingRequiredComponent => "missing_required_component",
            VerifyErrorKind::MissingComponent => "missing_component",
            VerifyErrorKind::InvalidComponentValue => "invalid_component_value",
            VerifyErrorKind::MissingCreated => "missing_created",
            VerifyErrorKind::CreatedInFuture => "created_in_future",
            VerifyErrorKind::SignatureTooOld => "signature_too_old",
            VerifyErrorKind::SignatureExpired => "signature_expired",
            VerifyErrorKind::MissingNonce => "missing_nonce",
            VerifyErrorKind::NonceReplayed => "nonce_replayed",
            VerifyErrorKind::ReplayCacheFull => "replay_cache_full",
            VerifyErrorKind::MissingKeyId => "missing_keyid",
            VerifyErrorKind::UnknownKey => "unknown_key",
            VerifyErrorKind::KeyLookupFailed => "key_lookup_failed",
            VerifyErrorKind::AlgorithmMismatch => "algorithm_mismatch",
            VerifyErrorKind::MissingContentDigest => "missing_content_digest",
            VerifyErrorKind::UnsupportedContentDigest => "unsupported_content_digest",
            VerifyErrorKind::ContentDigestMismatch => "content_digest_mismatch",
            VerifyErrorKind::BodyTooLarge => "body_too_large",
            VerifyErrorKind::SignatureBaseTooLarge => "signature_base_too_large",
            VerifyErrorKind::AuthorityMismatch => "authority_mismatch",
            VerifyErrorKind::InvalidSignature => "invalid_signature",
        }
    }

    /// The HTTP status a server answers with: 400 for unparseable signature
    /// fields and for signatures too large to verify, 413 for an oversized
    /// body, 503 when the key store or nonce cache is unavailable, 401 for
    /// every other failed check.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            VerifyErrorKind::MalformedSignatureInput
            | VerifyErrorKind::MalformedSignature
            | VerifyErrorKind::InvalidComponent
            | VerifyErrorKind::SignatureBaseTooLarge => StatusCode::BAD_REQUEST,
            VerifyErrorKind::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            VerifyErrorKind::KeyLookupFailed | VerifyErrorKind::ReplayCacheFull => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// A signature was not accepted. The message says which check failed; it
/// never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct VerifyError {
    kind: VerifyErrorKind,
    detail: String,
}

impl VerifyError {
    pub(crate) fn new(kind: VerifyErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// Which check failed.
    #[must_use]
    pub fn kind(&self) -> VerifyErrorKind {
        self.kind
    }

    /// The stable snake_case code of [`VerifyError::kind`].
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The HTTP status for this failure.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    pub(super) fn from_value(err: &ValueError) -> Self {
        let kind = match err {
            ValueError::Missing(_) => VerifyErrorKind::MissingComponent,
            ValueError::Invalid(..) => VerifyErrorKind::InvalidComponentValue,
        };
        Self::new(kind, err.describe())
    }

    pub(super) fn from_base(err: &BaseError) -> Self {
        match err {
            BaseError::Value(err) => Self::from_value(err),
            BaseError::TooLarge { limit } => Self::new(
                VerifyErrorKind::SignatureBaseTooLarge,
                format!("the signature bases of this message exceed the limit of {limit} bytes"),
            ),
        }
    }
}

pub(super) fn malformed_input(err: ParamsError) -> VerifyError {
    match err {
        ParamsError::Malformed(detail) => {
            VerifyError::new(VerifyErrorKind::MalformedSignatureInput, detail)
        }
        ParamsError::Component(detail) => {
            VerifyError::new(VerifyErrorKind::InvalidComponent, detail)
        }
    }
}

pub(super) fn malformed_field(err: DictionaryError, name: &http::HeaderName) -> VerifyError {
    let kind = if *name == SIGNATURE {
        VerifyErrorKind::MalformedSignature
    } else {
        VerifyErrorKind::MalformedSignatureInput
    };
    let detail = match err {
        DictionaryError::NotAscii => format!("{name} is not ASCII"),
        DictionaryError::NotDictionary => format!("{name} is not a structured dictionary"),
    };
    VerifyError::new(kind, detail)
}

pub(super) fn digest_error(err: DigestError) -> VerifyError {
    match err {
        DigestError::Missing => VerifyError::new(
            VerifyErrorKind::MissingContentDigest,
            "content-digest is covered but the message has no Content-Digest field",
        ),
        DigestError::Malformed => VerifyError::new(
            VerifyErrorKind::UnsupportedContentDigest,
            "Content-Digest is not a dictionary of byte sequences",
        ),
        DigestError::Unsupported => VerifyError::new(
            VerifyErrorKind::UnsupportedContentDigest,
            "Content-Digest has no sha-256 or sha-512 digest",
        ),
        DigestError::Mismatch(algorithm) => VerifyError::new(
            VerifyErrorKind::ContentDigestMismatch,
            format!(
                "the {} Content-Digest does not match the body",
                algorithm.as_str()
            ),
        ),
    }
}
