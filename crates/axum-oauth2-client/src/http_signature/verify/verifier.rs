//! Verifying signatures (RFC 9421 §3.2) under an application policy
//! (§1.4, §7.2): required components, `created`/`expires` windows, nonce
//! replay, the expected authority, and the `Content-Digest` of the body
//! (RFC 9530).
//!
//! The work per message is bounded (an application requirement, §3.2.1):
//! at most [`MAX_SIGNATURES`] signatures of at most 64 components are
//! examined, every field is read and parsed once for all of them, and the
//! signature bases built for one message share one byte budget
//! ([`VerifierBuilder::max_signature_base_bytes`](super::VerifierBuilder::max_signature_base_bytes)).

use std::sync::Arc;

use super::error::{VerifyError, VerifyErrorKind, digest_error, malformed_field, malformed_input};
use super::policy::Policy;
use super::replay::ReplayError;
use super::verified::VerifiedSignature;
use crate::http_signature::wire::base::{BaseBudget, signature_base};
use crate::http_signature::wire::component_values::ComponentValues;
#[cfg(any(test, feature = "fuzzing"))]
use crate::http_signature::wire::component_values::Work;
use crate::http_signature::wire::components::{ComponentId, Derived};
use crate::http_signature::wire::digest::{CONTENT_DIGEST, DigestError, check_content_digest};
use crate::http_signature::wire::message::{MessageView, RequestParts};
use crate::http_signature::wire::params::{SIGNATURE, SIGNATURE_INPUT, SignatureInput};

/// Most signatures examined in one message (bounds work on hostile input).
pub(crate) const MAX_SIGNATURES: usize = 8;

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

impl Verifier {
    /// A verifier enforcing `policy`.
    pub(super) fn new(policy: Policy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }
}

impl Verifier {
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
    /// the base exceeds [`VerifierBuilder::max_signature_base_bytes`](super::VerifierBuilder::max_signature_base_bytes).
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
        let key_id = key_id.to_owned();
        Ok(VerifiedSignature::new(
            label,
            key_id,
            key.algorithm(),
            input,
        ))
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

fn covers_digest(input: &SignatureInput) -> bool {
    input
        .components
        .iter()
        .any(ComponentId::is_own_content_digest)
}

fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_signature::verify::policy::DEFAULT_MAX_BASE_BYTES;
    use crate::http_signature::wire::params::MAX_COMPONENTS;
    use crate::http_signature::{
        Algorithm, InMemoryKeyResolver, UnixClock, VerificationKey, VerifierBuilder,
    };

    const SECRET: &str =
        "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";
    const NOW: u64 = 1_700_000_000;

    fn verifier() -> VerifierBuilder {
        let key = VerificationKey::from_pem_or_jwk(Algorithm::HmacSha256, SECRET)
            .unwrap_or_else(|e| panic!("key: {e}"));
        Verifier::builder(InMemoryKeyResolver::new().with_key("k", key))
            .clock(UnixClock::fixed(NOW))
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
        assert_eq!(components.len(), MAX_COMPONENTS);
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
        .clock(UnixClock::fixed(NOW));
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
