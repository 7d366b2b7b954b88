//! Full pay per share: PPS on the subsidy plus the expected transaction fees.

use std::collections::VecDeque;

use crate::pps::expected_credit;
use crate::{Fee, PayoutError, Sats};

/// The expected transaction fees of a block: the mean over the last
/// `window` templates, so one fat or empty template does not swing every
/// share's pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeAverage {
    window: usize,
    recent_fees: VecDeque<Sats>,
    // u128: a window of u64s cannot overflow it.
    recent_total: u128,
}

impl FeeAverage {
    /// Averages over the last `window` templates; a window of 0 is taken as 1.
    pub fn new(window: usize) -> FeeAverage {
        let window = window.max(1);
        FeeAverage {
            window,
            recent_fees: VecDeque::with_capacity(window.min(4_096)),
            recent_total: 0,
        }
    }

    /// Records a template's fees (`coinbasevalue − subsidy`), forgetting the
    /// oldest once the window is full.
    pub fn push(&mut self, template_fees: Sats) {
        if self.recent_fees.len() == self.window {
            if let Some(oldest) = self.recent_fees.pop_front() {
                self.recent_total -= u128::from(oldest);
            }
        }
        self.recent_fees.push_back(template_fees);
        self.recent_total += u128::from(template_fees);
    }

    /// The floor of the mean of the fees in the window; 0 when empty.
    pub fn average(&self) -> Sats {
        match self.recent_fees.len() {
            0 => 0,
            // The mean of u64s is a u64.
            count => (self.recent_total / count as u128) as Sats,
        }
    }

    /// The average [`FeeAverage::push`] of `template_fees` would give, without
    /// pushing (to check a template before taking it).
    pub fn average_with(&self, template_fees: Sats) -> Sats {
        let (total, count) = match self.recent_fees.front() {
            // The window's total includes the oldest: no underflow.
            Some(&oldest) if self.recent_fees.len() == self.window => {
                (self.recent_total - u128::from(oldest), self.window)
            }
            _ => (self.recent_total, self.recent_fees.len() + 1),
        };
        // The mean of u64s is a u64.
        ((total + u128::from(template_fees)) / count as u128) as Sats
    }

    /// How many templates the average is over now.
    pub fn len(&self) -> usize {
        self.recent_fees.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recent_fees.is_empty()
    }

    pub fn window(&self) -> usize {
        self.window
    }
}

/// FPPS: [`pps_credit`](crate::pps_credit) on a block reward of
/// `subsidy + average_fees` (added exactly, even past `u64::MAX`).
pub fn fpps_credit(
    subsidy: Sats,
    average_fees: Sats,
    share_difficulty: f64,
    network_difficulty: f64,
    fee: Fee,
) -> Result<Sats, PayoutError> {
    let block_reward = u128::from(subsidy) + u128::from(average_fees);
    expected_credit(block_reward, share_difficulty, network_difficulty, fee)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pps_credit;
    use proptest::prelude::*;

    #[test]
    fn average_by_hand() {
        let mut fees = FeeAverage::new(3);
        assert_eq!((fees.average(), fees.len(), fees.is_empty()), (0, 0, true));
        fees.push(1);
        fees.push(2);
        // (1 + 2) / 2 = 1.5 → 1.
        assert_eq!(fees.average(), 1);
        fees.push(30);
        fees.push(40);
        // The window keeps 2, 30, 40: 72 / 3 = 24.
        assert_eq!((fees.average(), fees.len()), (24, 3));
    }

    #[test]
    fn zero_window_is_one() {
        let mut fees = FeeAverage::new(0);
        assert_eq!(fees.window(), 1);
        fees.push(5);
        fees.push(7);
        assert_eq!((fees.average(), fees.len()), (7, 1));
    }

    #[test]
    fn huge_fees_do_not_overflow() {
        let mut fees = FeeAverage::new(4);
        for _ in 0..10 {
            fees.push(u64::MAX);
        }
        assert_eq!(fees.average(), u64::MAX);
    }

    #[test]
    fn fpps_share_by_hand() -> Result<(), PayoutError> {
        // Fees of the last three templates: 10M, 20M, 30M sat → 20,000,000 average.
        let mut fees = FeeAverage::new(3);
        for template_fees in [5_000_000, 10_000_000, 20_000_000, 30_000_000] {
            fees.push(template_fees);
        }
        assert_eq!(fees.average(), 20_000_000);
        // Reward 312,500,000 + 20,000,000 = 332,500,000; × 1000 / 1,000,000 =
        // 332,500; less 2 %: 332,500 × 9800 / 10000 = 325,850.
        let two_percent = Fee::from_basis_points(200)?;
        assert_eq!(
            fpps_credit(312_500_000, fees.average(), 1_000.0, 1e6, two_percent)?,
            325_850
        );
        Ok(())
    }

    #[test]
    fn reward_past_u64_is_added_exactly() -> Result<(), PayoutError> {
        // (2^64 − 1 + 1) × 1/2 = 2^63: saturating the sum would give 2^63 − 1.
        assert_eq!(fpps_credit(u64::MAX, 1, 1.0, 2.0, Fee::ZERO)?, 1 << 63);
        Ok(())
    }

    proptest! {
        #[test]
        fn average_is_the_floor_mean_of_the_last_window(
            window in 0usize..8,
            template_fees in proptest::collection::vec(any::<u64>(), 0..20),
        ) {
            let mut fees = FeeAverage::new(window);
            for &value in &template_fees {
                fees.push(value);
            }
            let kept = &template_fees[template_fees.len().saturating_sub(window.max(1))..];
            let expected = if kept.is_empty() {
                0
            } else {
                (kept.iter().map(|&v| u128::from(v)).sum::<u128>() / kept.len() as u128) as u64
            };
            prop_assert_eq!(fees.average(), expected);
            prop_assert_eq!(fees.len(), kept.len());
        }

        #[test]
        fn average_with_is_the_average_after_a_push(
            window in 0usize..8,
            template_fees in proptest::collection::vec(any::<u64>(), 0..20),
            next in any::<u64>(),
        ) {
            let mut fees = FeeAverage::new(window);
            for &value in &template_fees {
                fees.push(value);
            }
            let predicted = fees.average_with(next);
            fees.push(next);
            prop_assert_eq!(predicted, fees.average());
        }

        #[test]
        fn fpps_is_pps_on_subsidy_plus_fees(
            subsidy in 0u64..=5_000_000_000,
            average_fees in 0u64..=1_000_000_000,
            share in 1e-4f64..1e9,
            network in 1e9f64..1e15,
            bp in 0u32..10_000,
        ) {
            let fee = Fee::from_basis_points(bp)?;
            prop_assert_eq!(
                fpps_credit(subsidy, average_fees, share, network, fee)?,
                pps_credit(subsidy + average_fees, share, network, fee)?
            );
        }
    }
}
