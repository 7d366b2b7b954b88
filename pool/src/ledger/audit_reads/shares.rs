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
    /// Up to `limit` shares with an id above `after_id`, by id; only those
    /// carrying a credit when `credited_only`.
    pub async fn shares_page(
        &mut self,
        after_id: i64,
        limit: u32,
        credited_only: bool,
    ) -> Result<Vec<AuditShare>, LedgerError> {
        let filter = if credited_only {
            " AND credit_sat <> 0"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {SHARE_COLUMNS} FROM shares WHERE id > $1{filter} ORDER BY id LIMIT $2"
        );
        on_conn!(self, conn => {
            let rows = sqlx::query(&sql)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            rows.iter()
                .map(share_from_row)
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
