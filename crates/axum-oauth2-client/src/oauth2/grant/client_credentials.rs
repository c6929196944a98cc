//! Client credentials grant (RFC 6749 §4.4).
//!
//! The client asks for a token on its own behalf: `grant_type=client_credentials`
//! and the provider's [`TokenParams`](crate::TokenParams) (`scope`, §4.4.2;
//! `audience`; `resource`, RFC 8707 §2; any other the provider asks for),
//! which a call can override. Client authentication is added by
//! [`endpoint`](crate::oauth2::endpoint).

/// The `grant_type` value (RFC 6749 §4.4.2).
pub(crate) const GRANT_TYPE: &str = "client_credentials";

#[cfg(test)]
mod tests {
    use crate::TokenParams;
    use crate::oauth2::grant::own_fields;
    use crate::oauth2::provider_config::GrantType;
    use crate::oauth2::token_params::ParamsView;

    fn fields<'a>(
        own: ParamsView<'a>,
        provider: ParamsView<'a>,
    ) -> impl Iterator<Item = (&'a str, &'a str)> {
        own_fields(GrantType::ClientCredentials, own, provider)
    }

    #[test]
    fn sends_the_grant_type_then_the_parameters_that_are_set() {
        let none = ParamsView::NONE;
        assert_eq!(
            fields(none, none).collect::<Vec<_>>(),
            [("grant_type", "client_credentials")]
        );
        let provider = TokenParams::new().scope("a b").audience("https://api");
        assert_eq!(
            fields(none, provider.view()).collect::<Vec<_>>(),
            [
                ("grant_type", "client_credentials"),
                ("scope", "a b"),
                ("audience", "https://api")
            ]
        );
    }
}
