//! Pay per share: each share is paid its expected value at once.

use num_bigint::BigUint;

use crate::difficulty::{network_difficulty, share_difficulty};
use crate::exact::floor_scaled;
use crate::{Fee, PayoutError, Sats, BASIS_POINTS_PER_WHOLE};

/// `floor(block_reward × share_difficulty / network_difficulty × (10000 − fee_bp) / 10000)`.
///
/// Exact: the whole product is formed with big integers from the binary
/// values of the difficulties and floored once, so no factor's rounding
/// compounds. A share above the network difficulty (regtest) earns more
/// than one block reward; a credit beyond `u64::MAX` sat is refused with
/// [`PayoutError::CreditTooLarge`].
pub fn pps_credit(
    block_reward: Sats,
    share_difficulty: f64,
    network_difficulty: f64,
    fee: Fee,
) -> Result<Sats, PayoutError> {
    expected_credit(
        u128::from(block_reward),
        share_difficulty,
        network_difficulty,
        fee,
    )
}

/// [`pps_credit`] for a reward that may exceed `u64::MAX` (FPPS adds the
/// fees to the subsidy without rounding or saturating).
pub(crate) fn expected_credit(
    block_reward: u128,
    share_difficulty: f64,
    network_difficulty: f64,
    fee: Fee,
) -> Result<Sats, PayoutError> {
    let share = self::share_difficulty(share_difficulty)?;
    let network = self::network_difficulty(network_difficulty)?;
    let numerator = BigUint::from(block_reward)
        * BigUint::from(share.mantissa)
        * BigUint::from(fee.kept_basis_points());
    let denominator = BigUint::from(network.mantissa) * BigUint::from(BASIS_POINTS_PER_WHOLE);
    let shift = i64::from(share.exponent) - i64::from(network.exponent);
    let credit = floor_scaled(numerator, denominator, shift);
    Sats::try_from(&credit).map_err(|_| PayoutError::CreditTooLarge {
        block_reward,
        share_difficulty,
        network_difficulty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::rational;
    use proptest::prelude::*;

    fn difficulty() -> impl Strategy<Value = f64> {
        (1.0f64..10.0, -12i32..16).prop_map(|(mantissa, power)| mantissa * 10f64.powi(power))
    }

    fn fee() -> impl Strategy<Value = Fee> {
        (0u32..10_000).prop_map(|bp| Fee::from_basis_points(bp).unwrap_or(Fee::ZERO))
    }

    /// The same value from the decimal reading of the difficulties, divided
    /// in a different order: reward × S × (10000 − fee) / (N × 10000).
    fn reference_credit(reward: u64, share: f64, network: f64, fee: Fee) -> BigUint {
        let (share_numerator, share_denominator) = rational(share);
        let (network_numerator, network_denominator) = rational(network);
        BigUint::from(reward)
            * share_numerator
            * network_denominator
            * BigUint::from(10_000 - fee.basis_points())
            / (share_denominator * network_numerator * BigUint::from(10_000u32))
    }

    #[test]
    fn mainnet_share_by_hand() -> Result<(), PayoutError> {
        // 312,500,000 × 1000 / 1,000,000 = 312,500 sat expected;
        // less 1 %: 312,500 × 9900 / 10000 = 309,375 sat.
        let one_percent = Fee::from_basis_points(100)?;
        assert_eq!(pps_credit(312_500_000, 1_000.0, 1e6, one_percent)?, 309_375);
        Ok(())
    }

    #[test]
    fn floors_once_at_the_end() -> Result<(), PayoutError> {
        // 1000 × 1/3 × 9900/10000 = 330 exactly. Flooring each factor would
        // give floor(1000/3) = 333, then 333 × 0.99 = 329.67 → 329.
        let one_percent = Fee::from_basis_points(100)?;
        assert_eq!(pps_credit(1_000, 1.0, 3.0, one_percent)?, 330);
        Ok(())
    }

    #[test]
    fn regtest_share_earns_many_blocks_and_overflow_is_refused() -> Result<(), PayoutError> {
        // A share of difficulty 3 at network difficulty 1 is worth 3 blocks.
        assert_eq!(
            pps_credit(5_000_000_000, 3.0, 1.0, Fee::ZERO)?,
            15_000_000_000
        );
        // 5e9 × 1 / 1e-10 = 5e19 sat > u64::MAX (1.8e19).
        assert!(matches!(
            pps_credit(5_000_000_000, 1.0, 1e-10, Fee::ZERO),
            Err(PayoutError::CreditTooLarge { .. })
        ));
        assert_eq!(
            pps_credit(u64::MAX, f64::from_bits(1), f64::MAX, Fee::ZERO)?,
            0
        );
        Ok(())
    }

    #[test]
    fn refuses_bad_difficulties() {
        assert_eq!(
            pps_credit(1, f64::NAN, 1.0, Fee::ZERO).map_err(|e| e.to_string()),
            Err("share difficulty NaN is not a finite number >= 0".to_string())
        );
        assert!(matches!(
            pps_credit(1, 1.0, -0.0, Fee::ZERO),
            Err(PayoutError::InvalidNetworkDifficulty { .. })
        ));
    }

    proptest! {
        #[test]
        fn equals_the_reference_and_never_exceeds_the_reward(
            reward in 0u64..=2_100_000_000_000_000,
            share in difficulty(),
            network in difficulty(),
            fee in fee(),
        ) {
            let (share, network) = if share <= network { (share, network) } else { (network, share) };
            let credit = pps_credit(reward, share, network, fee)?;
            prop_assert!(credit <= reward);
            prop_assert_eq!(BigUint::from(credit), reference_credit(reward, share, network, fee));
        }

        #[test]
        fn equals_the_reference_above_the_network_difficulty(
            reward in 0u64..=2_100_000_000_000_000,
            share in difficulty(),
            network in difficulty(),
            fee in fee(),
        ) {
            let expected = reference_credit(reward, share, network, fee);
            match pps_credit(reward, share, network, fee) {
                Ok(credit) => prop_assert_eq!(BigUint::from(credit), expected),
                Err(PayoutError::CreditTooLarge { .. }) => {
                    prop_assert!(expected > BigUint::from(u64::MAX))
                }
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
        }

        #[test]
        fn grows_with_share_difficulty_and_shrinks_with_fee(
            reward in 0u64..=2_100_000_000_000_000,
            low in difficulty(),
            high in difficulty(),
            network in 1e14f64..1e16,
            low_fee in fee(),
            high_fee in fee(),
        ) {
            let (low, high) = if low <= high { (low, high) } else { (high, low) };
            let (low_fee, high_fee) = if low_fee <= high_fee { (low_fee, high_fee) } else { (high_fee, low_fee) };
            prop_assert!(pps_credit(reward, low, network, low_fee)? <= pps_credit(reward, high, network, low_fee)?);
            prop_assert!(pps_credit(reward, high, network, high_fee)? <= pps_credit(reward, high, network, low_fee)?);
        }

        #[test]
        fn never_panics_on_finite_input(
            reward in any::<u64>(),
            share in proptest::num::f64::POSITIVE | proptest::num::f64::ZERO,
            network in proptest::num::f64::POSITIVE,
            fee in fee(),
        ) {
            let outcome = pps_credit(reward, share, network, fee);
            let credit_or_overflow = matches!(outcome, Ok(_) | Err(PayoutError::CreditTooLarge { .. }));
            prop_assert!(credit_or_overflow, "{:?}", outcome);
        }
    }
}
