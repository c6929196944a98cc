//! The DPoP proof of an upstream request (RFC 9449 §7): a provider whose
//! token is bound to its key sends, with `Authorization: DPoP <token>`, a
//! `DPoP` proof of the request's method and URL carrying `ath` (the
//! token's hash) and the origin's last nonce.

use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderMap};
use reqwest::{Method, Url};

use super::error::OAuth2Error;
use super::provider::Provider;
use crate::dpop::{DPOP, dpop_header};

impl Provider {
    /// Adds the proof for a request to `url` whose `Authorization` is set
    /// in `headers`, when the token is a DPoP one; the nonce it carried.
    /// A provider without DPoP, or a `Bearer` token it was allowed to
    /// take, sends no proof.
    pub(crate) fn prove(
        &self,
        method: &Method,
        url: &Url,
        headers: &mut HeaderMap,
    ) -> Result<Option<Arc<str>>, OAuth2Error> {
        let Some(dpop) = &self.dpop else {
            return Ok(None);
        };
        let Some(token) = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.as_bytes().strip_prefix(b"DPoP "))
            .and_then(|token| std::str::from_utf8(token).ok())
        else {
            return Ok(None);
        };
        let nonce = dpop.nonces.get(url);
        let proof = dpop
            .key
            .proof_for(method, url, Some(token), nonce.as_deref())
            .map_err(|e| OAuth2Error::SigningFailed {
                provider: self.name.to_string(),
                source: Arc::new(crate::http_signature::SignError::new(format!(
                    "the DPoP proof cannot be signed: {e}"
                ))),
            })?;
        headers.insert(DPOP, dpop_header(&proof));
        Ok(nonce)
    }
}
