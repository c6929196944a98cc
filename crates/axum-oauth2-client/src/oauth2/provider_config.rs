//! Provider configuration: where a provider's token endpoint is and how the
//! client authenticates to it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use super::secret::Secret;
use super::tls::{TlsIdentity, TlsRoots};
use super::token_params::TokenParams;
use super::url::redacted_url;
use crate::dpop::DpopKey;
use crate::http_signature::Signer;
use crate::jose::{ClientKey, ServiceAccountKey};
use crate::oauth2::endpoint::breaker::BreakerPolicy;
use crate::oauth2::endpoint::retry::RetryPolicy;

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1,
/// RFC 7523 §2.2, OpenID Connect Core §9, RFC 8705 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// HTTP Basic with the form-urlencoded client id and secret (the default).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with the client secret (HMAC, RFC 7518 §3.2) as
    /// `client_assertion`: the secret never crosses the network.
    ClientSecretJwt,
    /// A JWT signed with the client's private key as `client_assertion`
    /// (Entra ID certificates, Okta, Auth0, Keycloak): no secret at all.
    PrivateKeyJwt,
    /// Mutual TLS with a certificate the authorization server checks
    /// against a PKI, by its subject (RFC 8705 §2.1): the form carries
    /// `client_id` and no secret, the TLS handshake the client's
    /// [`TlsIdentity`].
    TlsClientAuth,
    /// Mutual TLS with a self-signed certificate the client registered
    /// itself (RFC 8705 §2.2): `client_id` in the form, no secret.
    SelfSignedTlsClientAuth,
    /// No client authentication: the grant's assertion identifies the
    /// client (Google service accounts, RFC 7523 §2.1).
    None,
}

impl AuthMethod {
    /// Every method.
    pub const ALL: [AuthMethod; 7] = [
        AuthMethod::PrivateKeyJwt,
        AuthMethod::TlsClientAuth,
        AuthMethod::SelfSignedTlsClientAuth,
        AuthMethod::ClientSecretJwt,
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::None,
    ];

    /// The registered name (RFC 7591 §2, OpenID Connect Core §9), as used
    /// in configuration.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
            Self::None => "none",
        }
    }

    /// Parses a registered name; `None` for any other value.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether the method needs the client secret.
    #[must_use]
    pub fn needs_secret(self) -> bool {
        matches!(
            self,
            Self::ClientSecretBasic | Self::ClientSecretPost | Self::ClientSecretJwt
        )
    }

    /// Whether the client authenticates by the certificate it presents in
    /// the TLS handshake (RFC 8705 §2).
    #[must_use]
    pub fn is_tls(self) -> bool {
        matches!(self, Self::TlsClientAuth | Self::SelfSignedTlsClientAuth)
    }
}

/// The grant a provider's own token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GrantType {
    /// Client credentials (RFC 6749 §4.4), the default.
    #[default]
    ClientCredentials,
    /// A JWT signed with the client's key as the authorization grant
    /// (RFC 7523 §2.1): Google service accounts, Entra ID federation.
    JwtBearer,
}

impl GrantType {
    /// The name used in configuration.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::JwtBearer => "jwt_bearer",
        }
    }

    /// Parses a configuration name (`client_credentials`, `jwt_bearer`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "client_credentials" => Some(Self::ClientCredentials),
            "jwt_bearer" => Some(Self::JwtBearer),
            _ => None,
        }
    }
}

/// An `aud` value of the JWTs the client signs (RFC 7523 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The token endpoint URL (the default; Entra ID, Okta, Google).
    TokenEndpoint,
    /// The issuer identifier (Keycloak, ZITADEL); needs a configured issuer.
    Issuer,
    /// Any other value, e.g. Auth0's tenant URL with its trailing slash.
    Value(String),
}

