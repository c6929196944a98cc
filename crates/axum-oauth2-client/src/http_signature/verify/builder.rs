//! Building a [`Verifier`] (RFC 9421 §3.2) under an application policy
//! (§1.4, §7.2); every setting has a default listed on its method.

use std::sync::Arc;
use std::time::Duration;

use super::policy::Policy;
use super::replay::NonceCache;
use super::resolver::KeyResolver;
use super::verifier::Verifier;
use crate::http_signature::unix_clock::UnixClock;
use crate::http_signature::wire::components::ComponentId;
use crate::http_signature::wire::message::normalize_authority;

impl Verifier {
    /// Starts a verifier that finds keys through `resolver`.
    pub fn builder(resolver: impl KeyResolver + 'static) -> VerifierBuilder {
        VerifierBuilder {
            policy: Policy::new(Arc::new(resolver)),
            nonce_capacity: 100_000,
        }
    }
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
    /// ([`MessageSigner`](crate::http_signature::MessageSigner) sends one by default); turn
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
    /// with [`VerifyErrorKind::SignatureBaseTooLarge`](super::VerifyErrorKind::SignatureBaseTooLarge) before the rest are
    /// built. Default: 65 536 (64 KiB).
    pub fn max_signature_base_bytes(mut self, max: usize) -> Self {
        self.policy.max_base_bytes = max;
        self
    }

    /// The service's own authority (host, and port unless it is the
    /// scheme's default), such as `api.example.com`: a request signature
    /// must cover `@authority` or `@target-uri` (both carry the authority;
    /// without either the signature is refused with
    /// [`VerifyErrorKind::MissingRequiredComponent`](super::VerifyErrorKind::MissingRequiredComponent)), and the request's
    /// authority must be this one, or the signature is refused with
    /// [`VerifyErrorKind::AuthorityMismatch`](super::VerifyErrorKind::AuthorityMismatch) (§3.2.1: a signature made for
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
    pub fn clock(mut self, clock: UnixClock) -> Self {
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
        Verifier::new(self.policy)
    }
}
