//! Authorization server metadata discovery: a provider configured by its
//! issuer finds its token endpoint, and what that endpoint supports, in
//! the metadata the issuer publishes (RFC 8414; OpenID Connect Discovery
//! 1.0).
//!
//! [`issuer`] checks the configured issuer identifier; [`well_known`]
//! builds the URLs its metadata may be at; [`fetch`] GETs them in turn, as
//! a token request is sent (retries, no redirects, a size cap);
//! [`metadata`] reads and checks the document; [`cache`] keeps the last
//! good one per provider with single flight and a periodic refresh;
//! [`auth_method`] picks the client authentication method from what the
//! metadata lists.

mod auth_method;
mod cache;
mod fetch;
mod issuer;
mod metadata;
mod well_known;

#[cfg(test)]
mod tests;

pub(crate) use auth_method::choose_auth_method;
pub(crate) use cache::Discovery;
pub(crate) use fetch::MetadataRequest;
pub(crate) use issuer::check_issuer;
pub use metadata::AuthorizationServerMetadata;
