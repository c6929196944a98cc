//! Client authentication at the token endpoint: a secret in `Basic` or in
//! the form (RFC 6749 §2.3.1), or a signed JWT as `client_assertion`
//! (RFC 7523 §2.2, OpenID Connect Core §9: `client_secret_jwt`,
//! `private_key_jwt`), or the TLS client certificate with `client_id` in
//! the form (RFC 8705 §2: `tls_client_auth`, `self_signed_tls_client_auth`).
//!
//! A JWT is made for every attempt, retries included, with a fresh `jti`
//! and `iat`: identity providers refuse a `jti` they have seen.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Url;
use reqwest::header::HeaderValue;
use url::form_urlencoded;
use zeroize::Zeroizing;

use crate::jose::{ClientAssertion, ClientKey, JwsAlgorithm};
use crate::oauth2::error::OAuth2Error;
use crate::oauth2::provider_config::{AssertionAudience, AuthMethod, ProviderConfig};
use crate::oauth2::secret::Secret;

/// The `client_assertion_type` of a JWT (RFC 7523 §2.2).
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What one attempt adds to the token request to authenticate the client.
pub(crate) enum ClientAuth<'a> {
    /// An `Authorization: Basic` header.
    Header(HeaderValue),
    /// `client_id` and `client_secret` in the form.
    Secret { client_id: &'a str, secret: &'a str },
    /// `client_id`, `client_assertion_type` and `client_assertion`.
    Assertion {
        client_id: &'a str,
        assertion: Secret,
    },
    /// `client_id` alone: the TLS handshake authenticated the client
    /// (RFC 8705 §2 requires the `client_id` parameter).
    ClientId(&'a str),
    /// Nothing: the grant identifies the client.
    None,
}

impl ClientAuth<'_> {
    /// The form fields it adds.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        let pairs: [Option<(&str, &str)>; 3] = match self {
            Self::Header(_) | Self::None => [None, None, None],
            Self::ClientId(client_id) => [Some(("client_id", client_id)), None, None],
            Self::Secret { client_id, secret } => [
                Some(("client_id", client_id)),
                Some(("client_secret", secret)),
                None,
            ],
            Self::Assertion {
                client_id,
                assertion,
            } => [
                Some(("client_id", client_id)),
                Some(("client_assertion_type", ASSERTION_TYPE)),
                Some(("client_assertion", assertion.expose_secret())),
            ],
        };
        pairs.into_iter().flatten()
    }
}

/// How the client authenticates for one attempt to `token_url`.
pub(crate) fn authenticate<'a>(
    provider: &str,
    config: &'a ProviderConfig,
    method: AuthMethod,
    token_url: &Url,
    issuer: Option<&str>,
    now: SystemTime,
) -> Result<ClientAuth<'a>, OAuth2Error> {
    let client_id = config.client_id.as_str();
    let secret = || {
        config
            .client_secret
            .as_ref()
            .map(Secret::expose_secret)
            .ok_or_else(|| OAuth2Error::AssertionFailed {
                provider: provider.to_owned(),
                reason: format!("{} needs a client secret", method.as_str()),
            })
    };
    Ok(match method {
        AuthMethod::ClientSecretBasic => {
            ClientAuth::Header(basic_credentials(client_id, secret()?))
        }
        AuthMethod::ClientSecretPost => ClientAuth::Secret {
            client_id,
            secret: secret()?,
        },
        AuthMethod::ClientSecretJwt => {
            let key = ClientKey::hmac(secret()?.as_bytes(), JwsAlgorithm::HS256).map_err(|e| {
                OAuth2Error::AssertionFailed {
                    provider: provider.to_owned(),
                    reason: format!("the client secret cannot sign HS256: {e}"),
                }
            })?;
            let assertion = client_assertion(provider, config, &key, token_url, issuer, now)?;
            ClientAuth::Assertion {
                client_id,
                assertion,
            }
        }
        AuthMethod::PrivateKeyJwt => {
            let key = config
                .client_key
                .as_ref()
                .ok_or_else(|| OAuth2Error::AssertionFailed {
                    provider: provider.to_owned(),
                    reason: "private_key_jwt needs a client key".to_owned(),
                })?;
            let assertion = client_assertion(provider, config, key, token_url, issuer, now)?;
            ClientAuth::Assertion {
                client_id,
                assertion,
            }
        }
        // The certificate is the HTTP client's: the provider's identity,
        // or whatever a client given to the builder presents.
        AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth => {
            ClientAuth::ClientId(client_id)
        }
        AuthMethod::None => ClientAuth::None,
    })
}

