//! A cached token as the shared store holds it, and back: a
//! [`TokenData`] with this process's `Instant`s becomes a
//! [`StoredToken`] with wall-clock times, which another replica turns
//! into its own `Instant`s.

use std::time::{Duration, Instant, SystemTime};

use crate::oauth2::cache::token::TokenData;
use crate::oauth2::cache::token_header::TokenHeader;
use crate::oauth2::endpoint::intern_token_type;
use crate::oauth2::endpoint::response::MAX_LIFETIME;
use crate::oauth2::secret::Secret;
use crate::store::{StoredToken, TokenType};

/// The share of the refresh buffer by which [`schedule`] may move a
/// refresh earlier (its jitter): a stored token is fresh only if no
/// replica would refresh it yet, whatever its jitter.
///
/// [`schedule`]: crate::oauth2::cache::token::schedule
const MAX_EARLY: f64 = 0.1;

/// `data` for the store, published at `now_wall` (its issue time there:
/// what another replica measures its lifetime from).
pub(crate) fn to_stored(data: &TokenData, now: Instant, now_wall: SystemTime) -> StoredToken {
    let token_type = if !data.is_access_token() {
        TokenType::NotApplicable
    } else if data.header.as_bytes().starts_with(b"DPoP ") {
        TokenType::DPoP
    } else {
        TokenType::Bearer
    };
    let expires_at = now_wall + data.expires_at().saturating_duration_since(now);
    let mut stored = StoredToken::new(Secret::new(data.secret()), token_type, now_wall, expires_at);
    if let Some(scope) = data.scope() {
        stored = stored.with_scope(scope);
    }
    if let Some(issued) = data.issued_token_type() {
        stored = stored.with_issued_token_type(issued);
    }
    stored
}

/// Whether a replica would still use `stored` at `now_wall` without
/// refreshing it: before its refresh time with the earliest jitter.
pub(crate) fn is_fresh(stored: &StoredToken, now_wall: SystemTime, buffer: Duration) -> bool {
    let buffer = buffer.min(stored.lifetime() / 2);
    stored.remaining(now_wall) > buffer.mul_f64(1.0 + MAX_EARLY)
}

/// How far in the future a token's issue time may lie: more is another
/// replica's clock gone wrong, and its expiry cannot be trusted either.
const MAX_SKEW: Duration = Duration::from_secs(60);

