//! Helpers shared by the integration tests: a scriptable token endpoint on
//! wiremock and readers for what it received, and (in `authorization_server`)
//! a real authorization server, oidc-provider under Node.js.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod authorization_server;
pub mod redis_server;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum_oauth2_client::{OAuth2Config, OAuth2Service, ProviderConfig};
use base64::Engine as _;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const CLIENT_ID: &str = "client-id";
pub const CLIENT_SECRET: &str = "client-secret-XYZ";
pub const TOKEN_PATH: &str = "/oauth/token";

/// Issues `tok-1`, `tok-2`, … with `expires_in`, after an optional delay.
#[derive(Clone)]
pub struct Issuer {
    pub count: Arc<AtomicUsize>,
    pub expires_in: Option<u64>,
    pub delay: Duration,
    pub prefix: &'static str,
}

impl Issuer {
    pub fn new() -> Self {
        Self {
            count: Arc::new(AtomicUsize::new(0)),
            expires_in: Some(3600),
            delay: Duration::ZERO,
            prefix: "tok",
        }
    }

    pub fn expires_in(mut self, seconds: Option<u64>) -> Self {
        self.expires_in = seconds;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn issued(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Respond for Issuer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let form = form(request);
        let mut body = json!({
            "access_token": format!("{}-{n}", self.prefix),
            "token_type": "Bearer",
        });
        if let Some(expires_in) = self.expires_in {
            body["expires_in"] = json!(expires_in);
        }
        if form.get("grant_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:grant-type:token-exchange")
        {
            body["issued_token_type"] = json!("urn:ietf:params:oauth:token-type:access_token");
        }
        ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(self.delay)
    }
}

/// A wiremock token endpoint answering with `responder`.
pub async fn token_server(responder: impl Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(responder)
        .mount(&server)
        .await;
    server
}

pub fn provider(server: &MockServer) -> ProviderConfig {
    ProviderConfig::new(
        format!("{}{TOKEN_PATH}", server.uri())
            .parse()
            .expect("url"),
        CLIENT_ID,
        CLIENT_SECRET,
    )
}

pub fn service(name: &str, provider: ProviderConfig) -> OAuth2Service {
    OAuth2Service::new(OAuth2Config::new().provider(name, provider)).expect("service")
}

/// The form fields of a received request (last value wins).
pub fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// Every value of one form field, in order.
pub fn form_all(request: &Request, name: &str) -> Vec<String> {
    url::form_urlencoded::parse(&request.body)
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// The (id, secret) of an `Authorization: Basic` header, form-decoded.
pub fn basic_credentials(request: &Request) -> Option<(String, String)> {
    let value = request.headers.get("authorization")?.to_str().ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.strip_prefix("Basic ")?)
        .ok()?;
    let pair = String::from_utf8(raw).ok()?;
    let (id, secret) = pair.split_once(':')?;
    let decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((decode(id), decode(secret)))
}

pub async fn token_requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("recording on")
        .into_iter()
        .filter(|r| r.url.path() == TOKEN_PATH)
        .collect()
}

pub fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every log line of the test binary, captured at TRACE from every crate.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

/// Installs (once per test binary) a global TRACE subscriber writing to
/// memory, and returns its buffer.
pub fn capture_logs() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
    .clone()
}

/// Requests an upstream under `/api` received.
pub async fn api_requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("recording on")
        .into_iter()
        .filter(|r| r.url.path().starts_with("/api"))
        .collect()
}

/// Fails when `text` holds any of `secrets`.
pub fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{what} leaked {secret}:\n{text}");
    }
}

/// Fails when an error's `Display`, `Debug` or source chain holds any of
/// `secrets`.
pub fn assert_error_shows_no_secret(err: &axum_oauth2_client::OAuth2Error, secrets: &[&str]) {
    assert_no_secret("error Display", &err.to_string(), secrets);
    assert_no_secret("error Debug", &format!("{err:?} {err:#?}"), secrets);
    assert_no_secret("error chain", &err.chain(), secrets);
}

/// Records the `Authorization` header it saw and adds `x-test-signature`
/// covering it and the body length, as an RFC 9421 signer would.
#[derive(Debug, Default)]
pub struct RecordingSigner {
    pub seen: Mutex<Vec<String>>,
}

impl axum_oauth2_client::Signer for RecordingSigner {
    fn sign<'a>(
        &'a self,
        request: &'a mut reqwest::Request,
    ) -> axum_oauth2_client::http_signature::BoxFuture<'a, Result<(), axum_oauth2_client::SignError>>
    {
        Box::pin(async move {
            let auth = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    axum_oauth2_client::SignError::new("authorization must be set before signing")
                })?
                .to_owned();
            let body = request
                .body()
                .and_then(|b| b.as_bytes())
                .map_or(0, <[u8]>::len);
            request.headers_mut().insert(
                "x-test-signature",
                format!("covers[{auth}] body[{body}]")
                    .parse()
                    .expect("header"),
            );
            self.seen.lock().expect("lock").push(auth);
            Ok(())
        })
    }
}