/// How the client signs its JWTs: the `client_assertion` of
/// `private_key_jwt` / `client_secret_jwt` and the JWT bearer grant's
/// `assertion` (RFC 7523 §3).
#[derive(Debug, Clone)]
pub(crate) struct AssertionSettings {
    /// `aud`: every value given, or the token endpoint.
    pub(crate) audience: Vec<AssertionAudience>,
    /// `exp - iat`.
    pub(crate) lifetime: Duration,
    /// `iss` of the grant's assertion (default: the client id).
    pub(crate) issuer: Option<String>,
    /// `sub` of the grant's assertion (default: its issuer).
    pub(crate) subject: Option<String>,
    /// Whether the grant's assertion carries the `scope` (Google) instead
    /// of the form.
    pub(crate) scope_in_assertion: bool,
    /// Whether the grant's assertion leaves `sub` out unless a subject is
    /// set (Google: `sub` names a user for domain-wide delegation only).
    pub(crate) omit_default_subject: bool,
}

impl Default for AssertionSettings {
    fn default() -> Self {
        Self {
            audience: Vec::new(),
            lifetime: ProviderConfig::DEFAULT_ASSERTION_LIFETIME,
            issuer: None,
            subject: None,
            scope_in_assertion: false,
            omit_default_subject: false,
        }
    }
}

/// One OAuth2 provider: a token endpoint and this client's credentials there.
///
/// Defaults: `client_secret_basic`, no scope, a default token lifetime of
/// 300 s when the token endpoint sends no `expires_in` (and the token is not
/// a JWT with an `exp` claim), a 10 s timeout for a whole token request and
/// 5 s to connect, the [`RetryPolicy`] and [`BreakerPolicy`] defaults, any
/// upstream origin, `http` token URLs on loopback hosts only, no signer, no
/// TLS client certificate and the built-in root CAs.
///
/// ```
/// use std::time::Duration;
/// use axum_oauth2_client::{AuthMethod, ProviderConfig};
///
/// let provider = ProviderConfig::new(
///     "https://auth.example.com/oauth/token".parse().unwrap(),
///     "orders-service",
///     "s3cr3t",
/// )
/// .scope("orders:read orders:write")
/// .auth_method(AuthMethod::ClientSecretPost)
/// .default_lifetime(Duration::from_secs(600));
/// assert!(!format!("{provider:?}").contains("s3cr3t"));
/// ```
#[derive(Clone)]
pub struct ProviderConfig {
    /// The token endpoint, when configured; else discovered from `issuer`.
    pub(crate) token_url: Option<Url>,
    /// The issuer identifier (RFC 8414 §2), for discovery and as an
    /// assertion `aud`.
    pub(crate) issuer: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) client_key: Option<ClientKey>,
    /// The certificate the provider's clients present (RFC 8705).
    pub(crate) tls_identity: Option<TlsIdentity>,
    /// The CAs the provider's clients trust instead of (or beside) the
    /// built-in ones.
    pub(crate) tls_roots: Option<TlsRoots>,
    /// The method set; `None`: discovery picks one, else the credentials'
    /// default ([`ProviderConfig::method`]).
    pub(crate) auth_method: Option<AuthMethod>,
    pub(crate) grant: GrantType,
    pub(crate) assertion: AssertionSettings,
    /// The key DPoP proofs are signed with (RFC 9449), when tokens are
    /// bound to one.
    pub(crate) dpop: Option<DpopKey>,
    /// Whether a `Bearer` answer to a DPoP token request is taken.
    pub(crate) dpop_allow_bearer: bool,
    pub(crate) params: TokenParams,
    pub(crate) default_lifetime: Duration,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) signer: Option<Arc<dyn Signer>>,
    pub(crate) retry: RetryPolicy,
    pub(crate) breaker: BreakerPolicy,
    pub(crate) allowed_origins: Option<Vec<url::Origin>>,
    pub(crate) allow_insecure_http: bool,
    pub(crate) forced_refresh_interval: Duration,
}

impl ProviderConfig {
    /// Default lifetime of a token whose response carries no `expires_in`.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
    /// Default bound on a whole token request.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default bound on connecting to the token endpoint.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default for how often a 401 may force a new token for one cache key.
    pub const DEFAULT_FORCED_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
    /// Default lifetime of the JWTs the client signs (Keycloak's default
    /// maximum; Auth0 allows 5 min, Okta and Google 1 h).
    pub const DEFAULT_ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

