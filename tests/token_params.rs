//! Token request parameters (`audience`, RFC 8707 `resource`, any other
//! form parameter): what goes over the wire for client credentials and
//! token exchange, per-call overrides, and the cache key they shape.

mod common;

use axum_oauth2_client::{FetchOptions, OAuth2Config, TokenExchangeOptions, TokenParams};
use common::*;
use proptest::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

fn pairs(request: &wiremock::Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

#[tokio::test]
async fn the_provider_parameters_go_with_every_client_credentials_request() {
    let server = token_server(Issuer::new()).await;
    let oauth2 = service(
        "auth0",
        provider(&server)
            .scope("read:orders")
            .audience("https://api.example.com/")
            .resource("https://api.example.com/orders")
            .resource("https://api.example.com/refunds")
            .token_param("organization", "org_123"),
    );
    oauth2.get_token("auth0", None).await.expect("token");
    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        pairs(&requests[0]),
        [
            ("grant_type", "client_credentials"),
            ("scope", "read:orders"),
            ("audience", "https://api.example.com/"),
            ("resource", "https://api.example.com/orders"),
            ("resource", "https://api.example.com/refunds"),
            ("organization", "org_123"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
}

#[tokio::test]
async fn the_provider_audience_and_parameters_go_with_exchanges_that_set_none() {
    let server = token_server(Issuer::new()).await;
    let oauth2 = service(
        "p",
        provider(&server)
            .scope("client-own-scope")
            .audience("https://default.example")
            .token_param("organization", "org_123"),
    );
    oauth2
        .get_token("p", Some(&TokenExchangeOptions::new("subject-1")))
        .await
        .expect("default audience");
    oauth2
        .get_token(
            "p",
            Some(
                &TokenExchangeOptions::new("subject-1")
                    .audience("https://a.example")
                    .audience("https://b.example")
                    .resource("https://r.example/1")
                    .resource("https://r.example/2")
                    .param("organization", "org_456"),
            ),
        )
        .await
        .expect("own audiences");
    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 2, "different audiences, different tokens");
    let first = pairs(&requests[0]);
    assert!(first.contains(&("audience".into(), "https://default.example".into())));
    assert!(first.contains(&("organization".into(), "org_123".into())));
    assert!(
        !first.iter().any(|(n, _)| n == "scope"),
        "the client's own scope is not an exchange's"
    );
    let second = &requests[1];
    assert_eq!(
        form_all(second, "audience"),
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(
        form_all(second, "resource"),
        ["https://r.example/1", "https://r.example/2"]
    );
    assert_eq!(form_all(second, "organization"), ["org_456"]);
}

#[tokio::test]
async fn a_call_overrides_the_provider_parameters_and_gets_a_token_of_its_own() {
    let server = token_server(Issuer::new()).await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let oauth2 = service(
        "p",
        provider(&server)
            .scope("base")
            .audience("https://default.example"),
    );
    let url = format!("{}/api", server.uri());
    let other = TokenParams::new().audience("https://other.example");

    let default = oauth2.get_token("p", None).await.expect("default");
    let own = oauth2.get_token_with("p", &other).await.expect("own");
    let again = oauth2.get_token_with("p", &other).await.expect("cached");
    oauth2
        .fetch(
            "p",
            &url,
            FetchOptions::default().token_params(other.clone()),
        )
        .await
        .expect("fetch with the same parameters");
    assert_eq!(default.secret(), "tok-1");
    assert_eq!(own.secret(), "tok-2");
    assert_eq!(again.secret(), "tok-2");
    let api = api_requests(&server).await;
    assert_eq!(header(&api[0], "authorization"), Some("Bearer tok-2"));

    let requests = token_requests(&server).await;
    assert_eq!(requests.len(), 2);
    let overridden = pairs(&requests[1]);
    assert!(overridden.contains(&("scope".into(), "base".into())));
    assert_eq!(
        form_all(&requests[1], "audience"),
        ["https://other.example"],
        "the call's audience replaces the provider's"
    );
    // An empty override is the provider's own token.
    let same = oauth2
        .get_token_with("p", &TokenParams::new())
        .await
        .expect("empty override");
    assert_eq!(same.secret(), "tok-1");
}

#[tokio::test]
async fn parameters_the_grant_sends_itself_are_refused_naming_them() {
    let server = token_server(Issuer::new()).await;
    let err = axum_oauth2_client::OAuth2Service::new(
        OAuth2Config::new().provider("p", provider(&server).token_param("client_id", "x")),
    )
    .expect_err("reserved name");
    assert_eq!(err.code(), "invalid_config");
    assert!(err.to_string().contains("client_id"), "{err}");

    let oauth2 = service("p", provider(&server));
    let err = oauth2
        .get_token_with("p", &TokenParams::new().param("grant_type", "password"))
        .await
        .expect_err("reserved per call");
    assert_eq!(err.code(), "invalid_request");
    assert!(err.to_string().contains("grant_type"), "{err}");
    assert!(!err.to_string().contains("password"), "{err}");
    let err = oauth2
        .get_token(
            "p",
            Some(&TokenExchangeOptions::new("s").param("subject_token", "other")),
        )
        .await
        .expect_err("reserved in an exchange");
    assert_eq!(err.code(), "invalid_request");
    let both = FetchOptions::default()
        .token_params(TokenParams::new().audience("a"))
        .token_exchange(TokenExchangeOptions::new("s"));
    let err = oauth2
        .fetch("p", &format!("{}/api", server.uri()), both)
        .await
        .expect_err("both");
    assert_eq!(err.code(), "invalid_request");
    assert!(token_requests(&server).await.is_empty());
}

fn params() -> impl Strategy<Value = TokenParams> {
    let value = prop::sample::select(vec!["a", "b", "a,b", "x y"]);
    let uri = prop::sample::select(vec![
        "https://a.example/",
        "https://b.example/x?y=1",
        "urn:c",
    ]);
    let name = prop::sample::select(vec!["organization", "requested_token_use", "tenant"]);
    (
        prop::option::of(value.clone()),
        prop::collection::vec(value.clone(), 0..3),
        prop::collection::vec(uri, 0..3),
        // Names once each: a parameter is sent once (RFC 6749 §3.2).
        prop::collection::btree_map(name, value, 0..3),
    )
        .prop_map(|(scope, audience, resource, extra)| {
            let mut params = TokenParams::new();
            if let Some(scope) = scope {
                params = params.scope(scope);
            }
            for a in audience {
                params = params.audience(a);
            }
            for r in resource {
                params = params.resource(r);
            }
            for (n, v) in extra {
                params = params.param(n, v);
            }
            params
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Two calls share a token exactly when they send the same form:
    /// whatever parameter differs, the second call gets a token of its own.
    #[test]
    fn calls_that_send_different_parameters_never_share_a_token(a in params(), b in params()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let server = token_server(Issuer::new()).await;
            let oauth2 = service("p", provider(&server).audience("https://default.example"));
            let first = oauth2.get_token_with("p", &a).await.expect("first");
            let second = oauth2.get_token_with("p", &b).await.expect("second");
            let requests = token_requests(&server).await;
            let forms: Vec<_> = requests.iter().map(pairs).collect();
            let sent_alike = forms.len() == 1;
            prop_assert_eq!(first.secret() == second.secret(), sent_alike);
            if forms.len() == 2 {
                prop_assert_ne!(&forms[0], &forms[1]);
            }
            Ok(())
        })?;
    }
}
