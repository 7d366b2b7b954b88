//! One payout run at a time per ledger, also across machines: PostgreSQL's
//! session advisory lock on a connection of its own, or for SQLite an
//! exclusive lock on a file beside the database. Both are released by the
//! operating system or the server when the process dies, so a killed run
//! never blocks the next one.

use super::super::db::Backend;
use super::super::{Ledger, LedgerError};
use sqlx::{Connection, PgConnection};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

/// "pay!" in ASCII; the lock's second key is the schema's hash, so pools
/// in different schemas of one database do not wait for each other.
const POSTGRES_PAYOUT_LOCK: i32 = 0x7061_7921;

/// Held while a payout run works; released when dropped.
#[derive(Debug)]
pub struct PayoutLock {
    _held: Held,
}

/// Each variant is held only for what dropping it releases.
#[derive(Debug)]
#[allow(dead_code)]
enum Held {
    Postgres(PgConnection),
    File(File),
    /// An in-memory SQLite database lives in this process only.
    Process(tokio::sync::OwnedMutexGuard<()>),
}

impl Ledger {
    /// Takes the payout lock, or `None` at once if another run holds it.
    pub async fn try_payout_lock(&self) -> Result<Option<PayoutLock>, LedgerError> {
        let url = &self.inner.url;
        let held = match self.backend() {
            Backend::Postgres => {
                let mut connection =
                    PgConnection::connect(url)
                        .await
                        .map_err(|source| LedgerError::Connect {
                            url: super::super::error::redact_url(url),
                            source,
                        })?;
                let locked: bool = sqlx::query_scalar(
                    "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))",
                )
                .bind(POSTGRES_PAYOUT_LOCK)
                .fetch_one(&mut connection)
                .await
                .map_err(LedgerError::Query)?;
                if !locked {
                    return Ok(None);
                }
                Held::Postgres(connection)
            }
            Backend::Sqlite => match lock_file_path(url) {
                Some(path) => {
                    let file = File::options()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&path)
                        .map_err(|source| LedgerError::Lock {
                            path: path.clone(),
                            source,
                        })?;
                    match file.try_lock() {
                        Ok(()) => Held::File(file),
                        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                        Err(std::fs::TryLockError::Error(source)) => {
                            return Err(LedgerError::Lock { path, source })
                        }
                    }
                }
                None => match Arc::clone(&self.inner.process_lock).try_lock_owned() {
                    Ok(guard) => Held::Process(guard),
                    Err(_) => return Ok(None),
                },
            },
        };
        Ok(Some(PayoutLock { _held: held }))
    }
}

impl PayoutLock {
    /// Releases the lock now. Dropping it releases it too, but a dropped
    /// PostgreSQL connection is closed in the background: a run that
    /// follows at once could still find the lock held.
    pub async fn release(self) {
        if let Held::Postgres(mut connection) = self._held {
            let _ = sqlx::query("SELECT pg_advisory_unlock($1, hashtext(current_schema()))")
                .bind(POSTGRES_PAYOUT_LOCK)
                .execute(&mut connection)
                .await;
            let _ = connection.close().await;
        }
    }
}

/// `<database file>.payout-lock`, or `None` for an in-memory database.
fn lock_file_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.starts_with(":memory:") || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(format!("{path}.payout-lock")))
}

#[cfg(test)]
mod tests {
    use super::lock_file_path;
    use std::path::PathBuf;

    #[test]
    fn the_lock_file_sits_beside_the_database() {
        assert_eq!(
            lock_file_path("sqlite://data/pool.db"),
            Some(PathBuf::from("data/pool.db.payout-lock"))
        );
        assert_eq!(
            lock_file_path("sqlite:///var/lib/pool/pool.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/pool/pool.db.payout-lock"))
        );
        assert_eq!(lock_file_path("sqlite::memory:"), None);
    }
}
