//! The development token server and protected API (development mode only).
//!
//! So that `cargo run` shows the extension working with no setup, the
//! template serves under `/dev`:
//!
//! * `POST /dev/oauth/token`: a token endpoint for the client credentials
//!   grant (RFC 6749 §4.4) and token exchange (RFC 8693 §2.1), with
//!   `client_secret_basic` or `client_secret_post`, issuing short-lived
//!   opaque tokens;
//! * `GET /dev/api/orders`: a protected API that accepts those tokens;
//! * `GET /dev/api/me`: the same, for exchanged tokens, answering who the
//!   subject is (as a digest: the subject token is never echoed);
//! * `GET /dev/api/signed`: the same again, behind an RFC 9421 signature
//!   verification layer; the development authority hands out the matching
//!   signer ([`DevAuthority::signer`]), an `hmac-sha256` key made at start-up.
//!
//! It is a teaching aid, not an authorization server: tokens live in memory
//! and vanish with the process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngExt as _;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use axum_oauth2_client::Secret;
use axum_oauth2_client::http_signature::{
    InMemoryKeyResolver, MessageSigner, SignatureVerificationLayer, Signer, SigningKey,
    VerifiedSignature, Verifier,
};

const DEV_KEY_ID: &str = "dev-hmac-key";
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// At most this many live tokens are remembered.
const MAX_TOKENS: usize = 100_000;

/// The development authorization server: one client, tokens in memory.
#[derive(Clone)]
pub struct DevAuthority {
    inner: Arc<Inner>,
}

struct Inner {
    client_id: String,
    client_secret: Secret,
    lifetime: Duration,
    tokens: Mutex<HashMap<String, Issued>>,
    issued: AtomicU64,
    /// The RFC 9421 signer whose signatures `/dev/api/signed` accepts.
    signer: Arc<MessageSigner>,
    verifier: Verifier,
}

struct Issued {
    client_id: String,
    subject: Option<String>,
    scope: Option<String>,
    expires_at: Instant,
}

impl DevAuthority {
    /// Accepts `client_id`/`client_secret`; issues tokens living `lifetime`.
    #[must_use]
    pub fn new(client_id: impl Into<String>, client_secret: Secret, lifetime: Duration) -> Self {
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        rand::rng().fill(&mut *key);
        let signing_key = SigningKey::hmac_sha256(&*key)
            .unwrap_or_else(|_| unreachable!("a 32-byte HMAC key is valid"));
        let verifier = Verifier::builder(
            InMemoryKeyResolver::new().with_key(DEV_KEY_ID, signing_key.verification_key()),
        )
        .scheme("http")
        .build();
        let signer = Arc::new(MessageSigner::new(signing_key).key_id(DEV_KEY_ID));
        Self {
            inner: Arc::new(Inner {
                client_id: client_id.into(),
                client_secret,
                lifetime,
                tokens: Mutex::new(HashMap::new()),
                issued: AtomicU64::new(0),
                signer,
                verifier,
            }),
        }
    }

    /// How many tokens the token endpoint has issued.
    #[must_use]
    pub fn tokens_issued(&self) -> u64 {
        self.inner.issued.load(Ordering::Relaxed)
    }

    /// The RFC 9421 signer that `/dev/api/signed` trusts.
    #[must_use]
    pub fn signer(&self) -> Arc<dyn Signer> {
        self.inner.signer.clone()
    }

    /// The `/dev` routes, with their full paths.
    pub fn router<S>(self) -> Router<S> {
        let verification = SignatureVerificationLayer::new(self.inner.verifier.clone());
        Router::new()
            .route("/dev/oauth/token", post(token))
            .route("/dev/api/orders", get(orders))
            .route("/dev/api/me", get(me))
            .route("/dev/api/signed", get(signed).layer(verification))
            .with_state(self)
    }

