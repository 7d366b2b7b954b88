//! The web listener: the stats pages, the JSON API, `/metrics` and
//! `/health`, all read-only.
//!
//! Files: `view` (what is shown, built from live state and the ledger),
//! `api` (the views as JSON), `pages` (the views as HTML), `chart` (SVG),
//! `format` (numbers and escaping); for operators `metrics` (Prometheus
//! text, written by `prometheus`, with the 5-minute rate of `hashrate`),
//! `health` (what `/health` checks) and `ops` (what both read).

mod api;
mod chart;
mod format;
mod hashrate;
pub mod health;
mod limit;
mod metrics;
pub mod miner_alerts;
pub mod ops;
mod pages;
mod prometheus;
mod view;

use crate::config::{Network, PayoutMode};
use crate::ledger::Ledger;
use crate::server::stats::ServerStats;
use crate::server::workers::WorkerBoard;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use limit::RateLimit;
pub use view::{BanView, BatchView, BlockView, Hashrates, MinerView, PoolView, WorkerView};

/// What the pages show.
pub struct WebState {
    pub stats: Arc<ServerStats>,
    pub workers: Arc<WorkerBoard>,
    /// Bans and refused connections.
    pub guard: Arc<crate::server::guard::Guard>,
    pub ledger: Ledger,
    pub started: Instant,
    pub network: Network,
    pub mode: PayoutMode,
    pub fee_percent: f64,
    /// `stratum+tcp://host:port`, for the "how to connect" line.
    pub stratum_url: String,
    /// Whether miners may set webhooks, and which.
    pub alerts: crate::config::AlertsConfig,
    /// Attempts at changing alert settings, per address.
    pub settings_limit: limit::RateLimit,
    /// For `/metrics` and `/health`: RPC metrics, limits, hashrate ring.
    pub ops: ops::OpsState,
}

pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/miner", get(pages::search))
        .route("/miner/{address}", get(pages::miner))
        .route(
            "/miner/{address}/alerts",
            axum::routing::post(miner_alerts::set),
        )
        .route("/api/pool", get(api::pool))
        .route("/api/blocks", get(api::blocks))
        .route("/api/miner/{address}", get(api::miner))
        .route("/api/payouts", get(api::payouts))
        .route("/health", get(health::health))
        .route("/metrics", get(metrics::metrics))
        .route("/api/stats", get(api_stats))
        .with_state(state)
}

/// Serves until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    state: Arc<WebState>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}

/// `address` as the pool writes it, if it is one of the pool's network.
fn valid_address(state: &WebState, address: &str) -> Option<String> {
    let parsed = bitcoin::Address::from_str(address.trim()).ok()?;
    Some(
        parsed
            .require_network(state.network.to_bitcoin())
            .ok()?
            .to_string(),
    )
}

async fn api_stats(State(state): State<Arc<WebState>>) -> impl IntoResponse {
    let snapshot = state.stats.snapshot();
    let rejected: serde_json::Map<String, serde_json::Value> = snapshot
        .rejected
        .iter()
        .map(|(name, count)| (name.to_string(), (*count).into()))
        .collect();
    Json(serde_json::json!({
        "network": state.network.to_string(),
        "uptime_secs": state.started.elapsed().as_secs(),
        "connections_open": snapshot.connections_open,
        "connections_total": snapshot.connections_total,
        "shares_accepted": snapshot.shares_accepted,
        "shares_rejected": rejected,
        "blocks_found": snapshot.blocks_found,
        "blocks_accepted": snapshot.blocks_accepted,
    }))
}
