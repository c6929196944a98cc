//! OAuth2 machine-to-machine token manager for axum services.

pub mod http_signature;

pub use http_signature::{MessageSigner, SignError, Signer};
