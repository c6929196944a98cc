//! The template server: a complete axum service built on the extension,
//! and the starting point for a real one.
//!
//! [`app`] builds the router (tests build the same one the binary serves),
//! [`serve`] runs it with graceful shutdown, and [`run`] does what `main`
//! does: read the configuration, build the state, listen, serve.
//!
//! It is a package of its own beside the library (`crates/axum-oauth2-client`),
//! which never depends on it: the template uses the library's public API
//! as any application would.

/// The README's Rust examples, compiled as doctests so that they cannot
/// drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod config;
mod dev;
mod error;
mod prometheus;
mod routes;
mod shutdown;
mod state;

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse as _;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use config::{AppConfig, AppEnv, LogFormat};
pub use dev::DevAuthority;
pub use error::AppError;
pub use prometheus::{handle as prometheus_handle, metrics_app};
pub use routes::DEMO_PROVIDER;
pub use shutdown::shutdown_signal;
pub use state::AppState;

use axum_oauth2_client::{OAuth2Config, OAuth2Extension, OAuth2Service, StartupError};

/// The router: `/health`, the `/demo` routes when a demo API is configured,
/// and in development the `/dev` token server and API and `/metrics` (in
/// production metrics are served by [`metrics_app`] on `METRICS_PORT`
/// only, never here).
pub fn app(state: AppState) -> Router {
    let mut router = Router::new().route("/health", get(routes::health));
    if state.config.env == AppEnv::Development {
        // Installed now, so that what the app does from here on is recorded.
        prometheus::handle();
        router = router.route("/metrics", get(prometheus::render));
    }
    // The demo routes spend the service's own credentials for anyone who
    // asks: development only, whatever DEMO_API_URL says.
    if state.config.env == AppEnv::Development && state.config.demo_api_url.is_some() {
        router = router
            .route("/demo/orders", get(routes::demo_orders))
            .route("/demo/me", get(routes::demo_me))
            .route("/demo/signed", get(routes::demo_signed));
    }
    let mut router = router.with_state(state.clone());
    if state.config.env == AppEnv::Development {
        if let Some(dev) = state.dev.clone() {
            router = router.merge(dev.router());
        }
        // A page that rebinds its own name to 127.0.0.1 would otherwise
        // reach the demo routes from a browser.
        router = router.layer(axum::middleware::from_fn(loopback_host_only));
    }
    let header = axum::http::HeaderName::from_static("x-request-id");
    router
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, state.config.request_timeout))
        .layer(PropagateRequestIdLayer::new(header.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            // The path only: a query string may carry secrets.
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %request.method(), path = request.uri().path(), request_id = id)
        }))
        .layer(SetRequestIdLayer::new(header, MakeRequestUuid))
}

/// Serves `state` on `listener` until `shutdown` completes, then drains
/// open requests for at most the configured shutdown timeout and clears the
/// token cache.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let oauth2 = state.oauth2.clone();
    let drain = state.config.shutdown_timeout;
    let (fired_tx, fired_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = fired_tx.send(true);
    });
    let fired = move |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|fired| *fired).await;
    };
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(fired(fired_rx.clone()));
    tokio::select! {
        result = server.into_future() => result?,
        () = shutdown::deadline_after(fired(fired_rx), drain) => {
            tracing::warn!(timeout_secs = drain.as_secs(), "shutdown timeout reached; abandoning open connections");
        }
    }
    oauth2.shutdown();
    tracing::info!("server stopped");
    Ok(())
}

