//! The application policy a verifier enforces (RFC 9421 §1.4, §3.2.1,
//! §7.2): required components, `created`/`expires` windows, nonces, the
//! expected authority, and the limits on the work per message.

use std::fmt;
use std::sync::Arc;

use super::replay::NonceCache;
use super::resolver::KeyResolver;
use crate::http_signature::unix_clock::UnixClock;
use crate::http_signature::wire::components::ComponentId;

/// The default cap on the bytes of all signature bases built for one message.
pub(crate) const DEFAULT_MAX_BASE_BYTES: usize = 64 * 1024;

/// What a [`Verifier`](super::Verifier) accepts, as set on its
/// [`VerifierBuilder`](super::VerifierBuilder).
pub(super) struct Policy {
    pub(super) resolver: Arc<dyn KeyResolver>,
    pub(super) request_components: Vec<ComponentId>,
    pub(super) response_components: Vec<ComponentId>,
    pub(super) require_digest_for_body: bool,
    pub(super) check_digest: bool,
    pub(super) max_age: u64,
    pub(super) skew: u64,
    pub(super) require_created: bool,
    pub(super) require_nonce: bool,
    pub(super) nonces: NonceCache,
    pub(super) max_body: usize,
    pub(super) max_base_bytes: usize,
    pub(super) scheme: String,
    /// The expected `@authority`, normalized by
    /// [`VerifierBuilder::build`](super::VerifierBuilder::build).
    pub(super) authority: Option<String>,
    pub(super) label: Option<String>,
    pub(super) clock: UnixClock,
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

impl Policy {
    /// The defaults listed on the [`VerifierBuilder`](super::VerifierBuilder)
    /// methods, with keys from `resolver`.
    pub(super) fn new(resolver: Arc<dyn KeyResolver>) -> Self {
        let defaults = |text: &str| ComponentId::parse_list(text).unwrap_or_default();
        Policy {
            resolver,
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
            clock: UnixClock::system(),
        }
    }
}
