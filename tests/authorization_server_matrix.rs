//! Every grant × client authentication method against the real
//! authorization server (oidc-provider; see `tests/interop/README.md`),
//! through a configured token URL and through discovery of its issuer:
//! each token is introspected, each request read back from the server's
//! log.
//!
//! Skips loudly without `node` or `tests/interop/node_modules`; fails
//! instead when `CI` is set.

mod common;

use axum_oauth2_client::jose::{ClientKey, JwsAlgorithm};
use axum_oauth2_client::{
    AssertionAudience, AuthMethod, GrantType, OAuth2Config, OAuth2Service, ProviderConfig,
    TokenExchangeOptions,
};
use common::authorization_server::*;
use serde_json::Value;

/// How the test reaches the token endpoint.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    TokenUrl,
    Discovery,
}

const ENDPOINTS: [Endpoint; 2] = [Endpoint::TokenUrl, Endpoint::Discovery];

/// What the client authenticates with.
#[derive(Debug, Clone, Copy)]
enum Credential {
    Secret(AuthMethod),
    Key(&'static str, JwsAlgorithm),
    None,
}

/// Every key the private-key client has registered, with an algorithm.
const KEYS: [(&str, JwsAlgorithm); 5] = [
    ("rsa", JwsAlgorithm::RS256),
    ("rsa", JwsAlgorithm::PS256),
    ("p256", JwsAlgorithm::ES256),
    ("p384", JwsAlgorithm::ES384),
    ("ed25519", JwsAlgorithm::EdDSA),
];

fn key(client: &str, kid: &str, alg: JwsAlgorithm) -> ClientKey {
    ClientKey::from_pem_or_jwk(&client_fixture(client).private_key_pem(kid), Some(alg))
        .expect("fixture key")
        .key_id(kid)
}

fn config(
    server: &AuthorizationServer,
    endpoint: Endpoint,
    client: &str,
    credential: Credential,
) -> ProviderConfig {
    let url = server.token_url();
    let base = match (endpoint, credential) {
        (Endpoint::TokenUrl, Credential::Secret(_)) => {
            ProviderConfig::new(url, client, client_secret(client))
        }
        (Endpoint::TokenUrl, Credential::Key(kid, alg)) => {
            ProviderConfig::with_key(url, client, key(client, kid, alg))
        }
        // The JWT bearer grant's key, which its tests set.
        (Endpoint::TokenUrl, Credential::None) => {
            ProviderConfig::with_key(url, client, key(client, "p256", JwsAlgorithm::ES256))
        }
        (Endpoint::Discovery, _) => ProviderConfig::discovered(server.issuer_str(), client),
    };
    match credential {
        Credential::Secret(method) => base
            .client_secret(client_secret(client))
            .auth_method(method),
        Credential::Key(kid, alg) => base
            .client_key(key(client, kid, alg))
            .auth_method(AuthMethod::PrivateKeyJwt),
        Credential::None => base.auth_method(AuthMethod::None),
    }
}

fn service(config: ProviderConfig) -> OAuth2Service {
    OAuth2Service::new(OAuth2Config::new().provider("idp", config)).expect("service")
}

/// The log's token requests.
async fn token_requests(server: &AuthorizationServer) -> Vec<Value> {
    server
        .requests()
        .await
        .into_iter()
        .filter(|r| r["path"] == "/token")
        .collect()
}

/// Checks how the one token request authenticated.
fn assert_authenticated(request: &Value, credential: Credential, client: &str) {
    let form = &request["form"];
    match credential {
        Credential::Secret(AuthMethod::ClientSecretBasic) => {
            assert_eq!(request["authorization"], "Basic", "{request}");
            assert_eq!(form["client_secret"], Value::Null);
        }
        Credential::Secret(AuthMethod::ClientSecretPost) => {
            assert_eq!(request["authorization"], Value::Null, "{request}");
            assert_eq!(form["client_id"], client);
            assert!(form["client_secret"].is_string() || form["client_secret"].is_number());
        }
        Credential::Secret(_) | Credential::Key(..) => {
            assert_eq!(request["authorization"], Value::Null, "{request}");
            assert_eq!(form["client_id"], client);
            assert_eq!(
                form["client_assertion_type"],
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            );
            assert!(!form["client_assertion"].is_null(), "{request}");
            assert_eq!(form["client_secret"], Value::Null);
        }
        Credential::None => {
            assert_eq!(request["authorization"], Value::Null, "{request}");
            assert_eq!(form["client_assertion"], Value::Null);
            assert_eq!(form["client_secret"], Value::Null);
        }
    }
}

#[tokio::test]
async fn client_credentials_with_every_authentication_method_through_both_endpoints() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let mut cases = vec![
        (
            BASIC_CLIENT,
            Credential::Secret(AuthMethod::ClientSecretBasic),
        ),
        (
            POST_CLIENT,
            Credential::Secret(AuthMethod::ClientSecretPost),
        ),
        (
            JWT_SECRET_CLIENT,
            Credential::Secret(AuthMethod::ClientSecretJwt),
        ),
    ];
    cases.extend(
        KEYS.iter()
            .map(|(kid, alg)| (PRIVATE_KEY_CLIENT, Credential::Key(kid, *alg))),
    );
    for endpoint in ENDPOINTS {
        for (client, credential) in &cases {
            server.clear_requests().await;
            let oauth2 =
                service(config(&server, endpoint, client, *credential).scope("orders:read"));
            let what = format!("{endpoint:?} {client} {credential:?}");
            let token = oauth2
                .get_token("idp", None)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let info = server.introspect(token.secret()).await;
            assert_eq!(info["active"], true, "{what}: {info}");
            assert_eq!(info["client_id"], *client, "{what}");
            assert_eq!(info["scope"], "orders:read", "{what}");
            let requests = token_requests(&server).await;
            assert_eq!(requests.len(), 1, "{what}: {requests:#?}");
            assert_eq!(requests[0]["status"], 200, "{what}");
            assert_eq!(requests[0]["form"]["grant_type"], "client_credentials");
            assert_authenticated(&requests[0], *credential, client);
            // The cache answers the second call.
            oauth2.get_token("idp", None).await.expect("cached");
            assert_eq!(token_requests(&server).await.len(), 1, "{what}");
        }
    }
}

