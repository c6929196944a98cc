//! Any set of environment variables: provider discovery never panics, and
//! an error never repeats a value, except the values it names on purpose to
//! help the operator: a file's path, a signing algorithm's name and a
//! covered component (none of them secret).
#![no_main]

use axum_oauth2_client::OAuth2Config;
use libfuzzer_sys::fuzz_target;

/// Settings whose values an error may repeat (`ConfigError::File` names the
/// path it could not read; signing errors name the algorithm or component).
const SHOWN_ON_PURPOSE: [&str; 3] = ["_FILE", "_SIGNING_ALG", "_SIGNING_COMPONENTS"];

fuzz_target!(|data: &[u8]| {
    // Lines of `KEY=VALUE`; keys get the OAUTH2_ prefix half of the time so
    // that the fuzzer reaches the provider parsing quickly.
    let text = String::from_utf8_lossy(data);
    let vars: Vec<(String, String)> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .enumerate()
        .map(|(i, (k, v))| {
            let key = if i % 2 == 0 && !k.starts_with("OAUTH2_") {
                format!("OAUTH2_{k}")
            } else {
                k.to_owned()
            };
            (key, v.to_owned())
        })
        .collect();
    if let Err(e) = OAuth2Config::from_vars(vars.clone()) {
        let shown = e.to_string();
        for (key, value) in &vars {
            if SHOWN_ON_PURPOSE.iter().any(|suffix| key.ends_with(suffix)) {
                continue;
            }
            // Variable names are shown, so a value that is part of a name (or
            // of the fixed message text) may appear; only long, distinctive
            // values that occur in no name are checked.
            let distinctive = value.len() >= 12
                && value.chars().all(|c| c.is_ascii_alphanumeric())
                && !vars.iter().any(|(k, _)| k.contains(value.as_str()));
            if distinctive {
                assert!(
                    !shown.contains(value.as_str()),
                    "a value leaked into: {shown}"
                );
            }
        }
    }
});
