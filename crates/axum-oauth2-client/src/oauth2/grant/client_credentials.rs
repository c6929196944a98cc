//! Client credentials grant (RFC 6749 §4.4).
//!
//! The client asks for a token on its own behalf: `grant_type=client_credentials`
//! and, when configured, `scope` (§4.4.2). Client authentication is added by
//! [`endpoint`](crate::oauth2::endpoint).

use crate::oauth2::provider_config::ProviderConfig;

/// The `grant_type` value (RFC 6749 §4.4.2).
pub(crate) const GRANT_TYPE: &str = "client_credentials";

/// The grant's form parameters, client authentication excluded.
pub(crate) fn params(config: &ProviderConfig) -> Vec<(&'static str, &str)> {
    let mut params = vec![("grant_type", GRANT_TYPE)];
    if let Some(scope) = config.scope.as_deref() {
        params.push(("scope", scope));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_grant_type_and_scope_only_when_configured() {
        let url = "https://auth.example/token".parse().expect("url");
        let plain = ProviderConfig::new(url, "id", "secret");
        assert_eq!(params(&plain), vec![("grant_type", "client_credentials")]);
        let scoped = plain.scope("a b");
        assert_eq!(
            params(&scoped),
            vec![("grant_type", "client_credentials"), ("scope", "a b")]
        );
    }
}
