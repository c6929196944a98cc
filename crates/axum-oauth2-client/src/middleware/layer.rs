//! [`OAuth2Layer`]: the provider's token on the `http::Request`s a tower
//! client sends (hyper's client, or any `tower::Service`).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use reqwest::Url;
use tower::{Layer, Service, ServiceExt as _};

use crate::oauth2::{Answer, Attached, Binding, TokenRequest};
use crate::{OAuth2Error, OAuth2Service};

/// What both layers' services share: they answer what the service below
/// answers, fail with a [`BoxError`], are ready when it is, and run every
/// request through [`OAuth2Layer::admit`] before `$send` (with the ready
/// service, the admitted request, its checked URL and its binding) sends
/// it.
macro_rules! tower_plumbing {
    (|$inner:ident, $request:ident, $sent:ident, $binding:ident| $send:block) => {
        type Response = http::Response<ResBody>;
        type Error = BoxError;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            self.inner.poll_ready(cx).map_err(Into::into)
        }

        fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
            #[allow(unused_mut)]
            let (mut $inner, layer) = (take_ready(&mut self.inner), self.layer.clone());
            Box::pin(async move {
                let requested = super::requested_token::RequestedToken::of(request.extensions());
                let token = requested.request(&layer.provider)?;
                let ($sent, $binding) = layer.admit(&mut request, token)?;
                #[allow(unused_mut)]
                let mut $request = request;
                $send
            })
        }
    };
}
pub(super) use tower_plumbing;

/// The ready service, for the request being called; a clone stays for
/// the next (a tower service is ready for one call).
pub(super) fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

/// What [`Authorized`] fails with: an [`OAuth2Error`], or the inner
/// service's own error, boxed as tower middleware do.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A tower [`Layer`] that gives every request the token of one provider,
/// with the rules of [`OAuth2Service::fetch`] (see [the module](super)).
///
/// The request's URI must be absolute, or a path relative to the layer's
/// [`base_url`](Self::base_url); the service below gets the absolute URL
/// that was checked. Its body must be `Clone`, so that the request can be
/// signed over its body and sent again after a 401; the retry carries the
/// method, URI, version, headers and body, not the extensions. Headers the
/// client owns (`Host`, `Authorization`, hop-by-hop headers) are refused as
/// [`FetchOptions`](crate::FetchOptions) refuses them. Failures are an
/// [`OAuth2Error`] in the [`BoxError`] (`downcast_ref::<OAuth2Error>()`),
/// or the inner service's error.
///
/// For bodies that cannot be cloned (streams, gRPC), see
/// [`OAuth2StreamingLayer`](super::OAuth2StreamingLayer).
///
/// Put a redirect-following layer (tower-http's `FollowRedirect`)
/// *outside* this one, never below it: below, its hops would carry the
/// token where no origin check sees them.
///
/// ```no_run
/// # async fn run(oauth2: axum_oauth2_client::OAuth2Service) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use axum_oauth2_client::middleware::OAuth2Layer;
/// use http_body_util::Full;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use tower::{ServiceBuilder, ServiceExt};
///
/// let hyper = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
/// let client = ServiceBuilder::new()
///     .layer(OAuth2Layer::new(oauth2, "payments")?)
///     .service(hyper);
/// let request = http::Request::get("https://api.example.com/v1/orders")
///     .body(Full::default())?;
/// let response = client.oneshot(request).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OAuth2Layer {
    service: OAuth2Service,
    pub(super) provider: Arc<str>,
    base: Option<Url>,
}

impl OAuth2Layer {
    /// A layer for `provider`'s token; `unknown_provider` if the service
    /// has no such provider.
    pub fn new(service: OAuth2Service, provider: &str) -> Result<Self, OAuth2Error> {
        service.provider(provider)?;
        Ok(Self {
            service,
            provider: provider.into(),
            base: None,
        })
    }

    /// Resolves relative request URIs (`/v1/orders`) against `base`, for
    /// clients that add the origin further down the stack.
    #[must_use]
    pub fn base_url(mut self, base: Url) -> Self {
        self.base = Some(base);
        self
    }

