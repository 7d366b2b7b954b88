//! Regtest's consensus numbers, and the one the simnet makes configurable:
//! the difficulty of every block.

use bitcoin::{Amount, CompactTarget, Target};
use stratum::Difficulty;

/// Regtest halves the subsidy every 150 blocks (mainnet: 210,000).
pub const HALVING_INTERVAL: u32 = 150;
/// 50 BTC, the subsidy of the first era.
pub const INITIAL_SUBSIDY: Amount = Amount::from_sat(50 * 100_000_000);
/// `MAX_BLOCK_WEIGHT` of `consensus/consensus.h`.
pub const MAX_BLOCK_WEIGHT: u64 = 4_000_000;
/// `MAX_BLOCK_SIGOPS_COST` of `consensus/consensus.h`.
pub const MAX_BLOCK_SIGOPS_COST: u64 = 80_000;
/// `WITNESS_SCALE_FACTOR`.
pub const WITNESS_SCALE_FACTOR: u64 = 4;
/// `MAX_FUTURE_BLOCK_TIME`: a block may be at most two hours ahead of us.
pub const MAX_FUTURE_BLOCK_TIME: u32 = 2 * 60 * 60;
/// `COINBASE_MATURITY`.
pub const COINBASE_MATURITY: u32 = 100;
/// `MAX_MONEY`: 21 million BTC.
pub const MAX_MONEY: Amount = Amount::MAX_MONEY;
/// Blocks in the median-time-past window (`nMedianTimeSpan`).
pub const MEDIAN_TIME_SPAN: usize = 11;
/// Weight Core's block assembler leaves for the coinbase, and the default
/// `-blockmaxweight` margin: the template's transactions stay below this.
pub const TEMPLATE_MAX_WEIGHT: u64 = MAX_BLOCK_WEIGHT - 8_000;
/// Sigop cost Core's block assembler leaves for the coinbase.
pub const TEMPLATE_MAX_SIGOPS_COST: u64 = MAX_BLOCK_SIGOPS_COST - 400;
/// The version Core's templates carry: BIP 9 top bits, no signals.
pub const TEMPLATE_VERSION: u32 = 0x2000_0000;
/// The header version below which regtest refuses blocks (BIP 34, 66 and 65
/// are all active from height 1).
pub const MIN_BLOCK_VERSION: i32 = 4;

/// Regtest's proof-of-work limit, `0x207fffff`: the easiest target.
pub const POW_LIMIT: Target = Target::MAX_ATTAINABLE_REGTEST;

/// The subsidy of a block at `height` on regtest: 50 BTC halved every 150
/// blocks, nothing after 64 halvings (`GetBlockSubsidy`).
pub fn block_subsidy(height: u32) -> Amount {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= 64 {
        return Amount::ZERO;
    }
    Amount::from_sat(INITIAL_SUBSIDY.to_sat() >> halvings)
}

/// The compact target of a network difficulty: `diff1 / difficulty`,
/// clamped at regtest's proof-of-work limit (so any difficulty at or below
/// regtest's own 4.66e-10, and any nonsense value, gives `0x207fffff`).
pub fn nbits_for_difficulty(difficulty: f64) -> CompactTarget {
    let Ok(difficulty) = Difficulty::new(difficulty) else {
        tracing::warn!(
            difficulty,
            "simnet difficulty is not a positive number, using regtest's limit"
        );
        return POW_LIMIT.to_compact_lossy();
    };
    let target = stratum::Target::from_difficulty(difficulty);
    let target = Target::from_be_bytes(target.to_be_bytes()).min(POW_LIMIT);
    // The compact form truncates the mantissa: never easier than asked.
    target.to_compact_lossy()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsidy_halves_every_150_blocks() {
        assert_eq!(block_subsidy(0), Amount::from_btc(50.0).unwrap());
        assert_eq!(block_subsidy(149), Amount::from_btc(50.0).unwrap());
        assert_eq!(block_subsidy(150), Amount::from_btc(25.0).unwrap());
        assert_eq!(block_subsidy(300), Amount::from_sat(1_250_000_000));
        // 5e9 >> 32 == 1, the last satoshi era; then nothing.
        assert_eq!(block_subsidy(150 * 32), Amount::from_sat(1));
        assert_eq!(block_subsidy(150 * 33), Amount::ZERO);
        assert_eq!(block_subsidy(150 * 64), Amount::ZERO);
        assert_eq!(block_subsidy(u32::MAX), Amount::ZERO);
    }

    #[test]
    fn difficulty_to_nbits() {
        assert_eq!(nbits_for_difficulty(1.0).to_consensus(), 0x1d00ffff);
        assert_eq!(nbits_for_difficulty(2.0).to_consensus(), 0x1c7fff80);
        // Easier than regtest allows: clamped to the limit.
        assert_eq!(nbits_for_difficulty(4.6e-10).to_consensus(), 0x207fffff);
        assert_eq!(nbits_for_difficulty(1e-12).to_consensus(), 0x207fffff);
        assert_eq!(nbits_for_difficulty(0.0).to_consensus(), 0x207fffff);
        assert_eq!(nbits_for_difficulty(f64::NAN).to_consensus(), 0x207fffff);
        // The compact target is never easier than the difficulty asked for.
        for difficulty in [0.0001, 0.001, 0.5, 3.0, 1e6, 1.5e14] {
            let bits = nbits_for_difficulty(difficulty);
            let back = stratum::NBits(bits.to_consensus()).difficulty().unwrap();
            assert!(back >= difficulty, "{difficulty} -> {bits:?} -> {back}");
            assert!(back / difficulty < 1.0001, "{difficulty} -> {back}");
        }
    }
}
