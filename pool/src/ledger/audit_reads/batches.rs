//! Payout batches and their lines.

use super::{get, on_conn, query, LedgerSnapshot};
use crate::ledger::LedgerError;

/// A payout batch with its lines `(address, amount)`, by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBatch {
    pub id: String,
    pub state: String,
    pub total_sat: i64,
    pub lines: Vec<(String, i64)>,
}

const BATCHES_PAGE: &str = "SELECT id, state, total_sat FROM payout_batches \
     WHERE id > $1 ORDER BY id LIMIT $2";

const LINES_OF: &str =
    "SELECT address, amount_sat FROM payouts WHERE batch_id = $1 ORDER BY address";

impl LedgerSnapshot {
    /// Up to `limit` batches with an id above `after_id`, by id, each with
    /// its lines.
    pub async fn batches_page(
        &mut self,
        after_id: &str,
        limit: u32,
    ) -> Result<Vec<AuditBatch>, LedgerError> {
        on_conn!(self, conn => {
            let rows = sqlx::query(BATCHES_PAGE)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            let mut batches = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: String = get(row, "id")?;
                let lines: Vec<(String, i64)> = sqlx::query_as(LINES_OF)
                    .bind(&id)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(query)?;
                batches.push(AuditBatch {
                    state: get(row, "state")?,
                    total_sat: get(row, "total_sat")?,
                    lines,
                    id,
                });
            }
            Ok(batches)
        })
    }
}
