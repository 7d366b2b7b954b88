//! What goes into the ledger and what comes back out of it.

use super::LedgerError;
use crate::config::PayoutMode;

/// An accepted share, as the share pipeline hands it to the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct NewShare {
    /// The pool node's extranonce prefix (several nodes share one PostgreSQL).
    pub node: u8,
    /// Payout address part of the username.
    pub address: String,
    /// The worker part ("" when none).
    pub worker: String,
    pub job_id: u64,
    /// Difficulty credited: the job's, not the one in force on arrival.
    pub difficulty: f64,
    /// Network difficulty of the job at the time.
    pub network_difficulty: f64,
    /// Unix milliseconds when accepted.
    pub time_ms: i64,
    pub is_block: bool,
    /// The header hash (internal byte order).
    pub hash: [u8; 32],
    /// PPS/FPPS: what the share earned, fee deducted; 0 in PPLNS and SOLO.
    pub credit_sat: u64,
}

/// A block the pool found and submitted.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBlock {
    pub node: u8,
    pub height: u32,
    /// Block hash, display hex.
    pub hash: String,
    pub address: String,
    pub worker: String,
    pub coinbase_value_sat: u64,
    pub time_ms: i64,
    pub raw_hex: String,
    /// JSON of the nodes' submitblock answers.
    pub answers: String,
    pub accepted: bool,
    /// The payout mode of the node that found it: how it is credited.
    pub mode: PayoutMode,
}

/// A share row, newest first from [`super::Ledger::shares`].
#[derive(Debug, Clone, PartialEq)]
pub struct StoredShare {
    /// Assigned by the database; unique across every node.
    pub id: i64,
    pub node: u8,
    pub address: String,
    pub worker: String,
    pub job_id: u64,
    pub difficulty: f64,
    pub network_difficulty: f64,
    pub time_ms: i64,
    pub is_block: bool,
    pub hash: [u8; 32],
    pub credit_sat: u64,
    /// Whether a payout run moved `credit_sat` to the balance journal.
    pub settled: bool,
}

impl StoredShare {
    /// The share as it was recorded (without its id).
    pub fn share(&self) -> NewShare {
        NewShare {
            node: self.node,
            address: self.address.clone(),
            worker: self.worker.clone(),
            job_id: self.job_id,
            difficulty: self.difficulty,
            network_difficulty: self.network_difficulty,
            time_ms: self.time_ms,
            is_block: self.is_block,
            hash: self.hash,
            credit_sat: self.credit_sat,
        }
    }
}

/// A block row, newest first from [`super::Ledger::blocks`].
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBlock {
    pub id: i64,
    pub node: u8,
    pub height: u32,
    pub hash: String,
    pub address: String,
    pub worker: String,
    pub coinbase_value_sat: u64,
    pub time_ms: i64,
    pub raw_hex: String,
    pub answers: String,
    pub accepted: bool,
    pub mode: PayoutMode,
    /// `submitted` until the payout lifecycle moves it on.
    pub status: BlockStatus,
    /// As the node last reported them; -1 when no longer in the best chain.
    pub confirmations: i64,
    /// Whether its credits (PPLNS split, SOLO record) are written.
    pub credited: bool,
    pub pool_fee_sat: u64,
    /// Number of shares in its PPLNS window (0 before crediting).
    pub window_shares: u64,
    /// Whether those shares filled the window.
    pub full_window: bool,
}

/// Where a found block is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockStatus {
    /// Sent to the nodes; not yet mature.
    Submitted,
    /// Buried under coinbase maturity: its credits are spendable.
    Confirmed,
    /// No longer in the best chain (or never accepted): credits reversed.
    Orphaned,
}

impl BlockStatus {
    pub fn name(self) -> &'static str {
        match self {
            BlockStatus::Submitted => "submitted",
            BlockStatus::Confirmed => "confirmed",
            BlockStatus::Orphaned => "orphaned",
        }
    }

    pub fn parse(text: &str) -> Option<BlockStatus> {
        [
            BlockStatus::Submitted,
            BlockStatus::Confirmed,
            BlockStatus::Orphaned,
        ]
        .into_iter()
        .find(|status| status.name() == text)
    }
}

impl std::fmt::Display for BlockStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The name a payout mode has in the ledger.
pub fn mode_name(mode: PayoutMode) -> &'static str {
    match mode {
        PayoutMode::Solo => "solo",
        PayoutMode::Pps => "pps",
        PayoutMode::Fpps => "fpps",
        PayoutMode::Pplns => "pplns",
    }
}

