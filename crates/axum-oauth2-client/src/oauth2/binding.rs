//! [`Binding`]: what one outgoing request needs from the service, whatever
//! HTTP stack sends it: the provider whose rules it follows and the cache
//! slot its token comes from. [`fetch`](crate::OAuth2Service::fetch), the
//! reqwest-middleware [`OAuth2Middleware`](crate::middleware::OAuth2Middleware)
//! and the tower [`OAuth2Layer`](crate::middleware::OAuth2Layer) share it,
//! so that they follow the same rules.

use std::borrow::Cow;
use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderMap};
use reqwest::{StatusCode, Url};

use super::cache::token::TokenData;
use super::cache::{Slot, TokenId};
use super::error::OAuth2Error;
use super::fetch_options::is_allowed;
use super::provider::{Answer, Provider};
use super::service::OAuth2Service;
use super::token_request::TokenRequest;
use crate::http_signature::Signer;

/// A request's provider and token slot, after its URL passed the
/// provider's checks.
pub(crate) struct Binding<'a> {
    pub(crate) provider: &'a Arc<Provider>,
    slot: Cow<'a, Arc<Slot>>,
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
        let slot = self.slot(provider, request)?;
        Ok(Binding {
            provider,
            slot,
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
    /// from the cache or once the single request for it has answered.
    pub(crate) async fn attach(&self, headers: &mut HeaderMap) -> Result<TokenId, OAuth2Error> {
        self.slot
            .with_token(self.provider.request_fn(self.request), |token| {
                check_access_token(&self.provider.name, token)?;
                headers.insert(AUTHORIZATION, token.authorization());
                Ok(TokenId::of(token))
            })
            .await?
    }

    /// What the request does after the upstream answered `status` from
    /// `answered` (see [`Provider::after_status`]); a request that cannot
    /// be replayed returns its 401.
    pub(crate) fn after(
        &self,
        used: TokenId,
        sent: &Url,
        status: StatusCode,
        answered: &Url,
        replayable: bool,
    ) -> Answer {
        self.provider
            .after_status(&self.slot, used, sent, status, answered)
            .filter_replay(replayable, self.name(), sent)
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
    if token.access_token {
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
