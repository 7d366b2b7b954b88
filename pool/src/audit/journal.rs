//! The balance journal as a whole: `pps` moves against the settled share
//! credits, every balance (the sum of its moves) at zero or above, and
//! every move of a kind the pool does not write.

use super::difference::{sats, Check, Difference};
use super::{AuditReport, AuditSettings};
use crate::ledger::audit_reads::{LedgerSnapshot, MoveFilter};
use crate::ledger::LedgerError;
use std::collections::{BTreeMap, BTreeSet};

/// `settled` are the share credits settled by address (removed copies
/// included), which the `pps` moves must add up to exactly.
pub(super) async fn check_journal(
    snapshot: &mut LedgerSnapshot,
    settings: &AuditSettings,
    settled: &BTreeMap<String, i128>,
    report: &mut AuditReport,
) -> Result<(), LedgerError> {
    let mut pps: BTreeMap<String, i128> = BTreeMap::new();
    let mut balances: BTreeMap<String, i128> = BTreeMap::new();
    for sum in snapshot.move_sums().await? {
        report.counts.balance_moves += u64::try_from(sum.moves).unwrap_or(0);
        *balances.entry(sum.address.clone()).or_default() += i128::from(sum.total_sat);
        if sum.kind == "pps" {
            *pps.entry(sum.address).or_default() += i128::from(sum.total_sat);
        }
    }
    // Settlements are not tied to the shares they settled, so the check is
    // per address: the moves must add up to the credits marked settled.
    let addresses: BTreeSet<&String> = settled.keys().chain(pps.keys()).collect();
    for address in addresses {
        let owed = settled.get(address).copied().unwrap_or(0);
        let moved = pps.get(address).copied().unwrap_or(0);
        if owed == moved {
            continue;
        }
        let cause = if moved > owed {
            let excess = moved - owed;
            let culprits: Vec<String> = snapshot
                .moves_of_address(address, "pps")
                .await?
                .into_iter()
                .filter(|mv| i128::from(mv.amount_sat) == excess)
                .map(|mv| format!("pps/{}", mv.reference))
                .collect();
            match culprits.as_slice() {
                [] => format!(
                    "pps moves add up to {} sat, the settled share credits to {} sat",
                    sats(moved),
                    sats(owed)
                ),
                [one] => format!(
                    "balance move {one} ({} sat) has no settled shares behind it",
                    sats(excess)
                ),
                several => format!(
                    "one of the balance moves {} ({} sat each) has no settled shares behind it",
                    several.join(", "),
                    sats(excess)
                ),
            }
        } else {
            format!(
                "{} sat of settled share credits never reached the balance (pps moves add up to {} sat)",
                sats(owed - moved),
                sats(moved)
            )
        };
        report.differences.push(Difference::new(
            Check::PpsMove,
            Some(address),
            owed,
            moved,
            cause,
        ));
    }
    report.counts.addresses = balances.len() as u64;
    for (address, balance) in &balances {
        report.counts.owed_sat += balance;
        if *balance < 0 {
            report.differences.push(Difference::new(
                Check::Balance,
                Some(address),
                0,
                *balance,
                format!("the balance is negative: {} sat", sats(*balance)),
            ));
        }
    }
    let mut after = i64::MIN;
    loop {
        let page = snapshot
            .moves_page(MoveFilter::UnknownKind, after, settings.page_rows)
            .await?;
        for mv in &page {
            after = mv.id;
            report.differences.push(Difference::new(
                Check::UnknownMove,
                Some(&mv.address),
                0,
                mv.amount_sat,
                format!(
                    "balance move {}/{} is of a kind the audit does not know",
                    mv.kind, mv.reference
                ),
            ));
        }
        if page.len() < settings.page_rows as usize {
            return Ok(());
        }
    }
}
