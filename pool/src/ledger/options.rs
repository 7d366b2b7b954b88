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
    /// Longest a write may wait for the database (a lock another process
    /// or session holds, a slow disk) before its batch fails and its
    /// shares are answered "not recorded": SQLite's busy timeout,
    /// PostgreSQL's statement timeout.
    pub write_timeout: Duration,
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
            write_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_connections: 4,
        }
    }
}