    /// A provider with a client secret (`client_secret_basic` by default)
    /// and every other default.
    pub fn new(
        token_url: Url,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        Self::with_credentials(
            Some(token_url),
            client_id.into(),
            Some(client_secret.into()),
            None,
        )
    }

    /// A provider for a Google service account key file
    /// ([`ServiceAccountKey`]): its token URL, its email as the client and
    /// as the assertion's `iss`, its key, the JWT bearer grant (RFC 7523
    /// §2.1) with the scope inside the assertion, and no client
    /// authentication.
    pub fn from_service_account(account: &ServiceAccountKey) -> Self {
        Self::with_credentials(
            Some(account.token_uri().clone()),
            account.client_email().to_owned(),
            None,
            Some(account.key().clone()),
        )
        .grant(GrantType::JwtBearer)
        .auth_method(AuthMethod::None)
        .assertion_issuer(account.client_email())
        .scope_in_assertion(true)
        .google_subject()
    }

    /// `sub` only when a subject is set, as Google wants it.
    pub(crate) fn google_subject(mut self) -> Self {
        self.assertion.omit_default_subject = true;
        self
    }

    /// A provider found through its issuer's metadata (RFC 8414, then
    /// OpenID Connect Discovery 1.0): the token endpoint and, unless
    /// [`auth_method`](Self::auth_method) sets one, the best client
    /// authentication method it supports for the credentials given
    /// (`private_key_jwt` with a key; else `tls_client_auth`, then
    /// `self_signed_tls_client_auth`, with a [`TlsIdentity`]; else
    /// `client_secret_basic`, `client_secret_post`, `client_secret_jwt`).
    /// With a TLS identity or a mutual-TLS method, token requests go to the
    /// metadata's `mtls_endpoint_aliases.token_endpoint` when it lists one
    /// (RFC 8705 §5). The metadata is fetched
    /// with the first token request (with its retries and circuit breaker,
    /// so that start-up never fails because the identity provider is
    /// briefly down), kept, and refreshed daily. The metadata's `issuer`
    /// must equal `issuer` exactly.
    ///
    /// ```
    /// use axum_oauth2_client::ProviderConfig;
    ///
    /// let okta = ProviderConfig::discovered("https://example.okta.com/oauth2/default", "orders")
    ///     .client_secret("s3cr3t")
    ///     .scope("orders:read");
    /// assert!(okta.token_url().is_none());
    /// ```
    pub fn discovered(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self::with_credentials(None, client_id.into(), None, None).issuer(issuer)
    }

    /// Sets the client secret.
    #[must_use]
    pub fn client_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// Sets the issuer identifier: the token endpoint is then discovered
    /// unless a token URL is configured (which overrides the metadata's),
    /// and it can be an assertion's `aud` ([`AssertionAudience::Issuer`]).
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// A provider whose client authenticates with a private key
    /// (`private_key_jwt`, RFC 7523 §2.2): no client secret.
    ///
    /// ```
    /// use axum_oauth2_client::{AuthMethod, ProviderConfig, jose::ClientKey};
    ///
    /// # fn run(pem: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// let key = ClientKey::from_pem_or_jwk(pem, None)?.key_id("2024-06");
    /// let provider = ProviderConfig::with_key(
    ///     "https://login.example.com/oauth2/v1/token".parse()?,
    ///     "orders-service",
    ///     key,
    /// );
    /// assert_eq!(provider.method(), AuthMethod::PrivateKeyJwt);
    /// # Ok(()) }
    /// ```
    pub fn with_key(token_url: Url, client_id: impl Into<String>, key: ClientKey) -> Self {
        Self::with_credentials(Some(token_url), client_id.into(), None, Some(key))
            .auth_method(AuthMethod::PrivateKeyJwt)
    }

