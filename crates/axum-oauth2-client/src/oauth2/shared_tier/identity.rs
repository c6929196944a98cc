//! What a provider's tokens depend on besides a request's form fields,
//! hashed into every store key of the provider ([`identity`]): replicas
//! that would get different tokens never share one, as during a deploy
//! that changes the client, its authentication, or whom a JWT bearer
//! assertion names.

use sha2::{Digest as _, Sha256};

use crate::oauth2::provider_config::{AssertionAudience, ProviderConfig};

/// SHA-256 over the provider's token endpoint (URL or issuer), client id,
/// grant, client authentication method, TLS certificate thumbprint,
/// whether a DPoP provider accepts Bearer tokens, and the claims of its
/// assertions (RFC 7523 §3: `iss`, `sub`, `aud`, and where the scope
/// goes). Each part is tagged and length-prefixed, and a missing value
/// differs from an empty one. The request's own fields (scope, audience,
/// resource, a subject token, the DPoP key's thumbprint) enter the key
/// through its digest.
pub(crate) fn identity(config: &ProviderConfig) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"axum-oauth2-client provider identity v1\0");
    let mut part = |tag: &str, value: Option<&str>| {
        hasher.update(tag.as_bytes());
        match value {
            Some(value) => {
                hasher.update([1]);
                hasher.update((value.len() as u64).to_be_bytes());
                hasher.update(value.as_bytes());
            }
            None => hasher.update([0]),
        }
    };
    part("token_url", config.token_url.as_ref().map(url::Url::as_str));
    part("issuer", config.issuer.as_deref());
    part("client_id", Some(&config.client_id));
    part("grant", Some(config.grant.as_str()));
    part("auth_method", Some(config.method().as_str()));
    part(
        "x5t#S256",
        config.tls_identity.as_ref().map(|i| i.x5t_s256()),
    );
    part(
        "dpop_allow_bearer",
        Some(if config.dpop_allow_bearer { "1" } else { "0" }),
    );
    let assertion = &config.assertion;
    part("assertion_iss", assertion.issuer.as_deref());
    part("assertion_sub", assertion.subject.as_deref());
    for audience in &assertion.audience {
        match audience {
            AssertionAudience::TokenEndpoint => part("assertion_aud", Some("token_endpoint")),
            AssertionAudience::Issuer => part("assertion_aud", Some("issuer")),
            AssertionAudience::Value(value) => part("assertion_aud_value", Some(value)),
        }
    }
    part(
        "scope_in_assertion",
        Some(if assertion.scope_in_assertion {
            "1"
        } else {
            "0"
        }),
    );
    part(
        "omit_default_subject",
        Some(if assertion.omit_default_subject {
            "1"
        } else {
            "0"
        }),
    );
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ProviderConfig {
        ProviderConfig::new(
            "https://auth.example.com/token".parse().unwrap(),
            "client",
            "secret",
        )
    }

    #[test]
    fn every_part_changes_the_identity_and_the_secret_does_not() {
        let base = identity(&config());
        assert_eq!(base, identity(&config()));
        let mut other_secret = config();
        other_secret.client_secret = Some(crate::Secret::new("rotated"));
        assert_eq!(
            base,
            identity(&other_secret),
            "a rotated secret keeps the tokens"
        );

        let mut changed = Vec::new();
        let mut c = config();
        c.client_id = "other".into();
        changed.push(c);
        let mut c = config();
        c.token_url = Some("https://auth.example.com/other".parse().unwrap());
        changed.push(c);
        let mut c = config();
        c.assertion.subject = Some("alice@example.com".into());
        changed.push(c);
        let mut c = config();
        c.assertion.subject = Some(String::new());
        changed.push(c);
        let mut c = config();
        c.assertion.issuer = Some("sa@example.iam".into());
        changed.push(c);
        let mut c = config();
        c.assertion.audience = vec![AssertionAudience::Value("https://a/".into())];
        changed.push(c);
        let mut c = config();
        c.assertion.scope_in_assertion = true;
        changed.push(c);
        let mut c = config();
        c.dpop_allow_bearer = true;
        changed.push(c);
        let all: std::collections::BTreeSet<_> =
            changed.iter().map(identity).chain([base]).collect();
        assert_eq!(
            all.len(),
            changed.len() + 1,
            "each change gives its own identity"
        );
    }
}
