//! Verifying signatures (RFC 9421 §3.2) under an application policy
//! (§1.4, §7.2): required components, `created`/`expires` windows, nonce
//! replay, the expected authority, and the `Content-Digest` of the body
//! (RFC 9530).
//!
//! The work per message is bounded (an application requirement, §3.2.1):
//! at most [`MAX_SIGNATURES`] signatures of at most 64 components are
//! examined, every field is read and parsed once for all of them, and the
//! signature bases built for one message share one byte budget
//! ([`VerifierBuilder::max_signature_base_bytes`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::algorithm::Algorithm;
use super::base::{BaseBudget, BaseError, signature_base};
use super::clock::Clock;
#[cfg(any(test, feature = "fuzzing"))]
use super::component_values::Work;
use super::component_values::{ComponentValues, DictionaryError};
use super::components::{ComponentId, Derived};
use super::digest::{CONTENT_DIGEST, DigestError, check_content_digest};
use super::message::{MessageView, RequestParts, ValueError, normalize_authority};
use super::params::{ParamsError, SIGNATURE, SIGNATURE_INPUT, SignatureInput};
use super::replay::{NonceCache, ReplayError};
use super::resolver::KeyResolver;

/// Most signatures examined in one message (bounds work on hostile input).
pub(crate) const MAX_SIGNATURES: usize = 8;
/// The default cap on the bytes of all signature bases built for one message.
pub(crate) const DEFAULT_MAX_BASE_BYTES: usize = 64 * 1024;

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
    /// ([`VerifierBuilder::max_signature_base_bytes`]).
    SignatureBaseTooLarge,
    /// The signed authority is not the one the verifier expects
    /// ([`VerifierBuilder::authority`]).
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

    fn from_value(err: &ValueError) -> Self {
        let kind = match err {
            ValueError::Missing(_) => VerifyErrorKind::MissingComponent,
            ValueError::Invalid(..) => VerifyErrorKind::InvalidComponentValue,
        };
        Self::new(kind, err.describe())
    }

    fn from_base(err: &BaseError) -> Self {
        match err {
            BaseError::Value(err) => Self::from_value(err),
            BaseError::TooLarge { limit } => Self::new(
                VerifyErrorKind::SignatureBaseTooLarge,
                format!("the signature bases of this message exceed the limit of {limit} bytes"),
            ),
        }
    }
}

/// What a verified signature said. Inserted into the request extensions by
/// [`SignatureVerificationLayer`](super::SignatureVerificationLayer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    label: String,
    key_id: String,
    algorithm: Algorithm,
    created: Option<u64>,
    expires: Option<u64>,
    nonce: Option<String>,
    tag: Option<String>,
    components: Vec<ComponentId>,
}

impl VerifiedSignature {
    /// The signature label.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The `keyid` the key was resolved by.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The algorithm of the key that verified.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The `created` parameter.
    #[must_use]
    pub fn created(&self) -> Option<u64> {
        self.created
    }

    /// The `expires` parameter.
    #[must_use]
    pub fn expires(&self) -> Option<u64> {
        self.expires
    }

    /// The `nonce` parameter.
    #[must_use]
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// The `tag` parameter.
    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The covered components, in signature order.
    #[must_use]
    pub fn covered_components(&self) -> &[ComponentId] {
        &self.components
    }
}

