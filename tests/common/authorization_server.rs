//! A real OAuth 2.0 authorization server for the integration tests:
//! `tests/interop/authorization-server.mjs`, the npm package `oidc-provider`
//! under Node.js, one process per [`AuthorizationServer`], on 127.0.0.1 and
//! a port the OS picks.
//!
//! Its clients (ids, authentication methods, secrets, key files) are in
//! `tests/interop/authorization-server-clients.json`, which both sides read;
//! the constants below name them. See `tests/interop/README.md`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use url::Url;

/// `client_secret_basic`.
pub const BASIC_CLIENT: &str = "basic-client";
/// `client_secret_post`.
pub const POST_CLIENT: &str = "post-client";
/// `client_secret_basic` with `+`, `%`, `:`, `/`, `?`, `&`, `=` and spaces
/// in its secret.
pub const SPECIAL_SECRET_CLIENT: &str = "special-secret-client";
/// `client_secret_jwt`; its secret is longer than 64 bytes (HS256..HS512).
pub const JWT_SECRET_CLIENT: &str = "jwt-secret-client";
/// `private_key_jwt`, with the public keys of `tests/fixtures/jose/`
/// (kids `rsa`, `p256`, `p384`, `ed25519`).
pub const PRIVATE_KEY_CLIENT: &str = "private-key-client";
/// Authentication method `none`, JWT bearer and token exchange grants only;
/// same keys as [`PRIVATE_KEY_CLIENT`]. Takes JWT bearer requests with no
/// client authentication at all, naming it by the assertion's `iss`.
pub const JWT_BEARER_CLIENT: &str = "jwt-bearer-client";
/// `client_secret_basic`, client credentials and token exchange grants
/// only, with `dpop_bound_access_tokens` (RFC 9449): every token request
/// needs a `DPoP` proof (else `invalid_grant`), and the proof a nonce from
/// the server (else 400 `use_dpop_nonce` and a `DPoP-Nonce` header). The
/// proof's `htu` is [`AuthorizationServer::token_url`]; its algorithms are
/// the discovery document's `dpop_signing_alg_values_supported`.
pub const DPOP_CLIENT: &str = "dpop-client";

/// A resource indicator (RFC 8707) the server knows; it grants
/// `orders:read orders:write`.
pub const API_RESOURCE: &str = "https://api.example.test/";
/// A second resource indicator; it grants `billing:read`.
pub const BILLING_RESOURCE: &str = "https://billing.example.test/";
/// Audiences the server accepts (besides the two resource URLs).
pub const ORDERS_AUDIENCE: &str = "orders-api";
pub const BILLING_AUDIENCE: &str = "billing-api";

pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// A subject token type that [`BASIC_CLIENT`] and [`PRIVATE_KEY_CLIENT`]
/// may exchange besides access tokens.
pub const CUSTOM_SUBJECT_TOKEN_TYPE: &str = "urn:example:subject-token";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const STDERR_LIMIT: usize = 64 * 1024;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/interop`.
pub fn interop_dir() -> PathBuf {
    root().join("tests/interop")
}

/// One client of `authorization-server-clients.json`.
#[derive(Clone, Debug)]
pub struct ClientFixture {
    pub client_id: String,
    /// `token_endpoint_auth_method`.
    pub method: String,
    pub client_secret: Option<String>,
    /// kid -> PKCS#8 PEM private key file.
    pub keys: BTreeMap<String, PathBuf>,
    /// A second `iss` the client's JWT bearer assertions may carry.
    pub service_account: Option<String>,
    /// Its tokens are DPoP-bound: a token request without a proof fails.
    pub dpop_bound_access_tokens: bool,
    /// Its DPoP proofs must carry a nonce the server provided.
    pub require_dpop_nonce: bool,
}

impl ClientFixture {
    /// The client's secret; panics for a client without one.
    pub fn secret(&self) -> &str {
        self.client_secret
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no client secret", self.client_id))
    }

    /// The PEM of the private key `kid`.
    pub fn private_key_pem(&self, kid: &str) -> String {
        let path = self
            .keys
            .get(kid)
            .unwrap_or_else(|| panic!("{} has no key {kid}", self.client_id));
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// Every client of `tests/interop/authorization-server-clients.json`.
pub fn client_fixtures() -> Vec<ClientFixture> {
    let path = interop_dir().join("authorization-server-clients.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let config: Value = serde_json::from_str(&text).expect("clients json");
    let key_dir = root().join("tests/fixtures/jose");
    config["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .map(|client| ClientFixture {
            client_id: client["client_id"].as_str().expect("client_id").to_owned(),
            method: client["token_endpoint_auth_method"]
                .as_str()
                .expect("token_endpoint_auth_method")
                .to_owned(),
            client_secret: client["client_secret"].as_str().map(str::to_owned),
            keys: client["keys"]
                .as_object()
                .map(|keys| {
                    keys.iter()
                        .map(|(kid, file)| {
                            (kid.clone(), key_dir.join(file.as_str().expect("key file")))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            service_account: client["service_account"].as_str().map(str::to_owned),
            dpop_bound_access_tokens: client["dpop_bound_access_tokens"] == true,
            require_dpop_nonce: client["require_dpop_nonce"] == true,
        })
        .collect()
}

/// The client `id` of the fixtures.
pub fn client_fixture(id: &str) -> ClientFixture {
    client_fixtures()
        .into_iter()
        .find(|c| c.client_id == id)
        .unwrap_or_else(|| panic!("no client {id} in authorization-server-clients.json"))
}

/// The secret of client `id`.
pub fn client_secret(id: &str) -> String {
    client_fixture(id).secret().to_owned()
}

/// The values of an `aud`-like claim, a string or a list of strings.
pub fn audiences(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// What the request log shows of a token request's `DPoP` header: its
/// length, and the proof's header and claims decoded without any check
/// (`None` where the proof has no such field). The `jti` is only said to be
/// there. Read with [`logged_dpop_proof`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct LoggedDpopProof {
    /// Length of the header value.
    pub length: usize,
    /// Whether the value decoded as a JWS with a JSON header and claims;
    /// every field below is `None` or `false` when not.
    pub decoded: bool,
    pub typ: Option<String>,
    pub alg: Option<String>,
    /// `kty` of the embedded `jwk`.
    pub jwk_kty: Option<String>,
    /// `crv` of the embedded `jwk` (EC and OKP keys).
    pub jwk_crv: Option<String>,
    pub htm: Option<String>,
    pub htu: Option<String>,
    pub iat: Option<i64>,
    pub has_jti: bool,
    pub has_nonce: bool,
    /// The proof's `nonce` (a value the server handed out, not a secret).
    pub nonce: Option<String>,
}

/// The `DPoP` header of a logged token request ([`AuthorizationServer::requests`]),
/// `None` when the request had none. Panics when a field has a type no
/// proof should have; `request["dpop"]` is the raw entry.
pub fn logged_dpop_proof(request: &Value) -> Option<LoggedDpopProof> {
    match &request["dpop"] {
        Value::Null => None,
        dpop => Some(
            serde_json::from_value(dpop.clone())
                .unwrap_or_else(|e| panic!("the log's dpop entry {dpop}: {e}")),
        ),
    }
}

/// The `DPoP-Nonce` header the server answered a logged token request
/// with, if any: on `use_dpop_nonce`, and with a token whenever the proof
/// did not carry the newest nonce.
pub fn logged_dpop_nonce(request: &Value) -> Option<&str> {
    request["dpop_nonce"].as_str()
}

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// `Err(reason)` unless `node_modules/oidc-provider` holds the locked version.
fn oidc_provider_installed(interop: &Path) -> Result<String, String> {
    let read = |path: PathBuf| -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    };
    let locked = read(interop.join("package-lock.json"))
        .and_then(|lock| {
            lock["packages"]["node_modules/oidc-provider"]["version"]
                .as_str()
                .map(str::to_owned)
        })
        .ok_or("tests/interop/package-lock.json does not pin oidc-provider")?;
    let installed = read(interop.join("node_modules/oidc-provider/package.json"))
        .and_then(|manifest| manifest["version"].as_str().map(str::to_owned))
        .ok_or("tests/interop/node_modules/oidc-provider is not installed")?;
    if installed != locked {
        return Err(format!(
            "tests/interop/node_modules has oidc-provider {installed}, package-lock.json pins {locked}"
        ));
    }
    Ok(installed)
}

/// `None` after a loud message; a panic under CI, which must run these tests.
fn skip<T>(reason: &str) -> Option<T> {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the authorization server tests: {reason} \
         (install Node.js and run `npm ci --prefix tests/interop`)"
    );
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !!! SKIPPED: the oidc-provider authorization server is unavailable:\n\
         !!! {reason}.\n\
         !!! Install Node.js (>= 18) and run `npm ci --prefix tests/interop`;\n\
         !!! CI must have both.\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    None
}

/// Whether node and the locked oidc-provider are installed; `None` (after a
/// loud message, or a panic under `CI`) when not. The tests that run node
/// scripts of their own check this first.
pub fn node_with_oidc_provider() -> Option<String> {
    if !node_available() {
        return skip("`node` is not installed");
    }
    match oidc_provider_installed(&interop_dir()) {
        Ok(version) => Some(version),
        Err(reason) => skip(&reason),
    }
}

/// A running `authorization-server.mjs`; killed (and reaped) on drop.
pub struct AuthorizationServer {
    child: Child,
    // Held open: the server exits when its stdin closes, so it also goes
    // away when this process dies without running Drop.
    stdin: Option<ChildStdin>,
    issuer: String,
    stderr: Arc<Mutex<String>>,
    version: String,
    http: reqwest::Client,
}

impl AuthorizationServer {
    /// Starts a server; `None` (after a loud message) when `node` or the
    /// locked `oidc-provider` is not installed, a panic instead under `CI`.
    /// Panics when the server does not come up.
    pub fn start() -> Option<Self> {
        let version = node_with_oidc_provider()?;
        let mut child = Command::new("node")
            .arg(interop_dir().join("authorization-server.mjs"))
            .current_dir(root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn node tests/interop/authorization-server.mjs");

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err_pipe.read(&mut buf) {
                let mut text = sink.lock().expect("stderr lock");
                if text.len() < STDERR_LIMIT {
                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });

        let stdout = child.stdout.take().expect("stdout");
        let (lines, first) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });

        let stdin = child.stdin.take();
        let mut server = Self {
            child,
            stdin,
            issuer: String::new(),
            stderr,
            version,
            http: reqwest::Client::new(),
        };
        let line = match first.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) => line,
            Err(e) => panic!(
                "authorization-server.mjs printed no `listening` line ({e}); stderr:\n{}",
                server.stderr()
            ),
        };
        let Some(issuer) = line.strip_prefix("listening ") else {
            panic!(
                "authorization-server.mjs printed {line:?} instead of `listening <issuer>`; stderr:\n{}",
                server.stderr()
            );
        };
        assert!(
            issuer.starts_with("http://127.0.0.1:"),
            "unexpected issuer {issuer}"
        );
        server.issuer = issuer.to_owned();
        // Keep draining stdout so the pipe can never fill.
        std::thread::spawn(move || while first.recv().is_ok() {});
        Some(server)
    }

    /// The issuer, `http://127.0.0.1:<port>`, as a URL (which adds the `/`
    /// path); [`issuer_str`](Self::issuer_str) is the exact identifier.
    pub fn issuer(&self) -> Url {
        self.issuer.parse().expect("issuer url")
    }

    /// The issuer identifier exactly as the server states it (no trailing `/`).
    pub fn issuer_str(&self) -> &str {
        &self.issuer
    }

    /// The token endpoint, `<issuer>/token`.
    pub fn token_url(&self) -> Url {
        format!("{}/token", self.issuer).parse().expect("token url")
    }

    /// The introspection endpoint, `<issuer>/token/introspection`.
    pub fn introspection_url(&self) -> Url {
        format!("{}/token/introspection", self.issuer)
            .parse()
            .expect("introspection url")
    }

    /// The OpenID discovery document URL (oidc-provider serves no RFC 8414
    /// `/.well-known/oauth-authorization-server`).
    pub fn discovery_url(&self) -> Url {
        format!("{}/.well-known/openid-configuration", self.issuer)
            .parse()
            .expect("discovery url")
    }

    /// The installed oidc-provider version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// What the server wrote to stderr so far (its first 64 KiB).
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    fn test_url(&self) -> String {
        format!("{}/test/requests", self.issuer)
    }

    /// Every token endpoint request since the start or the last
    /// [`clear_requests`](Self::clear_requests), oldest first: `method`,
    /// `path`, `content_type`, `accept`, `authorization` (the scheme only),
    /// `form` (each field as sent, a list when repeated; `client_secret`,
    /// `client_assertion`, `assertion`, `subject_token` and `actor_token`
    /// replaced by their length), `body_length`, `dpop` (what the `DPoP`
    /// header showed, or null: [`logged_dpop_proof`]), the response
    /// `status`, and `dpop_nonce` (the `DPoP-Nonce` answered, or null:
    /// [`logged_dpop_nonce`]).
    pub async fn requests(&self) -> Vec<Value> {
        let response = self
            .http
            .get(self.test_url())
            .send()
            .await
            .expect("GET /test/requests");
        assert!(
            response.status().is_success(),
            "GET /test/requests: {}",
            response.status()
        );
        response.json().await.expect("request log json")
    }

    /// Empties the request log.
    pub async fn clear_requests(&self) {
        let response = self
            .http
            .delete(self.test_url())
            .send()
            .await
            .expect("DELETE /test/requests");
        assert!(
            response.status().is_success(),
            "DELETE /test/requests: {}",
            response.status()
        );
    }

    /// RFC 7662 introspection of `token`, authenticated as [`BASIC_CLIENT`].
    /// Besides `active`, `client_id`, `scope`, `aud`, `exp`, `iat`, `iss`,
    /// `token_type` (`DPoP` for a DPoP-bound token, which also has
    /// `cnf.jkt`, the RFC 7638 thumbprint of the proof's key), the server
    /// adds `grant_type`, and per grant `audience`, `resource`, `sub`,
    /// `act`, `subject_token_type`, `subject_client_id`.
    pub async fn introspect(&self, token: &str) -> Value {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        let response = self
            .http
            .post(self.introspection_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .header(
                "authorization",
                basic_authorization(BASIC_CLIENT, &client_secret(BASIC_CLIENT)),
            )
            .body(body)
            .send()
            .await
            .expect("introspection request");
        assert!(
            response.status().is_success(),
            "introspection: {}",
            response.status()
        );
        response.json().await.expect("introspection json")
    }

    /// Runs `tests/interop/authorization-server-selftest.mjs` against this
    /// server: (success, its output).
    pub fn run_selftest(&self) -> (bool, String) {
        let out = Command::new("node")
            .arg(interop_dir().join("authorization-server-selftest.mjs"))
            .arg(&self.issuer)
            .current_dir(root())
            .output()
            .expect("run node tests/interop/authorization-server-selftest.mjs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

impl Drop for AuthorizationServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Authorization: Basic` for RFC 6749 §2.3.1: id and secret
/// form-encoded, then base64.
pub fn basic_authorization(id: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}
