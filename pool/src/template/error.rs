//! Why a template is refused: what its JSON or its numbers got wrong.
//!
//! A refused template never reaches the job manager; the last good one
//! stays in force. Each error names its [`RefusalReason`], the label
//! `/metrics` counts it under.

use bitcoin::{Amount, Txid};
use stratum::nbits::NBitsError;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("getblocktemplate answer does not decode: {0}")]
    Undecodable(String),
    #[error("getblocktemplate bits {0:?} is not 4 bytes")]
    BadBits(Vec<u8>),
    #[error("getblocktemplate height {0} does not fit a u32")]
    BadHeight(u64),
    #[error("getblocktemplate time {0} does not fit a u32")]
    BadTime(u64),
    #[error("getblocktemplate bits {0:08x}: {1}")]
    InvalidTarget(u32, NBitsError),
    #[error("bits {bits:08x} is easier than the chain's proof-of-work limit {limit:08x}")]
    TooEasy { bits: u32, limit: u32 },
    #[error("transaction {index} of the template has no data")]
    EmptyTransaction { index: usize },
    #[error("transaction {txid} is in the template twice")]
    DuplicateTransaction { txid: Txid },
    #[error("the transactions' fees ({}) exceed coinbasevalue {value}", fees_text(.fees))]
    FeesExceedValue {
        /// `None` when their sum does not even fit a u64.
        fees: Option<Amount>,
        value: Amount,
    },
    #[error("coinbasevalue {value} is above the 21 million BTC cap")]
    ValueAboveMoney { value: Amount },
    #[error("coinbasevalue {value} is more than the subsidy {subsidy} plus the fees {fees}")]
    ValueAboveReward {
        value: Amount,
        subsidy: Amount,
        fees: Amount,
    },
    #[error("height 0 is the genesis block: nothing builds it")]
    GenesisHeight,
    #[error("height {height} on previous block {previous}, which earlier templates put at height {expected}")]
    HeightNotNext {
        height: u32,
        expected: u32,
        previous: bitcoin::BlockHash,
    },
    #[error("the previous block hash is all zeros")]
    NoPreviousBlock,
    #[error("version {0} is below 4 (BIP 65): no node accepts the block")]
    VersionTooLow(i32),
    #[error("{count} transactions: a block holds at most {max}")]
    TooManyTransactions { count: usize, max: usize },
    #[error("transactions of {weight} weight units: the block allows {max}")]
    TooHeavy { weight: u64, max: u64 },
    #[error("transactions of {bytes} bytes: a block holds at most {max}")]
    TooLarge { bytes: u64, max: u64 },
    #[error("transactions with {sigops} sigops cost: the block allows {max}")]
    TooManySigops { sigops: u64, max: u64 },
    #[error("witness commitment {script} is not `6a24aa21a9ed` and a 32-byte hash")]
    WitnessCommitmentMalformed { script: String },
    #[error("witness commitment {found} does not commit to the template's transactions (expected {expected})")]
    WitnessCommitmentWrong { found: String, expected: String },
    #[error("transactions carry witnesses but the template has no witness commitment")]
    WitnessCommitmentMissing,
    #[error("curtime {curtime} is before mintime {mintime}")]
    TimeBeforeMintime { curtime: u32, mintime: u32 },
    #[error("curtime {curtime} is more than two hours after now ({now})")]
    TimeInFuture { curtime: u32, now: u32 },
}

fn fees_text(fees: &Option<Amount>) -> String {
    fees.map_or_else(|| "more than 2^64 sat".to_string(), |fees| fees.to_string())
}

/// The label of a refusal in `/metrics` (`pool_templates_refused_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    Undecodable,
    Bits,
    BitsNegative,
    BitsOverflow,
    BitsZero,
    BitsTooEasy,
    FeesExceedValue,
    CoinbaseValue,
    Height,
    PreviousBlock,
    Version,
    Transactions,
    Weight,
    Sigops,
    WitnessCommitment,
    Time,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 16] = [
        RefusalReason::Undecodable,
        RefusalReason::Bits,
        RefusalReason::BitsNegative,
        RefusalReason::BitsOverflow,
        RefusalReason::BitsZero,
        RefusalReason::BitsTooEasy,
        RefusalReason::FeesExceedValue,
        RefusalReason::CoinbaseValue,
        RefusalReason::Height,
        RefusalReason::PreviousBlock,
        RefusalReason::Version,
        RefusalReason::Transactions,
        RefusalReason::Weight,
        RefusalReason::Sigops,
        RefusalReason::WitnessCommitment,
        RefusalReason::Time,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RefusalReason::Undecodable => "undecodable",
            RefusalReason::Bits => "bits",
            RefusalReason::BitsNegative => "bits_negative",
            RefusalReason::BitsOverflow => "bits_overflow",
            RefusalReason::BitsZero => "bits_zero",
            RefusalReason::BitsTooEasy => "bits_too_easy",
            RefusalReason::FeesExceedValue => "fees_exceed_value",
            RefusalReason::CoinbaseValue => "coinbase_value",
            RefusalReason::Height => "height",
            RefusalReason::PreviousBlock => "previous_block",
            RefusalReason::Version => "version",
            RefusalReason::Transactions => "transactions",
            RefusalReason::Weight => "weight",
            RefusalReason::Sigops => "sigops",
            RefusalReason::WitnessCommitment => "witness_commitment",
            RefusalReason::Time => "time",
        }
    }

    /// Position in [`RefusalReason::ALL`] (the discriminant: listed in order).
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl TemplateError {
    pub fn reason(&self) -> RefusalReason {
        use TemplateError::*;
        match self {
            Undecodable(_) => RefusalReason::Undecodable,
            BadBits(_) => RefusalReason::Bits,
            InvalidTarget(_, NBitsError::Negative(_)) => RefusalReason::BitsNegative,
            InvalidTarget(_, NBitsError::Overflow(_)) => RefusalReason::BitsOverflow,
            InvalidTarget(_, NBitsError::Zero(_)) => RefusalReason::BitsZero,
            TooEasy { .. } => RefusalReason::BitsTooEasy,
            FeesExceedValue { .. } => RefusalReason::FeesExceedValue,
            ValueAboveMoney { .. } | ValueAboveReward { .. } => RefusalReason::CoinbaseValue,
            BadHeight(_) | GenesisHeight | HeightNotNext { .. } => RefusalReason::Height,
            NoPreviousBlock => RefusalReason::PreviousBlock,
            VersionTooLow(_) => RefusalReason::Version,
            EmptyTransaction { .. } | DuplicateTransaction { .. } | TooManyTransactions { .. } => {
                RefusalReason::Transactions
            }
            TooHeavy { .. } | TooLarge { .. } => RefusalReason::Weight,
            TooManySigops { .. } => RefusalReason::Sigops,
            WitnessCommitmentMalformed { .. }
            | WitnessCommitmentWrong { .. }
            | WitnessCommitmentMissing => RefusalReason::WitnessCommitment,
            BadTime(_) | TimeBeforeMintime { .. } | TimeInFuture { .. } => RefusalReason::Time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed_at_its_index_with_a_distinct_name() {
        for (index, reason) in RefusalReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), index, "{reason:?}");
        }
        let mut names: Vec<&str> = RefusalReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RefusalReason::ALL.len());
    }
}
