//! What goes on the wire (RFC 9421 §2–§4, RFC 9530): component
//! identifiers and their values, the message they are taken from, the
//! signature parameters and the `Signature-Input` / `Signature` fields, the
//! signature base, and `Content-Digest`.

pub(crate) mod base;
pub(crate) mod component_values;
pub(crate) mod components;
pub(crate) mod digest;
pub(crate) mod message;
pub(crate) mod params;

pub use components::{ComponentError, ComponentId};
pub use digest::DigestAlgorithm;
