//! A provider's DPoP variables (`OAUTH2_<NAME>_DPOP*`, RFC 9449) turned
//! into the key its tokens are bound to.

use super::error::ConfigError;
use super::parse::{parse_bool, read_secret_file};
use crate::dpop::DpopKey;
use crate::jose::JwsAlgorithm;

/// A provider's DPoP settings.
pub(super) struct DpopVars {
    pub(super) enabled: Option<String>,
    pub(super) key_file: Option<String>,
    pub(super) alg: Option<String>,
    pub(super) allow_bearer: Option<String>,
}

impl DpopVars {
    /// The DPoP key when `DPOP` is true: loaded from `DPOP_KEY_FILE`, or a
    /// new ES256 key for the life of the process; and whether a `Bearer`
    /// answer is taken. The other settings without `DPOP=true` are an
    /// error that names it.
    pub(super) fn into_key(
        self,
        var: &dyn Fn(&str) -> String,
    ) -> Result<(Option<DpopKey>, bool), ConfigError> {
        let enabled = match &self.enabled {
            Some(value) => parse_bool(&var("DPOP"), value)?,
            None => false,
        };
        let allow_bearer = match &self.allow_bearer {
            Some(value) => parse_bool(&var("DPOP_ALLOW_BEARER"), value)?,
            None => false,
        };
        if !enabled {
            if self.key_file.is_some() || self.alg.is_some() || self.allow_bearer.is_some() {
                return Err(ConfigError::Invalid {
                    variable: var("DPOP"),
                    reason: "must be true for the other DPOP_ settings to apply".into(),
                });
            }
            return Ok((None, false));
        }
        let invalid = |setting: &str, reason: String| ConfigError::Invalid {
            variable: var(setting),
            reason,
        };
        let alg = match self.alg.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(name.parse::<JwsAlgorithm>().ok().filter(|a| !a.is_symmetric()).ok_or_else(|| {
                invalid(
                    "DPOP_KEY_ALG",
                    "is not a supported DPoP algorithm (ES256, ES384, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512)".into(),
                )
            })?),
        };
        let key = match self.key_file.as_deref().map(str::trim) {
            None | Some("") if alg.is_some() => {
                return Err(ConfigError::Missing {
                    variable: var("DPOP_KEY_FILE"),
                });
            }
            None | Some("") => DpopKey::generate(),
            Some(path) => {
                let text = read_secret_file(path)
                    .map(zeroize::Zeroizing::new)
                    .map_err(|source| ConfigError::File {
                        variable: var("DPOP_KEY_FILE"),
                        path: path.to_owned(),
                        source,
                    })?;
                DpopKey::from_pem_or_jwk(&text, alg)
                    .map_err(|e| invalid("DPOP_KEY_FILE", format!("is unusable: {e}")))?
            }
        };
        Ok((Some(key), allow_bearer))
    }
}
