//! A resource server that accepts DPoP-bound access tokens (RFC 9449 §7),
//! for the tests and benches of DPoP clients: an axum app on 127.0.0.1:0
//! that answers any path of any method.
//!
//! A request passes when it has `Authorization: DPoP <token>` and exactly
//! one `DPoP` header holding a proof that is valid by RFC 9449 §4.3 and
//! §7.1: a JWS compact serialization with `typ` `dpop+jwt`, an allowed
//! asymmetric `alg` and a public `jwk` (no private member), signed by that
//! key; `htm` the request's method; `htu` the request's URL without query
//! and fragment (compared after parsing, so normalised); `iat` within the
//! window (±60 s by default); a `jti` never seen before; `ath` the SHA-256
//! of the token; the jwk's RFC 7638 thumbprint the token's `jkt`, read from
//! `cnf.jkt` in the payload of a JWT-shaped token when it has one, else
//! from a binding registered with [`DpopResourceServer::bind_token`]; and,
//! when the server requires one, its current nonce (§9). The signature of
//! a JWT access token is not checked: the tests issue their own.
//!
//! Every failure answers 401 with `WWW-Authenticate: DPoP error="…",
//! algs="…"`: `invalid_token` for a missing, malformed or unknown token,
//! `use_dpop_nonce` (with a `DPoP-Nonce` header) for a missing or stale
//! nonce, `invalid_dpop_proof` for everything else. A pass answers 200 with
//! `{"path", "jkt"}`. Each request is recorded with its headers and the
//! outcome. Proofs are verified here with p256, p384, rsa and
//! ed25519-dalek, not with the crate under test.

// Each test or bench that includes this file uses a part of it.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rsa::signature::Verifier as _;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use url::Url;

const BASE64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The algorithms accepted unless told otherwise: every asymmetric one.
pub(crate) const ALL_ALGS: &[&str] = &[
    "ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA",
];

/// JWK members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "r", "t", "k"];

/// How the server checks proofs.
#[derive(Debug, Clone)]
pub(crate) struct DpopResourceServerOptions {
    /// Whether a proof must carry the server's current nonce (RFC 9449 §9).
    /// Default: `false`. Can be changed later with
    /// [`DpopResourceServer::require_nonce`].
    pub(crate) require_nonce: bool,
    /// How far `iat` may be from the server's clock, either way. Default:
    /// 60 s.
    pub(crate) iat_window: Duration,
    /// The `alg` values accepted. Default: [`ALL_ALGS`].
    pub(crate) algs: Vec<&'static str>,
}

