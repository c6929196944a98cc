//! Creating a signature (RFC 9421 §3.1) and attaching it (§4).

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use super::error::{SignError, SignErrorKind};
use super::signer::{BoxFuture, Signer};
use crate::http_signature::keys::SigningKey;
use crate::http_signature::unix_clock::UnixClock;
use crate::http_signature::wire::base::{BaseBudget, BaseError, signature_base};
use crate::http_signature::wire::component_values::ComponentValues;
use crate::http_signature::wire::components::ComponentId;
use crate::http_signature::wire::digest::{CONTENT_DIGEST, DigestAlgorithm, content_digest};
use crate::http_signature::wire::message::{MessageView, RequestParts, ValueError};
use crate::http_signature::wire::params::{
    SIGNATURE, SIGNATURE_INPUT, SignatureInput, SignerParams, is_sf_string, put_member,
};

/// The components covered by default, each when the message has it.
const DEFAULT_COMPONENTS: &str = "@method @target-uri content-digest content-type authorization";

/// Signs HTTP messages with RFC 9421 HTTP Message Signatures.
///
/// Implements [`Signer`], so the token manager can sign every outgoing
/// request (after `Authorization` is set, and again for the retry after a
/// 401). Build one from configuration strings with
/// [`MessageSigner::from_config`], or from a [`SigningKey`] with
/// [`MessageSigner::new`] and the builder methods.
///
/// Covered components: derived components (`@method`, …) are always
/// covered; header fields are covered when the message has them.
/// `content-digest`, when listed, is computed from the body (RFC 9530) and
/// added to the message first, if the body is not empty.
///
/// Defaults: label `sig1`; components `@method @target-uri content-digest
/// content-type authorization`; `created` always; a fresh random `nonce`
/// per signature (a [`Verifier`](crate::http_signature::Verifier) requires one by default,
/// RFC 9421 §7.2.2); no `expires`, `tag` or `keyid` unless set; `alg`
/// included; `sha-256` content digest; the system clock.
///
/// ```
/// use axum_oauth2_client::http_signature::{UnixClock, MessageSigner};
///
/// let signer = MessageSigner::from_config(
///     "hmac-sha256",
///     "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==",
///     Some("test-shared-secret"),
///     None,
/// )?
/// .clock(UnixClock::fixed(1_618_884_473));
///
/// let mut request = http::Request::post("https://example.com/foo")
///     .header("content-type", "application/json")
///     .body(bytes::Bytes::from_static(br#"{"hello": "world"}"#))?;
/// signer.sign_http_request(&mut request)?;
/// let input = request.headers()["signature-input"].to_str()?;
/// assert!(input.starts_with(
///     r#"sig1=("@method" "@target-uri" "content-digest" "content-type");created=1618884473;keyid="test-shared-secret";alg="hmac-sha256";nonce=""#
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MessageSigner {
    key: SigningKey,
    key_id: Option<String>,
    label: String,
    components: Vec<ComponentId>,
    expires_in: Option<Duration>,
    nonce: bool,
    tag: Option<String>,
    alg_param: bool,
    digest: DigestAlgorithm,
    clock: UnixClock,
}

impl MessageSigner {
    /// A signer for `key` with the defaults listed on [`MessageSigner`].
    #[must_use]
    pub fn new(key: SigningKey) -> Self {
        Self {
            key,
            key_id: None,
            label: "sig1".to_owned(),
            components: ComponentId::parse_list(DEFAULT_COMPONENTS).unwrap_or_default(),
            expires_in: None,
            nonce: true,
            tag: None,
            alg_param: true,
            digest: DigestAlgorithm::default(),
            clock: UnixClock::system(),
        }
    }

    /// Sets the `keyid` parameter (§2.3). Default: none.
    #[must_use]
    pub fn key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// Sets the signature label in `Signature-Input` and `Signature` (§4).
    /// Default: `sig1`. A signature with the same label is replaced, others kept.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Sets the covered components, in order. Default: `@method @target-uri
    /// content-digest content-type authorization`.
    #[must_use]
    pub fn components(mut self, components: Vec<ComponentId>) -> Self {
        self.components = components;
        self
    }

