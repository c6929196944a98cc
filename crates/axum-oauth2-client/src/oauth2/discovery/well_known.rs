//! Where an issuer publishes its metadata: the RFC 8414 §3.1 URL, then the
//! OpenID Connect Discovery 1.0 §4 one.

use reqwest::Url;

/// The well-known URI suffix of RFC 8414 §3.1 (registered in §7.3).
const OAUTH_AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";

/// The well-known URI suffix of OpenID Connect Discovery 1.0 §4.
const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";

/// The metadata URLs of `issuer`, in the order they are tried.
///
/// RFC 8414 §3.1 inserts its suffix between the host and the path, after
/// dropping a terminating `/` from the path:
/// `https://a.example/tenant` → `https://a.example/.well-known/oauth-authorization-server/tenant`.
/// OpenID Connect Discovery 1.0 §4.1 appends its suffix to the issuer,
/// also after dropping a terminating `/`:
/// `https://a.example/tenant/` → `https://a.example/tenant/.well-known/openid-configuration`.
///
/// The issuer has no query and no fragment (checked when it was parsed);
/// the URLs built carry none either.
pub(crate) fn metadata_urls(issuer: &Url) -> [Url; 2] {
    let path = issuer.path();
    let path = path.strip_suffix('/').unwrap_or(path);
    let with_path = |path: String| {
        let mut url = issuer.clone();
        url.set_path(&path);
        url.set_query(None);
        url.set_fragment(None);
        url
    };
    [
        with_path(format!("{OAUTH_AUTHORIZATION_SERVER}{path}")),
        with_path(format!("{path}{OPENID_CONFIGURATION}")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(issuer: &str) -> [String; 2] {
        metadata_urls(&issuer.parse().expect("url")).map(String::from)
    }

    #[test]
    fn rfc8414_inserts_the_suffix_before_the_path_and_oidc_appends_it() {
        assert_eq!(
            urls("https://a.example/tenant"),
            [
                "https://a.example/.well-known/oauth-authorization-server/tenant",
                "https://a.example/tenant/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn a_terminating_slash_is_dropped_first() {
        assert_eq!(
            urls("https://a.example/tenant/"),
            urls("https://a.example/tenant")
        );
        assert_eq!(
            urls("https://a.example/realms/one/"),
            [
                "https://a.example/.well-known/oauth-authorization-server/realms/one",
                "https://a.example/realms/one/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn an_issuer_without_a_path_gets_the_bare_suffixes() {
        for issuer in ["https://a.example", "https://a.example/"] {
            assert_eq!(
                urls(issuer),
                [
                    "https://a.example/.well-known/oauth-authorization-server",
                    "https://a.example/.well-known/openid-configuration",
                ]
            );
        }
    }

    #[test]
    fn the_port_and_an_encoded_path_are_kept() {
        assert_eq!(
            urls("http://127.0.0.1:8080/t%20x"),
            [
                "http://127.0.0.1:8080/.well-known/oauth-authorization-server/t%20x",
                "http://127.0.0.1:8080/t%20x/.well-known/openid-configuration",
            ]
        );
    }
}
