//! A tower layer that verifies incoming request signatures (RFC 9421 §3.2)
//! before the handler runs, answering failures with an RFC 9457 problem.

use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Request, header};
use tower::{Layer, Service};

use super::error::{VerifyError, VerifyErrorKind};
use super::verifier::Verifier;
use crate::http_signature::sign::BoxFuture;

/// Verifies the signature of every request before passing it on.
///
/// The body is buffered (up to [`VerifierBuilder::max_body_bytes`]) so its
/// `Content-Digest` can be checked, then handed to the inner service
/// unchanged. On success the [`VerifiedSignature`] is added to the request
/// extensions; on failure the inner service is not called and the answer
/// is an `application/problem+json` body with `type`, `title`, `status`,
/// `detail` and `code`.
///
/// ```
/// use axum::{Router, routing::post, Extension};
/// use axum_oauth2_client::http_signature::{
///     Algorithm, InMemoryKeyResolver, SignatureVerificationLayer, VerificationKey,
///     VerifiedSignature, Verifier,
/// };
///
/// let key = VerificationKey::from_pem_or_jwk(
///     Algorithm::Ed25519,
///     "-----BEGIN PUBLIC KEY-----\n\
///      MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n\
///      -----END PUBLIC KEY-----",
/// )?;
/// let verifier = Verifier::builder(InMemoryKeyResolver::new().with_key("partner-1", key)).build();
///
/// async fn webhook(Extension(sig): Extension<VerifiedSignature>) -> String {
///     format!("signed by {}", sig.key_id())
/// }
///
/// let app: Router = Router::new()
///     .route("/webhook", post(webhook))
///     .layer(SignatureVerificationLayer::new(verifier));
/// # Ok::<(), axum_oauth2_client::http_signature::KeyError>(())
/// ```
///
/// [`VerifierBuilder::max_body_bytes`]: super::VerifierBuilder::max_body_bytes
/// [`VerifiedSignature`]: super::VerifiedSignature
#[derive(Debug, Clone)]
pub struct SignatureVerificationLayer {
    verifier: Verifier,
}

impl SignatureVerificationLayer {
    /// A layer that checks requests with `verifier`.
    #[must_use]
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

impl<S> Layer<S> for SignatureVerificationLayer {
    type Service = SignatureVerification<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SignatureVerification {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service made by [`SignatureVerificationLayer`].
#[derive(Debug, Clone)]
pub struct SignatureVerification<S> {
    inner: S,
    verifier: Verifier,
}

impl<S> Service<Request<Body>> for SignatureVerification<S>
where
    S: Service<Request<Body>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was driven to readiness serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let max = verifier.max_body_bytes();
            let too_large = || {
                VerifyError::new(
                    VerifyErrorKind::BodyTooLarge,
                    format!("the request body exceeds {max} bytes or could not be read"),
                )
                .into_response()
            };
            let declared = request
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|len| len > max as u64) {
                return Ok(too_large());
            }
            let (parts, body) = request.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, max).await else {
                return Ok(too_large());
            };
            let request = Request::from_parts(parts, bytes);
            match verifier.verify(&request).await {
                Ok(verified) => {
                    let (mut parts, bytes) = request.into_parts();
                    parts.extensions.insert(verified);
                    let response = inner
                        .call(Request::from_parts(parts, Body::from(bytes)))
                        .await?;
                    Ok(response.into_response())
                }
                Err(err) => {
                    tracing::info!(code = err.code(), detail = %err, "refused request signature");
                    Ok(err.into_response())
                }
            }
        })
    }
}

fn title(kind: VerifyErrorKind) -> &'static str {
    if kind == VerifyErrorKind::SignatureBaseTooLarge {
        return "HTTP message signatures too large to verify";
    }
    match kind.status().as_u16() {
        400 => "Malformed HTTP message signature",
        413 => "Request body too large to verify",
        503 => "Signature verification unavailable",
        _ => "Invalid HTTP message signature",
    }
}

impl IntoResponse for VerifyError {
    /// An RFC 9457 problem document naming the failed check.
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::json!({
            "type": format!("urn:axum-oauth2-client:http-signature:{}", self.code()),
            "title": title(self.kind()),
            "status": status.as_u16(),
            "detail": self.to_string(),
            "code": self.code(),
        });
        let mut response = (status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
