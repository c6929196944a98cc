//! Parsing of variable values: counts, seconds, and secret files. Errors
//! name the variable and never repeat the value.

use super::error::ConfigError;
use crate::TokenParams;

/// The items of a comma-separated list, trimmed, blanks dropped.
pub(super) fn list(value: Option<&str>) -> impl Iterator<Item = &str> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// `params` with the parameters of `form`, written as a form-urlencoded
/// query (`organization=org_1&requested_token_use=on_behalf_of`). The
/// error names the variable and the parameter, never a value.
pub(super) fn token_params(
    variable: &str,
    form: &str,
    mut params: TokenParams,
) -> Result<TokenParams, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        variable: variable.to_owned(),
        reason,
    };
    for (name, value) in url::form_urlencoded::parse(form.trim().as_bytes()) {
        if value.is_empty() && !form.contains('=') {
            return Err(invalid(
                "must be name=value pairs joined by & (form-urlencoded)".to_owned(),
            ));
        }
        params = params.param(name.trim(), value);
    }
    params.check().map_err(invalid)?;
    Ok(params)
}

/// A whole number within `min..=max`.
pub(super) fn parse_count(
    variable: &str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::Invalid {
            variable: variable.to_owned(),
            reason: format!("must be a whole number from {min} to {max}"),
        }),
    }
}

/// `true` / `false` (or `1` / `0`); blank is `false`.
pub(super) fn parse_bool(variable: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "" | "false" | "0" => Ok(false),
        "true" | "1" => Ok(true),
        _ => Err(ConfigError::Invalid {
            variable: variable.to_owned(),
            reason: "must be true or false".into(),
        }),
    }
}

/// The largest secret file read: a secret is a short string, and a path
/// to a device or a huge file must not stall start-up.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Reads a secret file: a regular file (symbolic links followed, as
/// container runtimes mount secrets) of at most 64 KiB, in UTF-8.
pub(crate) fn read_secret_file(path: &str) -> std::io::Result<String> {
    read_capped_file(path, MAX_SECRET_FILE)
}

/// The largest CA bundle read: a whole system bundle fits.
pub(super) const MAX_CA_FILE: u64 = 1024 * 1024;

/// Reads a regular UTF-8 file of at most `max` bytes.
pub(super) fn read_capped_file(path: &str, max: u64) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    if metadata.len() > max {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("larger than {} KiB", max / 1024),
        ));
    }
    // Sized up front (plus one byte to see the end) so that reading never
    // moves the buffer and leaves a copy of a key or secret behind.
    let mut contents = String::with_capacity(metadata.len() as usize + 1);
    file.take(max).read_to_string(&mut contents)?;
    Ok(contents)
}

/// Whole seconds, at most one day; zero only where `zero_ok`.
pub(crate) fn parse_seconds(
    variable: &str,
    value: &str,
    zero_ok: bool,
) -> Result<u64, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        variable: variable.to_owned(),
        reason: reason.to_owned(),
    };
    let seconds: u64 = value
        .trim()
        .parse()
        .map_err(|_| invalid("must be a whole number of seconds"))?;
    if seconds == 0 && !zero_ok {
        return Err(invalid("must be greater than 0"));
    }
    if seconds > 86_400 {
        return Err(invalid("must be at most 86400 seconds"));
    }
    Ok(seconds)
}