pub(super) fn parse_mode(text: &str) -> Option<PayoutMode> {
    [
        PayoutMode::Solo,
        PayoutMode::Pps,
        PayoutMode::Fpps,
        PayoutMode::Pplns,
    ]
    .into_iter()
    .find(|mode| mode_name(*mode) == text)
}

impl StoredBlock {
    /// The block as it was recorded (without its id and status).
    pub fn block(&self) -> NewBlock {
        NewBlock {
            node: self.node,
            height: self.height,
            hash: self.hash.clone(),
            address: self.address.clone(),
            worker: self.worker.clone(),
            coinbase_value_sat: self.coinbase_value_sat,
            time_ms: self.time_ms,
            raw_hex: self.raw_hex.clone(),
            answers: self.answers.clone(),
            accepted: self.accepted,
            mode: self.mode,
        }
    }
}

/// Most sats a coinbase can ever pay is far below this; the column is i64.
const MAX_STORABLE_SATS: u64 = i64::MAX as u64;

impl NewShare {
    /// Refuses what the database would refuse, before the share joins a
    /// batch: one bad row must never fail the other shares of its
    /// transaction (SQLite stores NaN as NULL; PostgreSQL refuses NUL in
    /// text).
    pub(super) fn check(&self) -> Result<(), LedgerError> {
        let invalid = |field, reason| {
            Err(LedgerError::Invalid {
                record: "share",
                field,
                reason,
            })
        };
        if !self.difficulty.is_finite() {
            return invalid("difficulty", "is not a finite number");
        }
        if !self.network_difficulty.is_finite() {
            return invalid("network_difficulty", "is not a finite number");
        }
        if self.credit_sat > MAX_STORABLE_SATS {
            return invalid("credit_sat", "does not fit in a signed 64-bit column");
        }
        if self.address.contains('\0') {
            return invalid("address", "contains a NUL character");
        }
        if self.worker.contains('\0') {
            return invalid("worker", "contains a NUL character");
        }
        Ok(())
    }
}

impl NewBlock {
    pub(super) fn check(&self) -> Result<(), LedgerError> {
        let invalid = |field, reason| {
            Err(LedgerError::Invalid {
                record: "block",
                field,
                reason,
            })
        };
        if self.coinbase_value_sat > MAX_STORABLE_SATS {
            return invalid(
                "coinbase_value_sat",
                "does not fit in a signed 64-bit column",
            );
        }
        for (field, text) in [
            ("hash", &self.hash),
            ("address", &self.address),
            ("worker", &self.worker),
            ("raw_hex", &self.raw_hex),
            ("answers", &self.answers),
        ] {
            if text.contains('\0') {
                return invalid(field, "contains a NUL character");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share() -> NewShare {
        NewShare {
            node: 1,
            address: "bcrt1qexample".to_string(),
            worker: "rig".to_string(),
            job_id: u64::MAX,
            difficulty: 1.5,
            network_difficulty: 0.001,
            time_ms: 1_700_000_000_000,
            is_block: false,
            hash: [7; 32],
            credit_sat: 12_345,
        }
    }

    #[test]
    fn a_normal_share_passes() {
        assert!(share().check().is_ok());
    }

    #[test]
    fn non_finite_difficulty_and_nul_text_are_refused() {
        let nan = NewShare {
            difficulty: f64::NAN,
            ..share()
        };
        assert!(matches!(
            nan.check(),
            Err(LedgerError::Invalid {
                field: "difficulty",
                ..
            })
        ));
        let nul = NewShare {
            worker: "a\0b".to_string(),
            ..share()
        };
        assert!(matches!(
            nul.check(),
            Err(LedgerError::Invalid {
                field: "worker",
                ..
            })
        ));
    }

    #[test]
    fn stored_share_gives_back_the_recorded_one() {
        let original = share();
        let stored = StoredShare {
            id: 9,
            node: original.node,
            address: original.address.clone(),
            worker: original.worker.clone(),
            job_id: original.job_id,
            difficulty: original.difficulty,
            network_difficulty: original.network_difficulty,
            time_ms: original.time_ms,
            is_block: original.is_block,
            hash: original.hash,
            credit_sat: original.credit_sat,
            settled: false,
        };
        assert_eq!(stored.share(), original);
    }
}