#[tokio::test]
async fn the_jwt_bearer_grant_with_and_without_client_authentication() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let bearer_key = || key(JWT_BEARER_CLIENT, "p256", JwsAlgorithm::ES256);
    for endpoint in ENDPOINTS {
        // The assertion alone (Google style), the scope inside it.
        server.clear_requests().await;
        let alone = config(&server, endpoint, JWT_BEARER_CLIENT, Credential::None)
            .grant(GrantType::JwtBearer)
            .client_key(bearer_key())
            .scope_in_assertion(true)
            .scope("orders:read");
        let token = service(alone)
            .get_token("idp", None)
            .await
            .expect("jwt bearer alone");
        let info = server.introspect(token.secret()).await;
        assert_eq!(info["active"], true, "{endpoint:?}: {info}");
        assert_eq!(info["client_id"], JWT_BEARER_CLIENT);
        assert_eq!(info["scope"], "orders:read");
        let requests = token_requests(&server).await;
        assert_eq!(requests.len(), 1);
        let form = &requests[0]["form"];
        assert_eq!(form["grant_type"], GRANT_JWT_BEARER);
        assert!(!form["assertion"].is_null());
        assert_eq!(
            form["scope"],
            Value::Null,
            "the scope rides in the assertion"
        );
        assert_authenticated(&requests[0], Credential::None, JWT_BEARER_CLIENT);

        // The assertion as grant, the client authenticated with its own
        // key (Entra ID's on-behalf-of shape), the scope in the form.
        server.clear_requests().await;
        let credential = Credential::Key("ed25519", JwsAlgorithm::EdDSA);
        let authenticated = config(&server, endpoint, PRIVATE_KEY_CLIENT, credential)
            .grant(GrantType::JwtBearer)
            .scope("orders:write");
        let token = service(authenticated)
            .get_token("idp", None)
            .await
            .expect("jwt bearer with private_key_jwt");
        let info = server.introspect(token.secret()).await;
        assert_eq!(info["active"], true, "{endpoint:?}: {info}");
        assert_eq!(info["scope"], "orders:write");
        let requests = token_requests(&server).await;
        assert_eq!(requests[0]["form"]["scope"], "orders:write");
        assert_authenticated(&requests[0], credential, PRIVATE_KEY_CLIENT);
    }
}

