//! [`Route`]: where a provider's token request goes and how its client
//! authenticates there — as configured, or as the issuer's metadata says
//! (RFC 8414, OpenID Connect Discovery), with the method chosen for the
//! credentials given.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use reqwest::Url;

use super::discovery::{AuthorizationServerMetadata, MetadataRequest, choose_auth_method};
use super::error::OAuth2Error;
use super::provider::Provider;
use super::provider_config::{AuthMethod, GrantType};
use super::url::redacted_url;

/// Where a token request goes and how the client authenticates there.
pub(crate) struct Route {
    pub(crate) token_url: Url,
    pub(crate) method: AuthMethod,
    /// The issuer's metadata, for a provider that discovers it.
    pub(crate) metadata: Option<Arc<AuthorizationServerMetadata>>,
}

impl Provider {
    /// The issuer's metadata (fetched, or the copy held), with the token
    /// request's retries; `None` for a provider with a configured token
    /// URL and no issuer.
    async fn metadata(&self) -> Result<Option<Arc<AuthorizationServerMetadata>>, OAuth2Error> {
        let Some(discovery) = &self.discovery else {
            return Ok(None);
        };
        let request = MetadataRequest {
            http: &self.token_http,
            provider: &self.name,
            clock: &*self.clock,
            retry: &self.config.retry,
            timeout: self.config.timeout,
            closed: &self.closed,
        };
        discovery.metadata(&request).await.map(Some)
    }

    /// Where this attempt's token request goes and how the client
    /// authenticates: as configured, or as the issuer's metadata says
    /// (said once in the log when first learnt).
    pub(crate) async fn route(&self) -> Result<Route, OAuth2Error> {
        let metadata = self.metadata().await?;
        let method = match &metadata {
            Some(metadata) if !self.config.method_is_set() => choose_auth_method(
                &self.usable_methods(metadata),
                self.config.client_secret.is_some(),
                self.config.client_key.is_some(),
                self.config.tls_identity.is_some(),
            )
            .and_then(AuthMethod::from_name)
            // RFC 6749 §4.4: client credentials are for confidential
            // clients only; `none` suits the JWT bearer grant.
            .filter(|m| *m != AuthMethod::None || self.config.grant != GrantType::ClientCredentials)
            .ok_or_else(|| OAuth2Error::InvalidMetadata {
                provider: self.name.to_string(),
                url: redacted_url(metadata.token_endpoint()),
                field: Some("token_endpoint_auth_methods_supported"),
                reason: format!(
                    "lists no method the configured credentials can use (it lists: {})",
                    crate::oauth2::error::sanitize(
                        &metadata.token_endpoint_auth_methods_supported().join(", ")
                    )
                ),
            })?,
            _ => self.config.method(),
        };
        // A configured token URL overrides the metadata's. A client that
        // presents a certificate, to authenticate or to have its tokens
        // bound to it, uses the mutual-TLS alias (RFC 8705 §5).
        let mtls = method.is_tls() || self.config.tls_identity.is_some();
        let token_url = match (&self.config.token_url, &metadata) {
            (Some(url), _) => url.clone(),
            (None, Some(metadata)) => match metadata.mtls_token_endpoint() {
                Some(alias) if mtls => alias.clone(),
                _ => metadata.token_endpoint().clone(),
            },
            (None, None) => {
                return Err(OAuth2Error::InvalidConfig {
                    provider: self.name.to_string(),
                    reason: "neither a token URL nor an issuer is configured".to_owned(),
                });
            }
        };
        if let Some(metadata) = &metadata
            && !self.announced.swap(true, Ordering::AcqRel)
        {
            tracing::info!(
                provider = &*self.name,
                issuer = metadata.issuer(),
                token_endpoint = %redacted_url(&token_url),
                auth_method = method.as_str(),
                chosen = !self.config.method_is_set(),
                "token endpoint discovered"
            );
        }
        Ok(Route {
            token_url,
            method,
            metadata,
        })
    }

    /// The methods the metadata lists that these credentials can use:
    /// `client_secret_jwt` needs a secret of at least 32 bytes (HS256,
    /// RFC 7518 §3.2), `private_key_jwt` a key whose algorithm the server
    /// lists when it lists any.
    fn usable_methods(&self, metadata: &AuthorizationServerMetadata) -> Vec<String> {
        let secret_len = self
            .config
            .client_secret
            .as_ref()
            .map_or(0, |s| s.expose_secret().len());
        let key_alg = self
            .config
            .client_key
            .as_ref()
            .map(|k| k.algorithm().as_str());
        let algs = metadata.token_endpoint_auth_signing_alg_values_supported();
        metadata
            .token_endpoint_auth_methods_supported()
            .iter()
            .filter(|m| match m.as_str() {
                "client_secret_jwt" => secret_len >= 32,
                "private_key_jwt" => {
                    algs.is_none_or(|algs| key_alg.is_some_and(|a| algs.iter().any(|l| l == a)))
                }
                _ => true,
            })
            .cloned()
            .collect()
    }
}
