//! [`TokenParams`]: the form parameters that shape a token: `scope`
//! (RFC 6749 §3.3), `audience` (RFC 8693 §2.1, and Auth0's client
//! credentials), `resource` (RFC 8707 §2) and any other the identity
//! provider asks for (`organization`, `requested_token_use`, …).

use std::fmt;

/// Form parameters a token request carries besides its grant's own.
///
/// A provider has one set ([`ProviderConfig::token_params`](crate::ProviderConfig::token_params));
/// a call can override it ([`FetchOptions::token_params`](crate::FetchOptions::token_params),
/// [`OAuth2Service::get_token_with`](crate::OAuth2Service::get_token_with)).
/// Every parameter is part of the cache key: two requests that differ in
/// any of them never share a token.
///
/// ```
/// use axum_oauth2_client::TokenParams;
///
/// let params = TokenParams::new()
///     .audience("https://api.example.com")
///     .resource("https://api.example.com/orders")
///     .param("organization", "org_123");
/// assert_eq!(params.audiences(), ["https://api.example.com"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TokenParams {
    pub(crate) scope: Option<String>,
    pub(crate) audience: Vec<String>,
    pub(crate) resource: Vec<String>,
    pub(crate) extra: Vec<(String, String)>,
}

/// Parameter names a grant or a client authentication method sends itself:
/// [`TokenParams::param`] refuses them, so that no setting can reshape the
/// grant or the client's credentials.
const RESERVED: &[&str] = &[
    "grant_type",
    "scope",
    "audience",
    "resource",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "assertion",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "code",
    "code_verifier",
    "redirect_uri",
    "refresh_token",
    "username",
    "password",
    "device_code",
];

/// The most audiences, resources or other parameters one set may hold.
const MAX_ITEMS: usize = 32;
/// The longest value of a parameter, in bytes.
const MAX_VALUE: usize = 4096;
/// The longest name of a parameter, in bytes.
const MAX_NAME: usize = 64;

/// A `scope` as sent: trimmed, and none when blank.
pub(crate) fn trimmed_scope(scope: String) -> Option<String> {
    let trimmed = scope.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// A parameter name as a lenient server may read it: lower case, with `.`
/// and `-` as `_`.
fn fold(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'.' | b'-' => '_',
            other => char::from(other.to_ascii_lowercase()),
        })
        .collect()
}

impl TokenParams {
    /// No parameter.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the space-separated `scope` (blank: none).
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = trimmed_scope(scope.into());
        self
    }

    /// Adds an `audience` (sent once per value).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience.push(audience.into());
        self
    }

    /// Adds a `resource` indicator (RFC 8707 §2; sent once per value).
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource.push(resource.into());
        self
    }

    /// Adds any other form parameter, sent as given. A name the grant or
    /// the client authentication sends itself (`grant_type`, `scope`,
    /// `audience`, `resource`, `client_id`, `client_assertion`,
    /// `subject_token`, …) is refused when the request is made, with
    /// `invalid_request` (or, from the environment, a configuration error).
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The `scope`, if set.
    #[must_use]
    pub fn scopes(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The `audience` values.
    #[must_use]
    pub fn audiences(&self) -> &[String] {
        &self.audience
    }

    /// The `resource` values.
    #[must_use]
    pub fn resources(&self) -> &[String] {
        &self.resource
    }

    /// The other parameters, in order.
    #[must_use]
    pub fn params(&self) -> &[(String, String)] {
        &self.extra
    }

    /// Whether no parameter is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.scope.is_none()
            && self.audience.is_empty()
            && self.resource.is_empty()
            && self.extra.is_empty()
    }

    /// A borrowed view, to merge with another set.
    pub(crate) fn view(&self) -> ParamsView<'_> {
        ParamsView {
            scope: self.scope.as_deref(),
            audience: &self.audience,
            resource: &self.resource,
            extra: &self.extra,
        }
    }

    /// The reason the parameters cannot be sent, naming the parameter and
    /// never its value.
    pub(crate) fn check(&self) -> Result<(), String> {
        self.view().check()
    }
}

