//! The durable share ledger: every accepted share is a row, and a share the
//! pool acknowledged survives a kill -9 of the pool.
//!
//! SQLite (an embedded file, the default) or PostgreSQL (several pool
//! nodes, one database), chosen by the URL, with the same schema
//! (`pool/migrations/`). Writes go through one group-commit task
//! (`writer.rs`): [`Ledger::record_share`] resolves only once its share is
//! committed, and a failed commit fails every caller of that transaction,
//! never silently.
//!
//! ```no_run
//! # async fn example() -> Result<(), pool::ledger::LedgerError> {
//! use pool::ledger::{Ledger, NewShare};
//! let ledger = Ledger::open("sqlite://pool.db").await?;
//! ledger
//!     .record_share(NewShare {
//!         node: 0,
//!         address: "bcrt1q...".into(),
//!         worker: "rig1".into(),
//!         job_id: 7,
//!         difficulty: 1024.0,
//!         network_difficulty: 1.0e12,
//!         time_ms: 1_700_000_000_000,
//!         is_block: false,
//!         hash: [0; 32],
//!         credit_sat: 0,
//!     })
//!     .await?; // durable from here on: now answer the miner
//! ledger.close().await;
//! # Ok(()) }
//! ```

pub mod accounts;
mod activity;
mod alerts;
pub mod audit_reads;
mod block_counts;
mod db;
mod duplicates;
mod error;
mod health;
mod inspect;
mod migrations;
mod options;
mod postgres;
mod queries;
mod records;
mod rollup;
mod sqlite;
mod stats;
mod writer;

pub use activity::{Work, WorkerWork};
pub use alerts::StoredAlert;
pub use db::Backend;
pub use duplicates::{DuplicateReport, MinerDuplicates};
pub use error::LedgerError;
pub use health::PingError;
pub use inspect::{inspect, PendingMigration, SchemaStatus};
pub use options::LedgerOptions;
pub use records::{mode_name, BlockStatus, NewBlock, NewShare, StoredBlock, StoredShare};
pub use stats::LedgerStats;

use db::Db;
use error::redact_url;
use stats::Counters;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use writer::Command;

/// The schema version this pool's newest migration gives a ledger.
pub fn newest_schema_version() -> i64 {
    migrations::MIGRATIONS
        .last()
        .map_or(0, |migration| migration.version)
}

