//! A provider's mutual-TLS variables (`OAUTH2_<NAME>_TLS_CERT_FILE`,
//! `..._TLS_KEY_FILE`, `..._CA_FILE`) turned into its [`TlsIdentity`] and
//! [`TlsRoots`] (RFC 8705).

use super::error::ConfigError;
use super::key_vars::read_file;
use super::parse::{MAX_CA_FILE, read_capped_file};
use crate::oauth2::{TlsIdentity, TlsRoots};

/// A provider's TLS settings.
pub(super) struct TlsVars {
    pub(super) cert_file: Option<String>,
    pub(super) key_file: Option<String>,
    pub(super) ca_file: Option<String>,
}

impl TlsVars {
    /// The client identity (both files, or neither) and the trusted roots.
    /// An error names the variable whose file is wrong, never the key.
    pub(super) fn into_tls(
        self,
        var: &dyn Fn(&str) -> String,
    ) -> Result<(Option<TlsIdentity>, Option<TlsRoots>), ConfigError> {
        let set = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        let identity = match (set(self.cert_file), set(self.key_file)) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    variable: var("TLS_KEY_FILE"),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    variable: var("TLS_CERT_FILE"),
                });
            }
            (Some(cert_path), Some(key_path)) => {
                let chain = read_file(var, "TLS_CERT_FILE", &cert_path)?;
                let key = read_file(var, "TLS_KEY_FILE", &key_path)?;
                let identity = TlsIdentity::from_pem(&chain, &key).map_err(|e| {
                    let (setting, reason) = if e.is_about_key() {
                        ("TLS_KEY_FILE", format!("is unusable: {e}"))
                    } else if e.code() == "certificate_mismatch" {
                        (
                            "TLS_CERT_FILE",
                            format!(
                                "is unusable: its leaf certificate is not for the key in {}",
                                var("TLS_KEY_FILE")
                            ),
                        )
                    } else {
                        ("TLS_CERT_FILE", format!("is unusable: {e}"))
                    };
                    ConfigError::Invalid {
                        variable: var(setting),
                        reason,
                    }
                })?;
                Some(identity)
            }
        };
        let roots = match set(self.ca_file) {
            None => None,
            Some(path) => {
                let path = path.trim();
                let pem =
                    read_capped_file(path, MAX_CA_FILE).map_err(|source| ConfigError::File {
                        variable: var("CA_FILE"),
                        path: path.to_owned(),
                        source,
                    })?;
                Some(TlsRoots::from_pem(&pem).map_err(|e| ConfigError::Invalid {
                    variable: var("CA_FILE"),
                    reason: format!("is unusable: {e}"),
                })?)
            }
        };
        Ok((identity, roots))
    }
}
