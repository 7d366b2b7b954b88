//! Shares credited twice by older pools: what migration 5 removes before
//! it makes the header hash unique, for `pool check` to show before the
//! migration runs and for the log when it does.

use super::db::{with_pool, Db};
use super::LedgerError;
use sqlx::Row;
use std::fmt;

/// One miner's copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinerDuplicates {
    pub address: String,
    /// Rows that will be removed (every copy but the first of each hash).
    pub rows: u64,
    /// PPS/FPPS credit those copies carry, settled or not.
    pub credit_sat: u64,
    /// The part of it already moved into the balance: reversed by the
    /// migration with a `duplicate_share` move.
    pub settled_sat: u64,
}

/// Every copy in a ledger, per miner (sorted by address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DuplicateReport {
    pub miners: Vec<MinerDuplicates>,
}

impl DuplicateReport {
    pub fn rows(&self) -> u64 {
        self.miners.iter().map(|miner| miner.rows).sum()
    }

    pub fn credit_sat(&self) -> u64 {
        self.miners.iter().map(|miner| miner.credit_sat).sum()
    }

    pub fn settled_sat(&self) -> u64 {
        self.miners.iter().map(|miner| miner.settled_sat).sum()
    }
}

impl fmt::Display for DuplicateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.miners.is_empty() {
            return f.write_str("no share is recorded twice");
        }
        write!(
            f,
            "{} duplicate share row(s) of {} miner(s) to remove ({} sat of share credit \
             counted twice, {} sat of it already in balances and to be reversed)",
            self.rows(),
            self.miners.len(),
            self.credit_sat(),
            self.settled_sat()
        )?;
        for miner in &self.miners {
            write!(
                f,
                "; {}: {} row(s), {} sat credited, {} sat settled",
                miner.address, miner.rows, miner.credit_sat, miner.settled_sat
            )?;
        }
        Ok(())
    }
}

/// Every row but the first of each header hash, summed per address.
pub(super) const COPIES_PER_MINER: &str = "SELECT s.address AS address, COUNT(*) AS copies, \
     CAST(COALESCE(SUM(s.credit_sat), 0) AS BIGINT) AS credit, \
     CAST(COALESCE(SUM(CASE WHEN s.settled = $1 THEN s.credit_sat ELSE 0 END), 0) AS BIGINT) \
       AS settled \
     FROM shares s \
     JOIN (SELECT hash, MIN(id) AS kept_id FROM shares GROUP BY hash HAVING COUNT(*) > 1) k \
       ON k.hash = s.hash \
     WHERE s.id <> k.kept_id \
     GROUP BY s.address ORDER BY s.address";

/// What migration 5 would remove from `db` now (it must not have run:
/// afterwards there is nothing to find).
pub(super) async fn report(db: &Db) -> Result<DuplicateReport, LedgerError> {
    with_pool!(db, pool => {
        let rows = sqlx::query(COPIES_PER_MINER)
            .bind(true)
            .fetch_all(pool)
            .await
            .map_err(LedgerError::Query)?;
        read(&rows)
    })
}

pub(super) fn read<R>(rows: &[R]) -> Result<DuplicateReport, LedgerError>
where
    R: Row,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    let mut report = DuplicateReport::default();
    for row in rows {
        let address: String = row.try_get("address").map_err(LedgerError::Query)?;
        let copies: i64 = row.try_get("copies").map_err(LedgerError::Query)?;
        let credit: i64 = row.try_get("credit").map_err(LedgerError::Query)?;
        let settled: i64 = row.try_get("settled").map_err(LedgerError::Query)?;
        report.miners.push(MinerDuplicates {
            address,
            rows: super::accounts::sats("shares", 0, "copies", copies)?,
            credit_sat: super::accounts::sats("shares", 0, "credit_sat", credit)?,
            settled_sat: super::accounts::sats("shares", 0, "credit_sat", settled)?,
        });
    }
    Ok(report)
}
