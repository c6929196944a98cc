//! A provider's client key variables (`OAUTH2_<NAME>_CLIENT_KEY_*`,
//! `..._CLIENT_CERT_*`) turned into the [`ClientKey`] it signs its JWTs
//! with (RFC 7523), and a Google service account key file
//! (`..._SERVICE_ACCOUNT_FILE`).

use super::error::ConfigError;
use super::parse::{parse_bool, read_secret_file};
use crate::jose::{ClientKey, JwsAlgorithm, ServiceAccountKey};

/// A provider's client key settings.
pub(super) struct KeyVars {
    pub(super) key_file: Option<String>,
    pub(super) alg: Option<String>,
    pub(super) key_id: Option<String>,
    pub(super) cert_file: Option<String>,
    pub(super) cert_x5t: Option<String>,
}

impl KeyVars {
    /// The client key, when `CLIENT_KEY_FILE` is set; the other settings
    /// without it are an error that names it.
    pub(super) fn into_key(
        self,
        var: &dyn Fn(&str) -> String,
    ) -> Result<Option<ClientKey>, ConfigError> {
        let Some(path) = self.key_file.filter(|p| !p.trim().is_empty()) else {
            if self.alg.is_some()
                || self.key_id.is_some()
                || self.cert_file.is_some()
                || self.cert_x5t.is_some()
            {
                return Err(ConfigError::Missing {
                    variable: var("CLIENT_KEY_FILE"),
                });
            }
            return Ok(None);
        };
        let invalid = |setting: &str, reason: String| ConfigError::Invalid {
            variable: var(setting),
            reason,
        };
        let alg = match self.alg.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(name.parse::<JwsAlgorithm>().map_err(|_| {
                invalid(
                    "CLIENT_KEY_ALG",
                    "is not a supported JWS algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)".to_owned(),
                )
            })?),
        };
        if alg.is_some_and(JwsAlgorithm::is_symmetric) {
            return Err(invalid(
                "CLIENT_KEY_ALG",
                "names an HMAC algorithm; client_secret_jwt signs with the client secret, not a key file".to_owned(),
            ));
        }
        let text = read_file(var, "CLIENT_KEY_FILE", &path)?;
        let mut key = ClientKey::from_pem_or_jwk(&text, alg)
            .map_err(|e| invalid("CLIENT_KEY_FILE", format!("is unusable: {e}")))?;
        if let Some(kid) = self.key_id.filter(|k| !k.trim().is_empty()) {
            key = key.key_id(kid.trim());
        }
        if let Some(cert_path) = self.cert_file.filter(|p| !p.trim().is_empty()) {
            let pem = read_file(var, "CLIENT_CERT_FILE", &cert_path)?;
            key = key
                .certificate_pem(&pem)
                .map_err(|e| invalid("CLIENT_CERT_FILE", format!("is unusable: {e}")))?;
            if let Some(value) = self.cert_x5t {
                key = key.with_x5t(parse_bool(&var("CLIENT_CERT_X5T"), &value)?);
            }
        } else if self.cert_x5t.is_some() {
            return Err(ConfigError::Missing {
                variable: var("CLIENT_CERT_FILE"),
            });
        }
        Ok(Some(key))
    }
}

/// Reads the service account key file that `SERVICE_ACCOUNT_FILE` names.
pub(super) fn service_account(
    var: &dyn Fn(&str) -> String,
    path: &str,
) -> Result<ServiceAccountKey, ConfigError> {
    let text = read_file(var, "SERVICE_ACCOUNT_FILE", path)?;
    ServiceAccountKey::from_json(&text).map_err(|e| ConfigError::Invalid {
        variable: var("SERVICE_ACCOUNT_FILE"),
        reason: format!("is unusable: {e}"),
    })
}

/// A key or certificate file's text; the error names the variable and the
/// path, never the contents.
pub(super) fn read_file(
    var: &dyn Fn(&str) -> String,
    setting: &str,
    path: &str,
) -> Result<zeroize::Zeroizing<String>, ConfigError> {
    let path = path.trim();
    read_secret_file(path)
        .map(zeroize::Zeroizing::new)
        .map_err(|source| ConfigError::File {
            variable: var(setting),
            path: path.to_owned(),
            source,
        })
}
