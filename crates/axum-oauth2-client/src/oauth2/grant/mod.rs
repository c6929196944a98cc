//! The grants: each builds the form fields of its token request.

pub(crate) mod client_credentials;
pub(crate) mod jwt_bearer;
pub(crate) mod token_exchange;

use crate::oauth2::provider_config::GrantType;
use crate::oauth2::token_params::ParamsView;

/// The form fields of a provider's own grant, client authentication and
/// per-attempt assertions excluded: its `grant_type`, then `own`
/// parameters over the `provider`'s. The one list both the request and
/// the cache key are made from.
pub(crate) fn own_fields<'a>(
    grant: GrantType,
    own: ParamsView<'a>,
    provider: ParamsView<'a>,
) -> impl Iterator<Item = (&'a str, &'a str)> + Clone {
    let grant_type = match grant {
        GrantType::ClientCredentials => client_credentials::GRANT_TYPE,
        GrantType::JwtBearer => jwt_bearer::GRANT_TYPE,
    };
    std::iter::once(("grant_type", grant_type)).chain(own.fields_over(provider))
}
