//! Any bytes as the `Signature-Input` and `Signature` fields of a fixed
//! request (RFC 9421 §4): parsing, signature base building and
//! verification never panic, stay within the base budget, parse each field
//! once, and never repeat the request's bearer token in an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    axum_oauth2_client::http_signature::fuzzing::signature_headers(data);
});
