//! A PPLNS block's split, computed again from the shares its window
//! covers, with the payout crate's own window and split: the same walk
//! as `payouts::credit` (the block's share first, newest to oldest, a
//! page at a time), reading only one tally per address.

use crate::ledger::accounts::WindowCursor;
use crate::ledger::audit_reads::{AuditBlock, LedgerSnapshot};
use crate::ledger::LedgerError;
use payout::{Fee, PayoutError, PplnsSplit, PplnsWindow, Score, WindowShare};

/// A split computed again, and how many of the shares that counted were
/// copies since removed into `duplicate_shares`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Recomputed {
    pub split: PplnsSplit,
    pub removed_counted: u64,
}

/// Splits `coinbase_value` over the window of `block` with `target` and
/// `fee`; with `removed`, the copies in `duplicate_shares` count too, as
/// they did before migration 5. The outer error is the ledger's, the inner
/// one the scheme's (a share in the window with an impossible difficulty).
pub(super) async fn recompute(
    snapshot: &mut LedgerSnapshot,
    block: &AuditBlock,
    coinbase_value: u64,
    target: Score,
    fee: Fee,
    removed: bool,
    page_rows: u32,
) -> Result<Result<Recomputed, PayoutError>, LedgerError> {
    let mut window = match PplnsWindow::new(target) {
        Ok(window) => window,
        Err(error) => return Ok(Err(error)),
    };
    let mut removed_counted = 0;
    let mut cursor = snapshot
        .window_start(&block.hash, block.time_ms, removed)
        .await?;
    let page_rows = page_rows.max(1);
    loop {
        let page = snapshot.window_page(cursor, page_rows, removed).await?;
        let full_page = page.len() == page_rows as usize;
        for row in page {
            cursor = WindowCursor {
                time_ms: row.time_ms,
                id: row.id - 1,
            };
            removed_counted += u64::from(row.removed);
            let share = WindowShare {
                id: row.id,
                address: row.address,
                difficulty: row.difficulty,
                network_difficulty: row.network_difficulty,
            };
            if let Err(error) = window.push(share) {
                return Ok(Err(error));
            }
            if window.is_full() {
                return Ok(Ok(Recomputed {
                    split: window.split(coinbase_value, fee),
                    removed_counted,
                }));
            }
        }
        if !full_page {
            return Ok(Ok(Recomputed {
                split: window.split(coinbase_value, fee),
                removed_counted,
            }));
        }
    }
}
