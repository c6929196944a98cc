//! Mutual TLS (RFC 8705) against a real TLS server that requires a client
//! certificate signed by the test CA (tests/fixtures/mtls): client
//! authentication by certificate (§2), the mutual-TLS endpoint alias of
//! discovery (§5), and certificate-bound tokens (§3) checked on arrival and
//! presented again upstream.
//!
//! The server runs on rustls with the aws-lc-rs provider that reqwest
//! already uses, passed explicitly: nothing process-wide is installed.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum_oauth2_client::{
    AuthMethod, FetchOptions, OAuth2Config, OAuth2Service, ProviderConfig, RetryPolicy,
    TlsIdentity, TlsRoots,
};
use base64::Engine as _;
use bytes::Bytes;
use common::{CLIENT_ID, assert_error_shows_no_secret};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// `x5t#S256` of client.pem (tests/fixtures/mtls/README.md).
const CLIENT_X5T: &str = "PDmQX_-1UeRMo2szgvTHLbWDKlRsfQnJ6-07h5iU-LE";
/// `x5t#S256` of untrusted.pem.
const UNTRUSTED_X5T: &str = "BLCxRODAUuqgF9ODukRpAC0BggkV0t1QEDdVqpOHmJU";
/// `x5t#S256` of self-signed.pem.
const SELF_SIGNED_X5T: &str = "vcgV0oHm6M0X6bsvzYeqjjFVa3Kde2GcKH7huO4oQrI";

