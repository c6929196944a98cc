//! [`OAuth2StreamingLayer`]: the provider's token on `http::Request`s whose
//! body is a stream that cannot be cloned (gRPC through tonic, uploads).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::layer::{Authorized, BoxError, OAuth2Layer, Streaming, take_ready, tower_plumbing};
use crate::{OAuth2Error, OAuth2Service};

/// A tower [`Layer`] like [`OAuth2Layer`] for requests whose body cannot be
/// cloned: the same URL and header checks, the token attached, and a 401
/// from the URL that was sent drops the token (within the forced refresh
/// budget) so that the next request gets a new one, as
/// [`FetchOptions::body_stream`](crate::FetchOptions::body_stream) does.
///
/// What a stream rules out: the request is not sent again (its 401 is
/// returned as it is), and it is not signed, since a signature would have
/// to cover a body that is not there yet; a provider with a signer is
/// refused with `invalid_request` rather than sent unsigned.
///
/// ```
/// use axum_oauth2_client::middleware::OAuth2StreamingLayer;
/// # fn layer(oauth2: axum_oauth2_client::OAuth2Service) -> Result<(), axum_oauth2_client::OAuth2Error> {
/// // e.g. around a tonic Channel, whose requests carry only a path
/// let layer = OAuth2StreamingLayer::new(oauth2, "payments")?
///     .base_url("https://grpc.example.com".parse().unwrap());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OAuth2StreamingLayer {
    layer: OAuth2Layer,
}

impl OAuth2StreamingLayer {
    /// A layer for `provider`'s token; `unknown_provider` if the service
    /// has no such provider.
    pub fn new(service: OAuth2Service, provider: &str) -> Result<Self, OAuth2Error> {
        Ok(Self {
            layer: OAuth2Layer::new(service, provider)?,
        })
    }

    /// Resolves relative request URIs against `base`, as
    /// [`OAuth2Layer::base_url`] does.
    #[must_use]
    pub fn base_url(self, base: reqwest::Url) -> Self {
        Self {
            layer: self.layer.base_url(base),
        }
    }
}

impl<S> Layer<S> for OAuth2StreamingLayer {
    type Service = AuthorizedStream<S>;

    fn layer(&self, inner: S) -> AuthorizedStream<S> {
        Authorized {
            inner,
            layer: self.layer.clone(),
            mode: PhantomData,
        }
    }
}

/// The service [`OAuth2StreamingLayer`] wraps around a client.
pub type AuthorizedStream<S> = Authorized<S, Streaming>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Authorized<S, Streaming>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    tower_plumbing!(|inner, request, sent, binding| {
        if binding.signer(None).is_some() {
            return Err(OAuth2Error::invalid_request(
                binding.name(),
                "a streaming body cannot be signed; use OAuth2Layer with a body that can be cloned",
            )
            .into());
        }
        let method = request.method().clone();
        let used = binding
            .attach(&method, &sent, request.headers_mut())
            .await?;
        let response = inner.call(request).await.map_err(Into::into)?;
        // Not replayable: a 401 drops the token (within the budget) and
        // is itself the answer.
        binding.after(
            &used,
            &sent,
            response.status(),
            &sent,
            response.headers(),
            false,
        );
        Ok(response)
    });
}
