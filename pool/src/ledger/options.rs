//! Tuning of the ledger; [`LedgerOptions::default`] is what `Ledger::open` uses.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct LedgerOptions {
    /// Ignored; kept so that code which sets it still builds. The writer
    /// no longer waits for shares to join a batch: it commits what is
    /// queued as soon as no commit runs, and what queues during a commit
    /// is the next batch (`writer.rs`).
    #[deprecated(note = "ignored: the ledger commits what is queued as soon as the \
                         previous commit is done, with no batch window")]
    pub batch_window: Duration,
    /// Most shares in one transaction: the batch gathering while another
    /// commits stops growing there (callers then wait in the queue).
    pub max_batch: usize,
    /// Shares queued for the writer before `record_share` waits
    /// (back-pressure: a share is never dropped).
    pub queue_capacity: usize,
    /// Longest a write may wait for the database (a lock another process
    /// or session holds, a slow disk) before its batch fails and its
    /// shares are answered "not recorded": SQLite's busy timeout,
    /// PostgreSQL's statement timeout. A share that queued behind such a
    /// write waits for it first, so up to twice this.
    pub write_timeout: Duration,
    /// How long an operation waits for a database connection (PostgreSQL
    /// down, say) before it fails.
    pub connect_timeout: Duration,
    /// Connections in the pool: the writer's plus readers (web, payouts).
    pub max_connections: u32,
    /// PostgreSQL: share transactions the writer keeps in flight at once,
    /// each on a connection of its own (within `max_connections`), so the
    /// server inserts one batch while it flushes another's WAL. SQLite has
    /// one writer and always one.
    pub commits_in_flight: usize,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        #[allow(deprecated)] // the field must still be filled in
        LedgerOptions {
            batch_window: Duration::ZERO,
            max_batch: 2_000,
            queue_capacity: 8_192,
            write_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_connections: 5,
            commits_in_flight: 2,
        }
    }
}
