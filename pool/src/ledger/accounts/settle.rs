//! PPS and FPPS: every share carries its credit from the moment it is
//! accepted; a payout run moves the unsettled ones into the balance
//! journal, one move per miner per settlement.

use super::super::db::{only_row, with_pool};
use super::super::{Ledger, LedgerError};
use super::unix_millis;
use sqlx::Row;
use std::collections::BTreeMap;

/// What one settlement moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    pub shares: u64,
    pub total_sat: u64,
    /// Sats per address, sorted by address.
    pub per_address: BTreeMap<String, u64>,
}

/// Marks the shares settled and returns exactly the rows it marked, so a
/// share committed concurrently by another node is either in this
/// settlement or left for the next, never lost or counted twice.
const TAKE_UNSETTLED: &str = "UPDATE shares SET settled = $1 \
     WHERE credit_sat > 0 AND settled = $2 RETURNING address, credit_sat";

const UNSETTLED_TOTALS: &str =
    "SELECT address, CAST(SUM(credit_sat) AS BIGINT) AS total, COUNT(*) AS shares \
     FROM shares WHERE credit_sat > 0 AND settled = $1 GROUP BY address";

const INSERT_MOVE: &str = "INSERT INTO balance_moves \
     (address, amount_sat, kind, reference, time_ms) VALUES ($1, $2, $3, $4, $5)";

impl Ledger {
    /// Moves every unsettled PPS/FPPS share credit into the balance journal
    /// under `reference` (unique per run), in one transaction.
    pub async fn settle_share_credits(&self, reference: &str) -> Result<Settlement, LedgerError> {
        let db = &self.inner.db;
        let begin = db.backend().begin_write();
        let now = unix_millis();
        with_pool!(db, pool => {
            let mut tx = pool.begin_with(begin).await.map_err(LedgerError::Query)?;
            let rows = sqlx::query(TAKE_UNSETTLED)
                .bind(true)
                .bind(false)
                .fetch_all(&mut *tx)
                .await
                .map_err(LedgerError::Query)?;
            let mut settlement = Settlement::default();
            for row in &rows {
                let address: String = row.try_get("address").map_err(LedgerError::Query)?;
                let credit: i64 = row.try_get("credit_sat").map_err(LedgerError::Query)?;
                let credit = super::sats("shares", 0, "credit_sat", credit)?;
                settlement.shares += 1;
                settlement.total_sat += credit;
                *settlement.per_address.entry(address).or_default() += credit;
            }
            for (address, amount) in &settlement.per_address {
                sqlx::query(INSERT_MOVE)
                    .bind(address)
                    .bind(super::to_column("balance move", "amount_sat", *amount)?)
                    .bind("pps")
                    .bind(reference)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(LedgerError::Query)?;
            }
            tx.commit().await.map_err(LedgerError::Query)?;
            Ok(settlement)
        })
    }

    /// One address's PPS/FPPS credits not yet settled.
    pub async fn unsettled_credit_of(&self, address: &str) -> Result<u64, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            let total: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(credit_sat), 0) AS BIGINT) FROM shares \
                 WHERE address = $1 AND credit_sat > 0 AND settled = $2",
            )
            .bind(address)
            .bind(false)
            .fetch_all(pool)
            .await
            .map_err(LedgerError::Query)
            .and_then(only_row)?;
            super::sats("shares", 0, "credit_sat", total)
        })
    }

    /// What [`Ledger::settle_share_credits`] would move now, without moving it.
    pub async fn unsettled_share_credits(&self) -> Result<Settlement, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            let rows = sqlx::query(UNSETTLED_TOTALS)
                .bind(false)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)?;
            let mut settlement = Settlement::default();
            for row in &rows {
                let address: String = row.try_get("address").map_err(LedgerError::Query)?;
                let total: i64 = row.try_get("total").map_err(LedgerError::Query)?;
                let shares: i64 = row.try_get("shares").map_err(LedgerError::Query)?;
                let total = super::sats("shares", 0, "credit_sat", total)?;
                settlement.shares += shares.max(0) as u64;
                settlement.total_sat += total;
                settlement.per_address.insert(address, total);
            }
            Ok(settlement)
        })
    }
}
