//! Telling one miner how their PPLNS pay was worked out.

use super::PplnsSplit;
use crate::sats::group_thousands;
use crate::{Fee, Sats, Score};

/// One miner's view of a [`PplnsSplit`], ready to print as a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub address: String,
    pub shares: u64,
    pub score: Score,
    pub window_score: Score,
    pub full_window: bool,
    pub coinbase_value: Sats,
    pub fee: Fee,
    pub pool_fee: Sats,
    pub miners_reward: Sats,
    pub amount: Sats,
}

impl PplnsSplit {
    /// How `address` was paid; zero shares, score and amount for an address
    /// that had no share in the window.
    pub fn explain(&self, address: &str) -> Explanation {
        let (shares, score, amount) = match self.credit(address) {
            Some(credit) => (credit.shares, credit.score, credit.amount),
            None => (0, Score::ZERO, 0),
        };
        Explanation {
            address: address.to_string(),
            shares,
            score,
            window_score: self.window_score,
            full_window: self.full_window,
            coinbase_value: self.coinbase_value,
            fee: self.fee,
            pool_fee: self.pool_fee,
            miners_reward: self.miners_reward,
            amount,
        }
    }
}

/// `12 shares in the window scoring 0.25 of 2.00 blocks: 12.5 % of
/// 312,500,000 sat after the 1 % pool fee = 38,671,875 sat`.
///
/// The figures in blocks and percent are rounded for reading; the amount is
/// the exact credit.
impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let window = format!(
            "{} blocks{}",
            blocks(self.window_score),
            if self.full_window {
                ""
            } else {
                " (the window was not yet full)"
            }
        );
        if self.shares == 0 {
            return write!(f, "no shares in the window of {window}: 0 sat");
        }
        let plural = if self.shares == 1 { "" } else { "s" };
        let portion = if self.window_score == Score::ZERO {
            0.0
        } else {
            self.score.as_f64() / self.window_score.as_f64() * 100.0
        };
        write!(
            f,
            "{} share{plural} in the window scoring {} of {window}: {} % of {} sat after the {} pool fee = {} sat",
            self.shares,
            blocks(self.score),
            trimmed(portion),
            group_thousands(self.coinbase_value),
            self.fee,
            group_thousands(self.amount),
        )
    }
}

/// Two decimals (`0.25`, `2.00`), or three significant digits for the tiny
/// scores of mainnet shares (`1.84e-9`).
fn blocks(score: Score) -> String {
    let value = score.as_f64();
    if value == 0.0 || value >= 0.01 {
        format!("{value:.2}")
    } else {
        format!("{value:.2e}")
    }
}

/// `12.5`, `33.33`, `100`, or `4.2e-7` for tiny portions.
fn trimmed(value: f64) -> String {
    if value != 0.0 && value < 0.01 {
        return format!("{value:.2e}");
    }
    let fixed = format!("{value:.2}");
    fixed
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(trimmed(12.5), "12.5");
        assert_eq!(trimmed(100.0), "100");
        assert_eq!(trimmed(100.0 / 3.0), "33.33");
        assert_eq!(trimmed(0.0), "0");
        assert_eq!(trimmed(0.000_42), "4.20e-4");
        assert_eq!(blocks(Score::from_raw(1 << 65)), "2.00");
        assert_eq!(blocks(Score::from_raw(1 << 62)), "0.25");
        assert_eq!(blocks(Score::ZERO), "0.00");
        assert_eq!(blocks(Score::from_raw(1 << 30)), "5.82e-11");
    }
}
