//! Checking the difficulties a payout is asked to weigh.

use crate::exact::Dyadic;
use crate::PayoutError;

/// A share difficulty: finite and not negative. Zero is allowed (a share
/// worth nothing is still a share).
pub(crate) fn share_difficulty(value: f64) -> Result<Dyadic, PayoutError> {
    if value.is_finite() && value >= 0.0 {
        Ok(Dyadic::of(value))
    } else {
        Err(PayoutError::InvalidShareDifficulty { value })
    }
}

/// A network difficulty: finite and above zero, since shares are divided by it.
pub(crate) fn network_difficulty(value: f64) -> Result<Dyadic, PayoutError> {
    if value.is_finite() && value > 0.0 {
        Ok(Dyadic::of(value))
    } else {
        Err(PayoutError::InvalidNetworkDifficulty { value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_difficulty_may_be_zero_but_not_negative_or_infinite() {
        assert!(share_difficulty(0.0).is_ok());
        assert!(share_difficulty(-0.0).is_ok());
        assert!(share_difficulty(1e-300).is_ok());
        for value in [-1e-300, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                share_difficulty(value),
                Err(PayoutError::InvalidShareDifficulty { .. })
            ));
        }
    }

    #[test]
    fn network_difficulty_must_be_positive() {
        assert!(network_difficulty(4.6e-10).is_ok());
        assert!(network_difficulty(f64::from_bits(1)).is_ok());
        for value in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                network_difficulty(value),
                Err(PayoutError::InvalidNetworkDifficulty { .. })
            ));
        }
    }
}
