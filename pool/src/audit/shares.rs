//! Shares: every PPS/FPPS credit against the scheme, the settled credits
//! the `pps` moves must add up to, and header hashes recorded twice.

use super::difference::{sats, Check, Difference};
use super::subsidy::HeightBounds;
use super::{AuditReport, AuditSettings};
use crate::config::PayoutMode;
use crate::ledger::audit_reads::{LedgerSnapshot, ShareGroup, TimeSpan};
use crate::ledger::LedgerError;
use payout::Fee;
use std::collections::{BTreeMap, HashMap};

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

/// PPS credits already computed, for one fee: vardiff hands out few
/// distinct difficulties, so most shares repeat a (subsidy, difficulty,
/// network difficulty) already priced. `None` where the arithmetic refuses.
#[derive(Debug, Default)]
pub(super) struct PpsRates {
    known: HashMap<(u64, u64, u64), Option<u64>>,
}

impl PpsRates {
    /// Entries kept before starting over (a few MB at most).
    const MOST: usize = 65_536;

    fn credit(&mut self, subsidy: u64, share: &ShareGroup, fee: Fee) -> Option<u64> {
        let key = (
            subsidy,
            share.difficulty.to_bits(),
            share.network_difficulty.to_bits(),
        );
        if let Some(&known) = self.known.get(&key) {
            return known;
        }
        if self.known.len() >= Self::MOST {
            self.known.clear();
        }
        let credit =
            payout::pps_credit(subsidy, share.difficulty, share.network_difficulty, fee).ok();
        self.known.insert(key, credit);
        credit
    }
}