struct Policy {
    resolver: Arc<dyn KeyResolver>,
    request_components: Vec<ComponentId>,
    response_components: Vec<ComponentId>,
    require_digest_for_body: bool,
    check_digest: bool,
    max_age: u64,
    skew: u64,
    require_created: bool,
    require_nonce: bool,
    nonces: NonceCache,
    max_body: usize,
    max_base_bytes: usize,
    scheme: String,
    /// The expected `@authority`, normalized by [`VerifierBuilder::build`].
    authority: Option<String>,
    label: Option<String>,
    clock: Clock,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("resolver", &self.resolver)
            .field("request_components", &self.request_components)
            .field("response_components", &self.response_components)
            .field("require_digest_for_body", &self.require_digest_for_body)
            .field("max_age", &self.max_age)
            .field("skew", &self.skew)
            .field("require_created", &self.require_created)
            .field("require_nonce", &self.require_nonce)
            .field("max_body", &self.max_body)
            .field("max_base_bytes", &self.max_base_bytes)
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// Verifies RFC 9421 signatures of incoming requests (and of responses).
///
/// Cheap to clone; clones share the nonce cache. Built with
/// [`Verifier::builder`]. Use it directly with [`Verifier::verify`], or on
/// an axum router with
/// [`SignatureVerificationLayer`](super::SignatureVerificationLayer).
#[derive(Debug, Clone)]
pub struct Verifier {
    policy: Arc<Policy>,
}

/// Builds a [`Verifier`]; every setting has a default listed on its method.
#[derive(Debug)]
#[must_use]
pub struct VerifierBuilder {
    policy: Policy,
    nonce_capacity: usize,
}

impl VerifierBuilder {
    /// Components every request signature must cover (§3.2.1). Default:
    /// `@method` and `@target-uri`.
    pub fn required_components(mut self, components: Vec<ComponentId>) -> Self {
        self.policy.request_components = components;
        self
    }

    /// Components every response signature must cover. Default: `@status`.
    pub fn required_response_components(mut self, components: Vec<ComponentId>) -> Self {
        self.policy.response_components = components;
        self
    }

    /// Whether a message with a non-empty body must cover `content-digest`.
    /// Default: `true`.
    pub fn require_content_digest(mut self, required: bool) -> Self {
        self.policy.require_digest_for_body = required;
        self
    }

    /// Whether a covered `Content-Digest` is checked against the body.
    /// Default: `true`; turn off only when the body is checked elsewhere.
    pub fn check_content_digest(mut self, check: bool) -> Self {
        self.policy.check_digest = check;
        self
    }

    /// The oldest `created` accepted (§7.2.4). Default: 300 seconds.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.policy.max_age = max_age.as_secs();
        self
    }

    /// Clock skew tolerated on `created` and `expires`. Default: 30 seconds.
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.policy.skew = skew.as_secs();
        self
    }

    /// Whether `created` is required. Default: `true`.
    pub fn require_created(mut self, required: bool) -> Self {
        self.policy.require_created = required;
        self
    }

    /// Whether `nonce` is required (§7.2.2). Nonces, when present, are
    /// always checked for replay: a `(keyid, nonce)` pair is refused again
    /// for as long as its signature could be accepted. Default: `true`
    /// ([`MessageSigner`](super::MessageSigner) sends one by default); turn
    /// it off for signers that send none, such as the RFC's Appendix B
    /// examples, accepting that their requests can be replayed within the
    /// age window.
    pub fn require_nonce(mut self, required: bool) -> Self {
        self.policy.require_nonce = required;
        self
    }

    /// How many unexpired nonces are remembered; beyond that, signatures
    /// with new nonces are refused until old ones expire. Default: 100 000.
    pub fn nonce_cache_capacity(mut self, capacity: usize) -> Self {
        self.nonce_capacity = capacity;
        self
    }

    /// The largest request body the layer buffers to check its digest.
    /// Default: 1 MiB.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.policy.max_body = max;
        self
    }

    /// The most bytes of signature base built for one message, over all its
    /// signatures (§3.2.1). A message whose bases would exceed it is refused
    /// with [`VerifyErrorKind::SignatureBaseTooLarge`] before the rest are
    /// built. Default: 65 536 (64 KiB).
    pub fn max_signature_base_bytes(mut self, max: usize) -> Self {
        self.policy.max_base_bytes = max;
        self
    }

    /// The service's own authority (host, and port unless it is the
    /// scheme's default), such as `api.example.com`: a request signature
    /// must cover `@authority` or `@target-uri` (both carry the authority;
    /// without either the signature is refused with
    /// [`VerifyErrorKind::MissingRequiredComponent`]), and the request's
    /// authority must be this one, or the signature is refused with
    /// [`VerifyErrorKind::AuthorityMismatch`] (§3.2.1: a signature made for
    /// another service is not accepted here). Compared after the §2.2.3
    /// normalization: case and a default port do not matter. Response
    /// signatures are not affected. Default: none (any authority).
    pub fn authority(mut self, authority: impl Into<String>) -> Self {
        self.policy.authority = Some(authority.into());
        self
    }

    /// The scheme of `@target-uri`/`@scheme` when the request URI has none
    /// (a server behind a TLS-terminating proxy sees plain HTTP). Default:
    /// `https`.
    pub fn scheme(mut self, scheme: impl Into<String>) -> Self {
        self.policy.scheme = scheme.into().to_ascii_lowercase();
        self
    }

    /// Only the signature with this label is considered. Default: any label
    /// (the first eight signatures are tried; one must pass).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.policy.label = Some(label.into());
        self
    }

    /// The clock for `created`/`expires` checks. Default: the system clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.policy.clock = clock;
        self
    }

    /// Finishes the verifier.
    #[must_use]
    pub fn build(mut self) -> Verifier {
        self.policy.nonces = NonceCache::new(self.nonce_capacity);
        if let Some(raw) = self.policy.authority.take() {
            // An authority that does not normalize can match no request:
            // kept lowercased, it refuses every signature (fail closed).
            let normalized = normalize_authority(&self.policy.scheme, raw.trim())
                .unwrap_or_else(|| raw.to_ascii_lowercase());
            self.policy.authority = Some(normalized);
        }
        Verifier {
            policy: Arc::new(self.policy),
        }
    }
}

