//! The issuer identifier a provider is configured with (RFC 8414 §2;
//! OpenID Connect Discovery 1.0 §2), and how an issuer is shown in errors.

use reqwest::Url;

use crate::oauth2::error::sanitize;
use crate::oauth2::url::check_token_url;

/// A configured issuer: the text exactly as given, which the metadata's
/// `issuer` must repeat (RFC 8414 §3.3), and the URL parsed from it, which
/// the metadata URLs are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issuer {
    text: String,
    url: Url,
}

impl Issuer {
    /// Checks `text` as an issuer identifier: an absolute `https` URL with
    /// no query and no fragment (RFC 8414 §2), and no user info. Plain
    /// `http` is accepted on a loopback host, or anywhere with
    /// `allow_insecure_http`, as for token URLs.
    ///
    /// The text is kept as it is, not normalised: RFC 8414 §3.3 compares
    /// the issuers as strings, so `https://a.example` and
    /// `https://a.example/` are different issuers. For the same reason
    /// surrounding whitespace is refused rather than trimmed.
    pub(crate) fn parse(text: &str, allow_insecure_http: bool) -> Result<Self, &'static str> {
        if text.trim() != text {
            return Err("must not begin or end with whitespace");
        }
        let url = Url::parse(text).map_err(|_| "must be an absolute URL")?;
        check_token_url(&url, allow_insecure_http)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not have a query or a fragment (RFC 8414 §2)");
        }
        Ok(Self {
            text: text.to_owned(),
            url,
        })
    }

    /// The issuer as configured, to compare with the metadata's `issuer`.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The issuer as a URL, to build the metadata URLs from.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }
}

/// An issuer value for an error message: without user info, query or
/// fragment, printable and at most 256 characters.
///
/// It works on the text rather than a parsed URL, so that what is shown
/// keeps the differences that made two issuers unequal (a trailing `/`,
/// the case of the host), and so that a value that is no URL at all is
/// shown too.
pub(crate) fn shown_issuer(text: &str) -> String {
    let text = &text[..text.find(['?', '#']).unwrap_or(text.len())];
    let Some(scheme_end) = text.find("://").map(|i| i + 3) else {
        return sanitize(text);
    };
    let rest = &text[scheme_end..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => sanitize(&format!("{}{}", &text[..scheme_end], &rest[at + 1..])),
        None => sanitize(text),
    }
}

/// Why `text` cannot be an issuer identifier (RFC 8414 §2), for a
/// configuration error that names its variable.
pub(crate) fn check_issuer(text: &str, allow_insecure_http: bool) -> Result<(), &'static str> {
    Issuer::parse(text, allow_insecure_http).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issuer_is_kept_exactly_as_written() {
        for text in [
            "https://a.example",
            "https://a.example/",
            "https://A.example/Tenant",
        ] {
            assert_eq!(Issuer::parse(text, false).expect(text).as_str(), text);
        }
    }

    #[test]
    fn an_issuer_with_a_query_fragment_or_user_info_is_refused() {
        for text in [
            "https://a.example/?x=1",
            "https://a.example/?",
            "https://a.example/#top",
            "https://user:pw@a.example/",
            "https://a.example ",
            "a.example",
            "ftp://a.example/",
            "http://a.example/",
        ] {
            assert!(Issuer::parse(text, false).is_err(), "{text}");
        }
    }

    #[test]
    fn plain_http_issuers_are_for_loopback_or_an_explicit_opt_in() {
        assert!(Issuer::parse("http://127.0.0.1:8080/realm", false).is_ok());
        assert!(Issuer::parse("http://localhost/realm", false).is_ok());
        assert!(Issuer::parse("http://auth.internal/realm", false).is_err());
        assert!(Issuer::parse("http://auth.internal/realm", true).is_ok());
    }

    #[test]
    fn a_shown_issuer_drops_user_info_query_and_fragment_only() {
        assert_eq!(shown_issuer("https://a.example/"), "https://a.example/");
        assert_eq!(shown_issuer("https://A.example"), "https://A.example");
        assert_eq!(
            shown_issuer("https://u:secret@a.example/t?token=x#f"),
            "https://a.example/t"
        );
        assert_eq!(
            shown_issuer("https://a.example/p@th"),
            "https://a.example/p@th"
        );
        assert_eq!(shown_issuer("not a url\n?q"), "not a url");
        assert_eq!(shown_issuer(&"x".repeat(1000)).len(), 256);
    }
}
