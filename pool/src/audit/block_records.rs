//! A block's recorded credits and `block` moves against what it should
//! hold: one difference per address that disagrees.

use super::blocks::Status;
use super::difference::{sats, Check, Difference};
use super::split::Expected;
use super::AuditReport;
use crate::config::PayoutMode;
use crate::ledger::audit_reads::{AuditBlock, AuditCredit};
use std::collections::{BTreeMap, BTreeSet};

#[allow(clippy::too_many_arguments)]
pub(super) fn compare_credits(
    name: &str,
    block: &AuditBlock,
    status: Status,
    mode: PayoutMode,
    expected: &Expected,
    credits: &[AuditCredit],
    moves: &BTreeMap<String, i64>,
    report: &mut AuditReport,
) {
    let recorded: BTreeMap<&str, i128> = credits
        .iter()
        .map(|credit| (credit.address.as_str(), i128::from(credit.amount_sat)))
        .collect();
    let addresses: BTreeSet<&str> = expected
        .amounts
        .keys()
        .map(String::as_str)
        .chain(recorded.keys().copied())
        .collect();
    let payable = mode == PayoutMode::Pplns && status == Status::Confirmed;
    for address in addresses {
        let wanted = expected.amounts.get(address).copied().unwrap_or(0);
        let held = recorded.get(address).copied().unwrap_or(0);
        if wanted == held {
            continue;
        }
        let moved = moves.get(address).map_or(0, |&amount| i128::from(amount));
        let reached = if payable && held > 0 && moved == held {
            "; the recorded amount reached the balance"
        } else {
            ""
        };
        report.differences.push(Difference::new(
            Check::BlockCredit,
            Some(address),
            wanted,
            held,
            format!(
                "{name} credit: {} gives {} sat, recorded {} sat{reached}",
                expected.how,
                sats(wanted),
                sats(held)
            ),
        ));
    }
    if expected.pool_fee != i128::from(block.pool_fee_sat) {
        report.differences.push(Difference::new(
            Check::PoolFee,
            None,
            expected.pool_fee,
            block.pool_fee_sat,
            format!(
                "{name} pool fee: {} gives {} sat, recorded {} sat",
                expected.how,
                sats(expected.pool_fee),
                sats(block.pool_fee_sat.into())
            ),
        ));
    }
}

/// The block's `block` moves against `payable` (what the balances must
/// have received from it). A move equal to a wrong recorded credit is
/// already the credit's difference, so it is not reported twice.
pub(super) fn compare_moves(
    name: &str,
    block_id: i64,
    payable: &BTreeMap<String, i128>,
    credits: &[AuditCredit],
    moves: &BTreeMap<String, i64>,
    status: Option<Status>,
    report: &mut AuditReport,
) {
    let recorded: BTreeMap<&str, i128> = credits
        .iter()
        .map(|credit| (credit.address.as_str(), i128::from(credit.amount_sat)))
        .collect();
    let addresses: BTreeSet<&str> = payable
        .keys()
        .map(String::as_str)
        .chain(moves.keys().map(String::as_str))
        .collect();
    for address in addresses {
        let wanted = payable.get(address).copied().unwrap_or(0);
        let moved = moves.get(address).map_or(0, |&amount| i128::from(amount));
        let credit = recorded.get(address).copied();
        if moved == wanted || (moved != 0 && credit == Some(moved) && !payable.is_empty()) {
            continue;
        }
        let cause = if credit.is_none() && moved != 0 {
            format!("balance move block/{block_id} has no credit of {name} behind it")
        } else if moved == 0 {
            format!(
                "{name} is confirmed, but its credit of {} sat never reached the balance",
                sats(wanted)
            )
        } else if status != Some(Status::Confirmed) {
            format!(
                "balance move block/{block_id}: {name} is {}, so its credits are not payable",
                status.map_or("of unknown status", |status| match status {
                    Status::Submitted => "not mature yet",
                    Status::Orphaned => "orphaned",
                    Status::Confirmed => "confirmed",
                })
            )
        } else {
            format!(
                "balance move block/{block_id} moved {} sat for a credit of {} sat",
                sats(moved),
                sats(wanted)
            )
        };
        report.differences.push(Difference::new(
            Check::BlockMove,
            Some(address),
            wanted,
            moved,
            cause,
        ));
    }
}
