//! Shares with their PPS/FPPS credits, repeated header hashes, and the
//! copies migration 5 removed into `duplicate_shares`.

use super::{get, on_conn, query, LedgerSnapshot};
use crate::ledger::queries::Column;
use crate::ledger::LedgerError;
use sqlx::{ColumnIndex, Row};

/// A share as the audit checks its credit.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditShare {
    pub id: i64,
    pub address: String,
    pub difficulty: f64,
    pub network_difficulty: f64,
    pub time_ms: i64,
    pub credit_sat: i64,
    pub settled: bool,
    /// The header hash (internal byte order).
    pub hash: Vec<u8>,
}

/// A row of `duplicate_shares`: a share removed because an older row
/// (`kept_id`) has the same header hash.
#[derive(Debug, Clone, PartialEq)]
pub struct RemovedShare {
    pub share: AuditShare,
    pub kept_id: i64,
}

/// What decides a share's credit, besides its time.
const GROUP_KEY: &str = "address, difficulty, network_difficulty, credit_sat, settled";

/// Shares alike for crediting: one address, difficulty, network
/// difficulty, credit and settlement, within one span of time.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareGroup {
    pub address: String,
    pub difficulty: f64,
    pub network_difficulty: f64,
    pub credit_sat: i64,
    pub settled: bool,
    pub shares: i64,
    /// The oldest share of the group.
    pub first_id: i64,
}

/// A span of share times (`time_ms`), as blocks' times cut them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpan {
    All,
    Before(i64),
    At(i64),
    /// Strictly between the two.
    Between(i64, i64),
    After(i64),
}

impl TimeSpan {
    /// The SQL condition, binding the times as `$1`, `$2`.
    fn condition(self) -> (&'static str, Vec<i64>) {
        match self {
            TimeSpan::All => ("1 = 1", Vec::new()),
            TimeSpan::Before(time) => ("time_ms < $1", vec![time]),
            TimeSpan::At(time) => ("time_ms = $1", vec![time]),
            TimeSpan::Between(low, high) => ("time_ms > $1 AND time_ms < $2", vec![low, high]),
            TimeSpan::After(time) => ("time_ms > $1", vec![time]),
        }
    }
}

const SHARE_COLUMNS: &str =
    "id, address, difficulty, network_difficulty, time_ms, credit_sat, settled, hash";

/// Rows whose header hash another row has too, by hash then id; the next
/// page starts after `(hash, id)`. Without an index on the hash each page
/// is a scan, so pages are large and repeats rare.
const REPEATED_PAGE: &str = "SELECT id, address, difficulty, network_difficulty, time_ms, \
     credit_sat, settled, hash FROM shares \
     WHERE hash IN (SELECT hash FROM shares GROUP BY hash HAVING COUNT(*) > 1) \
     AND (hash > $1 OR (hash = $1 AND id > $2)) ORDER BY hash, id LIMIT $3";

impl LedgerSnapshot {
    /// Up to `limit` groups of alike shares in `span` (only those carrying
    /// a credit when `credited_only`), in key order, after the group
    /// `after`: every share's credit depends only on what a group shares,
    /// so the audit checks one per group instead of one per row.
    pub async fn share_groups_page(
        &mut self,
        span: TimeSpan,
        after: Option<&ShareGroup>,
        limit: u32,
        credited_only: bool,
    ) -> Result<Vec<ShareGroup>, LedgerError> {
        let (condition, times) = span.condition();
        let mut sql = format!(
            "SELECT {GROUP_KEY}, COUNT(*) AS shares, MIN(id) AS first_id FROM shares WHERE {condition}"
        );
        if credited_only {
            sql.push_str(" AND credit_sat <> 0");
        }
        let mut next = times.len() + 1;
        if after.is_some() {
            sql.push_str(&format!(
                " AND ({GROUP_KEY}) > (${}, ${}, ${}, ${}, ${})",
                next,
                next + 1,
                next + 2,
                next + 3,
                next + 4
            ));
            next += 5;
        }
        sql.push_str(&format!(
            " GROUP BY {GROUP_KEY} ORDER BY {GROUP_KEY} LIMIT ${next}"
        ));
        on_conn!(self, conn => {
            let mut statement = sqlx::query(&sql);
            for time in &times {
                statement = statement.bind(*time);
            }
            if let Some(after) = after {
                statement = statement
                    .bind(&after.address)
                    .bind(after.difficulty)
                    .bind(after.network_difficulty)
                    .bind(after.credit_sat)
                    .bind(after.settled);
            }
            let rows = statement
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            rows.iter()
                .map(|row| {
                    Ok(ShareGroup {
                        address: get(row, "address")?,
                        difficulty: get(row, "difficulty")?,
                        network_difficulty: get(row, "network_difficulty")?,
                        credit_sat: get(row, "credit_sat")?,
                        settled: get(row, "settled")?,
                        shares: get(row, "shares")?,
                        first_id: get(row, "first_id")?,
                    })
                })
                .collect()
        })
    }

    /// Up to `limit` shares whose header hash is in `shares` more than
    /// once, after `(hash, id)` in (hash, id) order.
    pub async fn repeated_shares_page(
        &mut self,
        after: (&[u8], i64),
        limit: u32,
    ) -> Result<Vec<AuditShare>, LedgerError> {
        on_conn!(self, conn => {
            let rows = sqlx::query(REPEATED_PAGE)
                .bind(after.0)
                .bind(after.1)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            rows.iter()
                .map(share_from_row)
                .collect()
        })
    }

    /// Up to `limit` rows of `duplicate_shares` with an id above
    /// `after_id`, by id. Only call it when the table exists.
    pub async fn removed_shares_page(
        &mut self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<RemovedShare>, LedgerError> {
        let sql = format!(
            "SELECT {SHARE_COLUMNS}, kept_id FROM duplicate_shares WHERE id > $1 ORDER BY id LIMIT $2"
        );
        on_conn!(self, conn => {
            let rows = sqlx::query(&sql)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            rows.iter()
                .map(|row| {
                    Ok(RemovedShare {
                        share: share_from_row(row)?,
                        kept_id: get(row, "kept_id")?,
                    })
                })
                .collect()
        })
    }
}

fn share_from_row<R>(row: &R) -> Result<AuditShare, LedgerError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Column<R::Database>,
    f64: Column<R::Database>,
    bool: Column<R::Database>,
    String: Column<R::Database>,
    Vec<u8>: Column<R::Database>,
{
    Ok(AuditShare {
        id: get(row, "id")?,
        address: get(row, "address")?,
        difficulty: get(row, "difficulty")?,
        network_difficulty: get(row, "network_difficulty")?,
        time_ms: get(row, "time_ms")?,
        credit_sat: get(row, "credit_sat")?,
        settled: get(row, "settled")?,
        hash: get(row, "hash")?,
    })
}
