//! Shares: every PPS/FPPS credit against the scheme, the settled credits
//! the `pps` moves must add up to, and header hashes recorded twice.

use super::difference::{sats, Check, Difference};
use super::subsidy::HeightBounds;
use super::{AuditReport, AuditSettings};
use crate::config::PayoutMode;
use crate::ledger::audit_reads::{AuditShare, LedgerSnapshot};
use crate::ledger::LedgerError;
use payout::Fee;
use std::collections::BTreeMap;

/// The share credits the journal must account for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SettledCredits {
    /// Settled credits by address: what the `pps` moves must add up to.
    pub by_address: BTreeMap<String, i128>,
}

/// One address's shares credited off the scheme, summed.
#[derive(Debug, Clone, Default)]
struct OffRate {
    shares: u64,
    expected: i128,
    recorded: i128,
    first: String,
}

/// How one share's credit compares with the scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    Agrees,
    /// `expected` sat, and how it was found.
    Off {
        expected: i128,
        how: String,
    },
}

/// Judges `share`'s credit under `mode` and `fee`, with `subsidies` the
/// block subsidies it may have been paid on, likeliest first.
pub(super) fn judge(mode: PayoutMode, fee: Fee, share: &AuditShare, subsidies: &[u64]) -> Verdict {
    let recorded = i128::from(share.credit_sat);
    // The pool credits 0 where the arithmetic refuses (see CreditSettings).
    let pps = |subsidy: u64| {
        i128::from(
            payout::pps_credit(subsidy, share.difficulty, share.network_difficulty, fee)
                .unwrap_or(0),
        )
    };
    let rate = || {
        format!(
            "difficulty {} at network difficulty {}, {fee} fee",
            share.difficulty, share.network_difficulty
        )
    };
    match mode {
        PayoutMode::Pps => {
            if subsidies.iter().any(|&subsidy| pps(subsidy) == recorded) {
                return Verdict::Agrees;
            }
            let subsidy = subsidies
                .first()
                .copied()
                .unwrap_or(payout::INITIAL_SUBSIDY);
            Verdict::Off {
                expected: pps(subsidy),
                how: format!("PPS on a {} sat subsidy, {}", sats(subsidy.into()), rate()),
            }
        }
        PayoutMode::Fpps => {
            // The fee average is not in the ledger: only the floor (the
            // subsidy alone, the smallest it may have been) is certain.
            let subsidy = subsidies.iter().copied().min().unwrap_or(0);
            let floor = pps(subsidy);
            let refused =
                payout::pps_credit(subsidy, share.difficulty, share.network_difficulty, fee)
                    .is_err();
            if (refused && recorded == 0) || (!refused && recorded >= floor) {
                return Verdict::Agrees;
            }
            Verdict::Off {
                expected: floor,
                how: format!(
                    "below FPPS's floor, PPS on a {} sat subsidy alone, {}",
                    sats(subsidy.into()),
                    rate()
                ),
            }
        }
        PayoutMode::Pplns | PayoutMode::Solo => {
            if recorded == 0 {
                return Verdict::Agrees;
            }
            Verdict::Off {
                expected: 0,
                how: format!(
                    "{} pays per block, never per share",
                    crate::ledger::mode_name(mode)
                ),
            }
        }
    }
}

/// Reads every share (in PPLNS and SOLO only those carrying a credit) a
/// page at a time; returns the settled credits by address.
pub(super) async fn check_share_credits(
    snapshot: &mut LedgerSnapshot,
    settings: &AuditSettings,
    report: &mut AuditReport,
) -> Result<SettledCredits, LedgerError> {
    let bounds = HeightBounds::new(&snapshot.block_heights().await?, settings.halving_interval);
    let credited_only = !matches!(settings.mode, PayoutMode::Pps | PayoutMode::Fpps);
    let mut settled = SettledCredits::default();
    let mut off: BTreeMap<String, OffRate> = BTreeMap::new();
    let mut after = i64::MIN;
    loop {
        let page = snapshot
            .shares_page(after, settings.page_rows, credited_only)
            .await?;
        for share in &page {
            after = share.id;
            report.counts.share_credits += 1;
            let credit = i128::from(share.credit_sat);
            // What settle.rs moves: positive credits, once marked settled.
            if credit > 0 && share.settled {
                *settled.by_address.entry(share.address.clone()).or_default() += credit;
            } else if credit > 0 {
                report.counts.unsettled_sat += credit;
            }
            let subsidies = match settings.mode {
                PayoutMode::Pps | PayoutMode::Fpps => bounds.subsidies(share.time_ms),
                PayoutMode::Pplns | PayoutMode::Solo => Vec::new(),
            };
            if let Verdict::Off { expected, how } =
                judge(settings.mode, settings.fee, share, &subsidies)
            {
                let entry = off.entry(share.address.clone()).or_default();
                if entry.shares == 0 {
                    entry.first = format!(
                        "share {} ({how}) should earn {} sat, recorded {} sat",
                        share.id,
                        sats(expected),
                        sats(credit)
                    );
                }
                entry.shares += 1;
                entry.expected += expected;
                entry.recorded += credit;
            }
        }
        if page.len() < settings.page_rows as usize {
            break;
        }
    }
    for (address, off) in off {
        report.differences.push(Difference::new(
            Check::ShareCredit,
            Some(&address),
            off.expected,
            off.recorded,
            format!(
                "{} share credits off the {} scheme; first: {}",
                off.shares,
                crate::ledger::mode_name(settings.mode),
                off.first
            ),
        ));
    }
    if settings.mode == PayoutMode::Fpps && report.counts.share_credits > 0 {
        report.notes.push(format!(
            "FPPS: the fee average each share was paid on is not in the ledger, so {} share \
             credits were checked only against their floor (PPS on the subsidy alone); their \
             settlement into balances is checked exactly",
            report.counts.share_credits
        ));
    }
    Ok(settled)
}

