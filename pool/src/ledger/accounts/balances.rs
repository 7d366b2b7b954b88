//! Balances: the sum of each address's moves in the journal.

use super::super::db::{only_row, with_pool};
use super::super::{Ledger, LedgerError};
use sqlx::Row;

/// What the pool owes one address now (matured credits minus payouts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub address: String,
    pub balance_sat: i64,
}

const BALANCES: &str =
    "SELECT address, CAST(SUM(amount_sat) AS BIGINT) AS balance FROM balance_moves \
     GROUP BY address ORDER BY address";

const BALANCE_OF: &str =
    "SELECT CAST(COALESCE(SUM(amount_sat), 0) AS BIGINT) FROM balance_moves WHERE address = $1";

impl Ledger {
    /// Every address with moves, sorted by address (zero balances too).
    pub async fn balances(&self) -> Result<Vec<Balance>, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            let rows = sqlx::query(BALANCES)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)?;
            rows.iter()
                .map(|row| {
                    Ok(Balance {
                        address: row.try_get("address").map_err(LedgerError::Query)?,
                        balance_sat: row.try_get("balance").map_err(LedgerError::Query)?,
                    })
                })
                .collect()
        })
    }

    /// One address's balance (0 when it has none).
    pub async fn balance(&self, address: &str) -> Result<i64, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            sqlx::query_scalar(BALANCE_OF)
                .bind(address)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)
                .and_then(only_row)
        })
    }
}