fn malformed_input(err: ParamsError) -> VerifyError {
    match err {
        ParamsError::Malformed(detail) => {
            VerifyError::new(VerifyErrorKind::MalformedSignatureInput, detail)
        }
        ParamsError::Component(detail) => {
            VerifyError::new(VerifyErrorKind::InvalidComponent, detail)
        }
    }
}

impl Verifier {
    /// Starts a verifier that finds keys through `resolver`.
    pub fn builder(resolver: impl KeyResolver + 'static) -> VerifierBuilder {
        let defaults = |text: &str| ComponentId::parse_list(text).unwrap_or_default();
        VerifierBuilder {
            policy: Policy {
                resolver: Arc::new(resolver),
                request_components: defaults("@method @target-uri"),
                response_components: defaults("@status"),
                require_digest_for_body: true,
                check_digest: true,
                max_age: 300,
                skew: 30,
                require_created: true,
                require_nonce: true,
                nonces: NonceCache::new(0),
                max_body: 1024 * 1024,
                max_base_bytes: DEFAULT_MAX_BASE_BYTES,
                scheme: "https".to_owned(),
                authority: None,
                label: None,
                clock: Clock::system(),
            },
            nonce_capacity: 100_000,
        }
    }

    /// The largest body the layer buffers.
    #[must_use]
    pub fn max_body_bytes(&self) -> usize {
        self.policy.max_body
    }

    /// Verifies a request with its whole body. One acceptable signature
    /// suffices; otherwise the failure of the first candidate is returned
    /// (or, at once, [`VerifyErrorKind::SignatureBaseTooLarge`]).
    ///
    /// # Errors
    /// [`VerifyError`] saying which check failed.
    pub async fn verify<B: AsRef<[u8]>>(
        &self,
        request: &http::Request<B>,
    ) -> Result<VerifiedSignature, VerifyError> {
        let view = MessageView::Request(self.request_parts(request)?);
        let mut attempt = Attempt::new(&view, request.body().as_ref(), self.policy.max_base_bytes);
        self.verify_view(&mut attempt).await
    }

