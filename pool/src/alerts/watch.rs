//! Offline and back-online detection from the live worker board.

use super::Alert;
use crate::server::workers::{WorkerBoard, WorkerLive};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often the board is looked at: a quarter of the offline limit,
/// between 200 ms and 30 s.
fn interval(offline_after: Duration) -> Duration {
    (offline_after / 4).clamp(Duration::from_millis(200), Duration::from_secs(30))
}

/// When the worker last showed work: its last accepted share, else its
/// connection.
fn last_activity(live: &WorkerLive) -> i64 {
    live.last_share_ms.unwrap_or(live.connected_ms)
}

pub(super) async fn watch_workers(
    board: Arc<WorkerBoard>,
    offline_after: Duration,
    queue: mpsc::Sender<Alert>,
    mut shutdown: watch::Receiver<bool>,
) {
    let offline_ms = offline_after.as_millis() as i64;
    let mut offline: HashSet<(String, String)> = HashSet::new();
    let mut ticker = tokio::time::interval(interval(offline_after));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.wait_for(|&stop| stop) => return,
        }
        let now = crate::clock::unix_millis();
        let mut seen = HashSet::new();
        for (address, worker, live) in board.snapshot() {
            let key = (address, worker);
            let silent = now - last_activity(&live) >= offline_ms;
            let kind = match (silent, offline.contains(&key)) {
                (true, false) => {
                    offline.insert(key.clone());
                    Some("worker_offline")
                }
                (false, true) => {
                    offline.remove(&key);
                    Some("worker_online")
                }
                _ => None,
            };
            if let Some(kind) = kind {
                tracing::info!(kind, address = %key.0, worker = %key.1, "alert");
                let alert = Alert {
                    kind,
                    address: key.0.clone(),
                    worker: key.1.clone(),
                    time_ms: now,
                    last_share_ms: live.last_share_ms,
                    height: None,
                    hash: None,
                };
                if let Err(error) = queue.try_send(alert) {
                    tracing::warn!(%error, "alert dropped: the delivery queue is full");
                }
            }
            seen.insert(key);
        }
        // Workers the board forgot are forgotten here too.
        offline.retain(|key| seen.contains(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_board_is_read_often_enough_but_not_too_often() {
        assert_eq!(interval(Duration::from_secs(600)), Duration::from_secs(30));
        assert_eq!(interval(Duration::from_secs(60)), Duration::from_secs(15));
        assert_eq!(
            interval(Duration::from_millis(100)),
            Duration::from_millis(200)
        );
    }
}
