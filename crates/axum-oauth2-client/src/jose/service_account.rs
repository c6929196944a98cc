//! Google service account key files: the JSON a Google Cloud service
//! account key is downloaded as, whose key signs the JWT bearer grant
//! (RFC 7523 §2.1) at its `token_uri`.

use std::fmt;

use reqwest::Url;
use serde_json::Value;

use super::algorithm::JwsAlgorithm;
use super::client_key::ClientKey;
use super::error::KeyError;
use crate::oauth2::scrubbed_json::ScrubbedJson;

/// A parsed Google service account key file.
///
/// Its key signs `RS256` with the file's `private_key_id` as `kid`; the
/// assertion's `iss` (and `sub`, unless impersonating a user) is
/// [`client_email`](Self::client_email) and its `aud` the
/// [`token_uri`](Self::token_uri). `Debug` shows no key material.
#[derive(Clone)]
pub struct ServiceAccountKey {
    key: ClientKey,
    client_email: String,
    token_uri: Url,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri.as_str())
            .field("key", &self.key)
            .finish()
    }
}

/// Why a service account key file could not be read. Names the field at
/// fault, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceAccountError {
    /// The file is not a JSON object.
    #[error("the service account key file is not a JSON object")]
    NotJson,
    /// A required field is absent.
    #[error("the service account key file has no {field:?} field")]
    MissingField {
        /// The field name.
        field: &'static str,
    },
    /// A field is present but not usable.
    #[error("the service account key file field {field:?} {reason}")]
    InvalidField {
        /// The field name.
        field: &'static str,
        /// What is wrong with it, without its value.
        reason: &'static str,
    },
    /// The `private_key` field does not hold a usable RSA private key.
    #[error("the service account key file field \"private_key\" is not usable: {0}")]
    Key(#[source] KeyError),
}

impl ServiceAccountError {
    /// A stable snake_case code for this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            ServiceAccountError::NotJson => "service_account_not_json",
            ServiceAccountError::MissingField { .. } => "service_account_missing_field",
            ServiceAccountError::InvalidField { .. } => "service_account_invalid_field",
            ServiceAccountError::Key(_) => "service_account_key",
        }
    }
}