/// A cheap, cloneable handle on the ledger; every clone feeds the same
/// writer.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    queue: mpsc::Sender<Command>,
    stopped: watch::Receiver<bool>,
    counters: Arc<Counters>,
    schema_version: i64,
    /// For the payout lock's own connection (PostgreSQL) or file (SQLite).
    url: String,
    /// The payout lock of an in-memory database.
    process_lock: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("backend", &self.backend())
            .field("schema_version", &self.inner.schema_version)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens the database `url` names (`sqlite://path`, `postgres://...`,
    /// `postgresql://...`) with [`LedgerOptions::default`]: creates the
    /// SQLite file if missing, applies missing migrations and starts the
    /// group-commit writer.
    pub async fn open(url: &str) -> Result<Ledger, LedgerError> {
        Ledger::open_with(url, LedgerOptions::default()).await
    }

    /// [`Ledger::open`] with other batch, queue and timeout settings.
    pub async fn open_with(url: &str, options: LedgerOptions) -> Result<Ledger, LedgerError> {
        let db = Db::connect(url, &options).await?;
        let schema_version = match migrations::run(&db).await {
            Ok(version) => version,
            Err(error) => {
                db.close().await;
                return Err(error);
            }
        };
        let counters = Arc::new(Counters::default());
        let (queue, stopped) = writer::spawn(db.clone(), &options, Arc::clone(&counters));
        tracing::info!(
            backend = db.backend().name(),
            url = %redact_url(url),
            schema_version,
            max_batch = options.max_batch,
            "ledger open"
        );
        Ok(Ledger {
            inner: Arc::new(Inner {
                db,
                queue,
                stopped,
                counters,
                schema_version,
                url: url.to_string(),
                process_lock: Arc::default(),
            }),
        })
    }

    /// Creates (or brings) the ledger at `url` to schema `version` and no
    /// further, then closes it: how tests build a ledger as an older pool
    /// left it.
    #[doc(hidden)]
    pub async fn create_at_version(url: &str, version: i64) -> Result<(), LedgerError> {
        let db = Db::connect(url, &LedgerOptions::default()).await?;
        let result = migrations::run_up_to(&db, version).await;
        db.close().await;
        result.map(|_| ())
    }

    pub fn backend(&self) -> Backend {
        self.inner.db.backend()
    }

    /// The newest migration applied to the database.
    pub fn schema_version(&self) -> i64 {
        self.inner.schema_version
    }

    /// Records an accepted share; resolves once it is committed, or with
    /// [`LedgerError::DuplicateShare`] when the ledger already holds its
    /// header hash. Waits while the writer's queue is full (back-pressure,
    /// never a drop).
    /// If the future is dropped early, the share may or may not be
    /// recorded.
    pub async fn record_share(&self, share: NewShare) -> Result<(), LedgerError> {
        share.check()?;
        self.submit(|reply| Command::Share(share, reply)).await
    }

    /// Records a found block (or its newer submit answers, for a hash
    /// already recorded); resolves once it is committed.
    pub async fn record_block(&self, block: NewBlock) -> Result<(), LedgerError> {
        block.check()?;
        self.submit(|reply| Command::Block(block, reply)).await
    }

    async fn submit(
        &self,
        command: impl FnOnce(writer::Reply) -> Command,
    ) -> Result<(), LedgerError> {
        let (reply, outcome) = oneshot::channel();
        self.inner
            .queue
            .send(command(reply))
            .await
            .map_err(|_| LedgerError::Closed)?;
        outcome.await.map_err(|_| LedgerError::Closed)?
    }

    /// Shares in the ledger, from every node.
    pub async fn share_count(&self) -> Result<u64, LedgerError> {
        queries::share_count(&self.inner.db).await
    }

    /// The newest `limit` shares, newest first.
    pub async fn shares(&self, limit: u64) -> Result<Vec<StoredShare>, LedgerError> {
        queries::newest_shares(&self.inner.db, limit).await
    }

    /// Every block, newest first.
    pub async fn blocks(&self) -> Result<Vec<StoredBlock>, LedgerError> {
        queries::newest_blocks(&self.inner.db).await
    }

    /// The writer's counters.
    pub fn stats(&self) -> LedgerStats {
        let queue = &self.inner.queue;
        let queued = queue.max_capacity().saturating_sub(queue.capacity());
        self.inner.counters.snapshot(queued as u64)
    }

    /// Writes everything queued, stops the writer and closes the database.
    /// Other clones get [`LedgerError::Closed`] from then on.
    pub async fn close(self) {
        // An error means the writer is already closing: wait for it anyway.
        let _ = self.inner.queue.send(Command::Close).await;
        let mut stopped = self.inner.stopped.clone();
        // An error means the writer task is gone, which is stopped too.
        let _ = stopped.wait_for(|&stopped| stopped).await;
        self.inner.db.close().await;
        tracing::info!(backend = self.backend().name(), "ledger closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_and_their_futures_cross_threads() {
        fn shared<T: Clone + Send + Sync + 'static>() {}
        fn sendable<T: Send>(_: &T) {}
        shared::<Ledger>();
        // Only the types are checked: the futures are never polled.
        let _ = |ledger: Ledger, share: NewShare, block: NewBlock| {
            sendable(&ledger.record_share(share));
            sendable(&ledger.record_block(block));
            sendable(&ledger.shares(1));
            sendable(&ledger.clone().close());
        };
    }

    #[tokio::test]
    async fn an_in_memory_database_works_for_tests() {
        let ledger = Ledger::open("sqlite::memory:").await.expect("open");
        let share = NewShare {
            node: 0,
            address: "bcrt1q".to_string(),
            worker: String::new(),
            job_id: 1,
            difficulty: 1.0,
            network_difficulty: 1.0,
            time_ms: 0,
            is_block: false,
            hash: [1; 32],
            credit_sat: 0,
        };
        ledger.record_share(share.clone()).await.expect("record");
        assert_eq!(ledger.share_count().await.unwrap(), 1);
        assert_eq!(ledger.shares(1).await.unwrap()[0].share(), share);
        ledger.close().await;
    }
}
