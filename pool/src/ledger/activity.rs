//! What the pages and the API read from the shares: work over a window
//! (hashrate), work per time bucket (charts), per worker, and each round's
//! work (progress and luck). Work is difficulty-weighted: a share of
//! difficulty d stands for d × 2^32 hashes.

use super::db::{only_row, with_pool};
use super::rollup::{self, Span, MINUTE_MS};
use super::{Ledger, LedgerError};
use sqlx::Row;
use std::collections::BTreeMap;

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
    fn add(&mut self, other: &Work) {
        self.shares += other.shares;
        self.difficulty += other.difficulty;
        self.blocks += other.blocks;
    }

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

/// The same, from `share_minutes` rows.
const MINUTE_COLUMNS: &str = "CAST(COALESCE(SUM(shares), 0) AS BIGINT) AS shares, \
     COALESCE(SUM(difficulty), 0.0) AS difficulty, COALESCE(SUM(blocks), 0.0) AS blocks";

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
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)
                .and_then(only_row)
        })
    }

    /// Accepted work in `[from_ms, to_ms)`, of one address or of everyone:
    /// whole minutes from `share_minutes` or `pool_minutes`, the edges from
    /// `shares`.
    pub async fn work(
        &self,
        from_ms: i64,
        to_ms: i64,
        address: Option<&str>,
    ) -> Result<Work, LedgerError> {
        let span = rollup::split(from_ms, to_ms);
        let filter = if address.is_some() {
            "AND address = $5"
        } else {
            ""
        };
        let raw = format!(
            "SELECT {WORK_COLUMNS} FROM shares WHERE ((time_ms >= $1 AND time_ms < $2) \
             OR (time_ms >= $3 AND time_ms < $4)) {filter}"
        );
        let [(a, b), (c, d)] = span.edges;
        let mut work = with_pool!(&self.inner.db, pool => {
            let mut query = sqlx::query(&raw).bind(a).bind(b).bind(c).bind(d);
            if let Some(address) = address {
                query = query.bind(address);
            }
            let rows = query.fetch_all(pool).await.map_err(LedgerError::Query)?;
            work_from_row(&only_row(rows)?)
        })?;
        if let Some((first, last)) = span.minutes {
            let sql = match address {
                Some(_) => format!(
                    "SELECT {MINUTE_COLUMNS} FROM share_minutes \
                     WHERE minute >= $1 AND minute < $2 AND address = $3"
                ),
                None => format!(
                    "SELECT {MINUTE_COLUMNS} FROM pool_minutes WHERE minute >= $1 AND minute < $2"
                ),
            };
            let minutes = with_pool!(&self.inner.db, pool => {
                let mut query = sqlx::query(&sql).bind(first).bind(last);
                if let Some(address) = address {
                    query = query.bind(address);
                }
                let rows = query.fetch_all(pool).await.map_err(LedgerError::Query)?;
                work_from_row(&only_row(rows)?)
            })?;
            work.add(&minutes);
        }
        Ok(work)
    }

    /// Accepted work per bucket of `bucket_ms` from `from_ms` on, oldest
    /// first: `(bucket start, work)`, only buckets with shares. Buckets of
    /// whole minutes are read from the per-minute sums (and the partial
    /// first minute from `shares`).
    pub async fn work_by_bucket(
        &self,
        from_ms: i64,
        bucket_ms: i64,
        address: Option<&str>,
    ) -> Result<Vec<(i64, Work)>, LedgerError> {
        let bucket_ms = bucket_ms.max(1);
        let filter = if address.is_some() {
            "AND address = $4"
        } else {
            ""
        };
        let (raw_to, minutes_from) = match rollup::split(from_ms, i64::MAX) {
            Span {
                minutes: Some((first, _)),
                edges: [(_, raw_to), _],
            } if bucket_ms % MINUTE_MS == 0 => (raw_to, Some(first)),
            _ => (i64::MAX, None),
        };
        let raw = format!(
            "SELECT time_ms / $3 AS bucket, {WORK_COLUMNS} FROM shares \
             WHERE time_ms >= $1 AND time_ms < $2 {filter} GROUP BY time_ms / $3"
        );
        // Whole-minute buckets: minute / (bucket_ms / MINUTE_MS) is the
        // same bucket as time_ms / bucket_ms.
        let mut parts = vec![(raw, from_ms, raw_to, bucket_ms)];
        if let Some(first) = minutes_from {
            let table = if address.is_some() {
                "share_minutes"
            } else {
                "pool_minutes"
            };
            parts.push((
                format!(
                    "SELECT minute / $3 AS bucket, {MINUTE_COLUMNS} FROM {table} \
                     WHERE minute >= $1 AND minute < $2 {filter} GROUP BY minute / $3"
                ),
                first,
                i64::MAX,
                bucket_ms / MINUTE_MS,
            ));
        }
        let mut buckets: BTreeMap<i64, Work> = BTreeMap::new();
        for (sql, lower, upper, divisor) in &parts {
            with_pool!(&self.inner.db, pool => {
                let mut query = sqlx::query(sql).bind(lower).bind(upper).bind(divisor);
                if let Some(address) = address {
                    query = query.bind(address);
                }
                let rows = query.fetch_all(pool).await.map_err(LedgerError::Query)?;
                for row in &rows {
                    let bucket: i64 = row.try_get("bucket").map_err(LedgerError::Query)?;
                    buckets.entry(bucket).or_default().add(&work_from_row(row)?);
                }
                Ok::<(), LedgerError>(())
            })?;
        }
        Ok(buckets
            .into_iter()
            .map(|(bucket, work)| (bucket * bucket_ms, work))
            .collect())
    }

    /// One address's work per worker since `from_ms`, by worker name.
    pub async fn work_by_worker(
        &self,
        address: &str,
        from_ms: i64,
    ) -> Result<Vec<WorkerWork>, LedgerError> {
        let span = rollup::split(from_ms, i64::MAX);
        let raw_to = match span.minutes {
            Some(_) => span.edges[0].1,
            None => i64::MAX,
        };
        let raw = format!(
            "SELECT worker, MAX(time_ms) AS last_share_ms, {WORK_COLUMNS} FROM shares \
             WHERE address = $1 AND time_ms >= $2 AND time_ms < $3 GROUP BY worker"
        );
        let mut parts = vec![(raw, from_ms, raw_to)];
        if let Some((first, _)) = span.minutes {
            parts.push((
                format!(
                    "SELECT worker, MAX(last_ms) AS last_share_ms, {MINUTE_COLUMNS} \
                     FROM share_minutes WHERE address = $1 AND minute >= $2 AND minute < $3 \
                     GROUP BY worker"
                ),
                first,
                i64::MAX,
            ));
        }
        let mut workers: BTreeMap<String, WorkerWork> = BTreeMap::new();
        for (sql, lower, upper) in &parts {
            with_pool!(&self.inner.db, pool => {
                let rows = sqlx::query(sql)
                    .bind(address)
                    .bind(lower)
                    .bind(upper)
                    .fetch_all(pool)
                    .await
                    .map_err(LedgerError::Query)?;
                for row in &rows {
                    let worker: String = row.try_get("worker").map_err(LedgerError::Query)?;
                    let last_share_ms: i64 =
                        row.try_get("last_share_ms").map_err(LedgerError::Query)?;
                    let entry = workers.entry(worker.clone()).or_insert(WorkerWork {
                        worker,
                        work: Work::default(),
                        last_share_ms,
                    });
                    entry.work.add(&work_from_row(row)?);
                    entry.last_share_ms = entry.last_share_ms.max(last_share_ms);
                }
                Ok::<(), LedgerError>(())
            })?;
        }
        Ok(workers.into_values().collect())
    }
}
