//! Test-only exact values computed another way than the crate does.
//!
//! The crate reads an `f64` from its bits; this reads it from Rust's exact
//! decimal expansion (`{:.1074}` prints every digit of any `f64`), so a bug
//! in either reading shows up as a disagreement.

use num_bigint::BigUint;

/// `value` (finite, not negative) as `numerator / denominator` exactly.
pub(crate) fn rational(value: f64) -> (BigUint, BigUint) {
    let decimal = format!("{:.1074}", value.abs());
    let (whole, fraction) = decimal.split_once('.').unwrap_or((&decimal, ""));
    let digits = format!("{whole}{fraction}");
    let numerator = digits
        .parse::<BigUint>()
        .unwrap_or_else(|_| panic!("decimal digits of {value}"));
    let fraction_digits = u32::try_from(fraction.len()).unwrap_or(u32::MAX);
    (numerator, BigUint::from(10u32).pow(fraction_digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exact_values() {
        let (numerator, denominator) = rational(0.375);
        assert_eq!(numerator * 8u32, denominator * 3u32);
        // 0.1 is not one tenth in binary: 0.1000000000000000055511151231257827...
        let (numerator, denominator) = rational(0.1);
        assert!(numerator * 10u32 > denominator);
        let (numerator, denominator) = rational(f64::MAX);
        assert_eq!(
            numerator / denominator,
            BigUint::from(u64::MAX >> 11) << 971
        );
    }
}
