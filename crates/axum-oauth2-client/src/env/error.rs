//! [`ConfigError`]: why the configuration cannot be read from the
//! environment.

use super::{GLOBAL_VARIABLES, SETTINGS};

/// Why the configuration cannot be read. Every variant names the variable;
/// none repeats its value, except a file's path ([`ConfigError::File`]) and,
/// inside [`ConfigError::Invalid`], an unknown signing algorithm or covered
/// component. A secret or a key is never repeated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is missing or empty. Code `missing_variable`.
    #[error("{variable} is required but not set")]
    Missing {
        /// The variable.
        variable: String,
    },
    /// A variable's value is malformed. Code `invalid_variable`.
    #[error("{variable} {reason}")]
    Invalid {
        /// The variable.
        variable: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two variables that exclude each other are both set. Code `conflicting_variables`.
    #[error("{first} and {second} are both set; set only one")]
    Conflict {
        /// The first variable.
        first: String,
        /// The second variable.
        second: String,
    },
    /// A file named by a variable cannot be read. Code `unreadable_file`.
    #[error("{variable} names {path}, which cannot be read: {source}")]
    File {
        /// The variable.
        variable: String,
        /// The file's path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An `OAUTH2_` variable that is no known setting. Code `unknown_variable`.
    #[error(
        "{variable} is not a known OAuth2 setting (expected OAUTH2_<NAME>_ followed by one of {}, or {})",
        SETTINGS.join(", "),
        GLOBAL_VARIABLES.join(", ")
    )]
    Unknown {
        /// The variable.
        variable: String,
    },
}

impl ConfigError {
    /// The variable the error is about (the first one, for a conflict).
    #[must_use]
    pub fn variable(&self) -> &str {
        match self {
            Self::Missing { variable }
            | Self::Invalid { variable, .. }
            | Self::File { variable, .. }
            | Self::Unknown { variable } => variable,
            Self::Conflict { first, .. } => first,
        }
    }

    /// A stable snake_case code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing { .. } => "missing_variable",
            Self::Invalid { .. } => "invalid_variable",
            Self::Conflict { .. } => "conflicting_variables",
            Self::File { .. } => "unreadable_file",
            Self::Unknown { .. } => "unknown_variable",
        }
    }
}
