//! Whether the database answers, for `/health`.

use super::db::with_pool;
use super::Ledger;
use std::time::Duration;

/// Reads the table every share goes to: on SQLite a bare `SELECT 1` never
/// touches the file, so it would answer with the ledger broken. One row
/// at most, so the cost does not grow with the table.
const PING: &str = "SELECT 1 FROM shares LIMIT 1";

/// Why the database did not answer.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("{0}")]
    Query(#[source] sqlx::Error),
}

impl Ledger {
    /// One short query through the connection pool, bounded by `timeout`
    /// (the pool's own wait for a connection is longer).
    pub async fn ping(&self, timeout: Duration) -> Result<(), PingError> {
        let query = async {
            with_pool!(&self.inner.db, pool => {
                sqlx::query(PING).fetch_all(pool).await.map(|_| ())
            })
        };
        match tokio::time::timeout(timeout, query).await {
            Ok(result) => result.map_err(PingError::Query),
            Err(_) => Err(PingError::Timeout(timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_on_a_working_database_and_fails_without_the_table() {
        let ledger = Ledger::open("sqlite::memory:").await.expect("open");
        ledger.ping(Duration::from_secs(5)).await.expect("answers");
        with_pool!(&ledger.inner.db, pool => {
            sqlx::query("ALTER TABLE shares RENAME TO shares_gone")
                .execute(pool)
                .await
                .expect("rename");
        });
        let error = ledger.ping(Duration::from_secs(5)).await.unwrap_err();
        assert!(error.to_string().contains("shares"), "{error}");
        ledger.close().await;
    }
}
