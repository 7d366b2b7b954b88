//! The block subsidy: new coins per block, halving on a schedule.

use crate::{Sats, COIN};

/// The subsidy of the first block: 50 BTC.
pub const INITIAL_SUBSIDY: Sats = 50 * COIN;
pub const MAINNET_HALVING_INTERVAL: u32 = 210_000;
pub const REGTEST_HALVING_INTERVAL: u32 = 150;

/// The subsidy at `height` when it halves every `halving_interval` blocks,
/// as Bitcoin Core's `GetBlockSubsidy`: 50 BTC shifted right once per
/// halving, zero from the 64th halving on. An interval of 0 is taken as 1
/// (a division by zero would panic).
pub fn subsidy(height: u32, halving_interval: u32) -> Sats {
    let halvings = height / halving_interval.max(1);
    INITIAL_SUBSIDY.checked_shr(halvings).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainnet_schedule() {
        assert_eq!(subsidy(0, MAINNET_HALVING_INTERVAL), 5_000_000_000);
        assert_eq!(subsidy(209_999, MAINNET_HALVING_INTERVAL), 5_000_000_000);
        assert_eq!(subsidy(210_000, MAINNET_HALVING_INTERVAL), 2_500_000_000);
        // Fourth halving (April 2024): 50 / 16 = 3.125 BTC.
        assert_eq!(subsidy(840_000, MAINNET_HALVING_INTERVAL), 312_500_000);
        // 5e9 >> 32 = 1.16 → 1 sat; >> 33 → 0.
        assert_eq!(subsidy(32 * 210_000, MAINNET_HALVING_INTERVAL), 1);
        assert_eq!(subsidy(33 * 210_000, MAINNET_HALVING_INTERVAL), 0);
    }

    #[test]
    fn regtest_schedule_and_extremes() {
        assert_eq!(subsidy(149, REGTEST_HALVING_INTERVAL), 5_000_000_000);
        assert_eq!(subsidy(150, REGTEST_HALVING_INTERVAL), 2_500_000_000);
        assert_eq!(subsidy(300, REGTEST_HALVING_INTERVAL), 1_250_000_000);
        assert_eq!(subsidy(150 * 64, REGTEST_HALVING_INTERVAL), 0);
        assert_eq!(subsidy(u32::MAX, REGTEST_HALVING_INTERVAL), 0);
        assert_eq!(subsidy(u32::MAX, u32::MAX), 2_500_000_000);
        assert_eq!(subsidy(1, 0), 2_500_000_000);
        assert_eq!(subsidy(u32::MAX, 0), 0);
    }
}