#[tokio::test]
async fn token_exchange_with_jwt_client_authentication_audiences_and_a_custom_subject_type() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let subject = service(config(
        &server,
        Endpoint::TokenUrl,
        BASIC_CLIENT,
        Credential::Secret(AuthMethod::ClientSecretBasic),
    ))
    .get_token("idp", None)
    .await
    .expect("subject token");
    for endpoint in ENDPOINTS {
        for (client, credential) in [
            (
                PRIVATE_KEY_CLIENT,
                Credential::Key("rsa", JwsAlgorithm::PS256),
            ),
            (
                JWT_SECRET_CLIENT,
                Credential::Secret(AuthMethod::ClientSecretJwt),
            ),
        ] {
            server.clear_requests().await;
            let oauth2 = service(config(&server, endpoint, client, credential));
            let exchange = TokenExchangeOptions::new(subject.secret())
                .audience(ORDERS_AUDIENCE)
                .audience(BILLING_AUDIENCE)
                .resource(API_RESOURCE)
                .requested_token_type(TOKEN_TYPE_ACCESS_TOKEN);
            let what = format!("{endpoint:?} {client}");
            let token = oauth2
                .get_token("idp", Some(&exchange))
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(token.issued_token_type(), Some(TOKEN_TYPE_ACCESS_TOKEN));
            let info = server.introspect(token.secret()).await;
            assert_eq!(info["active"], true, "{what}: {info}");
            assert_eq!(info["client_id"], client, "{what}");
            let aud = audiences(&info["aud"]);
            assert!(aud.contains(&ORDERS_AUDIENCE.to_owned()), "{what}: {info}");
            assert!(aud.contains(&BILLING_AUDIENCE.to_owned()), "{what}: {info}");
            let requests = token_requests(&server).await;
            assert_eq!(requests.len(), 1, "{what}");
            assert_eq!(requests[0]["form"]["grant_type"], GRANT_TOKEN_EXCHANGE);
            assert_authenticated(&requests[0], credential, client);
        }
    }
    // A provider's own subject token type URI (Auth0 accepts no other).
    let custom = service(config(
        &server,
        Endpoint::TokenUrl,
        PRIVATE_KEY_CLIENT,
        Credential::Key("p384", JwsAlgorithm::ES384),
    ))
    .get_token(
        "idp",
        Some(
            &TokenExchangeOptions::new(subject.secret())
                .subject_token_type(CUSTOM_SUBJECT_TOKEN_TYPE)
                .audience(ORDERS_AUDIENCE),
        ),
    )
    .await
    .expect("custom subject token type");
    let info = server.introspect(custom.secret()).await;
    assert_eq!(
        info["subject_token_type"], CUSTOM_SUBJECT_TOKEN_TYPE,
        "{info}"
    );
}

#[tokio::test]
async fn discovery_picks_the_method_for_the_credentials_given() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    // A key and no method: private_key_jwt, the one that sends no secret.
    let keyed = ProviderConfig::discovered(server.issuer_str(), PRIVATE_KEY_CLIENT)
        .client_key(key(PRIVATE_KEY_CLIENT, "p256", JwsAlgorithm::ES256));
    let token = service(keyed)
        .get_token("idp", None)
        .await
        .expect("discovered, key");
    assert_eq!(server.introspect(token.secret()).await["active"], true);
    let requests = token_requests(&server).await;
    assert_authenticated(
        &requests[0],
        Credential::Key("p256", JwsAlgorithm::ES256),
        PRIVATE_KEY_CLIENT,
    );
    // A secret and no method: client_secret_basic.
    server.clear_requests().await;
    let secret = ProviderConfig::discovered(server.issuer_str(), BASIC_CLIENT)
        .client_secret(client_secret(BASIC_CLIENT));
    service(secret)
        .get_token("idp", None)
        .await
        .expect("discovered, secret");
    let requests = token_requests(&server).await;
    assert_authenticated(
        &requests[0],
        Credential::Secret(AuthMethod::ClientSecretBasic),
        BASIC_CLIENT,
    );
}

#[tokio::test]
async fn the_assertion_audience_can_be_the_issuer() {
    let Some(server) = AuthorizationServer::start() else {
        return;
    };
    let oauth2 = service(
        config(
            &server,
            Endpoint::Discovery,
            PRIVATE_KEY_CLIENT,
            Credential::Key("rsa", JwsAlgorithm::RS256),
        )
        .assertion_audience(AssertionAudience::Issuer),
    );
    let token = oauth2.get_token("idp", None).await.expect("aud = issuer");
    assert_eq!(server.introspect(token.secret()).await["active"], true);
}
