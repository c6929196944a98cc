//! [`RequestedToken`]: the token a request asks for in its extensions.

use crate::oauth2::TokenRequest;
use crate::{TokenExchangeOptions, TokenParams};

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

    /// The token request it names.
    pub(super) fn request(&self) -> TokenRequest<'_> {
        TokenRequest::of(self.exchange.as_ref(), self.params.as_ref())
    }
}