/// `stored` as this process caches it at `now` (`now_wall` on the wall
/// clock), refreshed `buffer` before it expires (with the usual jitter),
/// or `None` when this provider cannot use it: a DPoP token without a
/// DPoP key, a Bearer token for a DPoP provider that does not accept one
/// (`bearer`), bytes a header cannot carry, or an issue time too far
/// ahead of this clock. Its remaining life is believed up to its
/// lifetime and [`MAX_LIFETIME`] at most, as a token endpoint's answer.
pub(crate) fn to_data(
    stored: &StoredToken,
    now: Instant,
    now_wall: SystemTime,
    buffer: Duration,
    dpop: bool,
    bearer: bool,
) -> Option<TokenData> {
    if stored
        .issued_at()
        .duration_since(now_wall)
        .is_ok_and(|ahead| ahead > MAX_SKEW)
    {
        return None;
    }
    let header = match stored.token_type() {
        TokenType::DPoP if dpop => TokenHeader::dpop(stored.token()),
        TokenType::DPoP => None,
        TokenType::Bearer if !bearer => None,
        _ => TokenHeader::bearer(stored.token()),
    }?;
    let remaining = stored
        .remaining(now_wall)
        .min(stored.lifetime())
        .min(MAX_LIFETIME);
    let expires_at = now + remaining;
    let buffer = buffer.min(stored.lifetime() / 2);
    let early = buffer.mul_f64(MAX_EARLY * rand::random::<f64>());
    let refresh_at = expires_at
        .checked_sub(buffer + early)
        .unwrap_or(now)
        .max(now.min(expires_at));
    Some(
        TokenData::new(header, expires_at, refresh_at)
            .with_scope(stored.scope().map(Into::into))
            .with_issued_token_type(
                stored
                    .issued_token_type()
                    .map(|t| intern_token_type(t.to_owned())),
            )
            .with_access_token(stored.token_type() != TokenType::NotApplicable),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn data(header: TokenHeader, access_token: bool, now: Instant) -> TokenData {
        let mut data = TokenData::new(
            header,
            now + Duration::from_secs(3600),
            now + Duration::from_secs(3000),
        )
        .with_scope(Some("read write".into()))
        .with_issued_token_type(Some(intern_token_type(
            "urn:ietf:params:oauth:token-type:access_token".to_owned(),
        )))
        .with_access_token(access_token);
        data.set_id(7);
        data
    }

    #[test]
    fn a_token_goes_to_the_store_and_back_with_its_type_scope_and_times() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let token = Secret::new("tok-abc");
        for (header, access_token, kind) in [
            (
                TokenHeader::bearer(&token).unwrap(),
                true,
                TokenType::Bearer,
            ),
            (TokenHeader::dpop(&token).unwrap(), true, TokenType::DPoP),
            (
                TokenHeader::bearer(&token).unwrap(),
                false,
                TokenType::NotApplicable,
            ),
        ] {
            let stored = to_stored(&data(header, access_token, now), now, wall);
            assert_eq!(stored.token_type(), kind);
            assert_eq!(stored.token().expose_secret(), "tok-abc");
            assert_eq!(stored.scope(), Some("read write"));
            assert_eq!(stored.lifetime().as_secs(), 3600);
            // Another replica, a second later.
            let later = now + Duration::from_secs(1);
            let back = to_data(
                &stored,
                later,
                wall + Duration::from_secs(1),
                Duration::from_secs(60),
                true,
                true,
            )
            .unwrap();
            assert_eq!(back.secret(), "tok-abc");
            assert_eq!(back.is_access_token(), access_token);
            assert_eq!(back.scope(), Some("read write"));
            // A registered token type is the shared string, not a copy.
            let shared = intern_token_type("urn:ietf:params:oauth:token-type:access_token".into());
            assert!(
                back.issued_token_type
                    .as_ref()
                    .is_some_and(|t| Arc::ptr_eq(t, &shared))
            );
            let left = back.expires_at() - later;
            assert!(left <= Duration::from_secs(3599) && left > Duration::from_secs(3598));
            let before = back.expires_at() - back.refresh_at;
            assert!(before >= Duration::from_secs(60) && before <= Duration::from_secs(66));
        }
    }

    #[test]
    fn a_dpop_token_needs_a_dpop_key() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let token = Secret::new("tok-abc");
        let stored = to_stored(
            &data(TokenHeader::dpop(&token).unwrap(), true, now),
            now,
            wall,
        );
        assert!(to_data(&stored, now, wall, Duration::from_secs(60), false, true).is_none());
    }

    #[test]
    fn a_bearer_token_needs_a_provider_that_accepts_one() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let token = Secret::new("tok-abc");
        let stored = to_stored(
            &data(TokenHeader::bearer(&token).unwrap(), true, now),
            now,
            wall,
        );
        assert!(to_data(&stored, now, wall, Duration::from_secs(60), true, false).is_none());
        assert!(to_data(&stored, now, wall, Duration::from_secs(60), true, true).is_some());
    }

    #[test]
    fn times_from_a_wrong_clock_are_not_believed() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let token = || Secret::new("t");
        let buffer = Duration::from_secs(60);
        // Issued two minutes in this replica's future: refused.
        let ahead = StoredToken::new(
            token(),
            TokenType::Bearer,
            wall + Duration::from_secs(120),
            wall + Duration::from_secs(3720),
        );
        assert!(to_data(&ahead, now, wall, buffer, false, true).is_none());
        // A lifetime of centuries is cut to a day.
        let far = StoredToken::new(
            token(),
            TokenType::Bearer,
            wall,
            wall + Duration::from_secs(1 << 40),
        );
        let data = to_data(&far, now, wall, buffer, false, true).unwrap();
        assert!(data.expires_at() - now <= MAX_LIFETIME);
    }

    #[test]
    fn a_token_is_fresh_until_the_earliest_refresh_time() {
        let wall = SystemTime::now();
        let stored = StoredToken::new(
            Secret::new("t"),
            TokenType::Bearer,
            wall,
            wall + Duration::from_secs(3600),
        );
        let buffer = Duration::from_secs(60);
        assert!(is_fresh(&stored, wall, buffer));
        assert!(is_fresh(&stored, wall + Duration::from_secs(3533), buffer));
        assert!(!is_fresh(&stored, wall + Duration::from_secs(3534), buffer));
        // A short token: half its lifetime is the buffer.
        let short = StoredToken::new(
            Secret::new("t"),
            TokenType::Bearer,
            wall,
            wall + Duration::from_secs(10),
        );
        assert!(is_fresh(&short, wall + Duration::from_secs(4), buffer));
        assert!(!is_fresh(
            &short,
            wall + Duration::from_millis(4600),
            buffer
        ));
    }
}
