//! The pool fee.

use crate::{PayoutError, Sats};

/// Basis points in a whole: a fee of 10000 basis points would be 100 %.
pub const BASIS_POINTS_PER_WHOLE: u32 = 10_000;

/// The pool fee as basis points (1.25 % is 125), 0..=9999.
///
/// 100 % is refused: a pool that keeps everything pays no one, and the
/// schemes divide by what is left for the miners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fee {
    basis_points: u32,
}

impl Fee {
    pub const ZERO: Fee = Fee { basis_points: 0 };

    pub fn from_basis_points(basis_points: u32) -> Result<Fee, PayoutError> {
        if basis_points < BASIS_POINTS_PER_WHOLE {
            Ok(Fee { basis_points })
        } else {
            Err(PayoutError::FeeTooHigh { basis_points })
        }
    }

    pub fn basis_points(self) -> u32 {
        self.basis_points
    }

    /// The basis points left to the miners: `10000 − fee`.
    pub fn kept_basis_points(self) -> u32 {
        BASIS_POINTS_PER_WHOLE - self.basis_points
    }

    /// `floor(amount × bp / 10000)`: the pool's cut of `amount`.
    pub fn of(self, amount: Sats) -> Sats {
        let cut =
            u128::from(amount) * u128::from(self.basis_points) / u128::from(BASIS_POINTS_PER_WHOLE);
        // bp < 10000, so the cut is below `amount` and fits.
        cut as Sats
    }
}

/// `1 %`, `1.25 %`, `0.05 %`.
impl std::fmt::Display for Fee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let whole = self.basis_points / 100;
        let hundredths = self.basis_points % 100;
        match (hundredths, hundredths % 10) {
            (0, _) => write!(f, "{whole} %"),
            (_, 0) => write!(f, "{whole}.{} %", hundredths / 10),
            _ => write!(f, "{whole}.{hundredths:02} %"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_a_hundred_percent_and_more() {
        assert_eq!(
            Fee::from_basis_points(9_999).map(Fee::basis_points),
            Ok(9_999)
        );
        assert_eq!(
            Fee::from_basis_points(10_000),
            Err(PayoutError::FeeTooHigh {
                basis_points: 10_000
            })
        );
        assert!(Fee::from_basis_points(u32::MAX).is_err());
    }

    #[test]
    fn cut_rounds_down() -> Result<(), PayoutError> {
        // 1 % of 312,500,000 is exactly 3,125,000.
        assert_eq!(Fee::from_basis_points(100)?.of(312_500_000), 3_125_000);
        // 1.25 % of 99 sat is 1.2375 sat: the pool takes 1.
        assert_eq!(Fee::from_basis_points(125)?.of(99), 1);
        // 0.01 % of 9,999 sat is 0.9999 sat: the pool takes nothing.
        assert_eq!(Fee::from_basis_points(1)?.of(9_999), 0);
        assert_eq!(Fee::ZERO.of(u64::MAX), 0);
        assert_eq!(
            Fee::from_basis_points(9_999)?.of(u64::MAX),
            18_444_899_399_302_180_659
        );
        Ok(())
    }

    #[test]
    fn displays_as_percent() -> Result<(), PayoutError> {
        let shown = |bp| Fee::from_basis_points(bp).map(|fee| fee.to_string());
        assert_eq!(shown(0)?, "0 %");
        assert_eq!(shown(100)?, "1 %");
        assert_eq!(shown(125)?, "1.25 %");
        assert_eq!(shown(150)?, "1.5 %");
        assert_eq!(shown(5)?, "0.05 %");
        assert_eq!(shown(9_999)?, "99.99 %");
        Ok(())
    }

    proptest! {
        #[test]
        fn cut_is_the_floor_of_the_exact_product(amount in any::<u64>(), bp in 0u32..10_000) {
            let fee = Fee::from_basis_points(bp)?;
            let cut = u128::from(fee.of(amount));
            let exact_times_whole = u128::from(amount) * u128::from(bp);
            prop_assert!(cut * 10_000 <= exact_times_whole);
            prop_assert!(exact_times_whole < (cut + 1) * 10_000);
            prop_assert_eq!(fee.kept_basis_points() + bp, 10_000);
        }
    }
}