/// Development only: refuses (403) a request whose `Host` is not a
/// loopback name, so that DNS rebinding cannot turn a browser into a client
/// of the development routes.
async fn loopback_host_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    // Browsers always send a Host; a request without one is no browser's.
    let Some(host) = request.headers().get(axum::http::header::HOST) else {
        return next.run(request).await;
    };
    let host = host
        .to_str()
        .ok()
        .and_then(|h| h.parse::<axum::http::uri::Authority>().ok());
    let loopback = host.is_some_and(|authority| {
        let name = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        name.eq_ignore_ascii_case("localhost")
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    if !loopback {
        return (
            StatusCode::FORBIDDEN,
            "development mode answers loopback host names only",
        )
            .into_response();
    }
    next.run(request).await
}

/// The configuration file read in development when `APP_ENV` is unset or
/// `development`: `config/development.env`, or the file named by `APP_CONFIG_FILE`.
const DEVELOPMENT_FILE: &str = "config/development.env";

/// The process environment, plus in development the values of
/// `config/development.env` (under the working directory) that the
/// environment does not set.
pub fn load_vars() -> Result<BTreeMap<String, String>, StartupError> {
    let vars: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    with_development_file(vars, Path::new("."))
}

/// `vars`, plus in development (`APP_ENV` unset, empty or `development`)
/// the values that `APP_CONFIG_FILE`, or else `config/development.env`
/// under `dir`, sets and `vars` does not.
pub fn with_development_file(
    mut vars: BTreeMap<String, String>,
    dir: &Path,
) -> Result<BTreeMap<String, String>, StartupError> {
    let development = vars
        .get("APP_ENV")
        .is_none_or(|e| e.trim().is_empty() || e.trim() == "development");
    if development {
        // Relative to the working directory: a path fixed at compile time
        // would make a binary read whatever file sits at its build path.
        let file = match vars.get("APP_CONFIG_FILE") {
            Some(file) => Path::new(file).to_path_buf(),
            None => dir.join(DEVELOPMENT_FILE),
        };
        let file_error = |reason: String| {
            StartupError::Config(axum_oauth2_client::ConfigError::Invalid {
                variable: "APP_CONFIG_FILE".into(),
                reason,
            })
        };
        match dotenvy::from_path_iter(&file) {
            Ok(items) => {
                for item in items {
                    let (key, value) = item.map_err(|e| {
                        file_error(format!(
                            "{} cannot be parsed: {}",
                            file.display(),
                            dotenv_error(&e)
                        ))
                    })?;
                    vars.entry(key).or_insert(value);
                }
            }
            Err(e) if e.not_found() => {
                eprintln!(
                    "note: {} not found; using the environment only",
                    file.display()
                );
            }
            Err(e) => {
                return Err(file_error(format!(
                    "{} cannot be read: {}",
                    file.display(),
                    dotenv_error(&e)
                )));
            }
        }
    }
    Ok(vars)
}

/// A configuration file error without the file's contents: dotenvy's own
/// message for a malformed line repeats the whole line, which may hold a
/// secret, and a variable it could not read may repeat its value.
fn dotenv_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, index) => {
            format!("a line is malformed at character {index} (the line is not shown)")
        }
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "a variable it refers to cannot be read".to_owned(),
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Configuration or extension.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The listening socket.
    #[error("cannot listen on {addr} (set HOST and PORT): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(#[from] io::Error),
}

/// Builds the state from `vars`: the server's settings, the OAuth2
/// extension and, in development with a `demo` provider, the development
/// token server that accepts the demo provider's credentials.
pub fn state_from_vars(vars: &BTreeMap<String, String>) -> Result<AppState, StartupError> {
    let config = AppConfig::from_vars(vars)?;
    let oauth2_config = OAuth2Config::from_vars(vars.clone())?;
    let dev = match (config.env, oauth2_config.get(DEMO_PROVIDER)) {
        (AppEnv::Development, Some(demo)) => match demo.secret() {
            Some(secret) => Some(DevAuthority::new(
                demo.client_id(),
                secret.clone(),
                config.dev_token_lifetime,
            )),
            None => {
                tracing::warn!(
                    "the `demo` provider has no client secret; the /dev token server is not mounted"
                );
                None
            }
        },
        (AppEnv::Development, None) => {
            tracing::warn!("no `demo` provider configured; the /dev token server is not mounted");
            None
        }
        (AppEnv::Production, _) => None,
    };
    if config.env == AppEnv::Production {
        for name in oauth2_config.provider_names() {
            if oauth2_config
                .get(name)
                .is_some_and(|p| !p.confines_origins())
            {
                tracing::warn!(
                    provider = name,
                    "provider has no allowed origins: its token goes to any URL a handler names \
                     (set OAUTH2_<NAME>_ALLOWED_ORIGINS)"
                );
            }
        }
    }
    let service = OAuth2Service::builder(oauth2_config)
        .upstream_timeout(config.upstream_timeout)
        .build()
        .map_err(StartupError::Service)?;
    let oauth2 = OAuth2Extension::new(service);
    Ok(AppState {
        oauth2,
        config: Arc::new(config),
        dev,
    })
}

