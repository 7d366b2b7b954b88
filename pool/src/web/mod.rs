//! The web listener: a status page, `/health` and `/api/stats`.
//!
//! Deliberately small for now; the stats page, per-miner pages and
//! Prometheus metrics come with the web issue.

use crate::ledger::Ledger;
use crate::server::stats::ServerStats;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the pages show.
pub struct WebState {
    pub stats: Arc<ServerStats>,
    pub ledger: Ledger,
    pub started: Instant,
    pub network: String,
    /// `stratum+tcp://host:port`, for the "how to connect" line.
    pub stratum_url: String,
}

pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/health", get(health))
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

async fn health() -> &'static str {
    "ok\n"
}

async fn api_stats(State(state): State<Arc<WebState>>) -> impl IntoResponse {
    let snapshot = state.stats.snapshot();
    let rejected: serde_json::Map<String, serde_json::Value> = snapshot
        .rejected
        .iter()
        .map(|(name, count)| (name.to_string(), (*count).into()))
        .collect();
    Json(serde_json::json!({
        "network": state.network,
        "uptime_secs": state.started.elapsed().as_secs(),
        "connections_open": snapshot.connections_open,
        "connections_total": snapshot.connections_total,
        "shares_accepted": snapshot.shares_accepted,
        "shares_rejected": rejected,
        "blocks_found": snapshot.blocks_found,
        "blocks_accepted": snapshot.blocks_accepted,
    }))
}

async fn index(State(state): State<Arc<WebState>>) -> impl IntoResponse {
    let snapshot = state.stats.snapshot();
    let blocks = match state.ledger.blocks().await {
        Ok(blocks) => blocks,
        Err(error) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Html(format!(
                    "<p>ledger unavailable: {}</p>",
                    escape(&error.to_string())
                )),
            )
        }
    };
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <meta http-equiv=\"refresh\" content=\"5\"><title>pool</title></head><body>\
         <h1>pool ({network})</h1>\
         <p>Connect: <code>{url}</code>, user <code>&lt;address&gt;.&lt;worker&gt;</code></p>\
         <p>Up {uptime} s · miners connected {open} · shares accepted {accepted} · \
         rejected {rejected} · blocks found {found} (accepted {blocks_accepted})</p>\
         <h2>Blocks</h2><table><tr><th>height</th><th>hash</th><th>finder</th><th>status</th></tr>",
        network = escape(&state.network),
        url = escape(&state.stratum_url),
        uptime = state.started.elapsed().as_secs(),
        open = snapshot.connections_open,
        accepted = snapshot.shares_accepted,
        rejected = snapshot.rejected_total(),
        found = snapshot.blocks_found,
        blocks_accepted = snapshot.blocks_accepted,
    );
    for block in blocks.iter().take(50) {
        let _ = write!(
            page,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}.{}</td><td>{}</td></tr>",
            block.height,
            escape(&block.hash),
            escape(&block.address),
            escape(&block.worker),
            escape(block.status.name()),
        );
    }
    page.push_str("</table></body></html>");
    (StatusCode::OK, Html(page))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
