//! Tuning of the ledger; [`LedgerOptions::default`] is what `Ledger::open` uses.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct LedgerOptions {
    /// Longest a share waits for others to join its transaction.
    pub batch_window: Duration,
    /// Most shares in one transaction; a full batch is written at once.
    pub max_batch: usize,
    /// Shares queued for the writer before `record_share` waits
    /// (back-pressure: a share is never dropped).
    pub queue_capacity: usize,
    /// How long SQLite waits for a lock another process holds before the
    /// batch fails.
    pub sqlite_busy_timeout: Duration,
    /// How long an operation waits for a database connection (PostgreSQL
    /// down, say) before it fails.
    pub connect_timeout: Duration,
    /// Connections in the pool: the writer's plus readers (web, payouts).
    pub max_connections: u32,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            batch_window: Duration::from_millis(20),
            max_batch: 2_000,
            queue_capacity: 8_192,
            sqlite_busy_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_connections: 4,
        }
    }
}
