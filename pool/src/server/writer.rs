//! A session's outgoing half: one task writes queued lines to the socket.
//!
//! The queue is bounded. A session never waits on it: it stops reading a
//! miner whose answers back up, holds its own work until the queue drains,
//! and drops a miner that takes no work for `WORK_STALL`, so one miner that
//! stops reading cannot hold up anything shared.

use std::sync::Arc;
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

/// A line for one miner: its own (an answer), or one every session shares
/// (a job's notify, serialized once per job rather than copied per miner:
/// a new block reaches thousands of queues as a reference count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    Own(String),
    Shared(Arc<str>),
}

impl Line {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Line::Own(line) => line,
            Line::Shared(line) => line,
        }
    }
}

impl From<String> for Line {
    fn from(line: String) -> Line {
        Line::Own(line)
    }
}

impl From<&Arc<str>> for Line {
    fn from(line: &Arc<str>) -> Line {
        Line::Shared(Arc::clone(line))
    }
}

pub(super) async fn write_lines(mut socket: OwnedWriteHalf, mut lines: mpsc::Receiver<Line>) {
    while let Some(line) = lines.recv().await {
        let bytes = line.as_str().as_bytes();
        match tokio::time::timeout(WRITE_TIMEOUT, socket.write_all(bytes)).await {
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
