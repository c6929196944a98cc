//! `GET /metrics`: the process's metrics in the Prometheus text format.
//!
//! The library records through the `metrics` facade; the template installs
//! the Prometheus recorder ([`handle`], once per process) and renders it.
//! Before each render the handler asks the OAuth2 service to publish what
//! its cache counted ([`OAuth2Service::publish_metrics`]).
//!
//! In development `/metrics` is a route of the main server. In production
//! it is served only on `METRICS_PORT`, a listener of its own
//! ([`metrics_app`]), so that the public port never exposes it; without
//! `METRICS_PORT` production serves no metrics.
//!
//! [`OAuth2Service::publish_metrics`]: axum_oauth2_client::OAuth2Service::publish_metrics

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Bounds of the `_seconds` histograms' buckets: a token request takes
/// milliseconds when all is well and up to its retry budget (20 s by
/// default) when it is not.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
];

/// The process's Prometheus recorder, installed on first use; `None` when
/// another recorder was installed first (nothing to render then).
///
/// A recorder is process-global: every app built in the process (tests
/// build many) shares this one.
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::warn!(%error, "the Prometheus recorder cannot be installed; /metrics answers 503");
                    None
                }
            }
        })
        .as_ref()
}

/// The router of the metrics listener (`METRICS_PORT`): `/metrics` only.
pub fn metrics_app(state: AppState) -> Router {
    handle();
    Router::new()
        .route("/metrics", get(render))
        .with_state(state)
}

/// `GET /metrics`.
pub(crate) async fn render(State(state): State<AppState>) -> Response {
    let Some(handle) = handle() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    state.oauth2.publish_metrics();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