/// Judges the credit of each share of `share` under `mode` and `fee`, with
/// `subsidies` the block subsidies they may have been paid on, likeliest
/// first.
pub(super) fn judge(
    mode: PayoutMode,
    fee: Fee,
    share: &ShareGroup,
    subsidies: &[u64],
    rates: &mut PpsRates,
) -> Verdict {
    let recorded = i128::from(share.credit_sat);
    // The pool credits 0 where the arithmetic refuses (see CreditSettings).
    let mut pps = |subsidy: u64| rates.credit(subsidy, share, fee);
    let rate = || {
        format!(
            "difficulty {} at network difficulty {}, {fee} fee",
            share.difficulty, share.network_difficulty
        )
    };
    match mode {
        PayoutMode::Pps => {
            if subsidies
                .iter()
                .any(|&subsidy| i128::from(pps(subsidy).unwrap_or(0)) == recorded)
            {
                return Verdict::Agrees;
            }
            let subsidy = subsidies
                .first()
                .copied()
                .unwrap_or(payout::INITIAL_SUBSIDY);
            Verdict::Off {
                expected: i128::from(pps(subsidy).unwrap_or(0)),
                how: format!("PPS on a {} sat subsidy, {}", sats(subsidy.into()), rate()),
            }
        }
        PayoutMode::Fpps => {
            // The fee average is not in the ledger: only the floor (the
            // subsidy alone, the smallest it may have been) is certain.
            let subsidy = subsidies.iter().copied().min().unwrap_or(0);
            let floor = pps(subsidy);
            let agrees = match floor {
                Some(floor) => recorded >= i128::from(floor),
                None => recorded == 0,
            };
            if agrees {
                return Verdict::Agrees;
            }
            Verdict::Off {
                expected: i128::from(floor.unwrap_or(0)),
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

/// Reads every share (in PPLNS and SOLO only those carrying a credit),
/// grouped by what decides its credit within each span of time between
/// the pool's blocks, a page of groups at a time; returns the settled
/// credits by address.
pub(super) async fn check_share_credits(
    snapshot: &mut LedgerSnapshot,
    settings: &AuditSettings,
    report: &mut AuditReport,
) -> Result<SettledCredits, LedgerError> {
    let bounds = HeightBounds::new(&snapshot.block_heights().await?, settings.halving_interval);
    let credited_only = !matches!(settings.mode, PayoutMode::Pps | PayoutMode::Fpps);
    let mut settled = SettledCredits::default();
    let mut off: BTreeMap<String, OffRate> = BTreeMap::new();
    let mut rates = PpsRates::default();
    // Only PPS and FPPS credits depend on the time (through the subsidy).
    let spans = match settings.mode {
        PayoutMode::Pps | PayoutMode::Fpps => bounds.spans(),
        PayoutMode::Pplns | PayoutMode::Solo => vec![(TimeSpan::All, Vec::new())],
    };
    for (span, subsidies) in spans {
        let mut after: Option<ShareGroup> = None;
        loop {
            let page = snapshot
                .share_groups_page(span, after.as_ref(), settings.page_rows, credited_only)
                .await?;
            for group in &page {
                let shares = u64::try_from(group.shares).unwrap_or(0);
                let count = i128::from(group.shares);
                report.counts.share_credits += shares;
                let credit = i128::from(group.credit_sat);
                // What settle.rs moves: positive credits, once marked settled.
                if credit > 0 && group.settled {
                    *settled.by_address.entry(group.address.clone()).or_default() += credit * count;
                } else if credit > 0 {
                    report.counts.unsettled_sat += credit * count;
                }
                if let Verdict::Off { expected, how } =
                    judge(settings.mode, settings.fee, group, &subsidies, &mut rates)
                {
                    let entry = off.entry(group.address.clone()).or_default();
                    if entry.shares == 0 {
                        entry.first = format!(
                            "share {} ({how}) should earn {} sat, recorded {} sat",
                            group.first_id,
                            sats(expected),
                            sats(credit)
                        );
                    }
                    entry.shares += shares;
                    entry.expected += expected * count;
                    entry.recorded += credit * count;
                }
            }
            let full = page.len() == settings.page_rows as usize;
            after = page.last().cloned();
            if !full {
                break;
            }
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

    fn share(difficulty: f64, network_difficulty: f64, credit_sat: i64) -> ShareGroup {
        ShareGroup {
            address: "miner".to_string(),
            difficulty,
            network_difficulty,
            credit_sat,
            settled: false,
            shares: 1,
            first_id: 7,
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
        // Priced once, then from the cache: the same verdict.
        let mut rates = PpsRates::default();
        for _ in 0..2 {
            let verdict = judge(
                PayoutMode::Pps,
                one_percent(),
                &agrees,
                &subsidies,
                &mut rates,
            );
            assert_eq!(verdict, Verdict::Agrees);
        }
        assert_eq!(
            judge(
                PayoutMode::Pps,
                one_percent(),
                &agrees,
                &subsidies,
                &mut PpsRates::default()
            ),
            Verdict::Agrees
        );
        // The likelier subsidy's credit is 618,750: named when none matches.
        let off = share(1_000.0, 1e6, 309_376);
        match judge(
            PayoutMode::Pps,
            one_percent(),
            &off,
            &subsidies,
            &mut PpsRates::default(),
        ) {
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
            judge(
                PayoutMode::Fpps,
                one_percent(),
                &with_fees,
                &subsidies,
                &mut PpsRates::default()
            ),
            Verdict::Agrees
        );
        let below = share(1_000.0, 1e6, 309_374);
        assert_eq!(
            judge(
                PayoutMode::Fpps,
                one_percent(),
                &below,
                &subsidies,
                &mut PpsRates::default()
            ),
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
            judge(
                PayoutMode::Fpps,
                one_percent(),
                &huge,
                &[5_000_000_000],
                &mut PpsRates::default()
            ),
            Verdict::Agrees
        );
    }

    #[test]
    fn block_schemes_pay_no_share() {
        assert_eq!(
            judge(
                PayoutMode::Pplns,
                one_percent(),
                &share(1.0, 1.0, 0),
                &[],
                &mut PpsRates::default()
            ),
            Verdict::Agrees
        );
        assert!(matches!(
            judge(
                PayoutMode::Solo,
                one_percent(),
                &share(1.0, 1.0, 5),
                &[],
                &mut PpsRates::default()
            ),
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
