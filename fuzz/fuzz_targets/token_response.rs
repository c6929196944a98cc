//! Any byte string as a token endpoint answer: parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    axum_oauth2_client::fuzzing::token_response(data);
});