    fn authenticate(&self, headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b64| STANDARD.decode(b64.trim()).ok())
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| {
                let (id, secret) = pair.split_once(':')?;
                Some((form_decode(id), form_decode(secret)))
            });
        let (id, secret) = match basic {
            Some(pair) => pair,
            None => match (form.get("client_id"), form.get("client_secret")) {
                (Some(id), Some(secret)) => (id.clone(), secret.clone()),
                _ => return false,
            },
        };
        let secret_ok: bool = secret
            .as_bytes()
            .ct_eq(self.inner.client_secret.expose_secret().as_bytes())
            .into();
        id == self.inner.client_id && secret_ok
    }

    fn issue(&self, subject: Option<String>, scope: Option<String>) -> (String, u64) {
        let mut raw = [0u8; 32];
        rand::rng().fill(&mut raw);
        let token = URL_SAFE_NO_PAD.encode(raw);
        let now = Instant::now();
        let mut tokens = self.inner.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.len() >= MAX_TOKENS {
            tokens.retain(|_, t| t.expires_at > now);
        }
        if tokens.len() < MAX_TOKENS {
            tokens.insert(
                token.clone(),
                Issued {
                    client_id: self.inner.client_id.clone(),
                    subject,
                    scope,
                    expires_at: now + self.inner.lifetime,
                },
            );
        }
        self.inner.issued.fetch_add(1, Ordering::Relaxed);
        (token, self.inner.lifetime.as_secs())
    }

    /// The live token named by a `Bearer` header, as a JSON description.
    fn introspect(&self, headers: &HeaderMap) -> Option<(Option<String>, serde_json::Value)> {
        let token = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim();
        let tokens = self.inner.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let issued = tokens
            .get(token)
            .filter(|t| t.expires_at > Instant::now())?;
        let expires_in = issued
            .expires_at
            .saturating_duration_since(Instant::now())
            .as_secs();
        Some((
            issued.subject.clone(),
            json!({ "client_id": issued.client_id, "scope": issued.scope, "expires_in": expires_in }),
        ))
    }
}

fn form_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// An RFC 6749 §5.2 error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"dev\""),
        );
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn token(
    State(dev): State<DevAuthority>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !dev.authenticate(&headers, &form) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let scope = form.get("scope").cloned();
    let (token, expires_in, issued_token_type, subject) =
        match form.get("grant_type").map(String::as_str) {
            Some("client_credentials") => {
                let (token, expires_in) = dev.issue(None, scope.clone());
                (token, expires_in, None, None)
            }
            Some(TOKEN_EXCHANGE) => {
                let Some(subject_token) = form.get("subject_token").filter(|t| !t.is_empty())
                else {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "subject_token is required",
                    );
                };
                if form.get("subject_token_type").map(String::as_str) != Some(ACCESS_TOKEN_TYPE) {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "subject_token_type must be urn:ietf:params:oauth:token-type:access_token",
                    );
                }
                let digest = Sha256::digest(subject_token.as_bytes());
                let subject = format!("sha256:{}", hex8(&digest));
                let (token, expires_in) = dev.issue(Some(subject.clone()), scope.clone());
                (token, expires_in, Some(ACCESS_TOKEN_TYPE), Some(subject))
            }
            _ => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "grant_type must be client_credentials or token exchange",
                );
            }
        };
    tracing::info!(
        grant = form.get("grant_type").map(String::as_str),
        subject = subject.as_deref(),
        "dev token issued"
    );
    let mut response = Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
        "issued_token_type": issued_token_type,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn hex8(digest: &[u8]) -> String {
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

fn invalid_token() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid_token", "error_description": "missing, unknown or expired access token" })),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"dev\", error=\"invalid_token\""),
    );
    response
}

async fn orders(State(dev): State<DevAuthority>, headers: HeaderMap) -> Response {
    let Some((_, token)) = dev.introspect(&headers) else {
        return invalid_token();
    };
    Json(json!({
        "orders": [
            { "id": "ord_1001", "amount": 4200, "currency": "EUR", "status": "paid" },
            { "id": "ord_1002", "amount": 1250, "currency": "EUR", "status": "pending" },
        ],
        "token": token,
    }))
    .into_response()
}

async fn me(State(dev): State<DevAuthority>, headers: HeaderMap) -> Response {
    match dev.introspect(&headers) {
        None => invalid_token(),
        Some((None, _)) => (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "insufficient_scope", "error_description": "this route needs an exchanged token" })),
        )
            .into_response(),
        Some((Some(subject), token)) => Json(json!({ "subject": subject, "token": token })).into_response(),
    }
}

async fn signed(
    State(dev): State<DevAuthority>,
    Extension(signature): Extension<VerifiedSignature>,
    headers: HeaderMap,
) -> Response {
    let Some((_, token)) = dev.introspect(&headers) else {
        return invalid_token();
    };
    let covered: Vec<String> = signature
        .covered_components()
        .iter()
        .map(ToString::to_string)
        .collect();
    Json(json!({
        "signature": {
            "verified": true,
            "label": signature.label(),
            "key_id": signature.key_id(),
            "algorithm": signature.algorithm().to_string(),
            "covered_components": covered,
        },
        "token": token,
    }))
    .into_response()
}
