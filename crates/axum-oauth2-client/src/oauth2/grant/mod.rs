//! The grants: each builds the form parameters of its token request.

pub(crate) mod client_credentials;
pub(crate) mod token_exchange;
