//! One thing the books disagree on: whose money, how much was expected,
//! how much is recorded, and why.

/// Which check found a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// A block that cannot be credited or followed as stored (unknown
    /// mode or status, confirmed but never credited).
    Block,
    /// A block credit against the scheme's split (PPLNS window, SOLO).
    BlockCredit,
    /// The pool's fee of a block against the scheme's.
    PoolFee,
    /// A block credit's state against its block's status.
    CreditState,
    /// `block` balance moves against the matured credits.
    BlockMove,
    /// PPS/FPPS share credits against the scheme.
    ShareCredit,
    /// A header hash recorded more than once in `shares`.
    RepeatedShare,
    /// `pps` balance moves against the settled share credits.
    PpsMove,
    /// `duplicate_share` moves against the settled copies removed.
    DuplicateShareMove,
    /// A payout batch's total against its lines.
    PayoutBatch,
    /// `payout`, `payout_cancelled`, `payout_reversed` moves against the
    /// batches and their states.
    PayoutMove,
    /// A balance (the sum of its moves) below zero.
    Balance,
    /// A move of a kind the audit does not know.
    UnknownMove,
}

/// One line of the audit: `expected` is what the shares, blocks and the
/// scheme say, `recorded` what the ledger holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub check: Check,
    /// The miner's address; `None` for the pool's own money (its fee) or
    /// a record that names no address.
    pub address: Option<String>,
    pub expected_sat: i128,
    pub recorded_sat: i128,
    /// What was compared, in words (`block 412 credit: ...`).
    pub cause: String,
}

impl Difference {
    pub fn new(
        check: Check,
        address: Option<&str>,
        expected_sat: impl Into<i128>,
        recorded_sat: impl Into<i128>,
        cause: impl Into<String>,
    ) -> Difference {
        Difference {
            check,
            address: address.map(str::to_string),
            expected_sat: expected_sat.into(),
            recorded_sat: recorded_sat.into(),
            cause: cause.into(),
        }
    }

    /// Recorded minus expected: positive when the ledger holds too much.
    pub fn excess_sat(&self) -> i128 {
        self.recorded_sat - self.expected_sat
    }
}

/// `bcrt1q...: expected 1,234 sat, recorded 2,468 sat (+1,234): block 412 credit: ...`
impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {} sat, recorded {} sat ({}{}): {}",
            self.address.as_deref().unwrap_or("pool"),
            sats(self.expected_sat),
            sats(self.recorded_sat),
            if self.excess_sat() > 0 { "+" } else { "" },
            sats(self.excess_sat()),
            self.cause
        )
    }
}

/// Satoshis grouped by thousands, with a sign when negative: `-1,234`.
pub fn sats(value: i128) -> String {
    let grouped = match u64::try_from(value.unsigned_abs()) {
        Ok(magnitude) => payout::group_thousands(magnitude),
        Err(_) => value.unsigned_abs().to_string(),
    };
    if value < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_address_amounts_excess_and_cause() {
        let line = Difference::new(
            Check::BlockCredit,
            Some("bcrt1qminer"),
            1_234,
            2_468,
            "block 412 credit: window recomputed 1,234 sat, recorded 2,468 sat",
        );
        assert_eq!(
            line.to_string(),
            "bcrt1qminer: expected 1,234 sat, recorded 2,468 sat (+1,234): \
             block 412 credit: window recomputed 1,234 sat, recorded 2,468 sat"
        );
        let debit = Difference::new(Check::PayoutMove, None, -5_000, 0, "no debit");
        assert_eq!(
            debit.to_string(),
            "pool: expected -5,000 sat, recorded 0 sat (+5,000): no debit"
        );
        assert_eq!(debit.excess_sat(), 5_000);
    }

    #[test]
    fn sats_group_and_sign() {
        assert_eq!(sats(0), "0");
        assert_eq!(sats(-1), "-1");
        assert_eq!(sats(1_000_000), "1,000,000");
        assert_eq!(sats(-2_100_000_000_000_000), "-2,100,000,000,000,000");
        assert_eq!(sats(i128::MIN), i128::MIN.to_string());
    }
}
