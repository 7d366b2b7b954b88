//! What the scheme says a credited block holds: for PPLNS, its window
//! recomputed, and, when the ledger has `duplicate_shares`, whether the
//! recorded credits are that window with the removed copies still in it.

use super::blocks::window_blocks;
use super::difference::{Check, Difference};
use super::pplns::recompute;
use super::{AuditReport, AuditSettings};
use crate::ledger::audit_reads::{AuditBlock, AuditCredit, LedgerSnapshot};
use crate::ledger::LedgerError;
use payout::{Fee, Score};
use std::collections::{BTreeMap, BTreeSet};

/// What the scheme says a credited block holds.
pub(super) struct Expected {
    pub amounts: BTreeMap<String, i128>,
    pub pool_fee: i128,
    /// How the amounts were found, followed in causes by "gives N sat".
    pub how: String,
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn pplns_expected(
    snapshot: &mut LedgerSnapshot,
    block: &AuditBlock,
    coinbase_value: u64,
    target: Score,
    fee: Fee,
    name: &str,
    credits: &[AuditCredit],
    removed_table: bool,
    settings: &AuditSettings,
    report: &mut AuditReport,
) -> Result<Option<Expected>, LedgerError> {
    report.counts.splits_recomputed += 1;
    let page_rows = settings.page_rows;
    let honest = match recompute(
        snapshot,
        block,
        coinbase_value,
        target,
        fee,
        false,
        page_rows,
    )
    .await?
    {
        Ok(honest) => honest,
        Err(error) => {
            report.differences.push(Difference::new(
                Check::BlockCredit,
                None,
                0,
                0,
                format!("{name}: its window cannot be recomputed: {error}"),
            ));
            return Ok(None);
        }
    };
    let amounts: BTreeMap<String, i128> = honest
        .split
        .credits
        .iter()
        .map(|credit| (credit.address.clone(), i128::from(credit.amount)))
        .collect();
    let recorded: BTreeMap<String, i128> = credits
        .iter()
        .map(|credit| (credit.address.clone(), i128::from(credit.amount_sat)))
        .collect();
    let same = same_amounts(&amounts, &recorded);
    let mut how = format!(
        "its window recomputed over {} shares",
        honest.split.shares_used
    );
    if !same && removed_table {
        if let Ok(seen) = recompute(
            snapshot,
            block,
            coinbase_value,
            target,
            fee,
            true,
            page_rows,
        )
        .await?
        {
            let seen_amounts: BTreeMap<String, i128> = seen
                .split
                .credits
                .iter()
                .map(|credit| (credit.address.clone(), i128::from(credit.amount)))
                .collect();
            if seen.removed_counted > 0 && same_amounts(&seen_amounts, &recorded) {
                how = format!(
                    "it was credited with {} duplicate shares in its window, since removed into \
                     duplicate_shares; the window without them",
                    seen.removed_counted
                );
            } else if seen.removed_counted > 0 {
                how.push_str(&format!(
                    " ({} removed duplicate shares fall in its window)",
                    seen.removed_counted
                ));
            }
        }
    }
    let split = &honest.split;
    report.counts.window_shares += split.shares_used;
    let stored_score = block.window_score.parse::<u128>().ok();
    if same
        && (stored_score != Some(split.window_score.raw())
            || block.window_shares != i64::try_from(split.shares_used).unwrap_or(i64::MAX)
            || block.full_window != split.full_window)
    {
        report.notes.push(format!(
            "{name}: credits agree, but its stored window ({} shares, {} blocks, full: {}) is not \
             the recomputed one ({} shares, {} blocks, full: {})",
            block.window_shares,
            stored_score.map_or("unreadable".to_string(), |raw| window_blocks(
                Score::from_raw(raw)
            )),
            block.full_window,
            split.shares_used,
            window_blocks(split.window_score),
            split.full_window
        ));
    }
    Ok(Some(Expected {
        amounts,
        pool_fee: i128::from(split.pool_fee),
        how,
    }))
}

/// Equal, counting an absent address as 0 sat.
fn same_amounts(left: &BTreeMap<String, i128>, right: &BTreeMap<String, i128>) -> bool {
    let addresses: BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    addresses
        .into_iter()
        .all(|address| left.get(address).unwrap_or(&0) == right.get(address).unwrap_or(&0))
}
