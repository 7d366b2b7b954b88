//! SOLO: the coinbase pays the miner who found the block.

use crate::{Fee, Sats};

/// How a solo coinbase is split: the finder's output and the pool's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoloSplit {
    pub finder: Sats,
    pub pool_fee: Sats,
}

/// `pool_fee = fee.of(coinbase_value)`, `finder = coinbase_value − pool_fee`:
/// the fee's rounding favours the finder, and the two always add up.
pub fn solo_split(coinbase_value: Sats, fee: Fee) -> SoloSplit {
    let pool_fee = fee.of(coinbase_value);
    SoloSplit {
        finder: coinbase_value - pool_fee,
        pool_fee,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PayoutError;
    use proptest::prelude::*;

    #[test]
    fn split_by_hand() -> Result<(), PayoutError> {
        // 1 % of 312,500,000 = 3,125,000; the finder gets 309,375,000.
        let split = solo_split(312_500_000, Fee::from_basis_points(100)?);
        assert_eq!(
            split,
            SoloSplit {
                finder: 309_375_000,
                pool_fee: 3_125_000
            }
        );
        // 1.5 % of 333 = 4.995 → the pool takes 4, the finder 329.
        let split = solo_split(333, Fee::from_basis_points(150)?);
        assert_eq!((split.finder, split.pool_fee), (329, 4));
        Ok(())
    }

    proptest! {
        #[test]
        fn finder_and_pool_add_up(coinbase_value in any::<u64>(), bp in 0u32..10_000) {
            let fee = Fee::from_basis_points(bp)?;
            let split = solo_split(coinbase_value, fee);
            prop_assert_eq!(split.pool_fee, fee.of(coinbase_value));
            prop_assert_eq!(u128::from(split.finder) + u128::from(split.pool_fee), u128::from(coinbase_value));
            prop_assert!(split.finder >= split.pool_fee || bp >= 5_000);
        }
    }
}