    /// Adds `expires` = `created` + `lifetime` (§2.3). Default: no `expires`.
    #[must_use]
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(lifetime);
        self
    }

    /// Whether each signature carries a fresh random 128-bit `nonce`
    /// (§2.3, §7.2.2) that lets the verifier refuse a replay. Default: `true`.
    /// Turn it off only for a verifier configured not to require one.
    #[must_use]
    pub fn nonce(mut self, enabled: bool) -> Self {
        self.nonce = enabled;
        self
    }

    /// Sets the application `tag` parameter (§2.3). Default: none.
    #[must_use]
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Whether to send the `alg` parameter (§2.3). Default: `true`.
    #[must_use]
    pub fn alg_parameter(mut self, enabled: bool) -> Self {
        self.alg_param = enabled;
        self
    }

    /// The hash for a generated `Content-Digest`. Default: `sha-256`.
    #[must_use]
    pub fn content_digest(mut self, algorithm: DigestAlgorithm) -> Self {
        self.digest = algorithm;
        self
    }

    /// The clock for `created` and `expires`. Default: the system clock.
    #[must_use]
    pub fn clock(mut self, clock: UnixClock) -> Self {
        self.clock = clock;
        self
    }

    /// The signing key.
    #[must_use]
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    fn covers_digest(&self) -> bool {
        self.components
            .iter()
            .any(ComponentId::is_own_content_digest)
    }

    fn digest_for(&self, body: Option<&[u8]>) -> Result<Option<HeaderValue>, SignError> {
        match body {
            Some(body) if !body.is_empty() && self.covers_digest() => {
                HeaderValue::from_str(&content_digest(self.digest, body))
                    .map(Some)
                    .map_err(|e| SignError::with_source("Content-Digest value", e))
            }
            _ => Ok(None),
        }
    }

    /// Signs a `reqwest` request in place: adds `Content-Digest` (when
    /// covered and there is a body), `Signature-Input` and `Signature`.
    ///
    /// # Errors
    /// [`SignError`] when a derived component cannot be taken from the
    /// request, the body is a stream while `content-digest` is covered, or a
    /// parameter cannot be serialized.
    pub fn sign_request(&self, request: &mut reqwest::Request) -> Result<(), SignError> {
        let body = match request.body() {
            None => None,
            Some(body) => match body.as_bytes() {
                Some(bytes) => Some(bytes),
                None if self.covers_digest() => {
                    return Err(SignError::with_kind(
                        SignErrorKind::UnsupportedBody,
                        "cannot compute Content-Digest of a streaming body; use a buffered body",
                    ));
                }
                None => None,
            },
        };
        let digest = self.digest_for(body)?;
        if let Some(digest) = digest {
            request.headers_mut().insert(&CONTENT_DIGEST, digest);
        }
        let (input, signature) = {
            let parts = RequestParts::from_url(request.method(), request.url(), request.headers())
                .ok_or_else(|| {
                    SignError::with_kind(
                        SignErrorKind::InvalidRequest,
                        "the request URL has no host",
                    )
                })?;
            self.create(&MessageView::Request(parts))?
        };
        self.attach(request.headers_mut(), &input, &signature)
    }

    /// Signs an `http::Request` in place. The scheme is the URI's, or
    /// `https` when the URI is not absolute; the authority comes from the
    /// URI or else the `Host` header.
    ///
    /// # Errors
    /// As for [`MessageSigner::sign_request`].
    pub fn sign_http_request(&self, request: &mut http::Request<Bytes>) -> Result<(), SignError> {
        if let Some(digest) = self.digest_for(Some(request.body()))? {
            request.headers_mut().insert(&CONTENT_DIGEST, digest);
        }
        let (input, signature) = {
            let parts = RequestParts::from_http(request, "https").ok_or_else(|| {
                SignError::with_kind(
                    SignErrorKind::InvalidRequest,
                    "the request has no valid authority (URI or Host header)",
                )
            })?;
            self.create(&MessageView::Request(parts))?
        };
        self.attach(request.headers_mut(), &input, &signature)
    }

    /// Signs an `http::Response` in place; `request`, when given, supplies
    /// components marked `;req` (§2.4). Configure response components
    /// (for example `@status content-type content-digest`) first.
    ///
    /// # Errors
    /// As for [`MessageSigner::sign_request`].
    pub fn sign_http_response<B>(
        &self,
        response: &mut http::Response<Bytes>,
        request: Option<&http::Request<B>>,
    ) -> Result<(), SignError> {
        if let Some(digest) = self.digest_for(Some(response.body()))? {
            response.headers_mut().insert(&CONTENT_DIGEST, digest);
        }
        let (input, signature) = {
            let view = MessageView::Response {
                status: response.status().as_u16(),
                headers: response.headers(),
                request: request.and_then(|r| RequestParts::from_http(r, "https")),
            };
            self.create(&view)?
        };
        self.attach(response.headers_mut(), &input, &signature)
    }

    /// Builds the signature input and signs the base (§3.1 steps 1–5).
    fn create(&self, view: &MessageView<'_>) -> Result<(SignatureInput, Vec<u8>), SignError> {
        let mut values = ComponentValues::new(view);
        let mut covered = Vec::with_capacity(self.components.len());
        for id in &self.components {
            match values.values(id) {
                Ok(_) => covered.push(id.clone()),
                // Header fields are covered when present.
                Err(ValueError::Missing(_)) if id.derived().is_none() => {}
                Err(err) => {
                    return Err(SignError::with_kind(
                        SignErrorKind::MissingComponent,
                        err.describe(),
                    ));
                }
            }
        }
        let created = self.clock.now();
        let expires = self
            .expires_in
            .map(|lifetime| created.saturating_add(lifetime.as_secs()));
        let nonce = self.nonce.then(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
        });
        for (what, value) in [
            ("keyid", self.key_id.as_deref()),
            ("tag", self.tag.as_deref()),
        ] {
            if value.is_some_and(|v| !is_sf_string(v)) {
                return Err(SignError::with_kind(
                    SignErrorKind::InvalidParameter,
                    format!("{what} must be printable ASCII"),
                ));
            }
        }
        let input = SignatureInput::for_signing(
            covered,
            &SignerParams {
                created: Some(created),
                expires,
                keyid: self.key_id.as_deref(),
                alg: self.alg_param.then(|| self.key.algorithm().as_str()),
                nonce: nonce.as_deref(),
                tag: self.tag.as_deref(),
            },
        );
        let base = signature_base(
            &mut values,
            &input.components,
            &input.serialized,
            &mut BaseBudget::unlimited(),
        )
        .map_err(|err| match err {
            BaseError::Value(err) => {
                SignError::with_kind(SignErrorKind::MissingComponent, err.describe())
            }
            BaseError::TooLarge { .. } => SignError::new("the signature base is too large"),
        })?;
        let signature = self.key.sign(base.as_bytes()).map_err(|e| {
            SignError::with_source(format!("{} signing failed", self.key.algorithm()), e)
        })?;
        tracing::debug!(
            label = %self.label,
            keyid = self.key_id.as_deref().unwrap_or(""),
            alg = %self.key.algorithm(),
            "signed HTTP message"
        );
        Ok((input, signature))
    }

    /// Adds the `Signature-Input` and `Signature` members (§4.1, §4.2).
    fn attach(
        &self,
        headers: &mut HeaderMap,
        input: &SignatureInput,
        signature: &[u8],
    ) -> Result<(), SignError> {
        if sfv::KeyRef::from_str(&self.label).is_err() {
            return Err(SignError::with_kind(
                SignErrorKind::InvalidParameter,
                "the signature label must be a structured-field key (lowercase, e.g. sig1)",
            ));
        }
        let signature = format!(
            ":{}:",
            base64::engine::general_purpose::STANDARD.encode(signature)
        );
        let existing = |e: String| SignError::with_kind(SignErrorKind::InvalidRequest, e);
        put_member(headers, &SIGNATURE_INPUT, &self.label, &input.serialized).map_err(existing)?;
        put_member(headers, &SIGNATURE, &self.label, &signature).map_err(existing)
    }
}

impl Signer for MessageSigner {
    fn sign<'a>(
        &'a self,
        request: &'a mut reqwest::Request,
    ) -> BoxFuture<'a, Result<(), SignError>> {
        Box::pin(std::future::ready(self.sign_request(request)))
    }
}