/// Token parameters borrowed from a [`TokenParams`] or a
/// [`TokenExchangeOptions`](crate::TokenExchangeOptions).
#[derive(Clone, Copy)]
pub(crate) struct ParamsView<'a> {
    pub(crate) scope: Option<&'a str>,
    pub(crate) audience: &'a [String],
    pub(crate) resource: &'a [String],
    pub(crate) extra: &'a [(String, String)],
}

impl<'a> ParamsView<'a> {
    /// The reason the parameters cannot be sent, naming the parameter and
    /// never its value.
    pub(crate) fn check(self) -> Result<(), String> {
        if self.extra.len() > MAX_ITEMS
            || self.audience.len() > MAX_ITEMS
            || self.resource.len() > MAX_ITEMS
        {
            return Err(format!(
                "at most {MAX_ITEMS} audiences, resources and other parameters each"
            ));
        }
        let values = self
            .scope
            .into_iter()
            .chain(self.audience.iter().map(String::as_str));
        let values = values
            .chain(self.resource.iter().map(String::as_str))
            .chain(self.extra.iter().map(|(_, v)| v.as_str()));
        if values.clone().any(|v| v.len() > MAX_VALUE) {
            return Err(format!(
                "a token request parameter's value exceeds {MAX_VALUE} bytes"
            ));
        }
        for (i, (name, _)) in self.extra.iter().enumerate() {
            // RFC 6749 Appendix A: parameter names are these characters.
            if name.is_empty()
                || name.len() > MAX_NAME
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            {
                return Err(format!(
                    "a token request parameter name must be 1 to {MAX_NAME} letters, digits, `_`, `.` or `-`"
                ));
            }
            // Servers that fold case or read `.` and `-` as `_` would see
            // `Grant.Type` as `grant_type`: compare in that folded form.
            let folded = fold(name);
            if RESERVED.contains(&folded.as_str()) {
                return Err(format!(
                    "token request parameter `{name}` is set by the grant or the client authentication and cannot be given"
                ));
            }
            // RFC 6749 §3.2: a parameter is sent once.
            if self.extra[..i]
                .iter()
                .any(|(earlier, _)| fold(earlier) == folded)
            {
                return Err(format!("token request parameter `{name}` is given twice"));
            }
        }
        if self
            .audience
            .iter()
            .chain(self.resource)
            .any(String::is_empty)
        {
            return Err("an audience or resource is empty".to_owned());
        }
        // RFC 8707 §2: an absolute URI without a fragment.
        if let Some(bad) = self
            .resource
            .iter()
            .position(|r| url::Url::parse(r).map_or(true, |u| u.fragment().is_some()))
        {
            return Err(format!(
                "resource {} is not an absolute URI without a fragment (RFC 8707 §2)",
                bad + 1
            ));
        }
        Ok(())
    }

    /// The form fields of `self` over `base`, in the order they are sent:
    /// `scope`, each `audience`, each `resource`, then the others.
    ///
    /// Each of `scope`, `audience` and `resource` that `self` sets replaces
    /// `base`'s; a parameter of `self` replaces `base`'s of the same name,
    /// and `base`'s others come first. Nothing is copied: this runs on
    /// every exchanged-token lookup, to make its cache key.
    pub(crate) fn fields_over(
        self,
        base: ParamsView<'a>,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + Clone {
        let pick = |own: &'a [String], base: &'a [String]| if own.is_empty() { base } else { own };
        let own_extra = self.extra;
        self.scope
            .or(base.scope)
            .map(|scope| ("scope", scope))
            .into_iter()
            .chain(
                pick(self.audience, base.audience)
                    .iter()
                    .map(|a| ("audience", a.as_str())),
            )
            .chain(
                pick(self.resource, base.resource)
                    .iter()
                    .map(|r| ("resource", r.as_str())),
            )
            .chain(
                base.extra
                    .iter()
                    .filter(move |(name, _)| !own_extra.iter().any(|(own, _)| own == name))
                    .chain(own_extra)
                    .map(|(n, v)| (n.as_str(), v.as_str())),
            )
    }

