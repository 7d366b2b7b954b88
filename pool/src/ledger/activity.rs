//! What the pages and the API read from the shares: work over a window
//! (hashrate), work per time bucket (charts), per worker, and each round's
//! work (progress and luck). Work is difficulty-weighted: a share of
//! difficulty d stands for d × 2^32 hashes.

use super::db::with_pool;
use super::{Ledger, LedgerError};
use sqlx::Row;

/// Accepted shares over some span.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Work {
    pub shares: u64,
    /// Sum of the credited difficulties.
    pub difficulty: f64,
    /// Sum of difficulty / network difficulty: blocks' worth of work.
    pub blocks: f64,
}

impl Work {
    /// Hashes per second this work stands for over `seconds`.
    pub fn hashrate(&self, seconds: f64) -> f64 {
        if seconds > 0.0 {
            self.difficulty * 4_294_967_296.0 / seconds
        } else {
            0.0
        }
    }
}

/// One worker's accepted work since some time.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerWork {
    pub worker: String,
    pub work: Work,
    pub last_share_ms: i64,
}

const WORK_COLUMNS: &str = "COUNT(*) AS shares, COALESCE(SUM(difficulty), 0.0) AS difficulty, \
     COALESCE(SUM(difficulty / network_difficulty), 0.0) AS blocks";

fn work_from_row<R: Row>(row: &R) -> Result<Work, LedgerError>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let shares: i64 = row.try_get("shares").map_err(LedgerError::Query)?;
    Ok(Work {
        shares: shares.max(0) as u64,
        difficulty: row.try_get("difficulty").map_err(LedgerError::Query)?,
        blocks: row.try_get("blocks").map_err(LedgerError::Query)?,
    })
}

impl Ledger {
    /// When the first share was accepted (unix ms), from any node.
    pub async fn first_share_ms(&self) -> Result<Option<i64>, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            sqlx::query_scalar("SELECT MIN(time_ms) FROM shares")
                .fetch_one(pool)
                .await
                .map_err(LedgerError::Query)
        })
    }

    /// Accepted work in `[from_ms, to_ms)`, of one address or of everyone.
    pub async fn work(
        &self,
        from_ms: i64,
        to_ms: i64,
        address: Option<&str>,
    ) -> Result<Work, LedgerError> {
        let sql = match address {
            Some(_) => format!(
                "SELECT {WORK_COLUMNS} FROM shares WHERE time_ms >= $1 AND time_ms < $2 AND address = $3"
            ),
            None => format!("SELECT {WORK_COLUMNS} FROM shares WHERE time_ms >= $1 AND time_ms < $2"),
        };
        with_pool!(&self.inner.db, pool => {
            let mut query = sqlx::query(&sql).bind(from_ms).bind(to_ms);
            if let Some(address) = address {
                query = query.bind(address);
            }
            let row = query.fetch_one(pool).await.map_err(LedgerError::Query)?;
            work_from_row(&row)
        })
    }

    /// Accepted work per bucket of `bucket_ms` from `from_ms` on, oldest
    /// first: `(bucket start, work)`, only buckets with shares.
    pub async fn work_by_bucket(
        &self,
        from_ms: i64,
        bucket_ms: i64,
        address: Option<&str>,
    ) -> Result<Vec<(i64, Work)>, LedgerError> {
        let bucket_ms = bucket_ms.max(1);
        let filter = if address.is_some() {
            "AND address = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT time_ms / $2 AS bucket, {WORK_COLUMNS} FROM shares \
             WHERE time_ms >= $1 {filter} GROUP BY time_ms / $2 ORDER BY bucket"
        );
        with_pool!(&self.inner.db, pool => {
            let mut query = sqlx::query(&sql).bind(from_ms).bind(bucket_ms);
            if let Some(address) = address {
                query = query.bind(address);
            }
            let rows = query.fetch_all(pool).await.map_err(LedgerError::Query)?;
            rows.iter()
                .map(|row| {
                    let bucket: i64 = row.try_get("bucket").map_err(LedgerError::Query)?;
                    Ok((bucket * bucket_ms, work_from_row(row)?))
                })
                .collect()
        })
    }

    /// One address's work per worker since `from_ms`, by worker name.
    pub async fn work_by_worker(
        &self,
        address: &str,
        from_ms: i64,
    ) -> Result<Vec<WorkerWork>, LedgerError> {
        let sql = format!(
            "SELECT worker, MAX(time_ms) AS last_share_ms, {WORK_COLUMNS} FROM shares \
             WHERE address = $1 AND time_ms >= $2 GROUP BY worker ORDER BY worker"
        );
        with_pool!(&self.inner.db, pool => {
            let rows = sqlx::query(&sql)
                .bind(address)
                .bind(from_ms)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)?;
            rows.iter()
                .map(|row| {
                    Ok(WorkerWork {
                        worker: row.try_get("worker").map_err(LedgerError::Query)?,
                        last_share_ms: row.try_get("last_share_ms").map_err(LedgerError::Query)?,
                        work: work_from_row(row)?,
                    })
                })
                .collect()
        })
    }
}