/// Before migration 5 made the header hash unique, the same work could be
/// recorded twice: every copy after the first is a difference (it earned
/// its PPS credit, or its PPLNS weight, a second time).
pub(super) async fn check_repeated_hashes(
    snapshot: &mut LedgerSnapshot,
    settings: &AuditSettings,
    report: &mut AuditReport,
) -> Result<(), LedgerError> {
    let mut after: (Vec<u8>, i64) = (Vec::new(), i64::MIN);
    let mut first: Option<(Vec<u8>, i64)> = None;
    loop {
        let page = snapshot
            .repeated_shares_page((&after.0, after.1), settings.page_rows)
            .await?;
        for share in &page {
            after = (share.hash.clone(), share.id);
            match &first {
                Some((hash, kept)) if *hash == share.hash => {
                    report.differences.push(Difference::new(
                        Check::RepeatedShare,
                        Some(&share.address),
                        0,
                        share.credit_sat,
                        format!(
                            "share {} repeats share {kept} (header hash {}): the same work recorded \
                             twice{}",
                            share.id,
                            display_hash(&share.hash),
                            if share.settled { ", its credit settled" } else { "" }
                        ),
                    ));
                }
                _ => first = Some((share.hash.clone(), share.id)),
            }
        }
        if page.len() < settings.page_rows as usize {
            return Ok(());
        }
    }
}

/// A header hash as block explorers print it (reversed byte order).
pub(super) fn display_hash(internal: &[u8]) -> String {
    let mut bytes = internal.to_vec();
    bytes.reverse();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(difficulty: f64, network_difficulty: f64, credit_sat: i64) -> AuditShare {
        AuditShare {
            id: 7,
            address: "miner".to_string(),
            difficulty,
            network_difficulty,
            time_ms: 0,
            credit_sat,
            settled: false,
            hash: vec![0; 32],
        }
    }

    fn one_percent() -> Fee {
        Fee::from_basis_points(100).unwrap()
    }

    #[test]
    fn pps_credits_must_match_one_candidate_subsidy_exactly() {
        // 312,500,000 × 1000 / 1,000,000 × 0.99 = 309,375.
        let subsidies = [625_000_000, 312_500_000];
        let agrees = share(1_000.0, 1e6, 309_375);
        assert_eq!(
            judge(PayoutMode::Pps, one_percent(), &agrees, &subsidies),
            Verdict::Agrees
        );
        // The likelier subsidy's credit is 618,750: named when none matches.
        let off = share(1_000.0, 1e6, 309_376);
        match judge(PayoutMode::Pps, one_percent(), &off, &subsidies) {
            Verdict::Off { expected, how } => {
                assert_eq!(expected, 618_750);
                assert!(how.contains("625,000,000 sat subsidy"), "{how}");
            }
            Verdict::Agrees => panic!("a credit one sat off agrees"),
        }
    }

    #[test]
    fn fpps_credits_are_held_to_their_floor_only() {
        let subsidies = [312_500_000];
        // Fees on top of the subsidy raise the credit: fine.
        let with_fees = share(1_000.0, 1e6, 400_000);
        assert_eq!(
            judge(PayoutMode::Fpps, one_percent(), &with_fees, &subsidies),
            Verdict::Agrees
        );
        let below = share(1_000.0, 1e6, 309_374);
        assert_eq!(
            judge(PayoutMode::Fpps, one_percent(), &below, &subsidies),
            Verdict::Off {
                expected: 309_375,
                how: "below FPPS's floor, PPS on a 312,500,000 sat subsidy alone, difficulty 1000 \
                      at network difficulty 1000000, 1 % fee"
                    .to_string()
            }
        );
        // A credit the arithmetic refuses (beyond u64) is credited 0.
        let huge = share(1.0, 1e-10, 0);
        assert_eq!(
            judge(PayoutMode::Fpps, one_percent(), &huge, &[5_000_000_000]),
            Verdict::Agrees
        );
    }

    #[test]
    fn block_schemes_pay_no_share() {
        assert_eq!(
            judge(PayoutMode::Pplns, one_percent(), &share(1.0, 1.0, 0), &[]),
            Verdict::Agrees
        );
        assert!(matches!(
            judge(PayoutMode::Solo, one_percent(), &share(1.0, 1.0, 5), &[]),
            Verdict::Off { expected: 0, .. }
        ));
    }

    #[test]
    fn hashes_print_reversed() {
        let mut internal = vec![0u8; 32];
        internal[0] = 0xab;
        assert!(display_hash(&internal).ends_with("ab"));
    }
}
