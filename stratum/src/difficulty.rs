//! Share difficulty as miners see it in `mining.set_difficulty`.
//!
//! Miners speak difficulty as a JSON number, fractional for tiny devices.
//! It is kept as the exact binary value that went on the wire, and turned
//! into a target with exact integer arithmetic (`Target::from_difficulty`).

use thiserror::Error;

/// A share difficulty: finite and greater than zero.
#[derive(Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Difficulty(f64);

#[derive(Debug, Clone, PartialEq, Error)]
#[error("difficulty must be a finite number above zero, got {0}")]
pub struct InvalidDifficulty(pub f64);

impl Difficulty {
    pub const ONE: Difficulty = Difficulty(1.0);

    pub fn new(value: f64) -> Result<Difficulty, InvalidDifficulty> {
        if value.is_finite() && value > 0.0 {
            Ok(Difficulty(value))
        } else {
            Err(InvalidDifficulty(value))
        }
    }

    pub fn as_f64(&self) -> f64 {
        self.0
    }

    /// `(mantissa, exponent)` with `value == mantissa * 2^exponent` exactly.
    pub(crate) fn to_mantissa_exponent(self) -> (u64, i32) {
        let bits = self.0.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1u64 << 52) - 1);
        if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1u64 << 52), biased - 1075)
        }
    }

    /// The JSON text sent in `mining.set_difficulty`: whole numbers without a
    /// fraction (`512`, not `512.0`), fractions in plain decimal notation.
    pub fn to_wire(&self) -> String {
        if self.0.fract() == 0.0 && self.0 < 9_007_199_254_740_992.0 {
            format!("{}", self.0 as u64)
        } else {
            format!("{}", self.0)
        }
    }
}

impl std::fmt::Debug for Difficulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Difficulty({})", self.to_wire())
    }
}

impl std::fmt::Display for Difficulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_wire())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_non_positive_and_non_finite() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(Difficulty::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wire_form_is_plain_json() {
        assert_eq!(Difficulty::new(512.0).unwrap().to_wire(), "512");
        assert_eq!(Difficulty::new(0.0001).unwrap().to_wire(), "0.0001");
        assert_eq!(Difficulty::new(1.5).unwrap().to_wire(), "1.5");
        assert_eq!(Difficulty::new(1e-10).unwrap().to_wire(), "0.0000000001");
    }

    proptest! {
        #[test]
        fn mantissa_exponent_is_exact(value in 1e-200f64..1e200) {
            let (mantissa, exponent) = Difficulty::new(value).unwrap().to_mantissa_exponent();
            prop_assert_eq!(mantissa as f64 * 2f64.powi(exponent), value);
        }

        #[test]
        fn wire_form_parses_back_exactly(value in 1e-12f64..1e18) {
            let text = Difficulty::new(value).unwrap().to_wire();
            let parsed: f64 = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(parsed, value);
        }
    }
}
