//! A session's outgoing half: one task writes queued lines to the socket.
//!
//! The queue is bounded. A session that finds it full drops the miner
//! instead of waiting, so one miner that stops reading cannot hold up its
//! own session's reading (or, through it, anything shared).

use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

/// Lines a miner may have waiting before it counts as not keeping up:
/// twenty new blocks' work, or a few dozen answers (a session stops
/// reading a miner whose answers back up, so only work the pool sends on
/// its own can fill it).
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
