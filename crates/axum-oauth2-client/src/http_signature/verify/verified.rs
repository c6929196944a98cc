//! What a verified signature said (RFC 9421 §3.2): its label, key, and
//! the parameters and components of its `Signature-Input` member.

use crate::http_signature::keys::Algorithm;
use crate::http_signature::wire::components::ComponentId;
use crate::http_signature::wire::params::SignatureInput;

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
    /// What signature `label`, verified with the key `key_id` of
    /// `algorithm`, said in its `Signature-Input` member.
    pub(super) fn new(
        label: &str,
        key_id: String,
        algorithm: Algorithm,
        input: SignatureInput,
    ) -> Self {
        Self {
            label: label.to_owned(),
            key_id,
            algorithm,
            created: input.created,
            expires: input.expires,
            nonce: input.nonce,
            tag: input.tag,
            components: input.components,
        }
    }

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
