//! The template's own routes: health and the demo routes that call an
//! upstream through the OAuth2 extension.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use axum_oauth2_client::{FetchOptions, TokenExchangeOptions};

use crate::error::AppError;
use crate::state::AppState;

/// The provider the demo routes use.
pub const DEMO_PROVIDER: &str = "demo";

/// `GET /health`: the process is up.
pub(super) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /demo/orders`: calls the demo API with the provider's client
/// credentials token.
pub(super) async fn demo_orders(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let url = demo_url(&state, "orders");
    let res = state
        .oauth2
        .fetch(DEMO_PROVIDER, &url, FetchOptions::default())
        .await?;
    upstream_json(&state, res, "client_credentials").await
}

/// `GET /demo/me`: exchanges the caller's bearer token (RFC 8693) and calls
/// the demo API on the caller's behalf.
pub(super) async fn demo_me(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let subject = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::MissingBearer)?;
    let url = demo_url(&state, "me");
    let exchange = TokenExchangeOptions::new(subject).audience("demo-api");
    let res = state
        .oauth2
        .fetch(
            DEMO_PROVIDER,
            &url,
            FetchOptions::default().token_exchange(exchange),
        )
        .await?;
    upstream_json(&state, res, "token_exchange").await
}

/// `GET /demo/signed`: calls the demo API with the token and an RFC 9421
/// signature that covers it (the development authority's signer in
/// development; the provider's configured signer otherwise).
pub(super) async fn demo_signed(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let url = demo_url(&state, "signed");
    let mut options = FetchOptions::default();
    if let Some(dev) = &state.dev {
        options = options.signer(dev.signer());
    }
    let res = state.oauth2.fetch(DEMO_PROVIDER, &url, options).await?;
    upstream_json(&state, res, "client_credentials").await
}

fn demo_url(state: &AppState, path: &str) -> String {
    let base = state
        .config
        .demo_api_url
        .as_ref()
        .map(|u| u.as_str())
        .unwrap_or_default();
    format!("{}/{path}", base.trim_end_matches('/'))
}

async fn upstream_json(
    state: &AppState,
    res: reqwest::Response,
    grant: &str,
) -> Result<Json<Value>, AppError> {
    if !res.status().is_success() {
        return Err(AppError::Upstream(res.status()));
    }
    let body = read_capped(res, state.config.upstream_max_body_bytes).await?;
    let upstream: Value = serde_json::from_slice(&body).map_err(|_| AppError::UpstreamNotJson)?;
    let mut body = json!({
        "provider": DEMO_PROVIDER,
        "grant": grant,
        "upstream": upstream,
        "cached_tokens": state.oauth2.cached_tokens(),
    });
    if let Some(dev) = &state.dev {
        body["token_endpoint_requests"] = json!(dev.tokens_issued());
    }
    Ok(Json(body))
}

/// Reads an upstream body, giving up as soon as it passes `limit` bytes, so
/// that a broken or hostile upstream cannot make a handler buffer without
/// bound.
async fn read_capped(mut res: reqwest::Response, limit: usize) -> Result<Vec<u8>, AppError> {
    let too_large = AppError::UpstreamTooLarge { limit };
    if res.content_length().is_some_and(|len| len > limit as u64) {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
