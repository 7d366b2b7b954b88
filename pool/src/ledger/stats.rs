//! Counters of the group-commit writer, read without locking.

use crate::latency::{LatencyHistogram, LatencySnapshot};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of the writer's counters since the ledger was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerStats {
    /// Shares committed.
    pub shares_written: u64,
    /// Blocks committed.
    pub blocks_written: u64,
    /// Share transactions committed (each holds one batch).
    pub batches: u64,
    /// Shares in the largest committed batch.
    pub largest_batch: u64,
    /// Shares not inserted because the ledger held their header hash.
    pub duplicates_refused: u64,
    /// Transactions that failed; their callers got an error.
    pub write_errors: u64,
    /// Transactions that failed since the last one that committed: above
    /// 0, the ledger is failing right now.
    pub failing_writes: u64,
    /// How long each transaction took, failed ones included.
    pub commit_latency: LatencySnapshot,
    /// Requests waiting for the writer right now.
    pub queued: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    shares_written: AtomicU64,
    blocks_written: AtomicU64,
    batches: AtomicU64,
    largest_batch: AtomicU64,
    duplicates_refused: AtomicU64,
    write_errors: AtomicU64,
    failing_writes: AtomicU64,
    commit_latency: LatencyHistogram,
}

impl Counters {
    pub(super) fn batch_committed(&self, shares: usize) {
        let shares = shares as u64;
        self.shares_written.fetch_add(shares, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.largest_batch.fetch_max(shares, Ordering::Relaxed);
        self.failing_writes.store(0, Ordering::Relaxed);
    }

    pub(super) fn duplicates_refused(&self, shares: u64) {
        self.duplicates_refused.fetch_add(shares, Ordering::Relaxed);
    }

    pub(super) fn blocks_committed(&self, blocks: usize) {
        self.blocks_written
            .fetch_add(blocks as u64, Ordering::Relaxed);
        self.failing_writes.store(0, Ordering::Relaxed);
    }

    pub(super) fn write_failed(&self) {
        self.write_errors.fetch_add(1, Ordering::Relaxed);
        self.failing_writes.fetch_add(1, Ordering::Relaxed);
    }

    /// One transaction's time, from its first statement to its commit.
    pub(super) fn transaction_took(&self, elapsed: Duration) {
        self.commit_latency.observe(elapsed);
    }

    pub(super) fn snapshot(&self, queued: u64) -> LedgerStats {
        LedgerStats {
            shares_written: self.shares_written.load(Ordering::Relaxed),
            blocks_written: self.blocks_written.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            largest_batch: self.largest_batch.load(Ordering::Relaxed),
            duplicates_refused: self.duplicates_refused.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
            failing_writes: self.failing_writes.load(Ordering::Relaxed),
            commit_latency: self.commit_latency.snapshot(),
            queued,
        }
    }
}
