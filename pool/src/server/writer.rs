//! A session's outgoing half: one task writes queued lines to the socket.
//!
//! The queue is bounded. A session never waits on it: it stops reading a
//! miner whose answers back up, holds its own work until the queue drains,
//! and drops a miner that takes no work for `WORK_STALL`, so one miner that
//! stops reading cannot hold up anything shared.

use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

/// Lines a miner may have waiting: a few dozen answers (a session stops
/// reading a miner whose answers back up, and its own work waits for the
/// queue to drain, so nothing fills it).
pub(super) const QUEUE: usize = 64;

/// A write that takes longer than this means the miner stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn write_lines(mut socket: OwnedWriteHalf, mut lines: mpsc::Receiver<String>) {
    while let Some(line) = lines.recv().await {
        match tokio::time::timeout(WRITE_TIMEOUT, socket.write_all(line.as_bytes())).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::debug!(%error, "write failed; closing");
                break;
            }
            Err(_) => {
                tracing::info!("miner stopped reading for {WRITE_TIMEOUT:?}; closing");
                break;
            }
        }
    }
    let _ = socket.shutdown().await;
}
