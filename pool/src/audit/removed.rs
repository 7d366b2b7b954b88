//! Shares migration 5 removed as duplicates (`duplicate_shares`) and the
//! `duplicate_share` moves that take back what the settled ones earned:
//! each settled copy with a credit has exactly one move of minus that
//! credit, referenced `share:<its id>`, and no such move stands alone.
//! Works on ledgers without the table (before migration 5): then every
//! `duplicate_share` move is a difference.

use super::difference::{sats, Check, Difference};
use super::{AuditReport, AuditSettings};
use crate::ledger::audit_reads::{AuditMove, LedgerSnapshot, MoveFilter};
use crate::ledger::LedgerError;
use std::collections::BTreeMap;

/// Checks the removed copies and their moves; returns the credits of the
/// settled copies by address (the `pps` moves paid them once, so they
/// stay in what those moves must add up to).
pub(super) async fn check_removed_shares(
    snapshot: &mut LedgerSnapshot,
    settings: &AuditSettings,
    removed_table: bool,
    report: &mut AuditReport,
) -> Result<BTreeMap<String, i128>, LedgerError> {
    // One move per removed settled copy: as many as the copies, which
    // are few next to the shares.
    let mut moves: BTreeMap<(String, String), AuditMove> = BTreeMap::new();
    let mut after = i64::MIN;
    loop {
        let page = snapshot
            .moves_page(MoveFilter::DuplicateShare, after, settings.page_rows)
            .await?;
        for mv in &page {
            after = mv.id;
        }
        let full = page.len() == settings.page_rows as usize;
        for mv in page {
            moves.insert((mv.reference.clone(), mv.address.clone()), mv);
        }
        if !full {
            break;
        }
    }
    let mut settled: BTreeMap<String, i128> = BTreeMap::new();
    if removed_table {
        let mut after = i64::MIN;
        loop {
            let page = snapshot
                .removed_shares_page(after, settings.page_rows)
                .await?;
            for removed in &page {
                let share = &removed.share;
                after = share.id;
                report.counts.removed_shares += 1;
                if !(share.settled && share.credit_sat > 0) {
                    continue;
                }
                let credit = i128::from(share.credit_sat);
                *settled.entry(share.address.clone()).or_default() += credit;
                let reference = format!("share:{}", share.id);
                let taken_back = moves
                    .remove(&(reference.clone(), share.address.clone()))
                    .map_or(0, |mv| i128::from(mv.amount_sat));
                if taken_back == -credit {
                    continue;
                }
                let cause = if taken_back == 0 {
                    format!(
                        "removed duplicate share {} (a copy of share {}) was settled with {} sat, \
                         and no duplicate_share/{reference} move takes it back",
                        share.id,
                        removed.kept_id,
                        sats(credit)
                    )
                } else {
                    format!(
                        "balance move duplicate_share/{reference} takes back {} sat of removed share \
                         {}'s settled {} sat",
                        sats(-taken_back),
                        share.id,
                        sats(credit)
                    )
                };
                report.differences.push(Difference::new(
                    Check::DuplicateShareMove,
                    Some(&share.address),
                    -credit,
                    taken_back,
                    cause,
                ));
            }
            if page.len() < settings.page_rows as usize {
                break;
            }
        }
    }
    for ((reference, address), mv) in moves {
        report.differences.push(Difference::new(
            Check::DuplicateShareMove,
            Some(&address),
            0,
            mv.amount_sat,
            format!(
                "balance move duplicate_share/{reference} has no settled removed share behind it{}",
                if removed_table {
                    ""
                } else {
                    " (this ledger has no duplicate_shares table)"
                }
            ),
        ));
    }
    Ok(settled)
}
