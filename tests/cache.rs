//! The token cache over real HTTP: hits, refresh ahead of expiry, single
//! flight, failed refreshes, and clearing.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum_oauth2_client::{ManualClock, OAuth2Config, OAuth2Service, TokenExchangeOptions};
use common::*;
use wiremock::ResponseTemplate;
use wiremock::matchers::{body_string_contains, method, path};

fn with_clock(
    provider: axum_oauth2_client::ProviderConfig,
    clock: Arc<ManualClock>,
) -> OAuth2Service {
    OAuth2Service::builder(
        OAuth2Config::new()
            .provider("p", provider)
            .refresh_buffer(Duration::from_secs(60)),
    )
    .clock(clock)
    .build()
    .expect("service")
}

/// Polls until the token endpoint has been called `n` times (bounded).
async fn until_issued(issuer: &Issuer, n: usize) {
    for _ in 0..500 {
        if issuer.issued() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "token endpoint called {} times, expected {n}",
        issuer.issued()
    );
}

#[tokio::test]
async fn many_calls_on_a_warm_cache_make_one_token_request() {
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let oauth2 = service("p", provider(&server));
    for _ in 0..100 {
        assert_eq!(
            oauth2.get_token("p", None).await.expect("token").secret(),
            "tok-1"
        );
    }
    assert_eq!(issuer.issued(), 1);
}

