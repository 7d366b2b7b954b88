//! The two backends behind one enum. Most SQL is shared: both speak `$1`
//! placeholders (sqlx maps them for SQLite), `ON CONFLICT` and `LIMIT`.

use super::records::{NewBlock, NewShare};
use super::{postgres, sqlite};
use std::time::Duration;

/// Which database a ledger writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded file (the default).
    Sqlite,
    /// A server several pool nodes may share.
    Postgres,
}

impl Backend {
    /// The backend a `database.url` names, if any.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// How a writing transaction starts. SQLite takes the write lock at
    /// once, so waiting for another process happens in the busy handler.
    pub(super) fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone)]
pub(super) enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Runs the same code against whichever pool `db` holds; the body is
/// type-checked once per backend.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::ledger::db::Db::Sqlite($pool) => $body,
            $crate::ledger::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(super) use with_pool;

/// The one row an aggregate returns, read with `fetch_all`: `fetch_one`
/// leaves SQLite's statement un-reset until its worker thread gets to it,
/// so that connection may keep reading an old snapshot (sqlx #2543) and
/// two reads in one page view could disagree.
pub(super) fn only_row<T>(rows: Vec<T>) -> Result<T, super::LedgerError> {
    rows.into_iter()
        .next()
        .ok_or(super::LedgerError::Query(sqlx::Error::RowNotFound))
}

/// A lookup's row, if any, read with `fetch_all` for the same reason (the
/// queries it serves return at most one row).
pub(super) fn first_row<T>(rows: Vec<T>) -> Option<T> {
    rows.into_iter().next()
}

const UPSERT_BLOCK: &str = "INSERT INTO blocks \
     (node, height, hash, address, worker, coinbase_value_sat, time_ms, raw_hex, answers, accepted, mode) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
     ON CONFLICT (hash) DO UPDATE SET answers = excluded.answers, accepted = excluded.accepted";

impl Db {
    /// Connects to the database `url` names (creating a SQLite file).
    pub(super) async fn connect(
        url: &str,
        options: &super::LedgerOptions,
    ) -> Result<Db, super::LedgerError> {
        match Backend::of_url(url) {
            Some(Backend::Sqlite) => Ok(Db::Sqlite(sqlite::connect(url, options).await?)),
            Some(Backend::Postgres) => Ok(Db::Postgres(postgres::connect(url, options).await?)),
            None => Err(super::LedgerError::UnsupportedUrl {
                url: super::error::redact_url(url),
            }),
        }
    }

    pub(super) fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Writes `shares` (no two with one hash) in one transaction; says
    /// per share whether it was inserted or its hash was already recorded.
    /// SQLite bounds its waits with the busy timeout set at connect.
    pub(super) async fn insert_shares(
        &self,
        shares: &[NewShare],
        write_timeout: Duration,
    ) -> Result<Vec<bool>, sqlx::Error> {
        match self {
            Db::Sqlite(pool) => sqlite::insert_shares(pool, shares).await,
            Db::Postgres(pool) => postgres::insert_shares(pool, shares, write_timeout).await,
        }
    }

    /// Writes `blocks` in one transaction. A block recorded again (same
    /// hash) keeps its row and takes the newer answers.
    pub(super) async fn upsert_blocks(
        &self,
        blocks: &[NewBlock],
        write_timeout: Duration,
    ) -> Result<(), sqlx::Error> {
        let backend = self.backend();
        let millis = postgres::timeout_millis(write_timeout);
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            if backend == Backend::Postgres {
                sqlx::query(postgres::LIMIT_WAITS)
                    .bind(&millis)
                    .execute(&mut *tx)
                    .await?;
            }
            for block in blocks {
                sqlx::query(UPSERT_BLOCK)
                    .bind(i32::from(block.node))
                    .bind(i64::from(block.height))
                    .bind(&block.hash)
                    .bind(&block.address)
                    .bind(&block.worker)
                    // `NewBlock::check` refused values above i64::MAX.
                    .bind(block.coinbase_value_sat as i64)
                    .bind(block.time_ms)
                    .bind(&block.raw_hex)
                    .bind(&block.answers)
                    .bind(block.accepted)
                    .bind(super::records::mode_name(block.mode))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
    }

    pub(super) async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}
