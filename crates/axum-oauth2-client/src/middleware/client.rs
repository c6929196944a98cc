//! [`OAuth2Middleware`]: the provider's token on the requests of a
//! `reqwest-middleware` client.

use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Error, Middleware, Next};

use super::requested_token::RequestedToken;
use crate::oauth2::{Attached, Binding};
use crate::{OAuth2Error, OAuth2Service};

/// A [`Middleware`] that gives every request of a
/// `reqwest_middleware::ClientWithMiddleware` the token of one provider,
/// with the rules of [`OAuth2Service::fetch`] (see [the module](super)).
///
/// Failures are [`reqwest_middleware::Error::Middleware`] holding an
/// [`OAuth2Error`] (`downcast_ref::<OAuth2Error>()` reads its `code()`).
/// A request whose body cannot be cloned (a stream) is not replayed: its
/// 401 is returned as it is. Headers the client owns (`Host`,
/// `Authorization`, hop-by-hop headers) are refused as
/// [`FetchOptions`](crate::FetchOptions) refuses them.
///
/// Redirects are the client's: the middleware cannot see the hops it
/// makes, only where they ended (an answer from an origin the provider does
/// not allow is refused, but the hop has happened: reqwest drops
/// `Authorization` on a hop to another origin, not the body or a
/// signature). Give the client `reqwest::redirect::Policy::none()`, as
/// below, when the provider confines its token to allowed origins.
///
/// ```no_run
/// # async fn run(oauth2: axum_oauth2_client::OAuth2Service) -> Result<(), Box<dyn std::error::Error>> {
/// use axum_oauth2_client::TokenExchangeOptions;
/// use axum_oauth2_client::middleware::OAuth2Middleware;
///
/// let http = reqwest::Client::builder()
///     .redirect(reqwest::redirect::Policy::none())
///     .build()?;
/// let client = reqwest_middleware::ClientBuilder::new(http)
///     .with(OAuth2Middleware::new(oauth2, "payments")?)
///     .build();
/// let orders = client.get("https://api.example.com/v1/orders").send().await?;
/// // On behalf of a user: the exchange rides in the request's extensions.
/// let me = client
///     .get("https://api.example.com/v1/me")
///     .with_extension(TokenExchangeOptions::new("the-caller's-token"))
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OAuth2Middleware {
    service: OAuth2Service,
    provider: Arc<str>,
}

impl OAuth2Middleware {
    /// A middleware for `provider`'s token; `unknown_provider` if the
    /// service has no such provider.
    pub fn new(service: OAuth2Service, provider: &str) -> Result<Self, OAuth2Error> {
        service.provider(provider)?;
        Ok(Self {
            service,
            provider: provider.into(),
        })
    }
}

#[async_trait::async_trait]
impl Middleware for OAuth2Middleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let requested = RequestedToken::of(extensions);
        let sent = request.url().clone();
        let token = requested
            .request(&self.provider)
            .map_err(Error::middleware)?;
        let binding = self
            .service
            .bind(&self.provider, &sent, token)
            .map_err(Error::middleware)?;
        binding
            .check_headers(request.headers())
            .map_err(Error::middleware)?;
        // What a retry sends: the request as it was given to us.
        let replay = request.try_clone();
        let used = prepare(&binding, &mut request).await?;
        let response = checked(&binding, next.clone().run(request, extensions).await?)?;
        let status = response.status();
        let first = binding.after(
            &used,
            &sent,
            status,
            response.url(),
            response.headers(),
            replay.is_some(),
        );
        match first {
            crate::oauth2::Answer::Return => Ok(response),
            crate::oauth2::Answer::Unauthorized => {
                Err(Error::middleware(binding.unauthorized(status)))
            }
            crate::oauth2::Answer::NonceRejected => {
                Err(Error::middleware(binding.nonce_rejected(status)))
            }
            crate::oauth2::Answer::Retry | crate::oauth2::Answer::RetryNonce => {
                let Some(mut request) = replay else {
                    return Ok(response);
                };
                let used = prepare(&binding, &mut request).await?;
                let response = checked(&binding, next.run(request, extensions).await?)?;
                binding
                    .after_retry(
                        first,
                        &used,
                        &sent,
                        response.status(),
                        response.url(),
                        response.headers(),
                    )
                    .map_err(Error::middleware)?;
                Ok(response)
            }
        }
    }
}

/// Sets the token, then signs, so that the signature can cover it.
async fn prepare(
    binding: &Binding<'_>,
    request: &mut Request,
) -> reqwest_middleware::Result<Attached> {
    let (method, url) = (request.method().clone(), request.url().clone());
    let used = binding
        .attach(&method, &url, request.headers_mut())
        .await
        .map_err(Error::middleware)?;
    if let Some(signer) = binding.signer(None) {
        binding
            .sign(&**signer, request)
            .await
            .map_err(Error::middleware)?;
    }
    Ok(used)
}

/// The answer, unless it came (through the client's redirects) from an
/// origin the provider does not allow.
fn checked(binding: &Binding<'_>, response: Response) -> reqwest_middleware::Result<Response> {
    binding
        .provider
        .check_origin(response.url())
        .map_err(Error::middleware)?;
    Ok(response)
}
