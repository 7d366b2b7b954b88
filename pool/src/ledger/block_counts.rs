//! How many found blocks are in each state, for `/metrics`: a count per
//! status, never the rows (each holds a whole block's hex).

use super::db::with_pool;
use super::records::BlockStatus;
use super::{Ledger, LedgerError};

const COUNT_BY_STATUS: &str = "SELECT status, COUNT(*) FROM blocks GROUP BY status";

/// Every status, in lifecycle order.
const STATUSES: [BlockStatus; 3] = [
    BlockStatus::Submitted,
    BlockStatus::Confirmed,
    BlockStatus::Orphaned,
];

impl Ledger {
    /// Blocks per status, every status listed (0 when it has none).
    pub async fn block_counts(&self) -> Result<Vec<(BlockStatus, u64)>, LedgerError> {
        let rows: Vec<(String, i64)> = with_pool!(&self.inner.db, pool => {
            sqlx::query_as(COUNT_BY_STATUS).fetch_all(pool).await
        })
        .map_err(LedgerError::Query)?;
        Ok(STATUSES
            .iter()
            .map(|status| {
                let count = rows
                    .iter()
                    .filter(|(name, _)| name == status.name())
                    .map(|(_, count)| u64::try_from(*count).unwrap_or(0))
                    .sum();
                (*status, count)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PayoutMode;
    use crate::ledger::NewBlock;

    #[tokio::test]
    async fn counts_each_status() {
        let ledger = Ledger::open("sqlite::memory:").await.expect("open");
        let zeros: Vec<(BlockStatus, u64)> = STATUSES.iter().map(|s| (*s, 0)).collect();
        assert_eq!(ledger.block_counts().await.unwrap(), zeros);
        for (index, hash) in ["aa", "bb"].into_iter().enumerate() {
            ledger
                .record_block(NewBlock {
                    node: 0,
                    height: 100 + index as u32,
                    hash: hash.repeat(32),
                    address: "bcrt1q".to_string(),
                    worker: "rig".to_string(),
                    coinbase_value_sat: 5_000_000_000,
                    time_ms: 1,
                    raw_hex: "00".to_string(),
                    answers: "[]".to_string(),
                    accepted: true,
                    mode: PayoutMode::Pplns,
                })
                .await
                .expect("record");
        }
        with_pool!(&ledger.inner.db, pool => {
            sqlx::query("UPDATE blocks SET status = 'orphaned' WHERE height = 101")
                .execute(pool)
                .await
                .expect("orphan one");
        });
        assert_eq!(
            ledger.block_counts().await.unwrap(),
            [
                (BlockStatus::Submitted, 1),
                (BlockStatus::Confirmed, 0),
                (BlockStatus::Orphaned, 1)
            ]
        );
        ledger.close().await;
    }
}
