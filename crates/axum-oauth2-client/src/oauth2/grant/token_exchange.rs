//! Token exchange grant (RFC 8693 §2.1).
//!
//! The client trades a caller's subject token (and optionally an actor
//! token, for delegation, §1.1) for a token aimed at another audience. The
//! request carries `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`,
//! `subject_token`, `subject_token_type` and the optional `resource`,
//! `audience`, `scope`, `requested_token_type`, `actor_token` and
//! `actor_token_type`; the answer adds `issued_token_type` (§2.2.1).

use sha2::{Digest, Sha256};

use crate::oauth2::exchange_options::TokenExchangeOptions;

/// The `grant_type` value (RFC 8693 §2.1).
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The grant's form parameters, client authentication excluded.
pub(crate) fn params(options: &TokenExchangeOptions) -> Vec<(&'static str, &str)> {
    std::iter::once(("grant_type", GRANT_TYPE))
        .chain(fields(options))
        .collect()
}

/// Every parameter the options set, in the order they are sent: the one
/// list both the request ([`params`]) and the cache key ([`cache_digest`])
/// are made from, so that no parameter can shape one and not the other.
fn fields(options: &TokenExchangeOptions) -> impl Iterator<Item = (&'static str, &str)> {
    fn set<'a>(name: &'static str, value: &'a Option<String>) -> Option<(&'static str, &'a str)> {
        value.as_deref().map(|v| (name, v))
    }
    [
        ("subject_token", options.subject_token.expose_secret()),
        ("subject_token_type", options.subject_token_type.as_str()),
    ]
    .into_iter()
    .chain(options.resource.iter().map(|r| ("resource", r.as_str())))
    .chain(options.audience.iter().map(|a| ("audience", a.as_str())))
    .chain(set("scope", &options.scope))
    .chain(set("requested_token_type", &options.requested_token_type))
    .chain(
        options
            .actor_token
            .as_ref()
            .map(|actor| ("actor_token", actor.expose_secret())),
    )
    .chain(set("actor_token_type", &options.actor_token_type))
}

/// Checks what RFC 8693 §2.1 requires of the parameters; the message never
/// contains a token.
pub(crate) fn validate(options: &TokenExchangeOptions) -> Result<(), &'static str> {
    if options.subject_token.expose_secret().is_empty() {
        return Err("the subject token is empty");
    }
    if options.subject_token_type.trim().is_empty() {
        return Err("subject_token_type is empty");
    }
    match (&options.actor_token, &options.actor_token_type) {
        (Some(_), None) => Err("actor_token_type is required when an actor token is sent"),
        (None, Some(_)) => Err("actor_token_type is set without an actor token"),
        _ => Ok(()),
    }
}

/// The cache key of an exchanged token: a SHA-256 over every parameter that
/// shapes the issued token, so that the raw subject token is never a key
/// and two requests for different audiences never share a token.
pub(crate) fn cache_digest(options: &TokenExchangeOptions) -> [u8; 32] {
    let mut hasher = Sha256::new();
    // Length-prefix every name and value so that no two parameter lists
    // hash alike.
    for (name, value) in fields(options) {
        for part in [name, value] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_every_rfc8693_parameter_that_is_set() {
        let options = TokenExchangeOptions::new("subject")
            .audience("aud")
            .resource("https://r")
            .scope("s")
            .requested_token_type("urn:ietf:params:oauth:token-type:jwt")
            .actor_token("actor", "urn:ietf:params:oauth:token-type:jwt");
        let params = params(&options);
        assert_eq!(params[0], ("grant_type", GRANT_TYPE));
        for expected in [
            ("subject_token", "subject"),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("audience", "aud"),
            ("resource", "https://r"),
            ("scope", "s"),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:jwt",
            ),
            ("actor_token", "actor"),
            ("actor_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ] {
            assert!(params.contains(&expected), "{expected:?} missing");
        }
    }

    #[test]
    fn digest_depends_on_every_parameter_and_hides_the_token() {
        let base = TokenExchangeOptions::new("subject");
        let digest = cache_digest(&base);
        assert_eq!(digest, cache_digest(&TokenExchangeOptions::new("subject")));
        assert_ne!(digest, cache_digest(&TokenExchangeOptions::new("subject2")));
        assert_ne!(digest, cache_digest(&base.clone().audience("a")));
        assert_ne!(
            cache_digest(&base.clone().audience("a")),
            cache_digest(&base.clone().resource("a"))
        );
        assert_ne!(digest, cache_digest(&base.clone().scope("x")));
        assert!(!digest.windows(7).any(|w| w == b"subject"));
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(validate(&TokenExchangeOptions::new("t")).is_ok());
        assert_eq!(
            validate(&TokenExchangeOptions::new("")),
            Err("the subject token is empty")
        );
        let mut o = TokenExchangeOptions::new("t");
        o.actor_token = Some("a".into());
        assert_eq!(
            validate(&o),
            Err("actor_token_type is required when an actor token is sent")
        );
    }
}
