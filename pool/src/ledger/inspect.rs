//! The schema of a ledger as it is, read without changing anything: which
//! migrations the next start will apply and what they will do. `pool
//! check` prints it, so an operator reviews a migration before it runs.

use super::db::{with_pool, Backend, Db};
use super::duplicates::{self, DuplicateReport};
use super::error::redact_url;
use super::migrations::{MIGRATIONS, UNIQUE_SHARE_HASH};
use super::LedgerError;
use sqlx::sqlite::SqliteConnectOptions;
use std::str::FromStr;
use std::time::Duration;

/// A migration the next start applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMigration {
    pub version: i64,
    pub name: &'static str,
    /// Migration 5: the shares it removes.
    pub duplicates: Option<DuplicateReport>,
}

/// What [`inspect`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaStatus {
    /// No ledger yet (no SQLite file, or no tables): the first start
    /// creates it.
    Missing,
    Present {
        /// The newest migration applied.
        version: i64,
        pending: Vec<PendingMigration>,
    },
}

/// Reads the ledger at `url` without creating, migrating or writing it.
pub async fn inspect(url: &str) -> Result<SchemaStatus, LedgerError> {
    let db = match Backend::of_url(url) {
        Some(Backend::Sqlite) => {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|source| LedgerError::BadUrl {
                    url: redact_url(url),
                    source,
                })?
                .create_if_missing(false)
                .read_only(true);
            let path = options.get_filename();
            if !url.contains(":memory:") && !path.exists() {
                return Ok(SchemaStatus::Missing);
            }
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .map_err(|source| LedgerError::Connect {
                    url: redact_url(url),
                    source,
                })?;
            Db::Sqlite(pool)
        }
        Some(Backend::Postgres) => {
            let options = super::LedgerOptions {
                max_connections: 1,
                ..super::LedgerOptions::default()
            };
            Db::Postgres(super::postgres::connect(url, &options).await?)
        }
        None => {
            return Err(LedgerError::UnsupportedUrl {
                url: redact_url(url),
            })
        }
    };
    let status = read_status(&db).await;
    db.close().await;
    status
}

async fn read_status(db: &Db) -> Result<SchemaStatus, LedgerError> {
    let exists_sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        }
        Backend::Postgres => {
            "SELECT CAST(COUNT(*) AS BIGINT) FROM pg_catalog.pg_tables \
             WHERE tablename = 'schema_migrations' AND schemaname = ANY(current_schemas(false))"
        }
    };
    let applied: Vec<i64> = with_pool!(db, pool => {
        let tables: i64 = sqlx::query_scalar(exists_sql)
            .fetch_all(pool)
            .await
            .map_err(LedgerError::Query)
            .and_then(super::db::only_row)?;
        if tables == 0 {
            return Ok(SchemaStatus::Missing);
        }
        sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(pool)
            .await
            .map_err(LedgerError::Query)?
    });
    let mut pending = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        // Before migration 1 there is no shares table to look at.
        let duplicates = if migration.version == UNIQUE_SHARE_HASH && !applied.is_empty() {
            Some(duplicates::report(db).await?)
        } else {
            None
        };
        pending.push(PendingMigration {
            version: migration.version,
            name: migration.name,
            duplicates,
        });
    }
    Ok(SchemaStatus::Present {
        version: applied.iter().copied().max().unwrap_or(0),
        pending,
    })
}