    /// As [`Verifier::verify`], and how much reading, parsing and base
    /// building it took: for the tests and the fuzz target.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) async fn verify_counting<B: AsRef<[u8]>>(
        &self,
        request: &http::Request<B>,
    ) -> (Result<VerifiedSignature, VerifyError>, Work, usize) {
        let view = match self.request_parts(request) {
            Ok(parts) => MessageView::Request(parts),
            Err(err) => return (Err(err), Work::default(), 0),
        };
        let mut attempt = Attempt::new(&view, request.body().as_ref(), self.policy.max_base_bytes);
        let result = self.verify_view(&mut attempt).await;
        (result, attempt.values.work(), attempt.budget.used())
    }

    fn request_parts<'r, B>(
        &self,
        request: &'r http::Request<B>,
    ) -> Result<RequestParts<'r>, VerifyError> {
        RequestParts::from_http(request, &self.policy.scheme).ok_or_else(|| {
            VerifyError::new(
                VerifyErrorKind::MissingComponent,
                "the request has no valid authority (Host header or absolute URI)",
            )
        })
    }

    /// Verifies a response; `request` supplies components marked `;req`.
    ///
    /// # Errors
    /// [`VerifyError`] saying which check failed.
    pub async fn verify_response<B: AsRef<[u8]>, R>(
        &self,
        response: &http::Response<B>,
        request: Option<&http::Request<R>>,
    ) -> Result<VerifiedSignature, VerifyError> {
        let view = MessageView::Response {
            status: response.status().as_u16(),
            headers: response.headers(),
            request: request.and_then(|r| RequestParts::from_http(r, &self.policy.scheme)),
        };
        let mut attempt = Attempt::new(&view, response.body().as_ref(), self.policy.max_base_bytes);
        self.verify_view(&mut attempt).await
    }

    /// The signature base (§2.5) this verifier computes for signature
    /// `label` of `request`: for diagnosing mismatches with a signer.
    ///
    /// # Errors
    /// [`VerifyError`] when the label is absent, a component is missing, or
    /// the base exceeds [`VerifierBuilder::max_signature_base_bytes`].
    pub fn signature_base<B>(
        &self,
        request: &http::Request<B>,
        label: &str,
    ) -> Result<String, VerifyError> {
        let view = MessageView::Request(self.request_parts(request)?);
        let mut attempt = Attempt::new(&view, &[], self.policy.max_base_bytes);
        let inputs = attempt
            .values
            .dictionary(SIGNATURE_INPUT.as_str())
            .map_err(|e| malformed_field(e, &SIGNATURE_INPUT))?
            .unwrap_or_default();
        let entry = inputs.get(label).ok_or_else(|| {
            VerifyError::new(
                VerifyErrorKind::MissingSignature,
                "no signature with that label",
            )
        })?;
        let input = SignatureInput::from_entry(entry).map_err(malformed_input)?;
        signature_base(
            &mut attempt.values,
            &input.components,
            &input.serialized,
            &mut attempt.budget,
        )
        .map_err(|e| VerifyError::from_base(&e))
    }

    async fn verify_view(
        &self,
        attempt: &mut Attempt<'_>,
    ) -> Result<VerifiedSignature, VerifyError> {
        let inputs = attempt
            .values
            .dictionary(SIGNATURE_INPUT.as_str())
            .map_err(|e| malformed_field(e, &SIGNATURE_INPUT))?;
        let signatures = attempt
            .values
            .dictionary(SIGNATURE.as_str())
            .map_err(|e| malformed_field(e, &SIGNATURE))?;
        let (inputs, signatures) = match (inputs, signatures) {
            (Some(inputs), Some(signatures)) => (inputs, signatures),
            (None, None) => {
                return Err(VerifyError::new(
                    VerifyErrorKind::MissingSignature,
                    "the message carries no Signature-Input and Signature fields",
                ));
            }
            (None, Some(_)) => {
                return Err(VerifyError::new(
                    VerifyErrorKind::MalformedSignatureInput,
                    "Signature is present without Signature-Input",
                ));
            }
            (Some(_), None) => {
                return Err(VerifyError::new(
                    VerifyErrorKind::MalformedSignature,
                    "Signature-Input is present without Signature",
                ));
            }
        };
        let candidates = inputs
            .iter()
            .filter(|(key, _)| {
                self.policy
                    .label
                    .as_deref()
                    .is_none_or(|label| key.as_str() == label)
            })
            .take(MAX_SIGNATURES);
        let mut first_error = None;
        for (label, entry) in candidates {
            match self
                .verify_one(attempt, label.as_str(), entry, &signatures)
                .await
            {
                Ok(verified) => return Ok(verified),
                // The budget is shared: once spent, no later candidate can
                // be checked, and the message is refused as too large.
                Err(err) if err.kind() == VerifyErrorKind::SignatureBaseTooLarge => {
                    return Err(err);
                }
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| {
            VerifyError::new(
                VerifyErrorKind::MissingSignature,
                "no signature with the expected label",
            )
        }))
    }

    fn check_time(&self, input: &SignatureInput, now: u64) -> Result<(), VerifyError> {
        let policy = &self.policy;
        match input.created {
            None if policy.require_created => {
                return Err(VerifyError::new(
                    VerifyErrorKind::MissingCreated,
                    "the signature has no created parameter",
                ));
            }
            None => {}
            Some(created) => {
                if created > now.saturating_add(policy.skew) {
                    return Err(VerifyError::new(
                        VerifyErrorKind::CreatedInFuture,
                        format!("created {created} is in the future (now {now})"),
                    ));
                }
                if now
                    > created
                        .saturating_add(policy.max_age)
                        .saturating_add(policy.skew)
                {
                    return Err(VerifyError::new(
                        VerifyErrorKind::SignatureTooOld,
                        format!(
                            "created {created} is older than {} seconds (now {now})",
                            policy.max_age
                        ),
                    ));
                }
            }
        }
        if let Some(expires) = input.expires {
            if now > expires.saturating_add(policy.skew) {
                return Err(VerifyError::new(
                    VerifyErrorKind::SignatureExpired,
                    format!("the signature expired at {expires} (now {now})"),
                ));
            }
        }
        Ok(())
    }

    /// The last second (inclusive) in which [`Verifier::check_time`] still
    /// accepts `input`: its nonce must be remembered until then (§7.2.2).
    /// Without `created` or `expires` the signature never ages, and its
    /// nonce is kept for the age window from now.
    fn accepted_until(&self, input: &SignatureInput, now: u64) -> u64 {
        let policy = &self.policy;
        let by_created = input.created.map(|created| {
            created
                .saturating_add(policy.max_age)
                .saturating_add(policy.skew)
        });
        let by_expires = input
            .expires
            .map(|expires| expires.saturating_add(policy.skew));
        match (by_created, by_expires) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => now
                .saturating_add(policy.max_age)
                .saturating_add(policy.skew),
        }
    }

    fn check_policy(
        &self,
        input: &SignatureInput,
        attempt: &Attempt<'_>,
    ) -> Result<(), VerifyError> {
        let required = if attempt.is_request() {
            &self.policy.request_components
        } else {
            &self.policy.response_components
        };
        if let Some(missing) = required.iter().find(|id| !input.components.contains(id)) {
            return Err(VerifyError::new(
                VerifyErrorKind::MissingRequiredComponent,
                format!("the signature does not cover required component {missing}"),
            ));
        }
        if self.policy.require_digest_for_body && !attempt.body.is_empty() && !covers_digest(input)
        {
            return Err(VerifyError::new(
                VerifyErrorKind::MissingRequiredComponent,
                "the message has a body but the signature does not cover content-digest",
            ));
        }
        if self.policy.require_nonce && input.nonce.is_none() {
            return Err(VerifyError::new(
                VerifyErrorKind::MissingNonce,
                "the signature has no nonce parameter",
            ));
        }
        if let (Some(expected), MessageView::Request(parts)) =
            (&self.policy.authority, attempt.view)
        {
            check_authority(expected, input, parts)?;
        }
        Ok(())
    }

    async fn verify_one(
        &self,
        attempt: &mut Attempt<'_>,
        label: &str,
        entry: &sfv::ListEntry,
        signatures: &sfv::Dictionary,
    ) -> Result<VerifiedSignature, VerifyError> {
        let input = SignatureInput::from_entry(entry).map_err(malformed_input)?;
        let signature = signatures
            .get(label)
            .and_then(|entry| match entry {
                sfv::ListEntry::Item(item) => item.bare_item.as_byte_sequence(),
                sfv::ListEntry::InnerList(_) => None,
            })
            .ok_or_else(|| {
                VerifyError::new(
                    VerifyErrorKind::MalformedSignature,
                    format!(
                        "Signature has no byte sequence for label {}",
                        truncate(label)
                    ),
                )
            })?;
        self.check_policy(&input, attempt)?;
        let now = self.policy.clock.now();
        self.check_time(&input, now)?;

        let key_id = input.keyid.as_deref().ok_or_else(|| {
            VerifyError::new(
                VerifyErrorKind::MissingKeyId,
                "the signature has no keyid parameter",
            )
        })?;
        let key = self
            .policy
            .resolver
            .resolve(key_id)
            .await
            .map_err(|e| VerifyError::new(VerifyErrorKind::KeyLookupFailed, e.to_string()))?
            .ok_or_else(|| {
                VerifyError::new(
                    VerifyErrorKind::UnknownKey,
                    format!("no key is known for keyid {:?}", truncate(key_id)),
                )
            })?;
        if let Some(alg) = input.alg.as_deref() {
            if alg != key.algorithm().as_str() {
                return Err(VerifyError::new(
                    VerifyErrorKind::AlgorithmMismatch,
                    format!(
                        "alg {:?} is not the algorithm of key {:?} ({})",
                        truncate(alg),
                        truncate(key_id),
                        key.algorithm()
                    ),
                ));
            }
        }

        let base = signature_base(
            &mut attempt.values,
            &input.components,
            &input.serialized,
            &mut attempt.budget,
        )
        .map_err(|e| VerifyError::from_base(&e))?;
        if self.policy.check_digest && covers_digest(&input) {
            attempt.check_digest().map_err(digest_error)?;
        }
        if !key.verify(base.as_bytes(), signature) {
            return Err(VerifyError::new(
                VerifyErrorKind::InvalidSignature,
                format!(
                    "signature {} does not verify with key {:?}",
                    truncate(label),
                    truncate(key_id)
                ),
            ));
        }
        // Only authentic nonces enter the cache, so forged requests cannot
        // fill it.
        if let Some(nonce) = input.nonce.as_deref() {
            self.policy
                .nonces
                .check_and_insert(key_id, nonce, self.accepted_until(&input, now), now)
                .map_err(|err| match err {
                    ReplayError::Replayed => VerifyError::new(
                        VerifyErrorKind::NonceReplayed,
                        "the nonce was already used with this key",
                    ),
                    ReplayError::Full => VerifyError::new(
                        VerifyErrorKind::ReplayCacheFull,
                        "too many recent nonces; try again later",
                    ),
                })?;
        }
        Ok(VerifiedSignature {
            label: label.to_owned(),
            key_id: key_id.to_owned(),
            algorithm: key.algorithm(),
            created: input.created,
            expires: input.expires,
            nonce: input.nonce,
            tag: input.tag,
            components: input.components,
        })
    }
}

