//! Token exchange grant (RFC 8693 §2.1).
//!
//! The client trades a caller's subject token (and optionally an actor
//! token, for delegation, §1.1) for a token aimed at another audience. The
//! request carries `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`,
//! `subject_token`, `subject_token_type` and the optional `resource`,
//! `audience`, `scope`, `requested_token_type`, `actor_token` and
//! `actor_token_type`; the answer adds `issued_token_type` (§2.2.1).

use crate::oauth2::exchange_options::TokenExchangeOptions;
use crate::oauth2::token_params::ParamsView;

/// The `grant_type` value (RFC 8693 §2.1).
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Every form field of the exchange, client authentication excluded, in
/// the order they are sent: the one list both the request and the cache
/// key are made from, so that no parameter can shape one and not the other.
///
/// The provider's `audience`, `resource` and other parameters apply where
/// the options set none of their own; its `scope` does not (it is what the
/// client asks for itself, not what an exchanged token should carry).
pub(crate) fn fields<'a>(
    options: &'a TokenExchangeOptions,
    provider: ParamsView<'a>,
) -> impl Iterator<Item = (&'a str, &'a str)> + Clone {
    fn set<'a>(name: &'static str, value: &'a Option<String>) -> Option<(&'static str, &'a str)> {
        value.as_deref().map(|v| (name, v))
    }
    let own = ParamsView {
        scope: options.scope.as_deref(),
        audience: &options.audience,
        resource: &options.resource,
        extra: &options.params,
    };
    [
        ("grant_type", GRANT_TYPE),
        ("subject_token", options.subject_token.expose_secret()),
        ("subject_token_type", options.subject_token_type.as_str()),
    ]
    .into_iter()
    .chain(set("requested_token_type", &options.requested_token_type))
    .chain(
        options
            .actor_token
            .as_ref()
            .map(|actor| ("actor_token", actor.expose_secret())),
    )
    .chain(set("actor_token_type", &options.actor_token_type))
    .chain(own.fields_over(provider.without_scope()))
}

/// Checks what RFC 8693 §2.1 requires of the parameters; the message never
/// contains a token.
pub(crate) fn validate(options: &TokenExchangeOptions) -> Result<(), String> {
    if options.subject_token.expose_secret().is_empty() {
        return Err("the subject token is empty".to_owned());
    }
    if options.subject_token_type.trim().is_empty() {
        return Err("subject_token_type is empty".to_owned());
    }
    match (&options.actor_token, &options.actor_token_type) {
        (Some(_), None) => {
            Err("actor_token_type is required when an actor token is sent".to_owned())
        }
        (None, Some(_)) => Err("actor_token_type is set without an actor token".to_owned()),
        _ => ParamsView {
            scope: None,
            audience: &options.audience,
            resource: &options.resource,
            extra: &options.params,
        }
        .check(),
    }
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
        let params: Vec<_> = fields(&options, ParamsView::NONE).collect();
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
    fn the_provider_parameters_apply_where_the_options_set_none_except_scope() {
        let provider = crate::TokenParams::new()
            .scope("own-scope")
            .audience("provider-aud")
            .param("organization", "org");
        let plain = TokenExchangeOptions::new("subject");
        let sent: Vec<_> = fields(&plain, provider.view()).collect();
        assert!(sent.contains(&("audience", "provider-aud")));
        assert!(sent.contains(&("organization", "org")));
        assert!(!sent.iter().any(|(name, _)| *name == "scope"));
        let own = plain.audience("own-aud").param("organization", "other");
        let sent: Vec<_> = fields(&own, provider.view()).collect();
        assert!(sent.contains(&("audience", "own-aud")));
        assert!(!sent.contains(&("audience", "provider-aud")));
        assert!(sent.contains(&("organization", "other")));
        assert!(!sent.contains(&("organization", "org")));
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(validate(&TokenExchangeOptions::new("t")).is_ok());
        assert_eq!(
            validate(&TokenExchangeOptions::new("")),
            Err("the subject token is empty".to_owned())
        );
        let mut o = TokenExchangeOptions::new("t");
        o.actor_token = Some("a".into());
        assert_eq!(
            validate(&o),
            Err("actor_token_type is required when an actor token is sent".to_owned())
        );
        let reserved = TokenExchangeOptions::new("t").param("client_id", "x");
        assert!(validate(&reserved).is_err_and(|e| e.contains("client_id")));
    }
}