    /// The checks every request passes before a token is fetched for it:
    /// its URL (absolute, or a path joined to the base) is one the provider
    /// may send its token to, and its headers are none the client owns.
    /// The request's URI becomes that absolute URL, so that the client
    /// below sends where the check looked.
    pub(super) fn admit<'a, B>(
        &'a self,
        request: &mut http::Request<B>,
        token: TokenRequest<'a>,
    ) -> Result<(Url, Binding<'a>), OAuth2Error> {
        let sent = self.url_of(request.uri())?;
        let binding = self.service.bind(&self.provider, &sent, token)?;
        binding.check_headers(request.headers())?;
        *request.uri_mut() = sent.as_str().parse().map_err(|_| {
            OAuth2Error::invalid_request(&self.provider, "the URL is not a valid URI")
        })?;
        Ok((sent, binding))
    }

    /// The absolute URL of a request's URI: the URI itself when it has a
    /// scheme, else its path and query joined to the base URL. A URI with
    /// an authority but no scheme (`evil.example`, as a CONNECT target) or
    /// a path that does not start with exactly one `/` (`//evil.example/x`)
    /// is refused: what it names depends on who reads it.
    fn url_of(&self, uri: &http::Uri) -> Result<Url, OAuth2Error> {
        let invalid = |reason: &str| OAuth2Error::invalid_request(&self.provider, reason);
        if uri.scheme().is_some() {
            return Url::parse(&uri.to_string()).map_err(|_| invalid("the URI is not a valid URL"));
        }
        let path = uri.path();
        if uri.authority().is_some() || !path.starts_with('/') || path.starts_with("//") {
            return Err(invalid(
                "the URI must be absolute, or a path starting with a single /",
            ));
        }
        let base = self
            .base
            .as_ref()
            .ok_or_else(|| invalid("the URI is relative and the layer has no base URL"))?;
        let relative = uri.path_and_query().map_or(path, |p| p.as_str());
        base.join(relative)
            .map_err(|_| invalid("the URI cannot be joined to the base URL"))
    }
}

impl<S> Layer<S> for OAuth2Layer {
    type Service = Authorized<S>;

    fn layer(&self, inner: S) -> Authorized<S> {
        Authorized {
            inner,
            layer: self.clone(),
            mode: PhantomData,
        }
    }
}

/// The service [`OAuth2Layer`] (`M` = [`Replay`]) or
/// [`OAuth2StreamingLayer`](super::OAuth2StreamingLayer) (`M` =
/// [`Streaming`]) wraps around a client.
#[derive(Debug, Clone)]
pub struct Authorized<S, M = Replay> {
    pub(super) inner: S,
    pub(super) layer: OAuth2Layer,
    pub(super) mode: PhantomData<M>,
}

/// Requests whose body can be cloned: signed over it, sent again after a
/// 401.
#[derive(Debug, Clone, Copy)]
pub struct Replay;

/// Requests whose body is a stream: neither signed nor sent again.
#[derive(Debug, Clone, Copy)]
pub struct Streaming;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Authorized<S, Replay>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    ReqBody: http_body::Body<Data = Bytes> + Clone + Send + Sync + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: Send + 'static,
{
    tower_plumbing!(|inner, request, sent, binding| {
        let replay = copy(&request);
        let (request, used) = prepare(&binding, &sent, request).await?;
        let response = inner.call(request).await.map_err(Into::into)?;
        let status = response.status();
        // Nothing below a tower client follows redirects for it: the
        // URL that answered is the one that was sent.
        let first = binding.after(&used, &sent, status, &sent, response.headers(), true);
        match first {
            Answer::Return => Ok(response),
            Answer::Unauthorized => Err(binding.unauthorized(status).into()),
            Answer::NonceRejected => Err(binding.nonce_rejected(status).into()),
            Answer::Retry | Answer::RetryNonce => {
                let (request, used) = prepare(&binding, &sent, replay).await?;
                let response = inner
                    .ready()
                    .await
                    .map_err(Into::into)?
                    .call(request)
                    .await
                    .map_err(Into::into)?;
                binding.after_retry(
                    first,
                    &used,
                    &sent,
                    response.status(),
                    &sent,
                    response.headers(),
                )?;
                Ok(response)
            }
        }
    });
}

/// What a retry sends: the request's method, URI, version, headers and body.
fn copy<B: Clone>(request: &http::Request<B>) -> http::Request<B> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// Sets the token, then signs, so that the signature can cover it. A
/// signer works on a `reqwest::Request`: it gets one with the same method,
/// URL, headers and body, and the headers it sets are copied back.
async fn prepare<B>(
    binding: &Binding<'_>,
    url: &Url,
    mut request: http::Request<B>,
) -> Result<(http::Request<B>, Attached), BoxError>
where
    B: http_body::Body<Data = Bytes> + Clone,
    B::Error: Into<BoxError>,
{
    let method = request.method().clone();
    let used = binding.attach(&method, url, request.headers_mut()).await?;
    if let Some(signer) = binding.signer(None) {
        let body = request
            .body()
            .clone()
            .collect()
            .await
            .map_err(Into::into)?
            .to_bytes();
        let mut view = reqwest::Request::new(request.method().clone(), url.clone());
        *view.headers_mut() = request.headers().clone();
        *view.body_mut() = Some(body.into());
        binding.sign(&**signer, &mut view).await?;
        *request.headers_mut() = view.headers().clone();
    }
    Ok((request, used))
}