impl ServiceAccountKey {
    /// Parses a service account key file: `type` must be `service_account`,
    /// and `client_email`, `private_key` (PEM PKCS#8 RSA), `private_key_id`
    /// and `token_uri` (an http or https URL) must be present. Other fields
    /// are ignored.
    ///
    /// # Errors
    /// [`ServiceAccountError`] naming the field that is missing or wrong.
    pub fn from_json(json: &str) -> Result<Self, ServiceAccountError> {
        // serde_json's messages could quote the file: none is passed on.
        // The file holds the private key: zeroed when dropped.
        let document =
            ScrubbedJson::parse(json.as_bytes()).map_err(|_| ServiceAccountError::NotJson)?;
        let file = document.object().ok_or(ServiceAccountError::NotJson)?;
        let field = |name: &'static str| -> Result<&str, ServiceAccountError> {
            match file.get(name) {
                None | Some(Value::Null) => Err(ServiceAccountError::MissingField { field: name }),
                Some(Value::String(value)) if value.trim().is_empty() => {
                    Err(ServiceAccountError::InvalidField {
                        field: name,
                        reason: "is empty",
                    })
                }
                Some(Value::String(value)) => Ok(value.as_str()),
                Some(_) => Err(ServiceAccountError::InvalidField {
                    field: name,
                    reason: "is not a string",
                }),
            }
        };
        if field("type")? != "service_account" {
            return Err(ServiceAccountError::InvalidField {
                field: "type",
                reason: "is not \"service_account\"",
            });
        }
        let client_email = field("client_email")?.to_owned();
        let private_key_id = field("private_key_id")?;
        let token_uri =
            Url::parse(field("token_uri")?).map_err(|_| ServiceAccountError::InvalidField {
                field: "token_uri",
                reason: "is not a URL",
            })?;
        if !matches!(token_uri.scheme(), "https" | "http") {
            return Err(ServiceAccountError::InvalidField {
                field: "token_uri",
                reason: "is not an http or https URL",
            });
        }
        let key = ClientKey::from_pem_or_jwk(field("private_key")?, Some(JwsAlgorithm::RS256))
            .map_err(ServiceAccountError::Key)?
            .key_id(private_key_id);
        Ok(Self {
            key,
            client_email,
            token_uri,
        })
    }

    /// The signing key: `RS256`, `kid` = the file's `private_key_id`.
    #[must_use]
    pub fn key(&self) -> &ClientKey {
        &self.key
    }

    /// The service account's email, the assertion's `iss`.
    #[must_use]
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The token endpoint, the assertion's `aud`.
    #[must_use]
    pub fn token_uri(&self) -> &Url {
        &self.token_uri
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = include_str!("testdata/service-account.json");
    /// A run of base64 from the middle of the fixture's private key.
    const KEY_FRAGMENT: &str = "hbhMR8Eq0ZDl4pfi5fKFADEvmYSjetX0XFWZFmELdJwy3rjtQl1uFKn";

    fn without(field: &str) -> String {
        let mut file: serde_json::Map<String, Value> =
            serde_json::from_str(FILE).unwrap_or_default();
        file.remove(field);
        Value::Object(file).to_string()
    }

    fn with(field: &str, value: Value) -> String {
        let mut file: serde_json::Map<String, Value> =
            serde_json::from_str(FILE).unwrap_or_default();
        file.insert(field.to_owned(), value);
        Value::Object(file).to_string()
    }

    #[test]
    fn the_fixture_parses_into_an_rs256_key_named_by_private_key_id()
    -> Result<(), ServiceAccountError> {
        assert!(FILE.contains(KEY_FRAGMENT));
        let account = ServiceAccountKey::from_json(FILE)?;
        assert_eq!(account.key().algorithm(), JwsAlgorithm::RS256);
        assert_eq!(
            account.key().kid(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(
            account.client_email(),
            "jose-test@jose-test-project.iam.gserviceaccount.com"
        );
        assert_eq!(account.token_uri().as_str(), "http://127.0.0.1/token");
        Ok(())
    }

    #[test]
    fn each_missing_field_is_named() {
        for field in [
            "type",
            "client_email",
            "private_key",
            "private_key_id",
            "token_uri",
        ] {
            let err = ServiceAccountKey::from_json(&without(field)).err();
            assert_eq!(err, Some(ServiceAccountError::MissingField { field }));
            let shown = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(shown.contains(field), "{shown}");
        }
    }

    #[test]
    fn wrong_fields_are_named_without_their_value() {
        let cases = [
            ("type", Value::from("authorized_user"), "type"),
            ("type", Value::from(7), "type"),
            ("client_email", Value::from(""), "client_email"),
            (
                "token_uri",
                Value::from("not a url secretvalue"),
                "token_uri",
            ),
            (
                "token_uri",
                Value::from("ftp://secretvalue/token"),
                "token_uri",
            ),
            ("private_key_id", Value::from(false), "private_key_id"),
        ];
        for (field, value, named) in cases {
            let err = ServiceAccountKey::from_json(&with(field, value)).err();
            assert_eq!(
                err.as_ref().map(ServiceAccountError::code),
                Some("service_account_invalid_field")
            );
            let shown = err.map(|e| format!("{e} {e:?}")).unwrap_or_default();
            assert!(shown.contains(named), "{shown}");
            assert!(!shown.contains("secretvalue"), "{shown}");
            assert!(!shown.contains("authorized_user"), "{shown}");
        }
    }

    #[test]
    fn a_non_rsa_or_broken_private_key_is_refused_without_echoing_it() {
        let ec = include_str!("testdata/ec-p256.pem");
        let err = ServiceAccountKey::from_json(&with("private_key", Value::from(ec))).err();
        assert!(matches!(
            err,
            Some(ServiceAccountError::Key(KeyError::TypeMismatch { .. }))
        ));
        let broken = FILE
            .split("\"private_key\": \"")
            .nth(1)
            .and_then(|rest| rest.split("\\n").nth(1))
            .unwrap_or_default();
        let mangled = format!("-----BEGIN PRIVATE KEY-----\n{broken}\n-----END PRIVATE KEY-----");
        let err = ServiceAccountKey::from_json(&with("private_key", Value::from(mangled))).err();
        let shown = err.map(|e| format!("{e} {e:?}")).unwrap_or_default();
        assert!(shown.contains("private_key"), "{shown}");
        assert!(!shown.contains(&broken[..20.min(broken.len())]), "{shown}");
        assert_eq!(
            ServiceAccountKey::from_json("[]").err(),
            Some(ServiceAccountError::NotJson)
        );
        assert_eq!(
            ServiceAccountKey::from_json("{").err(),
            Some(ServiceAccountError::NotJson)
        );
    }

    #[test]
    fn debug_shows_no_key_material() -> Result<(), ServiceAccountError> {
        let account = ServiceAccountKey::from_json(FILE)?;
        let shown = format!("{account:?}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(shown.contains("jose-test@"), "{shown}");
        assert!(!shown.contains(KEY_FRAGMENT), "{shown}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        Ok(())
    }
}