/// One message being verified, and what its candidate signatures share:
/// the component values (each field read once), the base budget and the
/// outcome of the `Content-Digest` check.
struct Attempt<'m> {
    view: &'m MessageView<'m>,
    body: &'m [u8],
    values: ComponentValues<'m>,
    budget: BaseBudget,
    digest: Option<Result<(), DigestError>>,
}

impl<'m> Attempt<'m> {
    fn new(view: &'m MessageView<'m>, body: &'m [u8], max_base_bytes: usize) -> Self {
        Self {
            view,
            body,
            values: ComponentValues::new(view),
            budget: BaseBudget::new(max_base_bytes),
            digest: None,
        }
    }

    fn is_request(&self) -> bool {
        matches!(self.view, MessageView::Request(_))
    }

    /// The body is hashed once per message, however many signatures cover
    /// `content-digest`.
    fn check_digest(&mut self) -> Result<(), DigestError> {
        if let Some(outcome) = &self.digest {
            return outcome.clone();
        }
        let outcome = match self.values.dictionary(CONTENT_DIGEST.as_str()) {
            Ok(Some(dict)) => check_content_digest(&dict, self.body),
            Ok(None) => Err(DigestError::Missing),
            Err(_) => Err(DigestError::Malformed),
        };
        self.digest = Some(outcome.clone());
        outcome
    }
}