    /// A provider whose client authenticates with its TLS certificate
    /// (`tls_client_auth`, RFC 8705 §2.1; set
    /// [`AuthMethod::SelfSignedTlsClientAuth`] for a self-signed one, §2.2):
    /// no client secret, and the token endpoint and the upstreams see the
    /// certificate ([`tls_identity`](Self::tls_identity)).
    pub fn with_tls_identity(
        token_url: Url,
        client_id: impl Into<String>,
        identity: TlsIdentity,
    ) -> Self {
        Self::with_credentials(Some(token_url), client_id.into(), None, None)
            .tls_identity(identity)
            .auth_method(AuthMethod::TlsClientAuth)
    }

    /// A provider with these credentials, the client credentials grant and
    /// `client_secret_basic`.
    pub(crate) fn with_credentials(
        token_url: Option<Url>,
        client_id: String,
        client_secret: Option<Secret>,
        client_key: Option<ClientKey>,
    ) -> Self {
        Self {
            token_url,
            issuer: None,
            client_id,
            client_secret,
            client_key,
            tls_identity: None,
            tls_roots: None,
            grant: GrantType::default(),
            assertion: AssertionSettings::default(),
            dpop: None,
            dpop_allow_bearer: false,
            auth_method: None,
            params: TokenParams::new(),
            default_lifetime: Self::DEFAULT_LIFETIME,
            timeout: Self::DEFAULT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            signer: None,
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            allowed_origins: None,
            allow_insecure_http: false,
            forced_refresh_interval: Self::DEFAULT_FORCED_REFRESH_INTERVAL,
        }
    }

    /// How failed token requests are retried.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// When the provider's circuit breaker opens.
    #[must_use]
    pub fn breaker(mut self, policy: BreakerPolicy) -> Self {
        self.breaker = policy;
        self
    }

    /// Confines the provider's tokens to these origins (scheme, host and
    /// port): [`fetch`](crate::OAuth2Service::fetch) refuses any other URL
    /// with `origin_not_allowed` before a token is attached, and stops at a
    /// redirect to any other origin (the 3xx is returned; the next hop
    /// never gets the body, the signature or the token).
    #[must_use]
    pub fn allowed_origins(mut self, origins: impl IntoIterator<Item = Url>) -> Self {
        self.allowed_origins = Some(origins.into_iter().map(|u| u.origin()).collect());
        self
    }

    /// Accepts plain `http` on a host that is not loopback: for the token
    /// URL, and for the upstream URLs that [`fetch`](crate::OAuth2Service::fetch)
    /// sends the token to. Client secrets and tokens then cross the network
    /// in clear text: for test environments only.
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// How often a 401 from an upstream may force a new token for one cache
    /// key (default 10 s; `Duration::ZERO` for no bound). Inside the
    /// interval a 401 is answered `unauthorized` without a token request,
    /// and the token stays cached for the upstreams that accept it.
    #[must_use]
    pub fn forced_refresh_interval(mut self, interval: Duration) -> Self {
        self.forced_refresh_interval = interval;
        self
    }