/// Serves [`metrics_app`] on `listener` until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, metrics_app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Builds the server from `vars` and serves until `shutdown` completes:
/// the main server on `HOST:PORT` and, with `METRICS_PORT`, the metrics
/// on `HOST:METRICS_PORT`, stopped with it.
pub async fn run(
    vars: &BTreeMap<String, String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let config = AppConfig::from_vars(vars).map_err(StartupError::Config)?;
    if config.env == AppEnv::Development || config.metrics_port.is_some() {
        // Before the service exists, so that nothing it records is lost.
        prometheus::handle();
    }
    let state = state_from_vars(vars)?;
    let host = state.config.host;
    let bind = |port| async move {
        let addr = SocketAddr::new(host, port);
        TcpListener::bind(addr)
            .await
            .map_err(|source| RunError::Bind { addr, source })
    };
    let listener = bind(state.config.port).await?;
    let metrics_listener = match state.config.metrics_port {
        Some(port) => Some(bind(port).await?),
        None => None,
    };
    let addr = listener.local_addr()?;
    tracing::info!(%addr, env = ?state.config.env, "listening");
    if state.dev.is_some() {
        tracing::info!("try: curl http://{addr}/demo/orders");
        tracing::info!("try: curl -H 'Authorization: Bearer alice-token' http://{addr}/demo/me");
    }
    discover_in_background(state.oauth2.service());
    let Some(metrics_listener) = metrics_listener else {
        serve(listener, state, shutdown).await?;
        return Ok(());
    };
    tracing::info!(addr = %metrics_listener.local_addr()?, "serving metrics");
    // One signal stops both; the metrics listener also stops when the main
    // server ends for another reason.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    tokio::spawn({
        let stop_tx = Arc::clone(&stop_tx);
        async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        }
    });
    let mut metrics = tokio::spawn(serve_metrics(
        metrics_listener,
        state.clone(),
        stopped(stop_rx.clone()),
    ));
    let drain = state.config.shutdown_timeout;
    let served = serve(listener, state, stopped(stop_rx)).await;
    let _ = stop_tx.send(true);
    match tokio::time::timeout(drain, &mut metrics).await {
        Ok(Ok(result)) => result?,
        Ok(Err(join)) => tracing::warn!(error = %join, "the metrics listener ended abnormally"),
        Err(_) => {
            metrics.abort();
            tracing::warn!("the metrics listener did not stop in time; abandoned");
        }
    }
    served?;
    Ok(())
}

/// Fetches the metadata of every provider configured by its issuer, in the
/// background: the log then says which token endpoint and authentication
/// method each uses. A failure only warns: the first token request
/// discovers again, so an identity provider that is briefly down never
/// stops the server.
fn discover_in_background(oauth2: &axum_oauth2_client::OAuth2Service) {
    let oauth2 = oauth2.clone();
    tokio::spawn(async move {
        let names: Vec<String> = oauth2.providers().map(str::to_owned).collect();
        for name in names {
            if let Err(error) = oauth2.metadata(&name).await {
                tracing::warn!(
                    provider = %name,
                    code = error.code(),
                    %error,
                    "metadata discovery failed; the first token request tries again"
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_configuration_line_is_not_repeated() {
        let file = std::env::temp_dir().join(format!("dotenv-leak-{}.env", std::process::id()));
        std::fs::write(&file, "OAUTH2_DEMO_CLIENT_SECRET='s3cr3t-never-shown\n").expect("write");
        let error = dotenvy::from_path_iter(&file)
            .expect("opened")
            .find_map(Result::err)
            .expect("the line is malformed");
        std::fs::remove_file(&file).ok();
        assert!(
            error.to_string().contains("s3cr3t"),
            "dotenvy repeats the line"
        );
        let shown = dotenv_error(&error);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("malformed"), "{shown}");
    }
}
