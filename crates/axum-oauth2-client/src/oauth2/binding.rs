//! [`Binding`]: what one outgoing request needs from the service, whatever
//! HTTP stack sends it: the provider whose rules it follows and the cache
//! slot its token comes from. [`fetch`](crate::OAuth2Service::fetch), the
//! reqwest-middleware [`OAuth2Middleware`](crate::middleware::OAuth2Middleware)
//! and the tower [`OAuth2Layer`](crate::middleware::OAuth2Layer) share it,
//! so that they follow the same rules.

use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderMap};
use reqwest::{Method, StatusCode, Url};

use super::cache::token::TokenData;
use super::cache::{Place, TokenId};
use super::error::OAuth2Error;
use super::fetch_options::is_allowed;
use super::provider::{Answer, Provider};
use super::service::{OAuth2Service, place};
use super::token_request::TokenRequest;
use crate::dpop::asks_for_nonce;
use crate::http_signature::Signer;

/// What one attempt attached: the token (to drop exactly that one after a
/// 401) and the DPoP nonce its proof carried.
pub(crate) struct Attached {
    pub(crate) token: TokenId,
    nonce: Option<Arc<str>>,
}

/// A request's provider and where its token is cached, after its URL
/// passed the provider's checks.
pub(crate) struct Binding<'a> {
    pub(crate) provider: &'a Arc<Provider>,
    place: Place<'a>,
    request: TokenRequest<'a>,
}

impl OAuth2Service {
    /// Binds a request to `url` to the token `request` names: refused before any token is fetched when the
    /// service is shut down, the provider unknown, or the URL one the
    /// provider may not send its token to.
    pub(crate) fn bind<'a>(
        &'a self,
        provider: &str,
        url: &Url,
        request: TokenRequest<'a>,
    ) -> Result<Binding<'a>, OAuth2Error> {
        let provider = self.provider(provider)?;
        provider.check_open()?;
        provider.check_upstream_url(url)?;
        let place = place!(self, provider, request);
        Ok(Binding {
            provider,
            place,
            request,
        })
    }
}

