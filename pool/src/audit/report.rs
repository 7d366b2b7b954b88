//! What an audit found: its differences, its notes and what it read.

use super::difference::{sats, Difference};

/// The result of one audit. Balanced only without a single difference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// One per disagreement, in the order the checks ran.
    pub differences: Vec<Difference>,
    /// What the audit could not check, or found odd without money being
    /// wrong (a block credited with parameters the config no longer has).
    pub notes: Vec<String>,
    pub counts: AuditCounts,
}

/// What the audit read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditCounts {
    pub blocks: u64,
    /// PPLNS windows and SOLO splits computed again.
    pub splits_recomputed: u64,
    /// Blocks not credited yet (the next payout run credits them).
    pub blocks_awaiting_credit: u64,
    /// Shares counted in the PPLNS windows recomputed.
    pub window_shares: u64,
    /// Share credits checked against the scheme (every share under PPS
    /// and FPPS, only those carrying a credit under PPLNS and SOLO).
    pub share_credits: u64,
    /// Copies in `duplicate_shares`, when the table exists.
    pub removed_shares: u64,
    pub balance_moves: u64,
    pub payout_batches: u64,
    /// Addresses with at least one balance move.
    pub addresses: u64,
    /// The sum of every balance: what the pool owes its miners now.
    pub owed_sat: i128,
    /// PPS/FPPS share credits not settled into balances yet.
    pub unsettled_sat: i128,
}

impl AuditReport {
    /// Whether the books balance to the satoshi.
    pub fn balanced(&self) -> bool {
        self.differences.is_empty()
    }

    /// The differences about `address`.
    pub fn differences_of<'a>(&'a self, address: &'a str) -> impl Iterator<Item = &'a Difference> {
        self.differences
            .iter()
            .filter(move |difference| difference.address.as_deref() == Some(address))
    }

    /// The one line the audit ends with.
    pub fn summary(&self) -> String {
        let counts = &self.counts;
        let verdict = if self.balanced() {
            "balanced to the satoshi".to_string()
        } else {
            let count = self.differences.len();
            format!("{count} difference{}", if count == 1 { "" } else { "s" })
        };
        let mut blocks = format!(
            "blocks {} ({} splits recomputed over {} window shares",
            counts.blocks, counts.splits_recomputed, counts.window_shares
        );
        if counts.blocks_awaiting_credit > 0 {
            blocks.push_str(&format!(
                ", {} awaiting credit",
                counts.blocks_awaiting_credit
            ));
        }
        blocks.push(')');
        let mut parts = vec![
            blocks,
            format!("share credits {}", counts.share_credits),
            format!("balance moves {}", counts.balance_moves),
            format!("payout batches {}", counts.payout_batches),
            format!(
                "owed {} sat to {} addresses",
                sats(counts.owed_sat),
                counts.addresses
            ),
            format!("unsettled share credits {} sat", sats(counts.unsettled_sat)),
        ];
        if counts.removed_shares > 0 {
            parts.push(format!(
                "removed duplicate shares {}",
                counts.removed_shares
            ));
        }
        if !self.notes.is_empty() {
            parts.push(format!("notes {}", self.notes.len()));
        }
        format!("audit: {verdict}; {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::difference::Check;

    #[test]
    fn the_summary_says_whether_the_books_balance() {
        let mut report = AuditReport {
            counts: AuditCounts {
                blocks: 3,
                splits_recomputed: 2,
                window_shares: 40,
                share_credits: 1_500,
                balance_moves: 9,
                payout_batches: 1,
                addresses: 2,
                owed_sat: 12_345,
                ..AuditCounts::default()
            },
            ..AuditReport::default()
        };
        assert!(report.balanced());
        assert_eq!(
            report.summary(),
            "audit: balanced to the satoshi; blocks 3 (2 splits recomputed over 40 window \
             shares), share credits 1500, balance moves 9, payout batches 1, owed 12,345 sat \
             to 2 addresses, unsettled share credits 0 sat"
        );
        report.differences.push(Difference::new(
            Check::Balance,
            Some("a"),
            0,
            -1,
            "negative",
        ));
        assert!(!report.balanced());
        assert!(report
            .summary()
            .starts_with("audit: 1 difference; blocks 3"));
        assert_eq!(report.differences_of("a").count(), 1);
        assert_eq!(report.differences_of("b").count(), 0);
    }
}
