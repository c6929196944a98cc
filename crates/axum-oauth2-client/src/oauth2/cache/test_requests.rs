//! Token requests for the cache's unit tests: one that issues numbered
//! tokens on a manual clock, one that fails, and a gate that holds a
//! request until the test lets it go (each counts the requests it runs);
//! and [`settle`], which lets spawned requests run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt as _;
use reqwest::StatusCode;
use tokio::sync::Notify;

use super::slot::Request;
use super::token::TokenData;
use super::token_header::TokenHeader;
use crate::oauth2::error::OAuth2Error;
use crate::oauth2::secret::Secret;
use crate::oauth2::time::clock::{Clock, ManualClock};

/// A request that issues `tok-N` (N: the requests run so far) living
/// 100 s from `clock`'s now, refreshed at 60 s.
pub(super) fn issue(
    clock: &Arc<ManualClock>,
    requests: &Arc<AtomicUsize>,
) -> impl FnOnce() -> Request + use<> {
    let (clock, requests) = (Arc::clone(clock), Arc::clone(requests));
    move || {
        async move {
            let n = requests.fetch_add(1, Ordering::SeqCst) + 1;
            let now = clock.now();
            Ok(TokenData::new(
                TokenHeader::bearer(&Secret::new(format!("tok-{n}"))).expect("header"),
                now + Duration::from_secs(100),
                now + Duration::from_secs(60),
            ))
        }
        .boxed()
    }
}

/// A request the token endpoint answers with 503.
pub(super) fn fail(requests: &Arc<AtomicUsize>) -> impl FnOnce() -> Request + use<> {
    let requests = Arc::clone(requests);
    move || {
        async move {
            requests.fetch_add(1, Ordering::SeqCst);
            Err(OAuth2Error::TokenEndpointError {
                provider: "p".into(),
                status: StatusCode::SERVICE_UNAVAILABLE,
                body: Default::default(),
                retry_after: None,
            })
        }
        .boxed()
    }
}

/// `request`, held until `gate` is notified.
pub(super) fn gated(
    gate: &Arc<Notify>,
    request: impl FnOnce() -> Request + Send + 'static,
) -> impl FnOnce() -> Request + Send + 'static {
    let gate = Arc::clone(gate);
    move || {
        let inner = request();
        async move {
            gate.notified().await;
            inner.await
        }
        .boxed()
    }
}

/// Lets the tasks a test spawned (a background refresh, a waiter) run.
pub(super) async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}
