//! The weight of a share, in blocks' worth of work.

use crate::difficulty::{network_difficulty, share_difficulty};
use crate::exact::{shifted_ratio, Dyadic};
use crate::PayoutError;

/// Fractional bits of a [`Score`]: one block's worth of work is `2^64`.
///
/// Why 64: the smallest weight a score can hold, `2^-64` of a block, is worth
/// `reward × 2^-64` sat, below a millionth of a satoshi even for 21 million
/// bitcoin, so flooring each share's score never moves a payout; and the
/// 64 integer bits leave room for regtest, where one share can be worth
/// billions of blocks (network difficulty 4.6e-10). Shares above `2^64`
/// blocks saturate at [`Score::MAX`].
pub const SCORE_BITS: u32 = 64;

/// A share's weight: `share_difficulty / network_difficulty` (the number of
/// blocks' worth of work it proves), as the fixed-point integer
/// `floor(exact ratio × 2^SCORE_BITS)`.
///
/// The ratio is computed from the exact binary values of both `f64`s, so
/// the only rounding is that one floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Score(u128);

impl Score {
    pub const ZERO: Score = Score(0);
    /// One block's worth of work.
    pub const ONE_BLOCK: Score = Score(1 << SCORE_BITS);
    pub const MAX: Score = Score(u128::MAX);

    /// The weight of a share of `share_difficulty` found while the network
    /// difficulty was `network_difficulty`; saturates at [`Score::MAX`].
    ///
    /// Refuses a share difficulty that is negative or not finite, and a
    /// network difficulty that is not finite or not above zero.
    pub fn of_share(share_difficulty: f64, network_difficulty: f64) -> Result<Score, PayoutError> {
        let share = self::share_difficulty(share_difficulty)?;
        let network = self::network_difficulty(network_difficulty)?;
        let shift = share.exponent - network.exponent + SCORE_BITS as i32;
        Ok(Score(
            shifted_ratio(share.mantissa, network.mantissa, shift).unwrap_or(u128::MAX),
        ))
    }

    /// The score of `expected_blocks` blocks' worth of work (a PPLNS window
    /// factor of 2.0 is two blocks); saturates at [`Score::MAX`].
    pub fn from_blocks(expected_blocks: f64) -> Result<Score, PayoutError> {
        if !(expected_blocks.is_finite() && expected_blocks >= 0.0) {
            return Err(PayoutError::InvalidBlockCount {
                value: expected_blocks,
            });
        }
        let blocks = Dyadic::of(expected_blocks);
        let shift = blocks.exponent + SCORE_BITS as i32;
        Ok(Score(
            shifted_ratio(blocks.mantissa, 1, shift).unwrap_or(u128::MAX),
        ))
    }

    /// The fixed-point integer, for storing a score and explaining it.
    pub const fn raw(self) -> u128 {
        self.0
    }

    pub const fn from_raw(raw: u128) -> Score {
        Score(raw)
    }

