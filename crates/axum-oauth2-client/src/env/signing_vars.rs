//! A provider's RFC 9421 signing variables (`OAUTH2_<NAME>_SIGNING_*`)
//! turned into its [`MessageSigner`].

use super::error::ConfigError;
use super::parse::read_secret_file;
use crate::http_signature::{MessageSigner, SigningConfigError};

/// A provider's RFC 9421 signing settings.
pub(super) struct SigningVars {
    pub(super) key_file: Option<String>,
    pub(super) alg: Option<String>,
    pub(super) key_id: Option<String>,
    pub(super) components: Option<String>,
}

impl SigningVars {
    /// The provider's signer, when any signing variable is set.
    pub(super) fn into_signer(
        self,
        var: &dyn Fn(&str) -> String,
    ) -> Result<Option<MessageSigner>, ConfigError> {
        if self.key_file.is_none()
            && self.alg.is_none()
            && self.key_id.is_none()
            && self.components.is_none()
        {
            return Ok(None);
        }
        let present = |value: Option<String>, setting: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| ConfigError::Missing {
                    variable: var(setting),
                })
        };
        let path = present(self.key_file, "SIGNING_KEY_FILE")?;
        let alg = present(self.alg, "SIGNING_ALG")?;
        let path = path.trim();
        let key = read_secret_file(path).map_err(|source| ConfigError::File {
            variable: var("SIGNING_KEY_FILE"),
            path: path.to_owned(),
            source,
        })?;
        let signer = MessageSigner::from_config(
            &alg,
            &key,
            self.key_id.as_deref(),
            self.components.as_deref(),
        )
        .map_err(|e| {
            // Name the variable that holds what is wrong; the message
            // never contains key material.
            let setting = match &e {
                SigningConfigError::UnknownAlgorithm(_) => "SIGNING_ALG",
                SigningConfigError::Key(_) => "SIGNING_KEY_FILE",
                SigningConfigError::BadKeyId { .. } => "SIGNING_KEY_ID",
                SigningConfigError::BadComponent(_) => "SIGNING_COMPONENTS",
            };
            ConfigError::Invalid {
                variable: var(setting),
                reason: format!("is unusable: {e}"),
            }
        })?;
        Ok(Some(signer))
    }
}
