//! [`RequestedToken`]: the token a request asks for in its extensions.

use crate::oauth2::TokenRequest;
use crate::{OAuth2Error, TokenExchangeOptions, TokenParams};

/// What a request's extensions ask for instead of the provider's own
/// token: a [`TokenExchangeOptions`] (an exchanged token) or
/// [`TokenParams`] (the provider's grant with this call's parameters).
#[derive(Default)]
pub(super) struct RequestedToken {
    exchange: Option<TokenExchangeOptions>,
    params: Option<TokenParams>,
}

impl RequestedToken {
    /// Read from `extensions` (copied: the request moves on without them).
    pub(super) fn of(extensions: &http::Extensions) -> Self {
        Self {
            exchange: extensions.get::<TokenExchangeOptions>().cloned(),
            params: extensions.get::<TokenParams>().cloned(),
        }
    }

    /// The token request it names; `invalid_request` with both an
    /// exchange and parameters, as [`fetch`](crate::OAuth2Service::fetch)
    /// answers: an exchange carries its own parameters.
    pub(super) fn request(&self, provider: &str) -> Result<TokenRequest<'_>, OAuth2Error> {
        if self.exchange.is_some() && self.params.is_some() {
            return Err(OAuth2Error::invalid_request(
                provider,
                "a TokenParams and a TokenExchangeOptions cannot both be given: an exchange carries its own parameters",
            ));
        }
        Ok(TokenRequest::of(
            self.exchange.as_ref(),
            self.params.as_ref(),
        ))
    }
}
