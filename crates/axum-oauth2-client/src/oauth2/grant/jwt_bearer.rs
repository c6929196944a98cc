//! JWT bearer grant (RFC 7523 §2.1): a JWT the client signs with its key
//! is the authorization grant, sent as `assertion` with
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.
//!
//! Google service accounts use it without client authentication: `iss` is
//! the account's email, `scope` goes inside the JWT, `aud` is the token
//! URL, and `sub` names a user for domain-wide delegation. A new JWT (new
//! `jti`, new `iat`) is signed for every attempt.

use std::time::SystemTime;

use reqwest::Url;

use crate::jose::ClientAssertion;
use crate::oauth2::endpoint::client_auth::audience;
use crate::oauth2::error::OAuth2Error;
use crate::oauth2::provider_config::ProviderConfig;
use crate::oauth2::secret::Secret;

/// The `grant_type` value (RFC 7523 §2.1).
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The grant's `assertion` for one attempt: `iss` the configured issuer
/// (default the client id), `sub` the configured subject (default `iss`,
/// or none for a Google service account),
/// `aud` as for client assertions, and `scope` when the provider wants it
/// inside the JWT.
pub(crate) fn assertion(
    provider: &str,
    config: &ProviderConfig,
    token_url: &Url,
    issuer: Option<&str>,
    scope: Option<&str>,
    now: SystemTime,
) -> Result<Secret, OAuth2Error> {
    let failed = |reason: String| OAuth2Error::AssertionFailed {
        provider: provider.to_owned(),
        reason,
    };
    let key = config
        .client_key
        .as_ref()
        .ok_or_else(|| failed("the JWT bearer grant needs a client key".to_owned()))?;
    let iss = config
        .assertion
        .issuer
        .as_deref()
        .unwrap_or(&config.client_id);
    let sub = config.assertion.subject.as_deref().unwrap_or(iss);
    let mut jwt = ClientAssertion::new(iss, sub, audience(provider, config, token_url, issuer)?)
        .lifetime(config.assertion.lifetime);
    if let Some(scope) = scope.filter(|_| config.assertion.scope_in_assertion) {
        jwt = jwt.claim("scope", scope);
    }
    jwt.sign(key, now).map_err(|e| failed(e.to_string()))
}
