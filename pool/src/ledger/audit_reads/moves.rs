//! The balance journal: moves by reference, sums by address and kind, and
//! the moves no record stands behind.

use super::{get, on_conn, query, LedgerSnapshot};
use crate::ledger::queries::Column;
use crate::ledger::LedgerError;
use sqlx::{ColumnIndex, Row};

/// One row of `balance_moves`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditMove {
    pub id: i64,
    pub address: String,
    pub amount_sat: i64,
    pub kind: String,
    pub reference: String,
}

/// The sum of one address's moves of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveSum {
    pub address: String,
    pub kind: String,
    pub total_sat: i64,
    pub moves: i64,
}

/// Which moves [`LedgerSnapshot::moves_page`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveFilter {
    /// Of a kind outside `KNOWN_KINDS`.
    UnknownKind,
    /// `block` moves whose reference is no block's id.
    BlockWithoutBlock,
    /// `payout`, `payout_cancelled` and `payout_reversed` moves whose
    /// reference is no batch's id.
    PayoutWithoutBatch,
    /// Every `duplicate_share` move.
    DuplicateShare,
}

/// The kinds a payout batch writes: its debits, and the give-backs of a
/// cancelled or a reversed batch.
pub const PAYOUT_KINDS: [&str; 3] = ["payout", "payout_cancelled", "payout_reversed"];

/// Every kind of move the pool writes.
pub const KNOWN_KINDS: [&str; 6] = [
    "pps",
    "block",
    "payout",
    "payout_cancelled",
    "payout_reversed",
    "duplicate_share",
];

impl MoveFilter {
    fn condition(self) -> String {
        match self {
            MoveFilter::UnknownKind => format!("kind NOT IN ({})", quoted(&KNOWN_KINDS)),
            MoveFilter::BlockWithoutBlock => {
                "kind = 'block' AND reference NOT IN (SELECT CAST(id AS TEXT) FROM blocks)".into()
            }
            MoveFilter::PayoutWithoutBatch => format!(
                "kind IN ({}) AND reference NOT IN (SELECT id FROM payout_batches)",
                quoted(&PAYOUT_KINDS)
            ),
            MoveFilter::DuplicateShare => "kind = 'duplicate_share'".into(),
        }
    }
}

const MOVE_COLUMNS: &str = "id, address, amount_sat, kind, reference";

const SUMS: &str = "SELECT address, kind, CAST(SUM(amount_sat) AS BIGINT) AS total, \
     COUNT(*) AS moves FROM balance_moves GROUP BY address, kind ORDER BY address, kind";

impl LedgerSnapshot {
    /// Each address's moves summed by kind, by address then kind: one row
    /// per (address, kind), however long the journal.
    pub async fn move_sums(&mut self) -> Result<Vec<MoveSum>, LedgerError> {
        on_conn!(self, conn => {
            let rows = sqlx::query(SUMS)
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            rows.iter()
                .map(|row| {
                    Ok(MoveSum {
                        address: get(row, "address")?,
                        kind: get(row, "kind")?,
                        total_sat: get(row, "total")?,
                        moves: get(row, "moves")?,
                    })
                })
                .collect()
        })
    }

    /// The moves with `reference` of any of `kinds`, by address then kind
    /// (the journal's unique key serves it).
    pub async fn moves_of(
        &mut self,
        kinds: &[&str],
        reference: &str,
    ) -> Result<Vec<AuditMove>, LedgerError> {
        let sql = format!(
            "SELECT {MOVE_COLUMNS} FROM balance_moves WHERE kind IN ({}) AND reference = $1 \
             ORDER BY address, kind",
            quoted(kinds)
        );
        on_conn!(self, conn => {
            let rows = sqlx::query(&sql)
                .bind(reference)
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            rows.iter().map(move_from_row).collect()
        })
    }

    /// One address's moves of `kind`, by id.
    pub async fn moves_of_address(
        &mut self,
        address: &str,
        kind: &str,
    ) -> Result<Vec<AuditMove>, LedgerError> {
        let sql = format!(
            "SELECT {MOVE_COLUMNS} FROM balance_moves WHERE address = $1 AND kind = $2 ORDER BY id"
        );
        on_conn!(self, conn => {
            let rows = sqlx::query(&sql)
                .bind(address)
                .bind(kind)
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            rows.iter().map(move_from_row).collect()
        })
    }

    /// Up to `limit` moves that `filter` picks with an id above
    /// `after_id`, by id.
    pub async fn moves_page(
        &mut self,
        filter: MoveFilter,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditMove>, LedgerError> {
        let sql = format!(
            "SELECT {MOVE_COLUMNS} FROM balance_moves WHERE id > $1 AND {} ORDER BY id LIMIT $2",
            filter.condition()
        );
        on_conn!(self, conn => {
            let rows = sqlx::query(&sql)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            rows.iter().map(move_from_row).collect()
        })
    }
}

/// `'a', 'b'`: the kinds are this crate's constants, never input.
fn quoted(kinds: &[&str]) -> String {
    kinds
        .iter()
        .map(|kind| format!("'{}'", kind.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn move_from_row<R>(row: &R) -> Result<AuditMove, LedgerError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Column<R::Database>,
    String: Column<R::Database>,
{
    Ok(AuditMove {
        id: get(row, "id")?,
        address: get(row, "address")?,
        amount_sat: get(row, "amount_sat")?,
        kind: get(row, "kind")?,
        reference: get(row, "reference")?,
    })
}