fn fixture_path(name: &str) -> String {
    format!("{}/tests/fixtures/mtls/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).expect("fixture")
}

/// The base64 lines of every private key in the fixtures: none may show
/// in an error or a `Debug`.
fn key_lines() -> Vec<String> {
    ["client.key", "untrusted.key", "self-signed.key"]
        .iter()
        .flat_map(|name| {
            fixture(name)
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What the token endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// An opaque token.
    Opaque,
    /// A JWT whose `cnf.x5t#S256` is the certificate the client presented.
    BoundToPresented,
    /// A JWT bound to another certificate.
    BoundElsewhere,
}

/// One request the server answered.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    /// `x5t#S256` of the client certificate of the request's connection.
    client_x5t: Option<String>,
    form: HashMap<String, String>,
    authorization: Option<String>,
}

#[derive(Default)]
struct State {
    seen: Mutex<Vec<Seen>>,
    handshakes_refused: AtomicUsize,
    token: Mutex<Option<Token>>,
    /// `https://127.0.0.1:<port>`, once bound.
    origin: Mutex<String>,
}

/// A TLS server on 127.0.0.1 that requires a client certificate signed by
/// one of `client_roots` and serves HTTP/1.1:
///
/// - `POST /token`: a token endpoint that answers any form with a token;
/// - `POST /plain-token`: the token endpoint without mutual TLS, which
///   refuses every client (discovery must not use it);
/// - `GET /api`: 200 only on a connection that presented client.pem (or
///   the server's expected certificate) and with a bearer token, else 403;
/// - the RFC 8414 and OpenID Connect metadata of its own issuer, listing
///   `/token` as `mtls_endpoint_aliases.token_endpoint`.
struct TlsServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsServer {
    async fn start(client_roots: &str, expected_upstream_x5t: &'static str) -> Self {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(client_roots.as_bytes()) {
            roots.add(cert.expect("root")).expect("root added");
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .expect("client verifier");
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(fixture("server.pem").as_bytes())
                .collect::<Result<_, _>>()
                .expect("server chain");
        let key = PrivateKeyDer::from_pem_slice(fixture("server.key").as_bytes()).expect("key");
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .expect("server config");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(State {
            token: Mutex::new(Some(Token::Opaque)),
            origin: Mutex::new(format!("https://127.0.0.1:{}", addr.port())),
            ..State::default()
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let state = shared.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        state.handshakes_refused.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    let client_x5t = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .map(|leaf| thumbprint(leaf));
                    let service = hyper::service::service_fn(move |request| {
                        handle(
                            state.clone(),
                            client_x5t.clone(),
                            expected_upstream_x5t,
                            request,
                        )
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// The server trusting the test CA, its upstream expecting client.pem.
    async fn with_test_ca() -> Self {
        Self::start(&fixture("ca.pem"), CLIENT_X5T).await
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    fn issuer(&self) -> String {
        self.url("")
    }

    fn answer(&self, token: Token) {
        *self.state.token.lock().expect("lock") = Some(token);
    }

    fn seen(&self, path: &str) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    fn handshakes_refused(&self) -> usize {
        self.state.handshakes_refused.load(Ordering::SeqCst)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// base64url SHA-256 of a DER certificate (RFC 8705 §3.1).
fn thumbprint(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// An unsigned JWT: the client reads the claims, it never verifies them.
fn jwt(claims: serde_json::Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64.encode(br#"{"alg":"ES256","typ":"at+jwt"}"#),
        b64.encode(claims.to_string())
    )
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

async fn handle(
    state: Arc<State>,
    client_x5t: Option<String>,
    expected_upstream_x5t: &'static str,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    state.seen.lock().expect("lock").push(Seen {
        path: path.clone(),
        client_x5t: client_x5t.clone(),
        form,
        authorization: authorization.clone(),
    });
    let origin = state.origin.lock().expect("lock").clone();
    Ok(match path.as_str() {
        "/token" => {
            let kind = state.token.lock().expect("lock").unwrap_or(Token::Opaque);
            let access_token = match kind {
                Token::Opaque => "opaque-access-token".to_owned(),
                Token::BoundToPresented => jwt(json!({
                    "sub": CLIENT_ID,
                    "cnf": {"x5t#S256": client_x5t.clone().unwrap_or_default()},
                })),
                Token::BoundElsewhere => jwt(json!({
                    "sub": CLIENT_ID,
                    "cnf": {"x5t#S256": UNTRUSTED_X5T},
                })),
            };
            json_response(
                StatusCode::OK,
                json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 300}),
            )
        }
        "/plain-token" => json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "use the mTLS endpoint"}),
        ),
        "/api" => {
            let bearer = authorization.is_some_and(|a| a.starts_with("Bearer "));
            if client_x5t.as_deref() == Some(expected_upstream_x5t) && bearer {
                json_response(StatusCode::OK, json!({"ok": true}))
            } else {
                json_response(StatusCode::FORBIDDEN, json!({"error": "wrong certificate"}))
            }
        }
        "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration" => {
            json_response(
                StatusCode::OK,
                json!({
                    "issuer": origin,
                    "token_endpoint": format!("{origin}/plain-token"),
                    "token_endpoint_auth_methods_supported": ["tls_client_auth", "client_secret_basic"],
                    "mtls_endpoint_aliases": {"token_endpoint": format!("{origin}/token")},
                }),
            )
        }
        _ => json_response(StatusCode::NOT_FOUND, json!({})),
    })
}

fn identity(cert: &str, key: &str) -> TlsIdentity {
    TlsIdentity::from_pem(&fixture(cert), &fixture(key)).expect("identity")
}

fn test_ca() -> TlsRoots {
    TlsRoots::from_pem(&fixture("ca.pem")).expect("roots")
}

/// One attempt: a refused handshake fails at once.
fn once() -> RetryPolicy {
    RetryPolicy::default().max_attempts(1)
}

/// tls_client_auth with client.pem, trusting the test CA.
fn mtls_provider(server: &TlsServer) -> ProviderConfig {
    ProviderConfig::with_tls_identity(
        server.url("/token").parse().expect("url"),
        CLIENT_ID,
        identity("client.pem", "client.key"),
    )
    .tls_roots(test_ca())
    .retry(once())
}

fn service(provider: ProviderConfig) -> OAuth2Service {
    OAuth2Service::new(OAuth2Config::new().provider("mtls", provider)).expect("service")
}

#[tokio::test]
async fn tls_client_auth_gets_a_token_with_the_client_id_and_no_secret_over_mutual_tls() {
    let server = TlsServer::with_test_ca().await;
    let oauth2 = service(mtls_provider(&server));
    let token = oauth2.get_token("mtls", None).await.expect("token");
    assert_eq!(token.secret(), "opaque-access-token");

    let requests = server.seen("/token");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        request.client_x5t.as_deref(),
        Some(CLIENT_X5T),
        "the server saw client.pem"
    );
    assert_eq!(
        request.form.get("grant_type").map(String::as_str),
        Some("client_credentials")
    );
    assert_eq!(
        request.form.get("client_id").map(String::as_str),
        Some(CLIENT_ID)
    );
    for absent in ["client_secret", "client_assertion", "client_assertion_type"] {
        assert!(
            !request.form.contains_key(absent),
            "{absent}: {:?}",
            request.form
        );
    }
    assert_eq!(request.authorization, None, "no Basic credentials");
}

#[tokio::test]
async fn upstream_calls_present_the_same_certificate_the_token_is_bound_to() {
    let server = TlsServer::with_test_ca().await;
    server.answer(Token::BoundToPresented);
    let api = server.url("/api");
    // With and without allowed origins: either way the provider has its
    // own upstream client, with the identity.
    for provider in [
        mtls_provider(&server),
        mtls_provider(&server).allowed_origins([api.parse().expect("url")]),
    ] {
        let oauth2 = service(provider);
        let response = oauth2
            .fetch("mtls", &api, FetchOptions::default())
            .await
            .expect("fetch");
        assert_eq!(response.status(), 200);
    }
    let tokens = server.seen("/token");
    let calls = server.seen("/api");
    assert_eq!(calls.len(), 2);
    for call in tokens.iter().chain(&calls) {
        assert_eq!(call.client_x5t.as_deref(), Some(CLIENT_X5T), "{call:?}");
    }
    assert!(
        calls[0]
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer ey")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_client_given_to_the_builder_presents_the_identity_only_if_it_was_given_it() {
    let server = TlsServer::with_test_ca().await;
    let api = server.url("/api");
    let roots = reqwest::Certificate::from_pem(fixture("ca.pem").as_bytes()).expect("reqwest root");
    let provider = mtls_provider(&server);
    let own = reqwest::Client::builder()
        .tls_certs_only([roots.clone()])
        .identity(provider.identity().expect("identity").reqwest_identity())
        .build()
        .expect("client");
    let oauth2 = OAuth2Service::builder(OAuth2Config::new().provider("mtls", provider))
        .http_client(own)
        .build()
        .expect("service");
    let response = oauth2
        .fetch("mtls", &api, FetchOptions::default())
        .await
        .expect("fetch");
    assert_eq!(response.status(), 200);

    // A client without the identity is used as it is: the upstream refuses
    // the handshake, the token endpoint still got the certificate.
    let bare = reqwest::Client::builder()
        .tls_certs_only([roots])
        .build()
        .expect("client");
    let oauth2 =
        OAuth2Service::builder(OAuth2Config::new().provider("mtls", mtls_provider(&server)))
            .http_client(bare)
            .build()
            .expect("service");
    let refused = server.handshakes_refused();
    assert!(
        oauth2
            .fetch("mtls", &api, FetchOptions::default())
            .await
            .is_err()
    );
    assert!(server.handshakes_refused() > refused);
    assert_eq!(server.seen("/api").len(), 1);
}

#[tokio::test]
async fn without_an_identity_the_handshake_fails_as_token_request_failed_showing_no_key() {
    let server = TlsServer::with_test_ca().await;
    let secret = "client-secret-never-shown";
    let provider = ProviderConfig::new(
        server.url("/token").parse().expect("url"),
        CLIENT_ID,
        secret,
    )
    .tls_roots(test_ca())
    .retry(once());
    let oauth2 = service(provider);
    let err = oauth2.get_token("mtls", None).await.expect_err("refused");
    assert_eq!(err.code(), "token_request_failed", "{err}");
    let lines = key_lines();
    let mut secrets: Vec<&str> = lines.iter().map(String::as_str).collect();
    secrets.push(secret);
    assert_error_shows_no_secret(&err, &secrets);
    assert!(server.handshakes_refused() >= 1);
    assert!(server.seen("/token").is_empty(), "no request got through");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_in_the_handshake() {
    let server = TlsServer::with_test_ca().await;
    let provider = ProviderConfig::with_tls_identity(
        server.url("/token").parse().expect("url"),
        CLIENT_ID,
        identity("untrusted.pem", "untrusted.key"),
    )
    .tls_roots(test_ca())
    .retry(once());
    let err = service(provider)
        .get_token("mtls", None)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "token_request_failed", "{err}");
    let lines = key_lines();
    assert_error_shows_no_secret(&err, &lines.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(server.seen("/token").is_empty());
}

#[tokio::test]
async fn a_certificate_that_is_not_for_its_key_is_refused_at_configuration() {
    let err = TlsIdentity::from_pem(&fixture("client.pem"), &fixture("untrusted.key"))
        .expect_err("mismatch");
    assert_eq!(err.code(), "certificate_mismatch");

    let err = OAuth2Config::from_vars([
        (
            "OAUTH2_MTLS_TOKEN_URL",
            "https://127.0.0.1:8443/token".to_owned(),
        ),
        ("OAUTH2_MTLS_CLIENT_ID", CLIENT_ID.to_owned()),
        ("OAUTH2_MTLS_TLS_CERT_FILE", fixture_path("client.pem")),
        ("OAUTH2_MTLS_TLS_KEY_FILE", fixture_path("untrusted.key")),
    ])
    .expect_err("mismatch");
    assert_eq!(err.code(), "invalid_variable");
    assert_eq!(err.variable(), "OAUTH2_MTLS_TLS_CERT_FILE");
    let shown = format!("{err} {err:?}");
    for line in key_lines() {
        assert!(!shown.contains(&line), "{shown}");
    }
}

#[tokio::test]
async fn discovery_sends_token_requests_to_the_mtls_endpoint_alias() {
    let server = TlsServer::with_test_ca().await;
    let provider = ProviderConfig::discovered(server.issuer(), CLIENT_ID)
        .tls_identity(identity("client.pem", "client.key"))
        .tls_roots(test_ca())
        .retry(once());
    let oauth2 = service(provider);
    let metadata = oauth2
        .metadata("mtls")
        .await
        .expect("metadata")
        .expect("discovered");
    assert_eq!(
        metadata
            .mtls_token_endpoint()
            .map(|u| u.as_str().to_owned()),
        Some(server.url("/token"))
    );
    oauth2.get_token("mtls", None).await.expect("token");

    assert!(
        server.seen("/plain-token").is_empty(),
        "the plain endpoint is not used"
    );
    let requests = server.seen("/token");
    assert_eq!(requests.len(), 1);
    // The metadata lists tls_client_auth: the certificate alone
    // authenticates the client.
    assert_eq!(
        requests[0].form.get("client_id").map(String::as_str),
        Some(CLIENT_ID)
    );
    assert!(!requests[0].form.contains_key("client_secret"));
    assert_eq!(requests[0].client_x5t.as_deref(), Some(CLIENT_X5T));
}

#[tokio::test]
async fn a_token_bound_to_another_certificate_is_refused() {
    let server = TlsServer::with_test_ca().await;
    server.answer(Token::BoundElsewhere);
    let oauth2 = service(mtls_provider(&server));
    let err = oauth2.get_token("mtls", None).await.expect_err("refused");
    assert_eq!(err.code(), "invalid_token_response", "{err}");
    assert!(err.to_string().contains("cnf.x5t#S256"), "{err}");

    server.answer(Token::BoundToPresented);
    oauth2
        .get_token("mtls", None)
        .await
        .expect("a token bound to client.pem");
}

#[tokio::test]
async fn the_ca_file_is_what_makes_the_test_server_trusted() {
    let server = TlsServer::with_test_ca().await;
    let vars = |ca: bool| {
        let mut vars = vec![
            ("OAUTH2_MTLS_TOKEN_URL", server.url("/token")),
            ("OAUTH2_MTLS_CLIENT_ID", CLIENT_ID.to_owned()),
            ("OAUTH2_MTLS_TLS_CERT_FILE", fixture_path("client.pem")),
            ("OAUTH2_MTLS_TLS_KEY_FILE", fixture_path("client.key")),
            ("OAUTH2_MTLS_MAX_ATTEMPTS", "1".to_owned()),
        ];
        if ca {
            vars.push(("OAUTH2_MTLS_CA_FILE", fixture_path("ca.pem")));
        }
        OAuth2Config::from_vars(vars).expect("config")
    };

    let without = OAuth2Service::new(vars(false)).expect("service");
    let err = without
        .get_token("mtls", None)
        .await
        .expect_err("untrusted");
    assert_eq!(err.code(), "token_request_failed", "{err}");
    assert!(server.seen("/token").is_empty());

    let with = OAuth2Service::new(vars(true)).expect("service");
    assert_eq!(
        with.providers().collect::<Vec<_>>(),
        ["mtls"],
        "configured from the environment"
    );
    with.get_token("mtls", None).await.expect("trusted");
    let requests = server.seen("/token");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].client_x5t.as_deref(), Some(CLIENT_X5T));
}

#[tokio::test]
async fn self_signed_tls_client_auth_presents_the_registered_certificate() {
    // The server trusts exactly the certificate the client registered.
    let server = TlsServer::start(&fixture("self-signed.pem"), SELF_SIGNED_X5T).await;
    let provider = ProviderConfig::with_tls_identity(
        server.url("/token").parse().expect("url"),
        CLIENT_ID,
        identity("self-signed.pem", "self-signed.key"),
    )
    .auth_method(AuthMethod::SelfSignedTlsClientAuth)
    .tls_roots(test_ca())
    .retry(once());
    let oauth2 = service(provider);
    oauth2.get_token("mtls", None).await.expect("token");
    let requests = server.seen("/token");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].client_x5t.as_deref(), Some(SELF_SIGNED_X5T));
    assert_eq!(
        requests[0].form.get("client_id").map(String::as_str),
        Some(CLIENT_ID)
    );
    let response = oauth2
        .fetch("mtls", server.url("/api"), FetchOptions::default())
        .await
        .expect("fetch");
    assert_eq!(response.status(), 200);
}

#[test]
fn debug_of_a_provider_with_an_identity_shows_its_certificate_not_its_key() {
    let provider = ProviderConfig::with_tls_identity(
        "https://127.0.0.1:8443/token".parse().expect("url"),
        CLIENT_ID,
        identity("client.pem", "client.key"),
    )
    .tls_roots(test_ca());
    assert_eq!(provider.method(), AuthMethod::TlsClientAuth);
    let shown = format!("{provider:?}");
    assert!(shown.contains(CLIENT_X5T), "{shown}");
    assert!(shown.contains("CN=orders-service"), "{shown}");
    assert!(shown.contains("CN=mtls test CA"), "{shown}");
    for line in key_lines() {
        assert!(!shown.contains(&line), "{shown}");
    }
}