    /// Space-separated scopes requested with the provider's own grant.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.params = self.params.scope(scope);
        self
    }

    /// Adds an `audience` to every token request (Auth0 requires one for
    /// client credentials; RFC 8693 §2.1 for token exchange).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.params = self.params.audience(audience);
        self
    }

    /// Adds a `resource` indicator (RFC 8707 §2) to every token request.
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.params = self.params.resource(resource);
        self
    }

    /// Adds another form parameter to every token request (`organization`,
    /// `requested_token_use`, …). Names the grant or the client
    /// authentication send themselves are refused when the service is built.
    #[must_use]
    pub fn token_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params = self.params.param(name, value);
        self
    }

    /// Replaces every token request parameter (scope included) at once.
    #[must_use]
    pub fn token_params(mut self, params: TokenParams) -> Self {
        self.params = params;
        self
    }

    /// How the client authenticates (default `client_secret_basic`, or
    /// `private_key_jwt` for [`with_key`](Self::with_key)).
    #[must_use]
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.auth_method = Some(method);
        self
    }

    /// The client's private key, for `private_key_jwt` and the JWT bearer
    /// grant.
    #[must_use]
    pub fn client_key(mut self, key: ClientKey) -> Self {
        self.client_key = Some(key);
        self
    }

    /// Presents `identity` in the TLS handshake of every token request and
    /// of every upstream call that [`fetch`](crate::OAuth2Service::fetch)
    /// makes (RFC 8705): for `tls_client_auth` /
    /// `self_signed_tls_client_auth`, and so that tokens bound to the
    /// certificate (RFC 8705 §3) work upstream. A discovered provider then
    /// sends its token requests to the metadata's
    /// `mtls_endpoint_aliases.token_endpoint` when it has one (RFC 8705
    /// §5), and a JWT access token whose `cnf.x5t#S256` names another
    /// certificate is refused (`invalid_token_response`).
    ///
    /// An HTTP client given to
    /// [`OAuth2ServiceBuilder::http_client`](crate::OAuth2ServiceBuilder::http_client)
    /// or [`token_http_client`](crate::OAuth2ServiceBuilder::token_http_client)
    /// is used as it is: presenting the certificate is then that client's
    /// job ([`TlsIdentity::reqwest_identity`]). Default: none.
    #[must_use]
    pub fn tls_identity(mut self, identity: TlsIdentity) -> Self {
        self.tls_identity = Some(identity);
        self
    }

    /// Trusts `roots` for the token endpoint, the issuer's metadata and the
    /// upstreams, in place of the built-in root CAs unless
    /// [`TlsRoots::with_built_in_roots`] keeps them. Not applied to HTTP
    /// clients given to the builder. Default: the built-in roots.
    #[must_use]
    pub fn tls_roots(mut self, roots: TlsRoots) -> Self {
        self.tls_roots = Some(roots);
        self
    }

    /// The grant of the provider's own token (default client credentials).
    #[must_use]
    pub fn grant(mut self, grant: GrantType) -> Self {
        self.grant = grant;
        self
    }

    /// Adds an `aud` value to the JWTs the client signs (default: the
    /// token endpoint URL alone).
    #[must_use]
    pub fn assertion_audience(mut self, audience: AssertionAudience) -> Self {
        self.assertion.audience.push(audience);
        self
    }

    /// How long the JWTs the client signs are valid, `exp - iat`
    /// (default 60 s).
    #[must_use]
    pub fn assertion_lifetime(mut self, lifetime: Duration) -> Self {
        self.assertion.lifetime = lifetime;
        self
    }

    /// The `iss` of the JWT bearer grant's assertion (default: the client
    /// id; a Google service account's email).
    #[must_use]
    pub fn assertion_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.assertion.issuer = Some(issuer.into());
        self
    }

    /// The `sub` of the JWT bearer grant's assertion (default: its issuer;
    /// the user a Google service account acts for with domain-wide
    /// delegation).
    #[must_use]
    pub fn assertion_subject(mut self, subject: impl Into<String>) -> Self {
        self.assertion.subject = Some(subject.into());
        self
    }

    /// Binds the provider's tokens to `key` with DPoP (RFC 9449): every
    /// token request carries a proof signed with it (a `DPoP-Nonce` the
    /// server asks for is taken and the request sent once more), the
    /// server's `token_type: DPoP` tokens are sent as `Authorization: DPoP
    /// …` with a proof per upstream request (`ath` binding it to the
    /// token), and an upstream's `use_dpop_nonce` challenge is answered by
    /// one retry with its nonce. A `Bearer` answer is refused unless
    /// [`dpop_allow_bearer`](Self::dpop_allow_bearer).
    #[must_use]
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// Takes a `Bearer` token in answer to a DPoP token request (a server
    /// that does not bind this client's tokens); default `false`: such an
    /// answer is `invalid_token_response`.
    #[must_use]
    pub fn dpop_allow_bearer(mut self, allow: bool) -> Self {
        self.dpop_allow_bearer = allow;
        self
    }

    /// Sends the `scope` inside the JWT bearer grant's assertion instead
    /// of the form (Google service accounts).
    #[must_use]
    pub fn scope_in_assertion(mut self, inside: bool) -> Self {
        self.assertion.scope_in_assertion = inside;
        self
    }

    /// Lifetime assumed when a token response has no `expires_in` (default 300 s).
    #[must_use]
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime;
        self
    }

    /// Bound on a whole token request, body included (default 10 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Bound on connecting to the token endpoint (default 5 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Signs every request sent to this provider's upstreams, unless the
    /// request's own [`FetchOptions::signer`](crate::FetchOptions::signer)
    /// overrides it.
    #[must_use]
    pub fn signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The token endpoint, unless it is discovered.
    #[must_use]
    pub fn token_url(&self) -> Option<&Url> {
        self.token_url.as_ref()
    }

    /// The issuer identifier, when configured.
    #[must_use]
    pub fn issuer_id(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// Whether the provider's tokens are confined to a list of origins
    /// ([`allowed_origins`](Self::allowed_origins)).
    #[must_use]
    pub fn confines_origins(&self) -> bool {
        self.allowed_origins.is_some()
    }

    /// The client id.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret, if the client has one.
    #[must_use]
    pub fn secret(&self) -> Option<&Secret> {
        self.client_secret.as_ref()
    }

    /// The client's private key, if it has one.
    #[must_use]
    pub fn key(&self) -> Option<&ClientKey> {
        self.client_key.as_ref()
    }

    /// The TLS client identity, if the provider has one.
    #[must_use]
    pub fn identity(&self) -> Option<&TlsIdentity> {
        self.tls_identity.as_ref()
    }

    /// The CAs trusted instead of (or beside) the built-in ones, if set.
    #[must_use]
    pub fn trusted_roots(&self) -> Option<&TlsRoots> {
        self.tls_roots.as_ref()
    }

    /// The grant of the provider's own token.
    #[must_use]
    pub fn grant_type(&self) -> GrantType {
        self.grant
    }

    /// The client authentication method: the one set, else the
    /// credentials' default (`client_secret_basic` with a secret,
    /// `private_key_jwt` with a key alone, `tls_client_auth` with a TLS
    /// identity alone, `none` without any). A
    /// discovered provider without a method set uses the one its metadata
    /// allows instead.
    #[must_use]
    pub fn method(&self) -> AuthMethod {
        self.auth_method
            .unwrap_or(match (&self.client_secret, &self.client_key) {
                (Some(_), _) => AuthMethod::ClientSecretBasic,
                (None, Some(_)) if self.grant == GrantType::ClientCredentials => {
                    AuthMethod::PrivateKeyJwt
                }
                (None, None)
                    if self.tls_identity.is_some()
                        && self.grant == GrantType::ClientCredentials =>
                {
                    AuthMethod::TlsClientAuth
                }
                _ => AuthMethod::None,
            })
    }

    /// Whether the client authentication method was set rather than left
    /// to the credentials or discovery.
    pub(crate) fn method_is_set(&self) -> bool {
        self.auth_method.is_some()
    }

    /// The configured scope, if any.
    #[must_use]
    pub fn scopes(&self) -> Option<&str> {
        self.params.scopes()
    }

    /// The parameters every token request carries.
    #[must_use]
    pub fn params(&self) -> &TokenParams {
        &self.params
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("token_url", &self.token_url.as_ref().map(redacted_url))
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("client_key", &self.client_key)
            .field("tls_identity", &self.tls_identity)
            .field("tls_roots", &self.tls_roots)
            .field("auth_method", &self.auth_method)
            .field("grant", &self.grant)
            .field("assertion", &self.assertion)
            .field("dpop", &self.dpop)
            .field("dpop_allow_bearer", &self.dpop_allow_bearer)
            .field("params", &self.params)
            .field("default_lifetime", &self.default_lifetime)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("signer", &self.signer)
            .field("retry", &self.retry)
            .field("breaker", &self.breaker)
            .field(
                "allowed_origins",
                &self.allowed_origins.as_ref().map(|o| {
                    o.iter()
                        .map(url::Origin::ascii_serialization)
                        .collect::<Vec<_>>()
                }),
            )
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("forced_refresh_interval", &self.forced_refresh_interval)
            .finish()
    }
}
