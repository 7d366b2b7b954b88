//! Paying miners: crediting shares and blocks by the configured scheme
//! (the arithmetic is the `payout` crate's), following found blocks until
//! they mature or are orphaned, and the `pool payout` run that a cron job
//! starts to pay balances from the pool's wallet.
//!
//! Files: `credit` (a block's PPLNS or SOLO credits), `chain` (how deep a
//! block is, from bitcoind or the simnet), `wallet` (bitcoind's wallet and
//! what a payout needs of it), `run` (one payout run, crash-safe).

mod chain;
mod credit;
mod run;
mod wallet;

pub use chain::{BitcoindChain, ChainError, ChainView, Depth, SimnetChain};
pub use credit::{credit_block, credit_soon, CreditError};
pub use run::{payout_run, RunError, RunReport, RunSettings, PAYMENT_DEPTH};
pub use wallet::{BitcoindWallet, PaymentStatus, Wallet, WalletError};

use crate::config::{Config, PayoutMode};
use payout::{Fee, Score};

/// How shares and blocks are credited, from the config.
#[derive(Debug, Clone)]
pub struct CreditSettings {
    pub mode: PayoutMode,
    pub fee: Fee,
    /// PPLNS: the window, in blocks' worth of work.
    pub window: Score,
}

impl CreditSettings {
    /// From a validated config.
    pub fn from_config(config: &Config) -> CreditSettings {
        CreditSettings {
            mode: config.pool.mode,
            fee: Fee::from_basis_points(config.pool.fee_basis_points())
                .expect("validated fee below 100 %"),
            window: Score::from_blocks(config.payout.window_factor)
                .expect("validated window factor"),
        }
    }

    /// What an accepted share earns now: its PPS/FPPS credit, 0 in PPLNS
    /// and SOLO (paid per block). `reward` is the job's PPS block reward.
    pub fn share_credit(&self, reward: u64, share_difficulty: f64, network_difficulty: f64) -> u64 {
        match self.mode {
            PayoutMode::Pps | PayoutMode::Fpps => {
                payout::pps_credit(reward, share_difficulty, network_difficulty, self.fee)
                    .unwrap_or_else(|error| {
                        tracing::error!(%error, "share credit not computable; credited 0");
                        0
                    })
            }
            PayoutMode::Pplns | PayoutMode::Solo => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mode: PayoutMode) -> CreditSettings {
        CreditSettings {
            mode,
            fee: Fee::from_basis_points(100).unwrap(),
            window: Score::from_blocks(2.0).unwrap(),
        }
    }

    #[test]
    fn shares_earn_at_acceptance_only_under_pps_and_fpps() {
        // 312_500_000 × 1_000 / 1_000_000 × 0.99 = 309_375.
        for mode in [PayoutMode::Pps, PayoutMode::Fpps] {
            assert_eq!(
                settings(mode).share_credit(312_500_000, 1_000.0, 1_000_000.0),
                309_375
            );
        }
        for mode in [PayoutMode::Pplns, PayoutMode::Solo] {
            assert_eq!(
                settings(mode).share_credit(312_500_000, 1_000.0, 1_000_000.0),
                0
            );
        }
        // A share the arithmetic refuses earns nothing rather than panicking.
        assert_eq!(
            settings(PayoutMode::Pps).share_credit(312_500_000, 1.0, f64::NAN),
            0
        );
    }
}
