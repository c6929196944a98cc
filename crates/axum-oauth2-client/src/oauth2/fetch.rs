//! [`OAuth2Service::fetch`]: an upstream request with the provider's token,
//! signed last, and sent once more with a new token after a 401.

use std::sync::Arc;

use reqwest::{IntoUrl, Url};

use super::binding::Attached;
use super::binding::Binding;
use super::error::OAuth2Error;
use super::fetch_options::FetchOptions;
use super::provider::{Answer, Provider};
use super::service::OAuth2Service;
use super::token_request::TokenRequest;
use crate::http_signature::Signer;

impl OAuth2Service {
    /// Sends a request to `url` with the provider's token attached.
    ///
    /// `url` is parsed once (`&str`, `String` or [`Url`]). The request is
    /// built from `options`, gets `Authorization: Bearer …` (marked
    /// sensitive; `DPoP …` with its proof for a DPoP-bound token, RFC 9449
    /// §7), is then signed by the request's or the provider's
    /// [`Signer`], and sent. Before any token is fetched, a URL outside the
    /// provider's allowed origins is refused with `origin_not_allowed`, and
    /// plain `http` off loopback with `insecure_url` (RFC 6750 §5.3).
    ///
    /// On a 401 from the URL that was sent, the token that was used is
    /// dropped from the cache (unless another caller already replaced it,
    /// and at most once per forced refresh interval), a new one is
    /// obtained, and the request is rebuilt, re-signed and sent once more;
    /// a second 401, or one inside the interval, fails with
    /// `unauthorized`. A 401 from a redirect hop is returned as it is. A
    /// request with a streaming body ([`FetchOptions::body_stream`]) cannot
    /// be replayed: its 401 is returned as it is. Every other status, 403
    /// included, is returned as it is and keeps the token.
    ///
    /// With DPoP, a 401 challenge `use_dpop_nonce` (RFC 9449 §9) keeps the
    /// token: the request goes once more with the upstream's new nonce,
    /// and a second challenge (or one without a new nonce) fails with
    /// `dpop_nonce_rejected`. A DPoP provider's requests follow no
    /// redirect: a proof names the one URL it is for.
    pub async fn fetch(
        &self,
        provider: &str,
        url: impl IntoUrl,
        options: FetchOptions,
    ) -> Result<reqwest::Response, OAuth2Error> {
        let invalid = |reason: String| OAuth2Error::invalid_request(provider, reason);
        if let Some(reason) = &options.invalid {
            // Known provider first: an unknown one is the first mistake.
            self.provider(provider)?;
            return Err(invalid(reason.clone()));
        }
        let mut url = url.into_url().map_err(|e| {
            // reqwest's own text is "builder error"; the cause says what.
            let cause =
                std::error::Error::source(&e).map_or_else(String::new, |c| format!(": {c}"));
            invalid(format!("the URL is invalid{cause}"))
        })?;
        // A fragment is never sent (RFC 9110 §7.1): the URL that answers
        // has none, and the 401 check compares the two.
        url.set_fragment(None);
        if let Some(query) = &options.query {
            let joined = match url.query() {
                Some(existing) if !existing.is_empty() => format!("{existing}&{query}"),
                _ => query.clone(),
            };
            url.set_query(Some(&joined));
        }
        if options.token_exchange.is_some() && options.token_params.is_some() {
            self.provider(provider)?;
            return Err(invalid(
                "token_params and token_exchange cannot both be set: an exchange carries its own parameters".to_owned(),
            ));
        }
        let token = TokenRequest::of(
            options.token_exchange.as_ref(),
            options.token_params.as_ref(),
        );
        let binding = self.bind(provider, &url, token)?;
        let signer = binding.signer(options.signer.as_ref());

        let (request, used) = self
            .prepare(&binding, url.clone(), &options, signer)
            .await?;
        let response = self.send(binding.provider, request).await?;
        let replayable = options.stream.is_none();
        let first = binding.after(
            &used,
            &url,
            response.status(),
            response.url(),
            response.headers(),
            replayable,
        );
        match first {
            Answer::Return => Ok(response),
            Answer::Unauthorized => Err(binding.unauthorized(response.status())),
            Answer::NonceRejected => Err(binding.nonce_rejected(response.status())),
            Answer::Retry | Answer::RetryNonce => {
                let (request, used) = self
                    .prepare(&binding, url.clone(), &options, signer)
                    .await?;
                let response = self.send(binding.provider, request).await?;
                binding.after_retry(
                    first,
                    &used,
                    &url,
                    response.status(),
                    response.url(),
                    response.headers(),
                )?;
                Ok(response)
            }
        }
    }

    /// The request of one attempt: built from `options`, the token set,
    /// then signed, so that the signature can cover `Authorization`.
    async fn prepare(
        &self,
        binding: &Binding<'_>,
        url: Url,
        options: &FetchOptions,
        signer: Option<&Arc<dyn Signer>>,
    ) -> Result<(reqwest::Request, Attached), OAuth2Error> {
        // The token (and a DPoP proof of this method and URL) go into the
        // headers before the URL moves into the request: no copy of it.
        let mut headers = options.headers.clone();
        let used = binding.attach(&options.method, &url, &mut headers).await?;
        let mut request = reqwest::Request::new(options.method.clone(), url);
        *request.headers_mut() = headers;
        if let Some(body) = &options.body {
            *request.body_mut() = Some(body.clone().into());
        } else if let Some(stream) = &options.stream {
            let body = stream.lock().unwrap_or_else(|e| e.into_inner()).take();
            let body = body.ok_or_else(|| {
                OAuth2Error::invalid_request(binding.name(), "the streaming body was already sent")
            })?;
            *request.body_mut() = Some(body);
        }
        // Even a `None` timeout makes reqwest allocate its extension map.
        if let Some(timeout) = options.timeout {
            *request.timeout_mut() = Some(timeout);
        }
        if let Some(version) = options.version {
            *request.version_mut() = version;
        }
        if let Some(signer) = signer {
            binding.sign(&**signer, &mut request).await?;
        }
        Ok((request, used))
    }

    /// Sends one attempt, with the provider's confined client if it has
    /// one; an answer from an origin the provider does not allow (reached
    /// through a redirect of a client given to the builder) is refused.
    async fn send(
        &self,
        provider: &Provider,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, OAuth2Error> {
        let http = provider.upstream_http.as_ref().unwrap_or(&self.inner.http);
        let response = http
            .execute(request)
            .await
            .map_err(|e| OAuth2Error::RequestFailed {
                provider: provider.name.to_string(),
                source: Arc::new(e.without_url()),
            })?;
        provider.check_origin(response.url())?;
        Ok(response)
    }
}
