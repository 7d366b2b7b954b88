//! The money side of the ledger: PPS credits settled into balances, block
//! credits and their lifecycle, the balance journal, payout batches and
//! the operator's PPS position.
//!
//! A balance is never a column that is overwritten: it is the sum of its
//! rows in `balance_moves`, and each move has a unique `(kind, reference,
//! address)`, so repeating any step (a crashed run, two nodes crediting
//! the same block) cannot add money twice. Every step is one transaction.

mod balances;
mod batches;
mod blocks;
mod lock;
mod position;
mod settle;

pub use balances::Balance;
pub use batches::{BatchState, Payment, PayoutBatch, PayoutLine};
pub use blocks::{BlockCredit, CreditState, NewBlockCredits, WindowCursor, WindowRow};
pub use lock::PayoutLock;
pub use position::{DayPosition, OperatorPosition};
pub use settle::Settlement;

use super::LedgerError;
pub(super) use crate::clock::unix_millis;

/// Money read back from an i64 column, which must not be negative.
pub(super) fn sats(
    table: &'static str,
    id: i64,
    column: &'static str,
    value: i64,
) -> Result<u64, LedgerError> {
    u64::try_from(value).map_err(|_| LedgerError::Corrupt {
        table,
        id,
        column,
        value: value.to_string(),
    })
}

/// Money written to an i64 column.
pub(super) fn to_column(
    record: &'static str,
    field: &'static str,
    amount: u64,
) -> Result<i64, LedgerError> {
    i64::try_from(amount).map_err(|_| LedgerError::Invalid {
        record,
        field,
        reason: "does not fit in a signed 64-bit column",
    })
}
