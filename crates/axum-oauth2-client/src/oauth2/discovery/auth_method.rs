//! Which client authentication method to use at a token endpoint, given
//! what its metadata lists (`token_endpoint_auth_methods_supported`,
//! RFC 8414 §2) and the credentials configured.

/// The registered names (RFC 7591 §2; OpenID Connect Core 1.0 §9), most
/// preferred first, with the credential each needs.
const PREFERENCE: [(&str, Credential); 6] = [
    ("private_key_jwt", Credential::Key),
    ("tls_client_auth", Credential::Tls),
    ("self_signed_tls_client_auth", Credential::Tls),
    ("client_secret_basic", Credential::Secret),
    ("client_secret_post", Credential::Secret),
    ("client_secret_jwt", Credential::Secret),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    Key,
    Tls,
    Secret,
}

/// The client authentication method to use, by its registered name, or
/// `None` when no listed method fits the credentials configured.
///
/// The order, and why:
///
/// 1. `private_key_jwt` (RFC 7523 §2.2), when a signing key is configured:
///    no shared secret exists. The server holds only a public key, and an
///    assertion seen on the way is short-lived and bound to this token
///    endpoint, so neither side can leak what would let someone else act
///    as the client.
/// 2. `tls_client_auth`, then `self_signed_tls_client_auth` (RFC 8705
///    §2), when a TLS client identity is configured: no shared secret
///    either, and the private key never leaves the client. After
///    `private_key_jwt` because mutual TLS needs the handshake to reach the
///    authorization server (or a proxy that forwards the certificate), and
///    a key configured for assertions says the client was registered for
///    them. `tls_client_auth` (a certificate checked against a PKI) goes
///    first; a client registered with a self-signed certificate sets
///    [`AuthMethod::SelfSignedTlsClientAuth`](crate::AuthMethod) when the
///    server lists both.
/// 3. `client_secret_basic` (RFC 6749 §2.3.1), when a secret is
///    configured: the one method every server must support, and the
///    default when the metadata lists none. The token endpoint is always
///    reached over TLS (plain http only on loopback or by explicit
///    opt-in), which protects the secret on the way.
/// 4. `client_secret_post`: the same secret in the form body, which
///    RFC 6749 §2.3.1 does not recommend, since request bodies are more
///    often logged than `Authorization` headers.
/// 5. `client_secret_jwt` (RFC 7523 §2.2), last among the secret methods:
///    it keeps the secret off the wire, but over TLS that gains little,
///    and it adds what can break: an HMAC algorithm the server must list
///    in `token_endpoint_auth_signing_alg_values_supported`, a client
///    clock close enough to the server's for `exp`, and a server that
///    keeps the secret in a form it can compute with rather than a hash.
///
/// The mutual-TLS methods are offered only with a TLS identity configured:
/// without one the connection presents no certificate (an HTTP client
/// given to the builder may, but then its method is set explicitly).
/// `none` is chosen only when no secret, key or TLS identity is
/// configured, so that a configured credential is never silently left
/// unused.
///
/// Names are compared exactly, as registered. When `private_key_jwt` is
/// chosen, the key's algorithm still has to be one the server lists in
/// `token_endpoint_auth_signing_alg_values_supported`.
pub(crate) fn choose_auth_method(
    supported: &[String],
    have_secret: bool,
    have_key: bool,
    have_tls: bool,
) -> Option<&'static str> {
    let listed = |name: &str| supported.iter().any(|s| s == name);
    if !have_secret && !have_key && !have_tls {
        return listed("none").then_some("none");
    }
    PREFERENCE
        .iter()
        .find(|(name, needs)| {
            let have = match needs {
                Credential::Key => have_key,
                Credential::Tls => have_tls,
                Credential::Secret => have_secret,
            };
            have && listed(name)
        })
        .map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(supported: &[&str], have_secret: bool, have_key: bool) -> Option<&'static str> {
        choose_tls(supported, have_secret, have_key, false)
    }

    fn choose_tls(
        supported: &[&str],
        have_secret: bool,
        have_key: bool,
        have_tls: bool,
    ) -> Option<&'static str> {
        let supported: Vec<String> = supported.iter().map(|s| (*s).to_owned()).collect();
        choose_auth_method(&supported, have_secret, have_key, have_tls)
    }

    const ALL: &[&str] = &[
        "none",
        "client_secret_jwt",
        "client_secret_post",
        "tls_client_auth",
        "client_secret_basic",
        "self_signed_tls_client_auth",
        "private_key_jwt",
    ];

    #[test]
    fn a_configured_key_wins_when_the_server_takes_private_key_jwt() {
        assert_eq!(choose(ALL, true, true), Some("private_key_jwt"));
        assert_eq!(choose(ALL, false, true), Some("private_key_jwt"));
    }

    #[test]
    fn secret_methods_go_basic_then_post_then_jwt() {
        assert_eq!(choose(ALL, true, false), Some("client_secret_basic"));
        assert_eq!(
            choose(&["client_secret_jwt", "client_secret_post"], true, false),
            Some("client_secret_post")
        );
        assert_eq!(
            choose(&["client_secret_jwt", "tls_client_auth"], true, false),
            Some("client_secret_jwt")
        );
        // A key the server does not take falls back on the secret.
        assert_eq!(
            choose(&["client_secret_post"], true, true),
            Some("client_secret_post")
        );
    }

    #[test]
    fn nothing_fits_without_a_matching_credential() {
        assert_eq!(choose(&["private_key_jwt"], true, false), None);
        assert_eq!(choose(&["client_secret_basic"], false, true), None);
        assert_eq!(
            choose(
                &["tls_client_auth", "self_signed_tls_client_auth"],
                true,
                true
            ),
            None
        );
        assert_eq!(choose(&[], true, true), None);
        assert_eq!(
            choose(&["none"], true, false),
            None,
            "a secret is never dropped"
        );
    }

    #[test]
    fn a_tls_identity_comes_after_a_key_and_before_a_secret() {
        assert_eq!(choose_tls(ALL, true, true, true), Some("private_key_jwt"));
        assert_eq!(choose_tls(ALL, true, false, true), Some("tls_client_auth"));
        assert_eq!(choose_tls(ALL, false, false, true), Some("tls_client_auth"));
        assert_eq!(
            choose_tls(
                &["self_signed_tls_client_auth", "client_secret_basic"],
                true,
                false,
                true
            ),
            Some("self_signed_tls_client_auth")
        );
        // A server without mutual TLS falls back on the secret, and a
        // certificate alone is no reason to pick `none`.
        assert_eq!(
            choose_tls(&["client_secret_post"], true, false, true),
            Some("client_secret_post")
        );
        assert_eq!(choose_tls(&["none"], false, false, true), None);
        assert_eq!(
            choose_tls(&["client_secret_basic"], false, false, true),
            None
        );
    }

    #[test]
    fn none_only_for_a_client_without_credentials() {
        assert_eq!(choose(ALL, false, false), Some("none"));
        assert_eq!(choose(&["client_secret_basic"], false, false), None);
    }

    #[test]
    fn names_are_compared_exactly() {
        assert_eq!(
            choose(&["Client_Secret_Basic", " client_secret_post"], true, false),
            None
        );
    }
}
