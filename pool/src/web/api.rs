//! The JSON API: the same views the pages render (`view.rs`), one route
//! each. Errors are JSON too: `{"error": "..."}` with a 4xx or 503 status.

use super::view;
use super::WebState;
use crate::ledger::LedgerError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

/// A failed API call, as JSON.
pub(super) struct ApiError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> ApiError {
        tracing::warn!(%error, "web: ledger query failed");
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("the ledger is unavailable: {error}"),
        }
    }
}

/// `address` if it is one of the pool's network, else a 400.
pub(super) fn checked_address(state: &WebState, address: &str) -> Result<String, ApiError> {
    super::valid_address(state, address).ok_or_else(|| ApiError {
        status: StatusCode::BAD_REQUEST,
        message: format!("{address:?} is not a {} address", state.network),
    })
}

pub(super) async fn pool(
    State(state): State<Arc<WebState>>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(view::pool_view(&state).await?))
}

pub(super) async fn blocks(
    State(state): State<Arc<WebState>>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(view::blocks_view(&state).await?))
}

pub(super) async fn miner(
    State(state): State<Arc<WebState>>,
    Path(address): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let address = checked_address(&state, &address)?;
    Ok(Json(view::miner_view(&state, &address).await?))
}

pub(super) async fn payouts(
    State(state): State<Arc<WebState>>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(view::batches_view(&state).await?))
}
