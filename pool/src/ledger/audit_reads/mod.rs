//! Read-only access for `pool audit`: one connection of its own holding
//! one snapshot of the whole ledger, read in pages.
//!
//! The audit compares tables that a payout run changes together (shares
//! marked settled and their `pps` moves, a batch and its debits), so every
//! read must see the same moment: SQLite reads inside one deferred
//! transaction (in WAL mode a reader blocks no writer), PostgreSQL inside
//! one `REPEATABLE READ READ ONLY` transaction. The connection never runs
//! migrations and never writes (SQLite opens the file read-only), so the
//! audit is safe beside a live pool and a payout run.
//!
//! Rows come back raw (money as the stored `i64`, states and modes as
//! text): the audit reports an impossible value as a difference rather
//! than stopping at it.

mod batches;
mod blocks;
mod moves;
mod shares;

pub use batches::AuditBatch;
pub use blocks::{AuditBlock, AuditCredit, BlockHeight, WindowShareRow};
pub use moves::{AuditMove, MoveFilter, MoveSum, KNOWN_KINDS, PAYOUT_KINDS};
pub use shares::{AuditShare, RemovedShare, ShareGroup, TimeSpan};

use super::db::Backend;
use super::error::redact_url;
use super::LedgerError;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{
    ColumnIndex, ConnectOptions, Connection, Decode, PgConnection, Row, SqliteConnection, Type,
};
use std::str::FromStr;
use std::time::Duration;

/// How long SQLite waits for a lock it cannot take at once (a reader in
/// WAL mode only meets one while the file is being recovered).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// One consistent, read-only view of a ledger.
pub struct LedgerSnapshot {
    conn: Conn,
}

enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl std::fmt::Debug for LedgerSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerSnapshot")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Runs the same body against whichever connection the snapshot holds;
/// the body is type-checked once per backend.
macro_rules! on_conn {
    ($snapshot:expr, $conn:ident => $body:expr) => {
        match &mut $snapshot.conn {
            $crate::ledger::audit_reads::Conn::Sqlite($conn) => $body,
            $crate::ledger::audit_reads::Conn::Postgres($conn) => $body,
        }
    };
}
use on_conn;

/// `LedgerError::Query`, short enough to sit in every `map_err`.
fn query(error: sqlx::Error) -> LedgerError {
    LedgerError::Query(error)
}

/// One column of a row, whichever the backend.
fn get<'r, R, T>(row: &'r R, column: &str) -> Result<T, LedgerError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(column).map_err(query)
}

const SCHEMA_VERSION: &str =
    "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_migrations";

const SQLITE_HAS: &str = "SELECT COUNT(*) FROM sqlite_master WHERE type = $1 AND name = $2";

/// `to_regclass` resolves the name through the search path, as queries do.
const POSTGRES_HAS: &str = "SELECT COUNT(*) FROM pg_class WHERE oid = to_regclass($2) \
     AND (($1 = 'table' AND relkind IN ('r', 'p')) OR ($1 = 'index' AND relkind = 'i'))";

impl LedgerSnapshot {
    /// Opens the ledger `url` names for reading and starts the snapshot.
    /// A SQLite file that does not exist is an error, never created.
    pub async fn open(url: &str) -> Result<LedgerSnapshot, LedgerError> {
        let bad_url = |source| LedgerError::BadUrl {
            url: redact_url(url),
            source,
        };
        let connect = |source| LedgerError::Connect {
            url: redact_url(url),
            source,
        };
        let conn = match Backend::of_url(url) {
            Some(Backend::Sqlite) => {
                let mut conn = SqliteConnectOptions::from_str(url)
                    .map_err(bad_url)?
                    .read_only(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    // Whole-table reads are slow by nature here: no warnings.
                    .disable_statement_logging()
                    .connect()
                    .await
                    .map_err(connect)?;
                // Deferred: the snapshot is taken by the first read.
                sqlx::raw_sql("BEGIN")
                    .execute(&mut conn)
                    .await
                    .map_err(query)?;
                Conn::Sqlite(conn)
            }
            Some(Backend::Postgres) => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(bad_url)?
                    .disable_statement_logging();
                let mut conn = PgConnection::connect_with(&options)
                    .await
                    .map_err(connect)?;
                sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut conn)
                    .await
                    .map_err(query)?;
                Conn::Postgres(conn)
            }
            None => {
                return Err(LedgerError::UnsupportedUrl {
                    url: redact_url(url),
                })
            }
        };
        Ok(LedgerSnapshot { conn })
    }

    pub fn backend(&self) -> Backend {
        match self.conn {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Ends the snapshot and closes the connection.
    pub async fn close(mut self) {
        // Nothing was written: ending the transaction either way is the same,
        // and closing the connection ends it anyway.
        let _ =
            on_conn!(self, conn => sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.map(drop));
        let _ = match self.conn {
            Conn::Sqlite(conn) => conn.close().await,
            Conn::Postgres(conn) => conn.close().await,
        };
    }

    /// The newest migration applied; an error when the database holds no
    /// pool ledger at all.
    pub async fn schema_version(&mut self) -> Result<i64, LedgerError> {
        on_conn!(self, conn => {
            let rows: Vec<i64> = sqlx::query_scalar(SCHEMA_VERSION)
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            Ok(rows.into_iter().next().unwrap_or(0))
        })
    }

    /// Whether the table `name` exists (one a newer migration adds, say).
    pub async fn has_table(&mut self, name: &str) -> Result<bool, LedgerError> {
        self.has("table", name).await
    }

    /// Whether the index `name` exists.
    pub async fn has_index(&mut self, name: &str) -> Result<bool, LedgerError> {
        self.has("index", name).await
    }

    async fn has(&mut self, kind: &str, name: &str) -> Result<bool, LedgerError> {
        let sql = match self.backend() {
            Backend::Sqlite => SQLITE_HAS,
            Backend::Postgres => POSTGRES_HAS,
        };
        on_conn!(self, conn => {
            let rows: Vec<i64> = sqlx::query_scalar(sql)
                .bind(kind)
                .bind(name)
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            Ok(rows.into_iter().next().unwrap_or(0) > 0)
        })
    }
}
