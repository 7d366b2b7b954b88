//! Alerts to webhooks: a worker goes offline (no accepted share for
//! `alerts.offline_after_secs`), comes back, or the pool finds a block.
//!
//! Nothing here is on the share path: `watch` looks at the live worker
//! board on a timer, a found block is handed over with a `try_send`, and
//! `send` delivers each alert to each webhook in its own task, with
//! retries, recording every attempt in the ledger.

pub mod public;
mod send;
mod watch;

use crate::config::AlertsConfig;
use crate::ledger::Ledger;
use crate::server::workers::WorkerBoard;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch as signal};

/// Alerts waiting for delivery before new ones are dropped (with a log
/// line): a burst of offline workers never grows memory without bound.
const QUEUE: usize = 1_024;

/// One alert, as POSTed (JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// `worker_offline`, `worker_online` or `block_found`.
    pub kind: &'static str,
    pub address: String,
    pub worker: String,
    /// When it was raised (unix ms).
    pub time_ms: i64,
    /// The worker's last accepted share (offline and online alerts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_share_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// A handle to raise alerts; cheap to clone.
#[derive(Debug, Clone)]
pub struct Alerts {
    queue: mpsc::Sender<Alert>,
}

impl Alerts {
    /// Starts watching `board` and delivering to the configured webhooks
    /// and, if allowed, the ones miners set; `None` when there can be
    /// none. Both tasks stop with `shutdown`.
    pub fn start(
        config: &AlertsConfig,
        ledger: Ledger,
        board: Arc<WorkerBoard>,
        shutdown: signal::Receiver<bool>,
    ) -> Option<Alerts> {
        if config.webhooks.is_empty() && !config.miner_webhooks {
            return None;
        }
        let (queue, alerts) = mpsc::channel(QUEUE);
        let offline_after = Duration::from_secs(config.offline_after_secs.max(1));
        tokio::spawn(watch::watch_workers(
            board,
            offline_after,
            queue.clone(),
            shutdown.clone(),
        ));
        let recipients = send::Recipients {
            operator: config.webhooks.clone(),
            addresses: config.addresses.clone(),
            miners: config.miner_webhooks,
            miners_private: config.allow_private_miner_webhooks,
            miners_http: config.allow_http_miner_webhooks,
        };
        tokio::spawn(send::deliver(alerts, recipients, ledger, shutdown));
        Some(Alerts { queue })
    }

    /// The pool found a block (never waits: dropped, logged, if full).
    pub fn block_found(&self, height: u32, hash: &str, address: &str, worker: &str) {
        self.raise(Alert {
            kind: "block_found",
            address: address.to_string(),
            worker: worker.to_string(),
            time_ms: crate::clock::unix_millis(),
            last_share_ms: None,
            height: Some(height),
            hash: Some(hash.to_string()),
        });
    }

    fn raise(&self, alert: Alert) {
        if let Err(error) = self.queue.try_send(alert) {
            tracing::warn!(%error, "alert dropped: the delivery queue is full or closed");
        }
    }
}