impl Default for DpopResourceServerOptions {
    fn default() -> Self {
        Self {
            require_nonce: false,
            iat_window: Duration::from_secs(60),
            algs: ALL_ALGS.to_vec(),
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No `Authorization` header, several, or not `DPoP <token>`.
    NoDpopToken,
    /// The token is neither JWT-shaped with `cnf.jkt` nor bound.
    UnknownToken,
    /// No `DPoP` header.
    MissingProof,
    /// More than one `DPoP` header.
    SeveralProofs,
    /// Not three base64url parts of JSON objects, or a claim of the wrong
    /// type or missing.
    Malformed,
    /// `typ` is not `dpop+jwt`.
    Typ,
    /// `alg` is not an allowed asymmetric algorithm.
    Alg,
    /// `jwk` is missing or holds a private member.
    Jwk,
    /// The signature does not verify with `jwk` (or `jwk` does not fit `alg`).
    Signature,
    /// `htm` is not the request's method.
    Htm,
    /// `htu` is not the request's URL.
    Htu,
    /// `iat` is outside the window.
    Iat,
    /// `ath` is missing or not the token's hash.
    Ath,
    /// The jwk's thumbprint is not the token's `jkt`.
    KeyMismatch,
    /// The nonce is missing or not the current one.
    Nonce,
    /// The `jti` was seen before.
    Replay,
}

impl Failure {
    /// The `error` of the `WWW-Authenticate` challenge.
    pub(crate) fn error_code(self) -> &'static str {
        match self {
            Failure::NoDpopToken | Failure::UnknownToken => "invalid_token",
            Failure::Nonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One request the server answered.
#[derive(Debug, Clone)]
pub(crate) struct RecordedRequest {
    pub(crate) method: Method,
    /// The request target as received (path and query).
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    /// `None` when the request passed.
    pub(crate) failure: Option<Failure>,
}

impl RecordedRequest {
    pub(crate) fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// The running server. It stops when dropped.
pub(crate) struct DpopResourceServer {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    /// `http://127.0.0.1:<port>`.
    base: Url,
    iat_window: Duration,
    algs: Vec<&'static str>,
    require_nonce: AtomicBool,
    nonce: Mutex<String>,
    nonces_issued: AtomicU64,
    bindings: Mutex<HashMap<String, String>>,
    seen_jti: Mutex<HashSet<String>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

impl Drop for DpopResourceServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DpopResourceServer {
    /// Binds 127.0.0.1:0 and serves until dropped.
    pub(crate) async fn start(options: DpopResourceServerOptions) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local address: {e}"))
            .port();
        let base = Url::parse(&format!("http://127.0.0.1:{port}"))
            .unwrap_or_else(|e| panic!("base URL: {e}"));
        let shared = Arc::new(Shared {
            base,
            iat_window: options.iat_window,
            algs: options.algs,
            require_nonce: AtomicBool::new(options.require_nonce),
            nonce: Mutex::new(String::new()),
            nonces_issued: AtomicU64::new(0),
            bindings: Mutex::new(HashMap::new()),
            seen_jti: Mutex::new(HashSet::new()),
            requests: Mutex::new(Vec::new()),
        });
        shared.rotate_nonce();
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { shared, task }
    }

    /// The absolute URL of `path` (which may carry a query) on this server.
    pub(crate) fn url(&self, path: &str) -> Url {
        self.shared
            .base
            .join(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Binds an opaque `token` to the key whose RFC 7638 thumbprint is
    /// `jkt`, as an authorization server would have (RFC 9449 §6).
    pub(crate) fn bind_token(&self, token: &str, jkt: &str) {
        lock(&self.shared.bindings).insert(token.to_owned(), jkt.to_owned());
    }

    /// Every request answered so far, in order.
    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Whether proofs must carry the current nonce from now on.
    pub(crate) fn require_nonce(&self, required: bool) {
        self.shared.require_nonce.store(required, Ordering::SeqCst);
    }

    /// Replaces the current nonce with a new one, and returns it. Proofs
    /// with the old one are refused from now on (when a nonce is required).
    pub(crate) fn rotate_nonce(&self) -> String {
        self.shared.rotate_nonce()
    }

    /// The current nonce.
    pub(crate) fn nonce(&self) -> String {
        lock(&self.shared.nonce).clone()
    }
}

impl Shared {
    fn rotate_nonce(&self) -> String {
        let n = self.nonces_issued.fetch_add(1, Ordering::SeqCst);
        let random = BASE64URL.encode(rand::random::<[u8; 12]>());
        let nonce = format!("n{n}-{random}");
        *lock(&self.nonce) = nonce.clone();
        nonce
    }

    /// The RFC 9449 §7.1 checks, in order; the `jti` is remembered only by a
    /// proof that passed every other check.
    fn check(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<String, Failure> {
        let token = dpop_token(headers).ok_or(Failure::NoDpopToken)?;
        let mut proofs = headers.get_all("dpop").iter();
        let proof = proofs.next().ok_or(Failure::MissingProof)?;
        if proofs.next().is_some() {
            return Err(Failure::SeveralProofs);
        }
        let proof = proof.to_str().map_err(|_| Failure::Malformed)?;
        let jws = Jws::parse(proof).ok_or(Failure::Malformed)?;

        if jws.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
            return Err(Failure::Typ);
        }
        let alg = jws.header.get("alg").and_then(Value::as_str);
        let alg = alg
            .filter(|alg| self.algs.contains(alg))
            .ok_or(Failure::Alg)?;
        let jwk = jws
            .header
            .get("jwk")
            .and_then(Value::as_object)
            .ok_or(Failure::Jwk)?;
        if PRIVATE_MEMBERS.iter().any(|name| jwk.contains_key(*name)) {
            return Err(Failure::Jwk);
        }
        if !verify(alg, jwk, jws.signing_input.as_bytes(), &jws.signature) {
            return Err(Failure::Signature);
        }

        let claim = |name: &str| jws.claims.get(name);
        let text = |name: &str| claim(name).and_then(Value::as_str);
        if text("htm").ok_or(Failure::Malformed)? != method.as_str() {
            return Err(Failure::Htm);
        }
        let htu = Url::parse(text("htu").ok_or(Failure::Malformed)?).map_err(|_| Failure::Htu)?;
        if without_query(htu)
            != without_query(self.base.join(uri.path()).map_err(|_| Failure::Htu)?)
        {
            return Err(Failure::Htu);
        }
        let iat = claim("iat")
            .and_then(Value::as_u64)
            .ok_or(Failure::Malformed)?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if iat.abs_diff(now) > self.iat_window.as_secs() {
            return Err(Failure::Iat);
        }
        let jti = text("jti")
            .filter(|jti| !jti.is_empty())
            .ok_or(Failure::Malformed)?;
        let expected_ath = BASE64URL.encode(Sha256::digest(token.as_bytes()));
        if text("ath") != Some(expected_ath.as_str()) {
            return Err(Failure::Ath);
        }

        let jkt = self.bound_jkt(token).ok_or(Failure::UnknownToken)?;
        if thumbprint(jwk).as_deref() != Some(jkt.as_str()) {
            return Err(Failure::KeyMismatch);
        }
        if self.require_nonce.load(Ordering::SeqCst) && text("nonce") != Some(&*lock(&self.nonce)) {
            return Err(Failure::Nonce);
        }
        if !lock(&self.seen_jti).insert(jti.to_owned()) {
            return Err(Failure::Replay);
        }
        Ok(jkt)
    }

    /// `cnf.jkt` of a JWT-shaped token (RFC 9449 §6.1), else the binding
    /// registered for it.
    fn bound_jkt(&self, token: &str) -> Option<String> {
        let mut parts = token.split('.');
        let payload = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(payload), Some(_), None) => BASE64URL
                .decode(payload)
                .ok()
                .and_then(|json| serde_json::from_slice::<Map<String, Value>>(&json).ok()),
            _ => None,
        };
        let from_claims = payload
            .as_ref()
            .and_then(|claims| claims.get("cnf"))
            .and_then(|cnf| cnf.get("jkt"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        from_claims.or_else(|| lock(&self.bindings).get(token).cloned())
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let outcome = shared.check(&method, &uri, &headers);
    lock(&shared.requests).push(RecordedRequest {
        method,
        uri: uri.clone(),
        headers,
        failure: outcome.as_ref().err().copied(),
    });
    let nonce = shared
        .require_nonce
        .load(Ordering::SeqCst)
        .then(|| lock(&shared.nonce).clone())
        .and_then(|nonce| HeaderValue::from_str(&nonce).ok());
    let mut response = match outcome {
        Ok(jkt) => axum::Json(json!({"path": uri.path(), "jkt": jkt})).into_response(),
        Err(failure) => {
            let challenge = format!(
                r#"DPoP error="{}", algs="{}""#,
                failure.error_code(),
                shared.algs.join(" ")
            );
            let mut response = StatusCode::UNAUTHORIZED.into_response();
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            response
        }
    };
    // A server that uses nonces may send the next one with any response
    // (RFC 9449 §9); this one always sends the current one.
    if let Some(nonce) = nonce {
        response.headers_mut().insert("dpop-nonce", nonce);
    }
    response
}

/// The token of the one `Authorization: DPoP <token>` header (RFC 9449
/// §7.1; the scheme is case-insensitive, RFC 9110 §11.1).
fn dpop_token(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    let token = token.trim_start_matches(' ');
    let token68 = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
    (scheme.eq_ignore_ascii_case("DPoP") && !token.is_empty() && token.bytes().all(token68))
        .then_some(token)
}

/// The parts of a JWS compact serialization (RFC 7515 §7.1) whose header
/// and payload are JSON objects.
struct Jws {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jws {
    fn parse(compact: &str) -> Option<Self> {
        let mut parts = compact.split('.');
        let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let object = |part: &str| {
            let json = BASE64URL.decode(part).ok()?;
            serde_json::from_slice::<Map<String, Value>>(&json).ok()
        };
        Some(Self {
            header: object(header)?,
            claims: object(claims)?,
            signing_input: format!("{header}.{claims}"),
            signature: BASE64URL.decode(signature).ok()?,
        })
    }
}

fn without_query(mut url: Url) -> Url {
    url.set_query(None);
    url.set_fragment(None);
    url
}

fn member(jwk: &Map<String, Value>, name: &str) -> Option<Vec<u8>> {
    BASE64URL.decode(jwk.get(name)?.as_str()?).ok()
}

fn text<'a>(jwk: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    jwk.get(name)?.as_str()
}

/// Whether `signature` over `input` verifies with `jwk` for `alg` (RFC 7518
/// §3.3–§3.5, RFC 8037 §3.1); `false` when the key does not fit the
/// algorithm.
fn verify(alg: &str, jwk: &Map<String, Value>, input: &[u8], signature: &[u8]) -> bool {
    match alg {
        "ES256" | "ES384" => {
            let curve = if alg == "ES256" { "P-256" } else { "P-384" };
            if text(jwk, "kty") != Some("EC") || text(jwk, "crv") != Some(curve) {
                return false;
            }
            let (Some(x), Some(y)) = (member(jwk, "x"), member(jwk, "y")) else {
                return false;
            };
            let point = [&[0x04][..], &x, &y].concat();
            if alg == "ES256" {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point);
                let sig = p256::ecdsa::Signature::from_slice(signature);
                matches!((key, sig), (Ok(key), Ok(sig)) if key.verify(input, &sig).is_ok())
            } else {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point);
                let sig = p384::ecdsa::Signature::from_slice(signature);
                matches!((key, sig), (Ok(key), Ok(sig)) if key.verify(input, &sig).is_ok())
            }
        }
        "EdDSA" => {
            if text(jwk, "kty") != Some("OKP") || text(jwk, "crv") != Some("Ed25519") {
                return false;
            }
            let x = member(jwk, "x").and_then(|x| <[u8; 32]>::try_from(x).ok());
            let key = x.and_then(|x| ed25519_dalek::VerifyingKey::from_bytes(&x).ok());
            let sig = ed25519_dalek::Signature::from_slice(signature);
            matches!((key, sig), (Some(key), Ok(sig)) if key.verify_strict(input, &sig).is_ok())
        }
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => {
            let Some(public) = rsa_public(jwk) else {
                return false;
            };
            let v15 = rsa::pkcs1v15::Signature::try_from(signature);
            let pss = rsa::pss::Signature::try_from(signature);
            match (alg, v15, pss) {
                ("RS256", Ok(sig), _) => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public)
                    .verify(input, &sig)
                    .is_ok(),
                ("RS384", Ok(sig), _) => rsa::pkcs1v15::VerifyingKey::<Sha384>::new(public)
                    .verify(input, &sig)
                    .is_ok(),
                ("RS512", Ok(sig), _) => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(public)
                    .verify(input, &sig)
                    .is_ok(),
                // RFC 7518 §3.5: MGF1 with the same hash, salt as long as it.
                ("PS256", _, Ok(sig)) => {
                    rsa::pss::VerifyingKey::<Sha256>::new_with_salt_len(public, 32)
                        .verify(input, &sig)
                        .is_ok()
                }
                ("PS384", _, Ok(sig)) => {
                    rsa::pss::VerifyingKey::<Sha384>::new_with_salt_len(public, 48)
                        .verify(input, &sig)
                        .is_ok()
                }
                ("PS512", _, Ok(sig)) => {
                    rsa::pss::VerifyingKey::<Sha512>::new_with_salt_len(public, 64)
                        .verify(input, &sig)
                        .is_ok()
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// An RSA public key of at least 2048 bits (RFC 7518 §3.3) from a JWK's `n`
/// and `e` (RFC 7518 §6.3.1).
fn rsa_public(jwk: &Map<String, Value>) -> Option<rsa::PublicKey> {
    if text(jwk, "kty") != Some("RSA") {
        return None;
    }
    let (n, e) = (member(jwk, "n")?, member(jwk, "e")?);
    let uint = |bytes: &[u8]| {
        let bits = u32::try_from(bytes.len().max(1) * 8).ok()?;
        rsa::BoxedUint::from_be_slice(bytes, bits).ok()
    };
    let key = rsa::PublicKey::new(uint(&n)?, uint(&e)?).ok()?;
    (rsa::traits::PublicKeyParts::size(&key) * 8 >= 2048).then_some(key)
}

/// The RFC 7638 thumbprint of a public JWK: SHA-256 over its required
/// members, in lexicographic order, without whitespace, base64url.
pub(crate) fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let required: &[&str] = match text(jwk, "kty")? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let members: Option<Vec<String>> = required
        .iter()
        .map(|name| Some(format!("\"{name}\":{}", Value::from(text(jwk, name)?))))
        .collect();
    let json = format!("{{{}}}", members?.join(","));
    Some(BASE64URL.encode(Sha256::digest(json.as_bytes())))
}

/// A JWT-shaped access token whose payload binds it to `jkt` (`cnf.jkt`,
/// RFC 9449 §6.1). Its signature is not a signature: the server does not
/// check it.
pub(crate) fn jwt_access_token(jkt: &str, subject: &str) -> String {
    let header = BASE64URL.encode(br#"{"alg":"ES256","typ":"at+jwt"}"#);
    let claims = json!({"sub": subject, "cnf": {"jkt": jkt}});
    let payload = BASE64URL.encode(claims.to_string());
    format!("{header}.{payload}.{}", BASE64URL.encode(b"not-checked"))
}
