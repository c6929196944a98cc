//! What the benchmarks share: a loopback token endpoint that counts what it
//! is asked, a minimal loopback upstream, the service and client they are
//! measured with, and where results are written.
//!
//! Every server binds 127.0.0.1 on a port the kernel picks.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use axum::{Form, Json, Router};
use axum_oauth2_client::{OAuth2Config, OAuth2Service, ProviderConfig};
use serde_json::{Value, json};
use tokio::runtime::Handle;

/// The provider name every benchmark configures.
pub(crate) const PROVIDER: &str = "bench";

/// The token exchange grant (RFC 8693 §2.1).
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// What the upstream answers: a small JSON document.
pub(crate) const UPSTREAM_BODY: &str = r#"{"orders":[{"id":"ord_1001","amount":42}]}"#;

/// The path the upstream serves.
pub(crate) const UPSTREAM_PATH: &str = "/orders";

/// The path of the token endpoint.
pub(crate) const TOKEN_PATH: &str = "/oauth/token";

/// How a [`TokenEndpoint`] answers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenSettings {
    /// Wait this long before answering (a slow authorization server).
    pub(crate) delay: Duration,
    /// The `expires_in` sent.
    pub(crate) expires_in: u64,
    /// Length of the access tokens issued, in bytes.
    pub(crate) token_len: usize,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            expires_in: 3600,
            token_len: 1024,
        }
    }
}

/// A token endpoint that issues JWT-sized tokens and counts the requests
/// it receives, per grant.
#[derive(Clone)]
pub(crate) struct TokenEndpoint {
    settings: TokenSettings,
    client_credentials: Arc<AtomicU64>,
    exchanges: Arc<AtomicU64>,
}

impl TokenEndpoint {
    pub(crate) fn new(settings: TokenSettings) -> Self {
        Self {
            settings,
            client_credentials: Arc::new(AtomicU64::new(0)),
            exchanges: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Client credentials requests received so far.
    pub(crate) fn client_credentials(&self) -> u64 {
        self.client_credentials.load(Ordering::SeqCst)
    }

    /// Token exchange requests received so far.
    pub(crate) fn exchanges(&self) -> u64 {
        self.exchanges.load(Ordering::SeqCst)
    }

    /// Serves the endpoint on 127.0.0.1 from `rt`; returns its token URL.
    pub(crate) fn serve(&self, rt: &Handle) -> String {
        let router = Router::new()
            .route(TOKEN_PATH, post(issue))
            .with_state(self.clone());
        let addr = serve(rt, router);
        format!("http://{addr}{TOKEN_PATH}")
    }
}

async fn issue(
    State(endpoint): State<TokenEndpoint>,
    headers: axum::http::HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    let settings = endpoint.settings;
    let exchange = form.get("grant_type").map(String::as_str) == Some(TOKEN_EXCHANGE);
    let seed = if exchange {
        endpoint.exchanges.fetch_add(1, Ordering::SeqCst);
        form.get("subject_token").cloned().unwrap_or_default()
    } else {
        let n = endpoint.client_credentials.fetch_add(1, Ordering::SeqCst);
        format!("client-credentials-{n}")
    };
    if !settings.delay.is_zero() {
        tokio::time::sleep(settings.delay).await;
    }
    // A request with a DPoP proof gets a token bound to its key (RFC 9449
    // §5); the proof is not checked here.
    let token_type = if headers.contains_key("dpop") {
        "DPoP"
    } else {
        "Bearer"
    };
    let mut body = json!({
        "access_token": jwt_like(&seed, settings.token_len),
        "token_type": token_type,
        "expires_in": settings.expires_in,
    });
    if exchange {
        body["issued_token_type"] = json!("urn:ietf:params:oauth:token-type:access_token");
    }
    Json(body)
}

/// A token of `len` bytes that looks like a JWT (a fixed header, then
/// base64url characters) and differs for every `seed`.
pub(crate) fn jwt_like(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.";
    // FNV-1a of the seed, then xorshift64: distinct, deterministic filler.
    let mut state = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) | 1;
    let mut token = String::with_capacity(len.max(HEADER.len()));
    token.push_str(HEADER);
    while token.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        token.push(char::from(ALPHABET[(state >> 58) as usize]));
    }
    token.truncate(len);
    token
}

/// Serves `router` on 127.0.0.1 from `rt`; returns the address.
pub(crate) fn serve(rt: &Handle, router: Router) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let addr = listener.local_addr().expect("local address");
    rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .expect("tokio listener")
            .tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
        axum::serve(listener, router).await.expect("serve");
    });
    addr
}

/// The upstream: `GET /orders` answers [`UPSTREAM_BODY`] and checks nothing.
pub(crate) fn upstream_router() -> Router {
    Router::new().route(
        UPSTREAM_PATH,
        get(|| async { ([(CONTENT_TYPE, "application/json")], UPSTREAM_BODY) }),
    )
}

/// Serves the upstream on 127.0.0.1 from `rt`; returns its URL.
pub(crate) fn serve_upstream(rt: &Handle) -> String {
    let addr = serve(rt, upstream_router());
    format!("http://{addr}{UPSTREAM_PATH}")
}

/// The HTTP client for upstream calls, configured as the service's default
/// one (10 s connect timeout); the raw baseline gets its own, identical.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// A service with provider [`PROVIDER`] at `token_url`.
pub(crate) fn service(
    token_url: &str,
    refresh_buffer: Duration,
    token_timeout: Duration,
) -> OAuth2Service {
    service_with(&[(PROVIDER, token_url)], refresh_buffer, token_timeout)
}

/// A service with one provider per `(name, token_url)`.
pub(crate) fn service_with(
    providers: &[(&str, &str)],
    refresh_buffer: Duration,
    token_timeout: Duration,
) -> OAuth2Service {
    // Large enough that no scenario (100,000 cached tokens in `memory`)
    // meets the cache bound: eviction is measured by the tests, not here.
    let mut config = OAuth2Config::new()
        .refresh_buffer(refresh_buffer)
        .cache_max_entries(1_000_000);
    for (name, url) in providers {
        let provider = ProviderConfig::new(
            url.parse().expect("token URL"),
            "bench-client",
            "bench-secret",
        )
        .timeout(token_timeout);
        config = config.provider(*name, provider);
    }
    OAuth2Service::builder(config)
        .http_client(http_client())
        .build()
        .expect("service")
}

/// Where raw results go: `BENCH_RESULTS_DIR`, or `target/bench-results`.
pub(crate) fn results_dir() -> PathBuf {
    let dir = std::env::var_os("BENCH_RESULTS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-results"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("results directory");
    dir
}

/// Writes `value` as `<results>/<name>.json`, with the load average at the
/// end (the machine may be shared), and says where.
pub(crate) fn write_json(name: &str, value: &Value) {
    let path = results_dir().join(format!("{name}.json"));
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        object.insert("load_average_at_end".into(), json!(load.join(" ")));
    }
    let text = serde_json::to_string_pretty(&value).expect("JSON");
    std::fs::write(&path, text).expect("write results");
    eprintln!("wrote {}", path.display());
}

/// Whether the binary was started by `cargo bench` (which passes `--bench`),
/// as opposed to `cargo test --benches`, where nothing is measured.
pub(crate) fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A number from the environment, or `default`.
pub(crate) fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")),
        Err(_) => default,
    }
}
