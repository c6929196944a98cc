//! [`TokenExchangeOptions`]: the parameters of an RFC 8693 token exchange.

use std::fmt;

use super::secret::Secret;

/// The RFC 8693 §3 token type URI of an OAuth 2.0 access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The parameters of a token exchange request (RFC 8693 §2.1).
///
/// The provider's [`TokenParams`](crate::TokenParams) `audience`, `resource`
/// and other parameters apply where these options set none of their own.
///
/// The subject token (and actor token) are [`Secret`]s: they never appear
/// in `Debug` output, and the cache keys the exchanged token by a SHA-256
/// digest of them, never by their value.
///
/// ```
/// use axum_oauth2_client::TokenExchangeOptions;
///
/// let exchange = TokenExchangeOptions::new("eyJhbGciOi...")
///     .audience("https://api.example.com")
///     .scope("orders:read");
/// assert_eq!(exchange.subject_token_type, "urn:ietf:params:oauth:token-type:access_token");
/// assert!(!format!("{exchange:?}").contains("eyJ"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenExchangeOptions {
    /// The token that represents the party on whose behalf the request is made.
    pub subject_token: Secret,
    /// Its type URI (default [`ACCESS_TOKEN_TYPE`]).
    pub subject_token_type: String,
    /// Logical names of the target services (`audience`, repeatable).
    pub audience: Vec<String>,
    /// URIs of the target resources (`resource`, repeatable).
    pub resource: Vec<String>,
    /// Space-separated scopes requested for the issued token.
    pub scope: Option<String>,
    /// The type of token requested (`requested_token_type`).
    pub requested_token_type: Option<String>,
    /// A token that represents the acting party (`actor_token`).
    pub actor_token: Option<Secret>,
    /// The actor token's type URI; required by RFC 8693 when an actor token is sent.
    pub actor_token_type: Option<String>,
    /// Other form parameters the provider asks for, sent as given (see
    /// [`TokenParams::param`](crate::TokenParams::param) for the names refused).
    pub params: Vec<(String, String)>,
}

impl TokenExchangeOptions {
    /// Exchange `subject_token`, an access token by default.
    pub fn new(subject_token: impl Into<Secret>) -> Self {
        Self {
            subject_token: subject_token.into(),
            subject_token_type: ACCESS_TOKEN_TYPE.to_owned(),
            audience: Vec::new(),
            resource: Vec::new(),
            scope: None,
            requested_token_type: None,
            actor_token: None,
            actor_token_type: None,
            params: Vec::new(),
        }
    }

    /// Sets the subject token's type URI: one of RFC 8693 §3, or a
    /// provider's own (Auth0's custom token exchange accepts only its
    /// customers' URIs).
    #[must_use]
    pub fn subject_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.subject_token_type = token_type.into();
        self
    }

    /// Adds an `audience`.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience.push(audience.into());
        self
    }

    /// Adds a `resource`.
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource.push(resource.into());
        self
    }

    /// Sets the requested `scope` (blank: none).
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = super::token_params::trimmed_scope(scope.into());
        self
    }

    /// Sets the `requested_token_type`.
    #[must_use]
    pub fn requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.requested_token_type = Some(token_type.into());
        self
    }

    /// Sets the `actor_token` and its `actor_token_type`.
    #[must_use]
    pub fn actor_token(mut self, token: impl Into<Secret>, token_type: impl Into<String>) -> Self {
        self.actor_token = Some(token.into());
        self.actor_token_type = Some(token_type.into());
        self
    }

    /// Adds another form parameter (a name the grant sends itself is
    /// refused with `invalid_request`).
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }
}

impl fmt::Debug for TokenExchangeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeOptions")
            .field("subject_token", &self.subject_token)
            .field("subject_token_type", &self.subject_token_type)
            .field("audience", &self.audience)
            .field("resource", &self.resource)
            .field("scope", &self.scope)
            .field("requested_token_type", &self.requested_token_type)
            .field("actor_token", &self.actor_token)
            .field("actor_token_type", &self.actor_token_type)
            .field(
                "params",
                &self
                    .params
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}