impl Binding<'_> {
    /// The provider's name.
    pub(crate) fn name(&self) -> &str {
        &self.provider.name
    }

    /// The provider's signer, unless the request brings its own.
    pub(crate) fn signer<'s>(
        &'s self,
        own: Option<&'s Arc<dyn Signer>>,
    ) -> Option<&'s Arc<dyn Signer>> {
        own.or(self.provider.config.signer.as_ref())
    }

    /// `invalid_request` naming the first header in `headers` that the
    /// client owns (see [`FetchOptions::header`](crate::FetchOptions::header)).
    pub(crate) fn check_headers(&self, headers: &HeaderMap) -> Result<(), OAuth2Error> {
        match headers.keys().find(|name| !is_allowed(name)) {
            Some(name) => Err(OAuth2Error::invalid_request(
                self.name(),
                format!("header `{name}` is set by the client and cannot be given"),
            )),
            None => Ok(()),
        }
    }

    /// Sets the token as `Authorization` (marked sensitive) in `headers`,
    /// from the cache or once the single request for it has answered, and
    /// for a DPoP token its proof of `method` and `url` (RFC 9449 §7).
    pub(crate) async fn attach(
        &self,
        method: &Method,
        url: &Url,
        headers: &mut HeaderMap,
    ) -> Result<Attached, OAuth2Error> {
        let token = self
            .place
            .with_token(
                self.provider.owner(),
                self.provider.request_fn(self.request),
                |token| {
                    check_access_token(&self.provider.name, token)?;
                    headers.insert(AUTHORIZATION, token.authorization());
                    Ok(TokenId::of(token))
                },
            )
            .await??;
        let nonce = self.provider.prove(method, url, headers)?;
        Ok(Attached { token, nonce })
    }

    /// Keeps the `DPoP-Nonce` of an answer from `answered`, for a provider
    /// with DPoP (RFC 9449 §9: any answer may carry the next nonce).
    pub(crate) fn keep_nonce(&self, answered: &Url, headers: &HeaderMap) {
        if let Some(dpop) = &self.provider.dpop {
            dpop.nonces.update(answered, headers);
        }
    }

    /// What the request does after the upstream answered `status` with
    /// `headers` from `answered` (see [`Provider::after_status`]); a
    /// request that cannot be replayed returns its 401.
    ///
    /// With DPoP, the answer's `DPoP-Nonce` is kept for its origin, and a
    /// 401 challenge `use_dpop_nonce` (RFC 9449 §9) says nothing of the
    /// token: it is answered by one retry with the new nonce and the same
    /// token, or, without a new nonce, fails `dpop_nonce_rejected`.
    pub(crate) fn after(
        &self,
        used: &Attached,
        sent: &Url,
        status: StatusCode,
        answered: &Url,
        headers: &HeaderMap,
        replayable: bool,
    ) -> Answer {
        self.keep_nonce(answered, headers);
        if let Some(dpop) = &self.provider.dpop
            && status == StatusCode::UNAUTHORIZED
            && answered == sent
            && asks_for_nonce(headers)
        {
            let fresh = dpop.nonces.get(sent);
            let answer = if fresh.is_some() && fresh != used.nonce {
                Answer::RetryNonce
            } else {
                Answer::NonceRejected
            };
            return answer.filter_replay(replayable, self.name(), sent);
        }
        self.provider
            .after_status(&self.place, used.token, sent, status, answered)
            .filter_replay(replayable, self.name(), sent)
    }

    /// What the answer to the one retry means, given why it was made
    /// (`first`): a 401 is final. After a nonce retry, a second nonce
    /// challenge is `dpop_nonce_rejected`, and any other 401 from the URL
    /// sent drops the token (within the forced refresh budget) before
    /// failing `unauthorized`: the token itself was refused.
    pub(crate) fn after_retry(
        &self,
        first: Answer,
        used: &Attached,
        sent: &Url,
        status: StatusCode,
        answered: &Url,
        headers: &HeaderMap,
    ) -> Result<(), OAuth2Error> {
        self.keep_nonce(answered, headers);
        if status != StatusCode::UNAUTHORIZED {
            return Ok(());
        }
        if self.provider.dpop.is_some() && answered == sent && asks_for_nonce(headers) {
            return Err(self.nonce_rejected(status));
        }
        if first == Answer::RetryNonce && answered == sent {
            self.provider.refuse(&self.place, used.token);
        }
        Err(self.unauthorized(status))
    }

    /// `dpop_nonce_rejected`, with the status the upstream answered.
    pub(crate) fn nonce_rejected(&self, status: StatusCode) -> OAuth2Error {
        OAuth2Error::DpopNonceRejected {
            provider: self.name().to_owned(),
            status,
        }
    }

    /// Signs `request` with `signer`, as `signing_failed` when it fails.
    pub(crate) async fn sign(
        &self,
        signer: &dyn Signer,
        request: &mut reqwest::Request,
    ) -> Result<(), OAuth2Error> {
        signer
            .sign(request)
            .await
            .map_err(|e| OAuth2Error::SigningFailed {
                provider: self.name().to_owned(),
                source: Arc::new(e),
            })
    }

    /// `unauthorized`, with the status the upstream answered.
    pub(crate) fn unauthorized(&self, status: StatusCode) -> OAuth2Error {
        OAuth2Error::Unauthorized {
            provider: self.name().to_owned(),
            status,
        }
    }
}

/// `invalid_request` for a token that is no access token (an exchange
/// answered `token_type: N_A`, RFC 8693 §2.2.1): it is for
/// [`get_token`](OAuth2Service::get_token), never for an upstream.
fn check_access_token(provider: &str, token: &TokenData) -> Result<(), OAuth2Error> {
    if token.is_access_token() {
        Ok(())
    } else {
        Err(not_access_token(provider))
    }
}

/// The error for a token that is no access token.
pub(crate) fn not_access_token(provider: &str) -> OAuth2Error {
    OAuth2Error::invalid_request(
        provider,
        "the exchanged token is not an access token (token_type N_A); get it with get_token, it cannot be sent upstream",
    )
}