/// The client's own assertion (RFC 7523 §3): `iss` = `sub` = the client id.
fn client_assertion(
    provider: &str,
    config: &ProviderConfig,
    key: &ClientKey,
    token_url: &Url,
    issuer: Option<&str>,
    now: SystemTime,
) -> Result<Secret, OAuth2Error> {
    let audience = audience(provider, config, token_url, issuer)?;
    ClientAssertion::new(&config.client_id, &config.client_id, audience)
        .lifetime(config.assertion.lifetime)
        .sign(key, now)
        .map_err(|e| OAuth2Error::AssertionFailed {
            provider: provider.to_owned(),
            reason: e.to_string(),
        })
}

/// The `aud` values of the JWTs the client signs: those configured, or
/// the token endpoint URL.
pub(crate) fn audience(
    provider: &str,
    config: &ProviderConfig,
    token_url: &Url,
    issuer: Option<&str>,
) -> Result<Vec<String>, OAuth2Error> {
    if config.assertion.audience.is_empty() {
        return Ok(vec![token_url.as_str().to_owned()]);
    }
    config
        .assertion
        .audience
        .iter()
        .map(|aud| match aud {
            AssertionAudience::TokenEndpoint => Ok(token_url.as_str().to_owned()),
            AssertionAudience::Issuer => {
                issuer
                    .map(str::to_owned)
                    .ok_or_else(|| OAuth2Error::AssertionFailed {
                        provider: provider.to_owned(),
                        reason: "the assertion audience is the issuer, but no issuer is configured"
                            .to_owned(),
                    })
            }
            AssertionAudience::Value(value) => Ok(value.clone()),
        })
        .collect()
}

/// `Authorization: Basic` with the client id and secret each
/// form-urlencoded before they are joined and base64-encoded, as RFC 6749
/// §2.3.1 requires (a `:` or `%` in a secret would otherwise break it).
/// Every buffer on the way, the header's own included, is zeroed on drop.
pub(crate) fn basic_credentials(client_id: &str, client_secret: &str) -> HeaderValue {
    let mut pair = Zeroizing::new(Vec::with_capacity(
        3 * (client_id.len() + client_secret.len()) + 1,
    ));
    pair.extend(form_urlencoded::byte_serialize(client_id.as_bytes()).flat_map(str::bytes));
    pair.push(b':');
    pair.extend(form_urlencoded::byte_serialize(client_secret.as_bytes()).flat_map(str::bytes));
    let mut value = Zeroizing::new(Vec::with_capacity(6 + pair.len().div_ceil(3) * 4));
    value.extend_from_slice(b"Basic ");
    let start = value.len();
    value.resize(start + pair.len().div_ceil(3) * 4, 0);
    let written = STANDARD
        .encode_slice(&pair[..], &mut value[start..])
        .unwrap_or_default();
    value.truncate(start + written);
    let mut value = HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(value))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_form_encode_before_base64() {
        // RFC 6749 §2.3.1 / Appendix B: "a:b c" is sent as "a%3Ab+c".
        let value = basic_credentials("client:1", "s3cr3t: %x");
        assert!(value.is_sensitive());
        let encoded = value
            .to_str()
            .expect("ascii")
            .strip_prefix("Basic ")
            .expect("basic");
        let decoded = String::from_utf8(STANDARD.decode(encoded).expect("base64")).expect("utf8");
        assert_eq!(decoded, "client%3A1:s3cr3t%3A+%25x");
    }

    #[test]
    fn tls_methods_send_the_client_id_and_no_secret() {
        let url: Url = "https://mtls.idp.example/token".parse().expect("url");
        let config = ProviderConfig::new(url.clone(), "orders", "unused-secret");
        for method in [
            AuthMethod::TlsClientAuth,
            AuthMethod::SelfSignedTlsClientAuth,
        ] {
            let auth = authenticate("p", &config, method, &url, None, SystemTime::now())
                .expect("authenticated");
            let fields: Vec<_> = auth.fields().collect();
            assert_eq!(fields, [("client_id", "orders")], "{}", method.as_str());
            assert!(!matches!(auth, ClientAuth::Header(_)));
        }
    }

    #[test]
    fn the_assertion_audience_defaults_to_the_token_url_and_resolves_keywords() {
        let url: Url = "https://idp.example/oauth2/token".parse().expect("url");
        let plain = ProviderConfig::new(url.clone(), "id", "secret");
        assert_eq!(
            audience("p", &plain, &url, None).expect("default"),
            ["https://idp.example/oauth2/token"]
        );
        let several = plain
            .assertion_audience(AssertionAudience::Issuer)
            .assertion_audience(AssertionAudience::Value("https://tenant.example/".into()));
        assert_eq!(
            audience("p", &several, &url, Some("https://idp.example")).expect("resolved"),
            ["https://idp.example", "https://tenant.example/"]
        );
        let err = audience("p", &several, &url, None).expect_err("no issuer");
        assert_eq!(err.code(), "assertion_failed");
    }
}
