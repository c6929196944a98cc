//! [`TokenRequest`]: which token a call wants from its provider.

use super::exchange_options::TokenExchangeOptions;
use super::token_params::TokenParams;

/// Which token a call wants: the provider's own, its own with per-call
/// parameters, or one exchanged for a subject token (RFC 8693).
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenRequest<'a> {
    /// The provider's own grant with its configured parameters: the one
    /// slot every such call shares, the hit path.
    Configured,
    /// The provider's own grant with these parameters over its configured
    /// ones, cached under the digest of the fields sent.
    With(&'a TokenParams),
    /// A token exchange, cached under the digest of the fields sent.
    Exchange(&'a TokenExchangeOptions),
}

impl<'a> TokenRequest<'a> {
    /// The request for a call's options: an exchange when it has one, its
    /// parameters when it sets any, else the provider's own.
    pub(crate) fn of(
        exchange: Option<&'a TokenExchangeOptions>,
        params: Option<&'a TokenParams>,
    ) -> Self {
        match (exchange, params) {
            (Some(exchange), _) => Self::Exchange(exchange),
            (None, Some(params)) if !params.is_empty() => Self::With(params),
            (None, _) => Self::Configured,
        }
    }

    /// An owned copy, for a request that runs in its own task.
    pub(crate) fn to_owned(self) -> OwnedTokenRequest {
        match self {
            Self::Configured => OwnedTokenRequest::Configured,
            Self::With(params) => OwnedTokenRequest::With(params.clone()),
            Self::Exchange(options) => OwnedTokenRequest::Exchange(options.clone()),
        }
    }
}

/// A [`TokenRequest`] that owns its parameters.
pub(crate) enum OwnedTokenRequest {
    Configured,
    With(TokenParams),
    Exchange(TokenExchangeOptions),
}

impl OwnedTokenRequest {
    /// The request it owns.
    pub(crate) fn view(&self) -> TokenRequest<'_> {
        match self {
            Self::Configured => TokenRequest::Configured,
            Self::With(params) => TokenRequest::With(params),
            Self::Exchange(options) => TokenRequest::Exchange(options),
        }
    }
}
