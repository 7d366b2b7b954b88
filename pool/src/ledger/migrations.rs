//! The schema, as numbered migrations embedded in the binary (no files
//! needed at run time, no DATABASE_URL at build time). `schema_migrations`
//! lists the ones applied; `open` applies the rest, all in one transaction.
//! To change the schema, add a migration: never edit an applied one.

use super::db::{with_pool, Backend, Db};
use super::LedgerError;
use std::time::{SystemTime, UNIX_EPOCH};

pub(super) struct Migration {
    pub version: i64,
    pub name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

impl Migration {
    fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

/// Every migration, oldest first; versions increase.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "shares_and_blocks",
        sqlite: include_str!("../../migrations/sqlite/0001_shares_and_blocks.sql"),
        postgres: include_str!("../../migrations/postgres/0001_shares_and_blocks.sql"),
    },
    Migration {
        version: 2,
        name: "payouts",
        sqlite: include_str!("../../migrations/sqlite/0002_payouts.sql"),
        postgres: include_str!("../../migrations/postgres/0002_payouts.sql"),
    },
    Migration {
        version: 3,
        name: "alerts",
        sqlite: include_str!("../../migrations/sqlite/0003_alerts.sql"),
        postgres: include_str!("../../migrations/postgres/0003_alerts.sql"),
    },
    Migration {
        version: 4,
        name: "share_minutes",
        sqlite: include_str!("../../migrations/sqlite/0004_share_minutes.sql"),
        postgres: include_str!("../../migrations/postgres/0004_share_minutes.sql"),
    },
    Migration {
        version: UNIQUE_SHARE_HASH,
        name: "unique_share_hash",
        sqlite: include_str!("../../migrations/sqlite/0005_unique_share_hash.sql"),
        postgres: include_str!("../../migrations/postgres/0005_unique_share_hash.sql"),
    },
];

/// The migration that removes shares recorded twice and makes the header
/// hash unique (see its SQL).
pub(super) const UNIQUE_SHARE_HASH: i64 = 5;

const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
     version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)";

/// Serialises nodes that start together on one PostgreSQL database, so
/// each migration runs once ("pool ledger" in ASCII).
const POSTGRES_MIGRATION_LOCK: i64 = 0x706f_6f6c_6c65_6467;

/// Applies what is missing; returns the schema version now in force.
pub(super) async fn run(db: &Db) -> Result<i64, LedgerError> {
    run_up_to(db, i64::MAX).await
}

/// Applies what is missing up to `target` (tests build old ledgers so).
pub(super) async fn run_up_to(db: &Db, target: i64) -> Result<i64, LedgerError> {
    let backend = db.backend();
    let setup = |source| LedgerError::Migration {
        version: 0,
        name: "schema_migrations",
        source,
    };
    let applied_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64);
    with_pool!(db, pool => {
        let mut tx = pool.begin_with(backend.begin_write()).await.map_err(setup)?;
        if backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(POSTGRES_MIGRATION_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(setup)?;
        }
        sqlx::query(CREATE_SCHEMA_MIGRATIONS).execute(&mut *tx).await.map_err(setup)?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(setup)?;
        for migration in MIGRATIONS
            .iter()
            .filter(|m| !applied.contains(&m.version) && m.version <= target)
        {
            let failed = |source| LedgerError::Migration {
                version: migration.version,
                name: migration.name,
                source,
            };
            if migration.version == UNIQUE_SHARE_HASH {
                // Read in the migration's transaction: exactly what it removes.
                let rows = sqlx::query(super::duplicates::COPIES_PER_MINER)
                    .bind(true)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(failed)?;
                let report = super::duplicates::read(&rows)?;
                if report.miners.is_empty() {
                    tracing::info!("ledger migration {}: no share is recorded twice", migration.version);
                } else {
                    tracing::warn!(
                        rows = report.rows(),
                        miners = report.miners.len(),
                        credit_sat = report.credit_sat(),
                        settled_sat = report.settled_sat(),
                        "ledger migration {}: {report}; the copies are kept in duplicate_shares",
                        migration.version
                    );
                }
            }
            sqlx::raw_sql(migration.sql(backend))
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)")
                .bind(migration.version)
                .bind(migration.name)
                .bind(applied_ms)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            tracing::info!(
                backend = backend.name(),
                version = migration.version,
                name = migration.name,
                "ledger migration applied"
            );
        }
        tx.commit().await.map_err(setup)?;
        let newest_known = MIGRATIONS
            .iter()
            .map(|m| m.version)
            .filter(|version| *version <= target)
            .max()
            .unwrap_or(0);
        let newest_applied = applied.iter().copied().max().unwrap_or(0).max(newest_known);
        if newest_applied > newest_known {
            // A newer pool migrated this database (a rolling upgrade):
            // its additions are tables this version does not touch.
            tracing::warn!(
                schema_version = newest_applied,
                known = newest_known,
                "ledger schema is newer than this pool knows"
            );
        }
        Ok(newest_applied)
    })
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn versions_increase_and_both_dialects_exist() {
        let mut previous = 0;
        for migration in MIGRATIONS {
            assert!(migration.version > previous, "{}", migration.name);
            previous = migration.version;
            assert!(!migration.sqlite.trim().is_empty());
            assert!(!migration.postgres.trim().is_empty());
        }
    }

    #[test]
    fn both_dialects_create_the_same_tables_and_columns() {
        for migration in MIGRATIONS {
            assert!(!shape(migration.sqlite).0.is_empty(), "{}", migration.name);
            assert_eq!(
                shape(migration.sqlite),
                shape(migration.postgres),
                "migration {} differs between SQLite and PostgreSQL",
                migration.name
            );
        }
    }

    /// `(table, [column names])` of every CREATE TABLE and ALTER TABLE ADD
    /// COLUMN, and every index name.
    fn shape(sql: &str) -> (Vec<(String, Vec<String>)>, Vec<String>) {
        let mut tables = Vec::new();
        let mut indexes = Vec::new();
        let mut current: Option<(String, Vec<String>)> = None;
        for line in sql.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
                let name = rest.split_whitespace().next().unwrap_or_default();
                current = Some((name.to_string(), Vec::new()));
            } else if let Some(rest) = line.strip_prefix("ALTER TABLE ") {
                let mut words = rest.split_whitespace();
                let table = words.next().unwrap_or_default().to_string();
                let column = words.nth(2).unwrap_or_default().to_string();
                tables.push((table, vec![column]));
            } else if let Some(rest) = line
                .strip_prefix("CREATE INDEX ")
                .or_else(|| line.strip_prefix("CREATE UNIQUE INDEX "))
            {
                indexes.push(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                );
            } else if line.starts_with(')') {
                tables.extend(current.take());
            } else if let Some((_, columns)) = current.as_mut() {
                if let Some(column) = line.split_whitespace().next() {
                    if !column.starts_with("--") {
                        columns.push(column.to_string());
                    }
                }
            }
        }
        (tables, indexes)
    }
}
