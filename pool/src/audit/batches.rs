//! Payout batches: each line debited once (`payout`, minus its amount),
//! given back once if the batch was cancelled (`payout_cancelled`) or
//! reversed (`payout_reversed`) and never otherwise, the total equal to
//! the lines, and no payout move without its batch.

use super::difference::{sats, Check, Difference};
use super::{AuditReport, AuditSettings};
use crate::ledger::audit_reads::{AuditBatch, LedgerSnapshot, MoveFilter, PAYOUT_KINDS};
use crate::ledger::LedgerError;
use std::collections::{BTreeMap, BTreeSet};

pub(super) async fn check_batches(
    snapshot: &mut LedgerSnapshot,
    settings: &AuditSettings,
    report: &mut AuditReport,
) -> Result<(), LedgerError> {
    let mut after = String::new();
    loop {
        let page = snapshot.batches_page(&after, settings.page_rows).await?;
        for batch in &page {
            after.clone_from(&batch.id);
            report.counts.payout_batches += 1;
            check_batch(snapshot, batch, report).await?;
        }
        if page.len() < settings.page_rows as usize {
            break;
        }
    }
    let mut after = i64::MIN;
    loop {
        let page = snapshot
            .moves_page(MoveFilter::PayoutWithoutBatch, after, settings.page_rows)
            .await?;
        for stray in &page {
            after = stray.id;
            report.differences.push(Difference::new(
                Check::PayoutMove,
                Some(&stray.address),
                0,
                stray.amount_sat,
                format!(
                    "balance move {}/{} names no payout batch",
                    stray.kind, stray.reference
                ),
            ));
        }
        if page.len() < settings.page_rows as usize {
            return Ok(());
        }
    }
}

async fn check_batch(
    snapshot: &mut LedgerSnapshot,
    batch: &AuditBatch,
    report: &mut AuditReport,
) -> Result<(), LedgerError> {
    let id = &batch.id;
    let given_back = match batch.state.as_str() {
        "pending" | "sent" | "confirmed" => None,
        "cancelled" => Some("payout_cancelled"),
        "reversed" => Some("payout_reversed"),
        other => {
            report.differences.push(Difference::new(
                Check::PayoutBatch,
                None,
                0,
                0,
                format!("payout batch {id} has a state the audit does not know: {other:?}"),
            ));
            None
        }
    };
    let lines: BTreeMap<&str, i128> = batch
        .lines
        .iter()
        .map(|(address, amount)| (address.as_str(), i128::from(*amount)))
        .collect();
    let lines_total: i128 = lines.values().sum();
    if lines_total != i128::from(batch.total_sat) {
        report.differences.push(Difference::new(
            Check::PayoutBatch,
            None,
            lines_total,
            batch.total_sat,
            format!(
                "payout batch {id} records a total of {} sat, its lines add up to {} sat",
                sats(batch.total_sat.into()),
                sats(lines_total)
            ),
        ));
    }
    let moves: BTreeMap<(String, String), i128> = snapshot
        .moves_of(&PAYOUT_KINDS, id)
        .await?
        .into_iter()
        .map(|mv| ((mv.address, mv.kind), i128::from(mv.amount_sat)))
        .collect();
    let addresses: BTreeSet<&str> = lines
        .keys()
        .copied()
        .chain(moves.keys().map(|(address, _)| address.as_str()))
        .collect();
    for address in addresses {
        let line = lines.get(address).copied().unwrap_or(0);
        for kind in PAYOUT_KINDS {
            let expected = if kind == "payout" {
                -line
            } else if Some(kind) == given_back {
                line
            } else {
                0
            };
            let recorded = moves
                .get(&(address.to_string(), kind.to_string()))
                .copied()
                .unwrap_or(0);
            if expected == recorded {
                continue;
            }
            let cause = match (kind, line, recorded) {
                ("payout", 0, _) => format!(
                    "balance move payout/{id} debits an address payout batch {id} does not pay"
                ),
                ("payout", _, 0) => format!(
                    "payout batch {id} pays {} sat but no payout move debits the balance",
                    sats(line)
                ),
                (_, _, 0) => format!(
                    "payout batch {id} is {} but its {} sat were not given back ({kind})",
                    batch.state,
                    sats(line)
                ),
                _ if expected == 0 => format!(
                    "balance move {kind}/{id} gives back {} sat, but payout batch {id} is {}",
                    sats(recorded),
                    batch.state
                ),
                _ => format!(
                    "balance move {kind}/{id} moves {} sat for a line of {} sat",
                    sats(recorded),
                    sats(line)
                ),
            };
            report.differences.push(Difference::new(
                Check::PayoutMove,
                Some(address),
                expected,
                recorded,
                cause,
            ));
        }
    }
    Ok(())
}
