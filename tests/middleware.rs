//! The token manager in the user's own HTTP stack: the reqwest-middleware
//! `OAuth2Middleware` and the tower `OAuth2Layer` under hyper's client,
//! each with the rules of `fetch`.

mod common;

use std::sync::Arc;

use axum_oauth2_client::middleware::{OAuth2Layer, OAuth2Middleware};
use axum_oauth2_client::{OAuth2Error, TokenExchangeOptions, TokenParams};
use common::*;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{ServiceBuilder, ServiceExt as _};
use wiremock::matchers::{header as header_is, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Answers 401 to `tok-1` and 200 to any later token at `/api/orders`;
/// always 401 at `/api/refuses`.
async fn upstream(server: &MockServer) {
    Mock::given(path("/api/orders"))
        .and(header_is("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(server)
        .await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_string("orders"))
        .mount(server)
        .await;
    Mock::given(path("/api/refuses"))
        .respond_with(ResponseTemplate::new(401))
        .mount(server)
        .await;
}

fn code(error: &(dyn std::error::Error + 'static)) -> &'static str {
    error
        .downcast_ref::<OAuth2Error>()
        .map_or("not an OAuth2Error", OAuth2Error::code)
}

/// A token endpoint and the upstream of [`upstream`] on one server, and a
/// service whose provider signs with a [`RecordingSigner`].
async fn signing_provider_and_upstream() -> (Issuer, MockServer, axum_oauth2_client::OAuth2Service)
{
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    upstream(&server).await;
    let oauth2 = service(
        "p",
        provider(&server).signer(Arc::new(RecordingSigner::default())),
    );
    (issuer, server, oauth2)
}

fn middleware_client(
    oauth2: axum_oauth2_client::OAuth2Service,
) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(OAuth2Middleware::new(oauth2, "p").expect("provider"))
        .build()
}

#[tokio::test]
async fn the_middleware_attaches_signs_and_retries_a_401_once_with_a_new_token() {
    let (issuer, server, oauth2) = signing_provider_and_upstream().await;
    let client = middleware_client(oauth2);
    let res = client
        .post(format!("{}/api/orders", server.uri()))
        .body("payload")
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "orders");
    let api = api_requests(&server).await;
    assert_eq!(api.len(), 2, "the 401 and one retry");
    assert_eq!(header(&api[1], "authorization"), Some("Bearer tok-2"));
    assert_eq!(
        header(&api[1], "x-test-signature"),
        Some("covers[Bearer tok-2] body[7]"),
        "re-signed over the new token"
    );
    assert_eq!(api[1].body, b"payload", "the body replayed");
    assert_eq!(issuer.issued(), 2);
}

#[tokio::test]
async fn the_middleware_fails_a_second_401_and_refuses_what_fetch_refuses() {
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    upstream(&server).await;
    let confined = provider(&server).allowed_origins([server.uri().parse().expect("url")]);
    let client = middleware_client(service("p", confined));

    let err = client
        .get(format!("{}/api/refuses", server.uri()))
        .send()
        .await
        .expect_err("always 401");
    let reqwest_middleware::Error::Middleware(inner) = &err else {
        panic!("{err}");
    };
    assert_eq!(code(inner.as_ref()), "unauthorized");
    let before = issuer.issued();

    for (url, expected) in [
        ("https://elsewhere.example/x", "origin_not_allowed"),
        ("http://api.example.com/x", "insecure_url"),
    ] {
        let err = client.get(url).send().await.expect_err("refused");
        let reqwest_middleware::Error::Middleware(inner) = &err else {
            panic!("{err}");
        };
        assert_eq!(code(inner.as_ref()), expected, "{url}: {err}");
    }
    assert_eq!(
        issuer.issued(),
        before,
        "no token fetched for a refused URL"
    );
    assert!(OAuth2Middleware::new(service("p", provider(&server)), "nope").is_err());
}

#[tokio::test]
async fn the_middleware_takes_an_exchange_from_the_request_extensions() {
    let server = token_server(Issuer::new()).await;
    upstream(&server).await;
    let client = middleware_client(service("p", provider(&server)));
    client
        .get(format!("{}/api/orders", server.uri()))
        .with_extension(TokenExchangeOptions::new("subject-of-the-caller"))
        .send()
        .await
        .expect("sent");
    let requests = token_requests(&server).await;
    assert!(
        requests
            .iter()
            .any(|r| form(r).get("subject_token").map(String::as_str)
                == Some("subject-of-the-caller")),
        "an exchange was made"
    );
}

#[tokio::test]
async fn the_middleware_takes_parameters_from_the_extensions_but_not_with_an_exchange() {
    let server = token_server(Issuer::new()).await;
    upstream(&server).await;
    let client = middleware_client(service("p", provider(&server)));
    let url = format!("{}/api/orders", server.uri());
    client
        .get(&url)
        .with_extension(TokenParams::new().audience("https://orders.example"))
        .send()
        .await
        .expect("sent");
    // tok-1 is refused once by this upstream: a second token, same audience.
    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(
        form_all(&requests[1], "audience"),
        ["https://orders.example"]
    );
    let err = client
        .get(&url)
        .with_extension(TokenParams::new().audience("a"))
        .with_extension(TokenExchangeOptions::new("subject"))
        .send()
        .await
        .expect_err("both");
    assert!(err.to_string().contains("cannot both be given"), "{err}");
    assert_eq!(
        token_requests(&server).await.len(),
        2,
        "nothing more fetched"
    );
}

fn hyper_client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<bytes::Bytes>>
{
    Client::builder(TokioExecutor::new()).build_http()
}

#[tokio::test]
async fn the_tower_layer_attaches_signs_and_retries_a_401_once_with_a_new_token() {
    let (issuer, server, oauth2) = signing_provider_and_upstream().await;
    let client = ServiceBuilder::new()
        .layer(OAuth2Layer::new(oauth2, "p").expect("provider"))
        .service(hyper_client());
    let request = http::Request::post(format!("{}/api/orders", server.uri()))
        .body(Full::new(bytes::Bytes::from_static(b"payload")))
        .expect("request");
    let res = client.clone().oneshot(request).await.expect("sent");
    assert_eq!(res.status(), 200);
    let api = api_requests(&server).await;
    assert_eq!(api.len(), 2);
    assert_eq!(header(&api[0], "authorization"), Some("Bearer tok-1"));
    assert_eq!(header(&api[1], "authorization"), Some("Bearer tok-2"));
    assert_eq!(
        header(&api[1], "x-test-signature"),
        Some("covers[Bearer tok-2] body[7]")
    );
    assert_eq!(api[1].body, b"payload");
    assert_eq!(issuer.issued(), 2, "one forced token");

    let request = http::Request::get(format!("{}/api/refuses", server.uri()))
        .body(Full::default())
        .expect("request");
    let err = client.oneshot(request).await.expect_err("always 401");
    assert_eq!(code(err.as_ref()), "unauthorized");
}

#[tokio::test]
async fn the_tower_layer_resolves_relative_uris_and_refuses_other_origins() {
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    upstream(&server).await;
    let base: reqwest::Url = server.uri().parse().expect("url");
    let confined = provider(&server).allowed_origins([base.clone()]);
    let layer = OAuth2Layer::new(service("p", confined), "p").expect("provider");

    let relative = http::Request::get("/api/orders")
        .body(Full::default())
        .expect("request");
    let err = ServiceBuilder::new()
        .layer(layer.clone())
        .service(hyper_client())
        .oneshot(relative)
        .await
        .expect_err("no base URL");
    assert_eq!(code(err.as_ref()), "invalid_request");

    // With a base, the relative URI is the server's, and the service below
    // is handed the absolute URL that was checked.
    let recorded = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = recorded.clone();
    let inner = tower::service_fn(move |request: http::Request<Full<bytes::Bytes>>| {
        let seen = seen.clone();
        async move {
            seen.lock().expect("lock").push((
                request.uri().to_string(),
                request.headers().get("authorization").cloned(),
            ));
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        }
    });
    let res = ServiceBuilder::new()
        .layer(layer.clone().base_url(base))
        .service(inner)
        .oneshot(
            http::Request::get("/api/orders")
                .body(Full::default())
                .expect("request"),
        )
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    let seen = recorded.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, format!("{}/api/orders", server.uri()));
    let auth = seen[0].1.clone().expect("a token");
    assert!(auth.is_sensitive());
    assert_eq!(auth, "Bearer tok-1");

    let elsewhere = http::Request::get("https://elsewhere.example/x")
        .body(Full::default())
        .expect("request");
    let err = ServiceBuilder::new()
        .layer(layer)
        .service(hyper_client())
        .oneshot(elsewhere)
        .await
        .expect_err("refused");
    assert_eq!(code(err.as_ref()), "origin_not_allowed");
    assert_eq!(issuer.issued(), 1);
}

#[tokio::test]
async fn the_tower_layer_refuses_uris_whose_target_depends_on_who_reads_them() {
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let base: reqwest::Url = server.uri().parse().expect("url");
    let confined = provider(&server).allowed_origins([base.clone()]);
    let layer = OAuth2Layer::new(service("p", confined), "p")
        .expect("provider")
        .base_url(base);
    let never_called = tower::service_fn(|_: http::Request<Full<bytes::Bytes>>| async {
        panic!("nothing may be sent");
        #[allow(unreachable_code)]
        Ok::<_, std::convert::Infallible>(http::Response::new(()))
    });
    let client = ServiceBuilder::new().layer(layer).service(never_called);
    // An authority without a scheme (a CONNECT target), and a path that a
    // resolver reads as another host.
    let connect = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri("evil.example:443")
        .body(Full::default())
        .expect("request");
    let err = client.clone().oneshot(connect).await.expect_err("refused");
    assert_eq!(code(err.as_ref()), "invalid_request");
    let scheme_relative = http::Request::get("//evil.example/x")
        .body(Full::default())
        .expect("request");
    let err = client.oneshot(scheme_relative).await.expect_err("refused");
    assert_eq!(code(err.as_ref()), "invalid_request");
    assert_eq!(issuer.issued(), 0, "no token for a refused request");
}

#[tokio::test]
async fn both_middlewares_refuse_headers_the_client_owns() {
    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    upstream(&server).await;
    let oauth2 = service("p", provider(&server));
    let url = format!("{}/api/orders", server.uri());

    let err = middleware_client(oauth2.clone())
        .get(&url)
        .header("host", "tenant-b.example")
        .send()
        .await
        .expect_err("refused");
    let reqwest_middleware::Error::Middleware(inner) = &err else {
        panic!("{err}");
    };
    assert_eq!(code(inner.as_ref()), "invalid_request");
    assert!(inner.to_string().contains("host"), "{inner}");
    assert!(!inner.to_string().contains("tenant-b"), "{inner}");

    let request = http::Request::get(&url)
        .header("upgrade", "h2c")
        .body(Full::default())
        .expect("request");
    let err = ServiceBuilder::new()
        .layer(OAuth2Layer::new(oauth2, "p").expect("provider"))
        .service(hyper_client())
        .oneshot(request)
        .await
        .expect_err("refused");
    assert_eq!(code(err.as_ref()), "invalid_request");
    assert!(api_requests(&server).await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn the_streaming_layer_attaches_the_token_and_a_401_drops_it_without_a_replay() {
    use axum_oauth2_client::middleware::OAuth2StreamingLayer;
    use http_body_util::BodyExt as _;
    use http_body_util::combinators::BoxBody;

    let issuer = Issuer::new();
    let server = token_server(issuer.clone()).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = seen.clone();
    // An upstream that refuses the first token, behind a stack that takes
    // bodies that cannot be cloned.
    let inner = tower::service_fn(
        move |request: http::Request<BoxBody<bytes::Bytes, std::convert::Infallible>>| {
            let recorded = recorded.clone();
            async move {
                let auth = request.headers().get("authorization").cloned();
                let status = if auth.as_ref().is_some_and(|a| a == "Bearer tok-1") {
                    401
                } else {
                    200
                };
                recorded.lock().expect("lock").push(auth);
                let mut response = http::Response::new(());
                *response.status_mut() = http::StatusCode::from_u16(status).expect("status");
                Ok::<_, std::convert::Infallible>(response)
            }
        },
    );
    let layer = OAuth2StreamingLayer::new(service("p", provider(&server)), "p").expect("provider");
    let client = ServiceBuilder::new().layer(layer).service(inner);
    let body = || Full::new(bytes::Bytes::from_static(b"stream")).boxed();
    let url = format!("{}/api/upload", server.uri());

    let first = client
        .clone()
        .oneshot(http::Request::post(&url).body(body()).expect("request"))
        .await
        .expect("answered");
    assert_eq!(
        first.status(),
        401,
        "a stream's 401 is the answer: no replay"
    );
    let second = client
        .oneshot(http::Request::post(&url).body(body()).expect("request"))
        .await
        .expect("answered");
    assert_eq!(second.status(), 200, "the next request got a new token");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2, "one request each, never replayed");
    assert_eq!(issuer.issued(), 2);

    // A provider that signs cannot sign a stream: refused, not sent unsigned.
    let signing = service(
        "s",
        provider(&server).signer(Arc::new(RecordingSigner::default())),
    );
    let refuse = tower::service_fn(
        |_: http::Request<BoxBody<bytes::Bytes, std::convert::Infallible>>| async {
            panic!("nothing may be sent");
            #[allow(unreachable_code)]
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        },
    );
    let err = ServiceBuilder::new()
        .layer(OAuth2StreamingLayer::new(signing, "s").expect("provider"))
        .service(refuse)
        .oneshot(http::Request::post(&url).body(body()).expect("request"))
        .await
        .expect_err("refused");
    assert_eq!(code(err.as_ref()), "invalid_request");
}