    /// The score in blocks, for display only: never decide money with it.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / (1u128 << SCORE_BITS) as f64
    }

    pub const fn saturating_add(self, other: Score) -> Score {
        Score(self.0.saturating_add(other.0))
    }

    pub const fn saturating_sub(self, other: Score) -> Score {
        Score(self.0.saturating_sub(other.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::rational;
    use proptest::prelude::*;

    /// Difficulties over many orders of magnitude, as pools see them.
    fn difficulty() -> impl Strategy<Value = f64> {
        (1.0f64..10.0, -20i32..20).prop_map(|(mantissa, power)| mantissa * 10f64.powi(power))
    }

    #[test]
    fn one_share_by_hand() -> Result<(), PayoutError> {
        // 1000 / 1,000,000 = 1/1000 block; 2^64 / 1000 = 18446744073709551.616.
        assert_eq!(Score::of_share(1_000.0, 1e6)?.raw(), 18_446_744_073_709_551);
        // Powers of two are exact: 1/4 block is 2^62.
        assert_eq!(Score::of_share(16.0, 64.0)?.raw(), 1 << 62);
        assert_eq!(Score::of_share(2.0, 1.0)?, Score::from_blocks(2.0)?);
        assert_eq!(Score::from_blocks(2.0)?.raw(), 1 << 65);
        assert_eq!(Score::from_blocks(1.0)?, Score::ONE_BLOCK);
        assert_eq!(Score::of_share(0.0, 1e14)?, Score::ZERO);
        Ok(())
    }

    #[test]
    fn extremes_saturate_or_vanish_without_panicking() -> Result<(), PayoutError> {
        // Regtest: a difficulty-1 share is worth ~2.2 billion blocks.
        let regtest = Score::of_share(1.0, 4.6e-10)?;
        assert!(regtest > Score::ONE_BLOCK);
        assert_eq!(regtest.as_f64().round(), (1.0 / 4.6e-10f64).round());
        assert_eq!(Score::of_share(f64::MAX, f64::from_bits(1))?, Score::MAX);
        assert_eq!(Score::of_share(f64::from_bits(1), f64::MAX)?, Score::ZERO);
        assert_eq!(Score::from_blocks(1e300)?, Score::MAX);
        // Tiny mainnet shares still weigh something: 1e-4 / 1e14 = 1e-18 block.
        assert_eq!(Score::of_share(0.0001, 1e14)?.raw(), 18);
        Ok(())
    }

    #[test]
    fn refuses_bad_inputs_naming_them() {
        assert_eq!(
            Score::of_share(-1.0, 1.0),
            Err(PayoutError::InvalidShareDifficulty { value: -1.0 })
        );
        assert_eq!(
            Score::of_share(1.0, 0.0),
            Err(PayoutError::InvalidNetworkDifficulty { value: 0.0 })
        );
        assert!(Score::of_share(f64::NAN, 1.0).is_err());
        assert!(Score::of_share(1.0, f64::INFINITY).is_err());
        assert_eq!(
            Score::from_blocks(-2.0),
            Err(PayoutError::InvalidBlockCount { value: -2.0 })
        );
        assert!(Score::from_blocks(f64::NAN).is_err());
    }

    #[test]
    fn adds_and_subtracts_saturating() {
        assert_eq!(Score::MAX.saturating_add(Score::ONE_BLOCK), Score::MAX);
        assert_eq!(Score::ZERO.saturating_sub(Score::ONE_BLOCK), Score::ZERO);
        assert_eq!(
            Score::ONE_BLOCK.saturating_add(Score::ONE_BLOCK),
            Score::from_raw(2 << 64)
        );
    }

    proptest! {
        #[test]
        fn share_score_is_the_floor_of_the_exact_ratio(
            share in prop_oneof![difficulty(), Just(0.0)],
            network in difficulty(),
        ) {
            let score = Score::of_share(share, network)?;
            let (share_numerator, share_denominator) = rational(share);
            let (network_numerator, network_denominator) = rational(network);
            let expected = ((share_numerator * network_denominator) << SCORE_BITS)
                / (share_denominator * network_numerator);
            let expected = u128::try_from(&expected).unwrap_or(u128::MAX);
            prop_assert_eq!(score.raw(), expected);
        }

        #[test]
        fn block_score_is_the_floor_of_the_exact_value(blocks in prop_oneof![difficulty(), Just(0.0)]) {
            let (numerator, denominator) = rational(blocks);
            let expected = (numerator << SCORE_BITS) / denominator;
            let expected = u128::try_from(&expected).unwrap_or(u128::MAX);
            prop_assert_eq!(Score::from_blocks(blocks)?.raw(), expected);
        }

        #[test]
        fn score_grows_with_share_difficulty(
            low in difficulty(),
            high in difficulty(),
            network in difficulty(),
        ) {
            let (low, high) = if low <= high { (low, high) } else { (high, low) };
            prop_assert!(Score::of_share(low, network)? <= Score::of_share(high, network)?);
        }

        #[test]
        fn any_finite_input_gives_a_score(
            share in proptest::num::f64::POSITIVE | proptest::num::f64::ZERO,
            network in proptest::num::f64::POSITIVE,
        ) {
            prop_assert!(Score::of_share(share, network).is_ok());
        }
    }
}