#[tokio::test]
async fn refresh_ahead_returns_the_cached_token_without_waiting() {
    // The second token takes 2 s to arrive: a caller that waited for it
    // would get tok-2; one served from cache gets tok-1 at once.
    let issuer = Issuer::new().expires_in(Some(300));
    let server = token_server(issuer.clone()).await;
    let clock = Arc::new(ManualClock::new());
    let oauth2 = with_clock(provider(&server), clock.clone());
    assert_eq!(
        oauth2.get_token("p", None).await.expect("t1").secret(),
        "tok-1"
    );

    server.reset().await;
    let slow = issuer.clone().delay(Duration::from_millis(500));
    wiremock::Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(slow)
        .mount(&server)
        .await;

    clock.advance(Duration::from_secs(241)); // past refresh_at (300 - 60), before expiry
    for _ in 0..50 {
        assert_eq!(
            oauth2.get_token("p", None).await.expect("cached").secret(),
            "tok-1"
        );
    }
    until_issued(&issuer, 2).await;
    // The refresh finishes in the background; then the new token is served.
    for _ in 0..200 {
        if oauth2.get_token("p", None).await.expect("token").secret() == "tok-2" {
            assert_eq!(issuer.issued(), 2, "exactly one background refresh");
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the background refresh never landed");
}

#[tokio::test]
async fn expired_token_is_replaced_before_use() {
    let issuer = Issuer::new().expires_in(Some(100));
    let server = token_server(issuer.clone()).await;
    let clock = Arc::new(ManualClock::new());
    let oauth2 = with_clock(provider(&server), clock.clone());
    oauth2.get_token("p", None).await.expect("t1");
    clock.advance(Duration::from_secs(100));
    assert_eq!(
        oauth2.get_token("p", None).await.expect("t2").secret(),
        "tok-2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_flight_1000_callers_on_a_cold_cache_make_one_request() {
    let issuer = Issuer::new().delay(Duration::from_millis(200));
    let server = token_server(issuer.clone()).await;
    let oauth2 = service("p", provider(&server));
    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let oauth2 = oauth2.clone();
            tokio::spawn(async move {
                oauth2
                    .get_token("p", None)
                    .await
                    .map(|t| t.secret().to_owned())
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.expect("join").expect("token"), "tok-1");
    }
    let requests = token_requests(&server).await.len();
    println!("single flight: 1000 callers -> {requests} token request(s)");
    assert_eq!(requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_flight_100_subjects_make_100_exchanges() {
    let issuer = Issuer::new().delay(Duration::from_millis(100));
    let server = token_server(issuer.clone()).await;
    let oauth2 = service("p", provider(&server));
    let callers: Vec<_> = (0..1000)
        .map(|i| {
            let oauth2 = oauth2.clone();
            let exchange = TokenExchangeOptions::new(format!("subject-{}", i % 100));
            tokio::spawn(async move {
                oauth2
                    .get_token("p", Some(&exchange))
                    .await
                    .map(|t| (i % 100, t.secret().to_owned()))
            })
        })
        .collect();
    let mut by_subject = std::collections::HashMap::new();
    for caller in callers {
        let (subject, token) = caller.await.expect("join").expect("token");
        let first = by_subject.entry(subject).or_insert_with(|| token.clone());
        assert_eq!(
            *first, token,
            "every caller of one subject shares its token"
        );
    }
    let requests = token_requests(&server).await.len();
    println!("single flight: 100 subjects x 10 callers -> {requests} token request(s)");
    assert_eq!(requests, 100);
    assert_eq!(by_subject.len(), 100);
}

#[tokio::test]
async fn different_keys_never_wait_on_each_other() {
    // On provider `p` the client credentials grant hangs for 3 s while token
    // exchange answers at once; provider `fast` answers at once.
    let slow = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(Issuer::new().delay(Duration::from_secs(3)))
        .mount(&slow)
        .await;
    wiremock::Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(Issuer::new())
        .mount(&slow)
        .await;
    let fast = token_server(Issuer::new()).await;
    let oauth2 = OAuth2Service::new(
        OAuth2Config::new()
            .provider("p", provider(&slow))
            .provider("fast", provider(&fast)),
    )
    .expect("service");
    let pending = {
        let oauth2 = oauth2.clone();
        tokio::spawn(async move { oauth2.get_token("p", None).await })
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        while token_requests(&slow).await.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the slow token request started");
    oauth2
        .get_token("fast", None)
        .await
        .expect("another provider is not blocked");
    oauth2
        .get_token("p", Some(&TokenExchangeOptions::new("x")))
        .await
        .expect("another key is not blocked");
    assert!(
        !pending.is_finished(),
        "the slow request is still in flight while the others completed"
    );
    pending.abort();
}

#[tokio::test]
async fn failed_refresh_keeps_serving_the_valid_token() {
    let issuer = Issuer::new().expires_in(Some(300));
    let server = token_server(issuer.clone()).await;
    let clock = Arc::new(ManualClock::new());
    let oauth2 = with_clock(provider(&server), clock.clone());
    oauth2.get_token("p", None).await.expect("t1");

    server.reset().await;
    wiremock::Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    clock.advance(Duration::from_secs(250));
    assert_eq!(
        oauth2.get_token("p", None).await.expect("cached").secret(),
        "tok-1"
    );
    // Wait for the background refresh to fail, then check nothing changed.
    for _ in 0..200 {
        if token_requests(&server).await.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        token_requests(&server).await.len(),
        3,
        "one failed refresh: a single sequence of 3 attempts"
    );
    assert_eq!(
        oauth2
            .get_token("p", None)
            .await
            .expect("still cached")
            .secret(),
        "tok-1"
    );

    // Once it has expired the failure reaches the caller, with its status.
    clock.advance(Duration::from_secs(60));
    let err = oauth2
        .get_token("p", None)
        .await
        .expect_err("expired and endpoint down");
    assert_eq!(err.code(), "token_endpoint_error");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_wakes_every_waiter_and_the_next_call_retries() {
    let server =
        token_server(ResponseTemplate::new(500).set_delay(Duration::from_millis(200))).await;
    let oauth2 = service("p", provider(&server));
    let waiters: Vec<_> = (0..100)
        .map(|_| {
            let oauth2 = oauth2.clone();
            tokio::spawn(async move { oauth2.get_token("p", None).await })
        })
        .collect();
    for waiter in waiters {
        assert_eq!(
            waiter.await.expect("join").expect_err("fails").code(),
            "token_endpoint_error"
        );
    }
    assert_eq!(
        token_requests(&server).await.len(),
        3,
        "one sequence of attempts (3 by default) for 100 waiters"
    );

    server.reset().await;
    wiremock::Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(Issuer::new())
        .mount(&server)
        .await;
    assert_eq!(
        oauth2
            .get_token("p", None)
            .await
            .expect("recovered")
            .secret(),
        "tok-1"
    );
}

#[tokio::test]
async fn clear_cache_for_one_provider_or_all() {
    let a_issuer = Issuer::new();
    let b_issuer = Issuer::new();
    let a = token_server(a_issuer.clone()).await;
    let b = token_server(b_issuer.clone()).await;
    let oauth2 = OAuth2Service::new(
        OAuth2Config::new()
            .provider("a", provider(&a))
            .provider("b", provider(&b)),
    )
    .expect("svc");
    let alice = TokenExchangeOptions::new("alice");
    oauth2.get_token("a", None).await.expect("a");
    oauth2
        .get_token("a", Some(&alice))
        .await
        .expect("a exchange");
    oauth2.get_token("b", None).await.expect("b");
    assert_eq!(oauth2.cached_tokens(), 3);

    oauth2.clear_cache(Some("a"));
    assert_eq!(oauth2.cached_tokens(), 1);
    assert_eq!(
        oauth2
            .get_token("b", None)
            .await
            .expect("b cached")
            .secret(),
        "tok-1"
    );
    assert_eq!(
        oauth2
            .get_token("a", None)
            .await
            .expect("a refetched")
            .secret(),
        "tok-3"
    );
    assert_eq!(
        oauth2
            .get_token("a", Some(&alice))
            .await
            .expect("refetched")
            .secret(),
        "tok-4"
    );
    oauth2.clear_cache(Some("unknown")); // no-op

    oauth2.clear_cache(None);
    assert_eq!(oauth2.cached_tokens(), 0);
    assert_eq!(
        oauth2
            .get_token("b", None)
            .await
            .expect("b refetched")
            .secret(),
        "tok-2"
    );
    assert_eq!((a_issuer.issued(), b_issuer.issued()), (4, 2));
}