    /// No parameter: the base of a set merged over nothing.
    pub(crate) const NONE: ParamsView<'static> = ParamsView {
        scope: None,
        audience: &[],
        resource: &[],
        extra: &[],
    };

    /// `self` without its scope.
    pub(crate) fn without_scope(self) -> Self {
        Self {
            scope: None,
            ..self
        }
    }
}

impl fmt::Debug for TokenParams {
    /// Shows the names of the other parameters, not their values: an
    /// identity provider's parameter can carry something private.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenParams")
            .field("scope", &self.scope)
            .field("audience", &self.audience)
            .field("resource", &self.resource)
            .field(
                "params",
                &self
                    .extra
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_sent_in_a_fixed_order() {
        let params = TokenParams::new()
            .param("organization", "org")
            .resource("https://r1")
            .audience("a1")
            .scope(" s ")
            .audience("a2")
            .resource("https://r2");
        let fields: Vec<_> = params.view().fields_over(ParamsView::NONE).collect();
        assert_eq!(
            fields,
            [
                ("scope", "s"),
                ("audience", "a1"),
                ("audience", "a2"),
                ("resource", "https://r1"),
                ("resource", "https://r2"),
                ("organization", "org"),
            ]
        );
    }

    #[test]
    fn an_override_replaces_what_it_sets_and_keeps_the_rest() {
        let base = TokenParams::new()
            .scope("base")
            .audience("base-aud")
            .resource("https://base")
            .param("organization", "base-org")
            .param("keep", "k");
        let own = TokenParams::new()
            .audience("own-aud")
            .param("organization", "own-org");
        let merged: Vec<_> = own.view().fields_over(base.view()).collect();
        assert_eq!(
            merged,
            [
                ("scope", "base"),
                ("audience", "own-aud"),
                ("resource", "https://base"),
                ("keep", "k"),
                ("organization", "own-org"),
            ]
        );
        let empty = TokenParams::new();
        let unchanged: Vec<_> = empty.view().fields_over(base.view()).collect();
        let base_alone: Vec<_> = base.view().fields_over(ParamsView::NONE).collect();
        assert_eq!(unchanged, base_alone);
    }

    #[test]
    fn reserved_names_are_refused_by_name_never_by_value() {
        for name in [
            "grant_type",
            "client_assertion",
            "subject_token",
            "scope",
            "Grant_Type",
            "client.id",
            "CLIENT-SECRET",
        ] {
            let err = TokenParams::new()
                .param(name, "v4lu3")
                .check()
                .expect_err(name);
            assert!(err.contains(name), "{err}");
            assert!(!err.contains("v4lu3"), "{err}");
        }
        assert!(
            TokenParams::new()
                .param("organization", "o")
                .check()
                .is_ok()
        );
        assert!(TokenParams::new().audience("").check().is_err());
        for bad in [" grant_type", "grant type", "a=b", ""] {
            assert!(
                TokenParams::new().param(bad, "v").check().is_err(),
                "{bad:?}"
            );
        }
        let twice = TokenParams::new()
            .param("org", "a")
            .param("Org", "b")
            .check();
        assert!(twice.is_err_and(|e| e.contains("twice")));
    }

    #[test]
    fn resources_are_absolute_uris_without_fragments_and_sizes_are_bounded() {
        assert!(
            TokenParams::new()
                .resource("https://api.example/v1")
                .check()
                .is_ok()
        );
        assert!(
            TokenParams::new()
                .resource("urn:example:orders")
                .check()
                .is_ok()
        );
        for bad in ["orders-api", "https://api.example/#x", "/relative"] {
            assert!(TokenParams::new().resource(bad).check().is_err(), "{bad}");
        }
        let long = "a".repeat(MAX_VALUE + 1);
        assert!(TokenParams::new().audience(long).check().is_err());
        let mut many = TokenParams::new();
        for i in 0..=MAX_ITEMS {
            many = many.param(format!("p{i}"), "v");
        }
        assert!(many.check().is_err());
    }

    #[test]
    fn debug_shows_parameter_names_not_values() {
        let shown = format!("{:?}", TokenParams::new().param("login_hint", "pr1vate"));
        assert!(shown.contains("login_hint"), "{shown}");
        assert!(!shown.contains("pr1vate"), "{shown}");
    }
}
