//! Exact arithmetic on the binary values of `f64`s.
//!
//! Every finite `f64` is an integer times a power of two. Reading it that
//! way lets a ratio of difficulties be computed with integers only, so the
//! one rounding a payout makes is the final floor.

use num_bigint::BigUint;

/// A non-negative finite `f64` as the exact value `mantissa × 2^exponent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dyadic {
    pub(crate) mantissa: u64,
    pub(crate) exponent: i32,
}

impl Dyadic {
    /// The exact value of `value`'s magnitude. Callers check it is finite;
    /// the sign is dropped so that `-0.0` reads as zero.
    pub(crate) fn of(value: f64) -> Dyadic {
        let bits = value.to_bits();
        let biased_exponent = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1u64 << 52) - 1);
        if biased_exponent == 0 {
            // Subnormal (or zero): no implicit leading one.
            Dyadic {
                mantissa: fraction,
                exponent: -1074,
            }
        } else {
            Dyadic {
                mantissa: fraction | (1u64 << 52),
                exponent: biased_exponent - 1075,
            }
        }
    }
}

/// `floor(numerator × 2^shift / denominator)`, or `None` when it does not
/// fit in a `u128` (a zero denominator included).
///
/// Long division in steps of at most 64 bits: the remainder stays below the
/// 64-bit denominator, so shifting it by 64 never overflows a `u128`.
pub(crate) fn shifted_ratio(numerator: u64, denominator: u64, shift: i32) -> Option<u128> {
    if denominator == 0 {
        return None;
    }
    let denominator = u128::from(denominator);
    let mut quotient = u128::from(numerator) / denominator;
    let mut remainder = u128::from(numerator) % denominator;
    if shift <= 0 {
        // floor(floor(n / d) / 2^k) == floor(n / (d × 2^k)).
        return Some(quotient.checked_shr(shift.unsigned_abs()).unwrap_or(0));
    }
    let mut bits_left = shift.unsigned_abs();
    while bits_left > 0 {
        let step = bits_left.min(64);
        if quotient.leading_zeros() < step {
            return None;
        }
        let widened = remainder << step;
        // widened / d < 2^step, so it fills exactly the bits the shift freed.
        quotient = (quotient << step) | (widened / denominator);
        remainder = widened % denominator;
        bits_left -= step;
    }
    Some(quotient)
}

/// `floor(numerator × 2^shift / denominator)` for any size. `denominator`
/// must not be zero, and `|shift|` must stay where a big integer can hold
/// it: its callers pass the difference of two `f64` exponents (at most
/// 971 + 1074 = 2,045).
pub(crate) fn floor_scaled(numerator: BigUint, denominator: BigUint, shift: i64) -> BigUint {
    let magnitude = usize::try_from(shift.unsigned_abs()).unwrap_or(usize::MAX);
    if shift >= 0 {
        (numerator << magnitude) / denominator
    } else {
        numerator / (denominator << magnitude)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value_of(dyadic: Dyadic) -> f64 {
        dyadic.mantissa as f64 * 2f64.powi(dyadic.exponent)
    }

    #[test]
    fn a_zero_denominator_is_none_not_a_panic() {
        assert_eq!(shifted_ratio(1, 0, 5), None);
        assert_eq!(shifted_ratio(0, 0, -5), None);
        assert_eq!(shifted_ratio(6, 3, 1), Some(4));
    }

    #[test]
    fn reads_normal_subnormal_and_zero_values() {
        assert_eq!(
            Dyadic::of(1.0),
            Dyadic {
                mantissa: 1 << 52,
                exponent: -52
            }
        );
        assert_eq!(
            Dyadic::of(0.75),
            Dyadic {
                mantissa: 3 << 51,
                exponent: -53
            }
        );
        assert_eq!(Dyadic::of(0.0).mantissa, 0);
        assert_eq!(Dyadic::of(-0.0).mantissa, 0);
        assert_eq!(
            Dyadic::of(f64::from_bits(1)),
            Dyadic {
                mantissa: 1,
                exponent: -1074
            }
        );
        assert_eq!(
            Dyadic::of(f64::MAX),
            Dyadic {
                mantissa: (1 << 53) - 1,
                exponent: 971
            }
        );
    }

    #[test]
    fn shifted_ratio_by_hand() {
        // 1 / 3 × 2^4 = 5.33 → 5.
        assert_eq!(shifted_ratio(1, 3, 4), Some(5));
        // 10 / 3 × 2^-1 = 1.67 → 1.
        assert_eq!(shifted_ratio(10, 3, -1), Some(1));
        // 2^64 / 1000 = 18446744073709551.616 → 18446744073709551.
        assert_eq!(shifted_ratio(1, 1_000, 64), Some(18_446_744_073_709_551));
        assert_eq!(shifted_ratio(1, 1, 127), Some(1 << 127));
        assert_eq!(shifted_ratio(1, 1, 128), None);
        // 3/2 × 2^127 still fits; 2 × 2^127 does not.
        assert_eq!(shifted_ratio(3, 2, 127), Some(3 << 126));
        assert_eq!(shifted_ratio(2, 1, 127), None);
        assert_eq!(shifted_ratio(u64::MAX, 1, -200), Some(0));
        assert_eq!(shifted_ratio(0, 7, 5_000), Some(0));
    }

    proptest! {
        #[test]
        fn dyadic_is_exact(value in proptest::num::f64::POSITIVE | proptest::num::f64::ZERO) {
            // Scaling by a power of two in f64 is exact while in range; compare
            // against a re-assembly for values where it stays normal.
            let dyadic = Dyadic::of(value);
            prop_assert!(dyadic.mantissa < 1 << 53);
            if value > 1e-290 && value < 1e290 {
                prop_assert_eq!(value_of(dyadic), value);
            }
        }

        #[test]
        fn shifted_ratio_matches_big_integers(
            numerator in any::<u64>(),
            denominator in 1u64..,
            shift in -300i32..300,
        ) {
            let exact = floor_scaled(
                BigUint::from(numerator),
                BigUint::from(denominator),
                i64::from(shift),
            );
            let expected = u128::try_from(&exact).ok();
            prop_assert_eq!(shifted_ratio(numerator, denominator, shift), expected);
        }
    }
}