/// The expected-authority policy of [`VerifierBuilder::authority`].
fn check_authority(
    expected: &str,
    input: &SignatureInput,
    request: &RequestParts<'_>,
) -> Result<(), VerifyError> {
    let covered = input.components.iter().any(|id| {
        !id.is_req() && matches!(id.derived(), Some(Derived::Authority | Derived::TargetUri))
    });
    if !covered {
        return Err(VerifyError::new(
            VerifyErrorKind::MissingRequiredComponent,
            "the verifier expects an authority, so the signature must cover @authority or @target-uri",
        ));
    }
    if request.authority() != expected {
        // Neither authority is shown: the request's is the sender's to
        // know, and the expected one is configuration.
        return Err(VerifyError::new(
            VerifyErrorKind::AuthorityMismatch,
            "the signed authority is not this service's",
        ));
    }
    Ok(())
}

fn malformed_field(err: DictionaryError, name: &http::HeaderName) -> VerifyError {
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

fn covers_digest(input: &SignatureInput) -> bool {
    input
        .components
        .iter()
        .any(ComponentId::is_own_content_digest)
}

fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

fn digest_error(err: DigestError) -> VerifyError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_signature::{InMemoryKeyResolver, VerificationKey};

    const SECRET: &str =
        "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";
    const NOW: u64 = 1_700_000_000;

    fn verifier() -> VerifierBuilder {
        let key = VerificationKey::from_pem_or_jwk(Algorithm::HmacSha256, SECRET)
            .unwrap_or_else(|e| panic!("key: {e}"));
        Verifier::builder(InMemoryKeyResolver::new().with_key("k", key)).clock(Clock::fixed(NOW))
    }

    /// [`MAX_SIGNATURES`] signatures of 64 components each: `@method`,
    /// `@target-uri`, and 62 forms of `x-dict` (plain, `sf`, `bs` and 59
    /// of its 60 members), whose members are `member_len` bytes long.
    fn hostile_request(member_len: usize) -> http::Request<bytes::Bytes> {
        let members: Vec<String> = (0..60)
            .map(|i| format!("m{i}=\"{}\"", "v".repeat(member_len)))
            .collect();
        let mut components = vec![
            r#""@method""#.to_owned(),
            r#""@target-uri""#.to_owned(),
            r#""x-dict""#.to_owned(),
            r#""x-dict";sf"#.to_owned(),
            r#""x-dict";bs"#.to_owned(),
        ];
        components.extend((0..59).map(|i| format!(r#""x-dict";key="m{i}""#)));
        assert_eq!(components.len(), super::super::params::MAX_COMPONENTS);
        let inputs: Vec<String> = (0..MAX_SIGNATURES)
            .map(|label| {
                format!(
                    r#"s{label}=({});created={NOW};keyid="k";nonce="n{label}""#,
                    components.join(" ")
                )
            })
            .collect();
        let signatures: Vec<String> = (0..MAX_SIGNATURES)
            .map(|label| format!("s{label}=:{}:", "A".repeat(44)))
            .collect();
        http::Request::get("https://api.example.com/v1/orders")
            .header("x-dict", members.join(", "))
            .header("signature-input", inputs.join(", "))
            .header("signature", signatures.join(", "))
            .body(bytes::Bytes::new())
            .unwrap_or_else(|e| panic!("request: {e}"))
    }

    fn run(
        verifier: &Verifier,
        request: &http::Request<bytes::Bytes>,
    ) -> (Option<VerifyErrorKind>, Work, usize) {
        let (result, work, base_bytes) = tokio_test::block_on(verifier.verify_counting(request));
        (result.err().map(|e| e.kind()), work, base_bytes)
    }

    /// Every field is read once and parsed once (Signature-Input, Signature
    /// and x-dict as dictionaries) for all 8 × 64 components.
    const ONCE: Work = Work {
        fields_read: 3,
        structured_parses: 3,
        query_decodes: 0,
    };

    #[test]
    fn eight_signatures_of_64_components_read_and_parse_each_field_once() {
        let request = hostile_request(2);
        let (kind, work, base_bytes) = run(&verifier().build(), &request);
        eprintln!(
            "8 x 64 components over a {} byte field: {work:?}, {base_bytes} bytes of base",
            request.headers()["x-dict"].len()
        );
        // Every signature was checked (and is a forgery), within budget.
        assert_eq!(kind, Some(VerifyErrorKind::InvalidSignature));
        assert_eq!(work, ONCE);
        assert!(base_bytes > 8 * 64 * 20 && base_bytes <= DEFAULT_MAX_BASE_BYTES);
    }

    #[test]
    fn the_base_budget_refuses_a_large_field_once_spent() {
        let request = hostile_request(600);
        let (kind, work, base_bytes) = run(&verifier().build(), &request);
        eprintln!(
            "8 x 64 components over a {} byte field: {work:?}, {base_bytes} bytes of base",
            request.headers()["x-dict"].len()
        );
        assert_eq!(kind, Some(VerifyErrorKind::SignatureBaseTooLarge));
        assert!(base_bytes <= DEFAULT_MAX_BASE_BYTES, "{base_bytes}");
        assert_eq!(work, ONCE);

        // The cap is configurable; raised, all 8 bases (about 1 MiB) are
        // built from the same single parse.
        let generous = verifier().max_signature_base_bytes(4 << 20).build();
        let (kind, work, base_bytes) = run(&generous, &request);
        assert_eq!(kind, Some(VerifyErrorKind::InvalidSignature));
        assert!(base_bytes > 8 * 100_000, "{base_bytes}");
        assert_eq!(work, ONCE);

        let tight = verifier().max_signature_base_bytes(100).build();
        let (kind, _, base_bytes) = run(&tight, &request);
        assert_eq!(kind, Some(VerifyErrorKind::SignatureBaseTooLarge));
        assert!(base_bytes <= 100);
    }

    #[test]
    fn the_body_digest_is_checked_once_for_all_signatures() {
        let signer = crate::http_signature::MessageSigner::from_config(
            "hmac-sha256",
            SECRET,
            Some("k"),
            None,
        )
        .unwrap_or_else(|e| panic!("signer: {e}"))
        .clock(Clock::fixed(NOW));
        let mut request = http::Request::post("https://api.example.com/v1/orders")
            .header("content-type", "application/json")
            .body(bytes::Bytes::from_static(b"{}"))
            .unwrap_or_else(|e| panic!("request: {e}"));
        for label in ["a", "b", "c"] {
            signer
                .clone()
                .label(label)
                .sign_http_request(&mut request)
                .unwrap_or_else(|e| panic!("sign: {e}"));
        }
        // Only the last one verifies: the first two are tampered with.
        let input = request.headers()["signature-input"]
            .to_str()
            .unwrap_or_default()
            .replacen("keyid=\"k\"", "keyid=\"k\";tag=\"x\"", 2);
        request.headers_mut().insert(
            &SIGNATURE_INPUT,
            http::HeaderValue::from_str(&input).unwrap_or_else(|e| panic!("{e}")),
        );
        let (kind, work, _) = run(&verifier().build(), &request);
        assert_eq!(kind, None);
        // Signature-Input, Signature, content-type and Content-Digest; the
        // digest dictionary parsed once although three signatures cover it.
        assert_eq!(work.fields_read, 4);
        assert_eq!(work.structured_parses, 3);
    }
}
