//! Verifying signatures (RFC 9421 §3.2) under an application policy
//! (§1.4, §7.2): required components, `created`/`expires` windows, nonce
//! replay, and the `Content-Digest` of the body (RFC 9530).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::algorithm::Algorithm;
use super::base::signature_base;
use super::clock::Clock;
use super::components::ComponentId;
use super::digest::{DigestError, check_content_digest};
use super::message::{MessageView, RequestParts, ValueError};
use super::params::{ParamsError, SIGNATURE, SIGNATURE_INPUT, SignatureInput, parse_dictionary};
use super::replay::{NonceCache, ReplayError};
use super::resolver::KeyResolver;

/// Most signatures examined in one message (bounds work on hostile input).
const MAX_SIGNATURES: usize = 8;

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
            VerifyErrorKind::InvalidSignature => "invalid_signature",
        }
    }

    /// The HTTP status a server answers with: 400 for unparseable signature
    /// fields, 413 for an oversized body, 503 when the key store or nonce
    /// cache is unavailable, 401 for every other failed check.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            VerifyErrorKind::MalformedSignatureInput
            | VerifyErrorKind::MalformedSignature
            | VerifyErrorKind::InvalidComponent => StatusCode::BAD_REQUEST,
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
    scheme: String,
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
            .field("scheme", &self.scheme)
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
                scheme: "https".to_owned(),
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
    /// suffices; otherwise the failure of the first candidate is returned.
    ///
    /// # Errors
    /// [`VerifyError`] saying which check failed.
    pub async fn verify<B: AsRef<[u8]>>(
        &self,
        request: &http::Request<B>,
    ) -> Result<VerifiedSignature, VerifyError> {
        let parts = RequestParts::from_http(request, &self.policy.scheme).ok_or_else(|| {
            VerifyError::new(
                VerifyErrorKind::MissingComponent,
                "the request has no valid authority (Host header or absolute URI)",
            )
        })?;
        self.verify_view(&MessageView::Request(parts), request.body().as_ref(), true)
            .await
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
        self.verify_view(&view, response.body().as_ref(), false)
            .await
    }

    /// The signature base (§2.5) this verifier computes for signature
    /// `label` of `request`: for diagnosing mismatches with a signer.
    ///
    /// # Errors
    /// [`VerifyError`] when the label is absent or a component is missing.
    pub fn signature_base<B>(
        &self,
        request: &http::Request<B>,
        label: &str,
    ) -> Result<String, VerifyError> {
        let parts = RequestParts::from_http(request, &self.policy.scheme).ok_or_else(|| {
            VerifyError::new(
                VerifyErrorKind::MissingComponent,
                "the request has no valid authority",
            )
        })?;
        let view = MessageView::Request(parts);
        let inputs = parse_dictionary(view.headers(), &SIGNATURE_INPUT)
            .map_err(|e| VerifyError::new(VerifyErrorKind::MalformedSignatureInput, e))?
            .unwrap_or_default();
        let entry = inputs
            .iter()
            .find(|(key, _)| key.as_str() == label)
            .map(|(_, entry)| entry)
            .ok_or_else(|| {
                VerifyError::new(
                    VerifyErrorKind::MissingSignature,
                    "no signature with that label",
                )
            })?;
        let input = SignatureInput::from_entry(entry).map_err(malformed_input)?;
        signature_base(&view, &input.components, &input.serialized)
            .map_err(|e| VerifyError::from_value(&e))
    }

    async fn verify_view(
        &self,
        view: &MessageView<'_>,
        body: &[u8],
        is_request: bool,
    ) -> Result<VerifiedSignature, VerifyError> {
        let headers = view.headers();
        let inputs = parse_dictionary(headers, &SIGNATURE_INPUT)
            .map_err(|e| VerifyError::new(VerifyErrorKind::MalformedSignatureInput, e))?;
        let signatures = parse_dictionary(headers, &SIGNATURE)
            .map_err(|e| VerifyError::new(VerifyErrorKind::MalformedSignature, e))?;
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
        let candidates: Vec<_> = inputs
            .iter()
            .filter(|(key, _)| {
                self.policy
                    .label
                    .as_deref()
                    .is_none_or(|label| key.as_str() == label)
            })
            .take(MAX_SIGNATURES)
            .collect();
        let mut first_error = None;
        for (label, entry) in candidates {
            match self
                .verify_one(view, body, is_request, label.as_str(), entry, &signatures)
                .await
            {
                Ok(verified) => return Ok(verified),
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
        body: &[u8],
        is_request: bool,
    ) -> Result<(), VerifyError> {
        let required = if is_request {
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
        if self.policy.require_digest_for_body && !body.is_empty() && !covers_digest(input) {
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
        Ok(())
    }

    async fn verify_one(
        &self,
        view: &MessageView<'_>,
        body: &[u8],
        is_request: bool,
        label: &str,
        entry: &sfv::ListEntry,
        signatures: &sfv::Dictionary,
    ) -> Result<VerifiedSignature, VerifyError> {
        let input = SignatureInput::from_entry(entry).map_err(malformed_input)?;
        let signature = signatures
            .iter()
            .find(|(key, _)| key.as_str() == label)
            .and_then(|(_, entry)| match entry {
                sfv::ListEntry::Item(item) => item.bare_item.as_byte_sequence(),
                sfv::ListEntry::InnerList(_) => None,
            })
            .ok_or_else(|| {
                VerifyError::new(
                    VerifyErrorKind::MalformedSignature,
                    format!("Signature has no byte sequence for label {label}"),
                )
            })?;
        self.check_policy(&input, body, is_request)?;
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

        let base = signature_base(view, &input.components, &input.serialized)
            .map_err(|e| VerifyError::from_value(&e))?;
        if self.policy.check_digest && covers_digest(&input) {
            check_content_digest(view.headers(), body).map_err(digest_error)?;
        }
        if !key.verify(base.as_bytes(), signature) {
            return Err(VerifyError::new(
                VerifyErrorKind::InvalidSignature,
                format!(
                    "signature {label} does not verify with key {:?}",
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
