//! A found block's credits, written once whichever process gets there
//! first (the node that found it, a moment later, or `pool payout`).
//!
//! The block's own mode decides: PPLNS splits it over the window of
//! shares before it, from every node; SOLO records the finder's coinbase
//! output; PPS and FPPS already paid every share, so the block is the
//! pool's and only its fee-free value is recorded.

use super::CreditSettings;
use crate::config::PayoutMode;
use crate::ledger::accounts::{CreditState, NewBlockCredits, WindowCursor};
use crate::ledger::{Ledger, LedgerError, StoredBlock};
use payout::{PayoutError, PplnsWindow, Score, WindowShare};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::watch;

#[derive(Debug, Error)]
pub enum CreditError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("block {hash}: {source}")]
    Payout {
        hash: String,
        #[source]
        source: PayoutError,
    },
}

/// Shares read per query while filling a PPLNS window.
const WINDOW_PAGE: u32 = 5_000;

/// How long the finding node waits before crediting, so that shares other
/// nodes accepted just before the block have been committed.
const CREDIT_DELAY: Duration = Duration::from_secs(2);

/// Credits `block` unless it already is. Returns whether this call did.
pub async fn credit_block(
    ledger: &Ledger,
    block: &StoredBlock,
    settings: &CreditSettings,
) -> Result<bool, CreditError> {
    if block.credited {
        return Ok(false);
    }
    let value = block.coinbase_value_sat;
    let credits = match block.mode {
        PayoutMode::Pplns => {
            let window = fill_window(ledger, block, settings.window).await?;
            let split = window.split(value, settings.fee);
            NewBlockCredits {
                block_id: block.id,
                pool_fee_sat: split.pool_fee,
                fee_basis_points: settings.fee.basis_points(),
                window_target: split.window_target.raw(),
                window_score: split.window_score.raw(),
                window_shares: split.shares_used,
                full_window: split.full_window,
                credits: split
                    .credits
                    .into_iter()
                    .map(|credit| {
                        (
                            credit.address,
                            credit.amount,
                            credit.shares,
                            credit.score.raw(),
                        )
                    })
                    .collect(),
                state: CreditState::Immature,
            }
        }
        PayoutMode::Solo => {
            let split = payout::solo_split(value, settings.fee);
            NewBlockCredits {
                block_id: block.id,
                pool_fee_sat: split.pool_fee,
                fee_basis_points: settings.fee.basis_points(),
                window_target: 0,
                window_score: 0,
                window_shares: 1,
                full_window: true,
                credits: vec![(block.address.clone(), split.finder, 1, 0)],
                state: CreditState::Coinbase,
            }
        }
        PayoutMode::Pps | PayoutMode::Fpps => NewBlockCredits {
            block_id: block.id,
            pool_fee_sat: value,
            fee_basis_points: settings.fee.basis_points(),
            window_target: 0,
            window_score: 0,
            window_shares: 0,
            full_window: true,
            credits: Vec::new(),
            state: CreditState::Immature,
        },
    };
    let written = ledger.write_block_credits(&credits).await?;
    if written {
        tracing::info!(
            hash = %block.hash,
            height = block.height,
            mode = crate::ledger::mode_name(block.mode),
            miners = credits.credits.len(),
            shares = credits.window_shares,
            pool_fee_sat = credits.pool_fee_sat,
            "block credited"
        );
    }
    Ok(written)
}

/// The window of `block`: the ledger's shares before it, newest first, a
/// page at a time until they fill it (or the ledger's start). Only the
/// tallies by address are kept: a young pool's window is its whole
/// history, which may be far more shares than fit in memory.
async fn fill_window(
    ledger: &Ledger,
    block: &StoredBlock,
    target: Score,
) -> Result<PplnsWindow, CreditError> {
    let payout_error = |source| CreditError::Payout {
        hash: block.hash.clone(),
        source,
    };
    let mut window = PplnsWindow::new(target).map_err(payout_error)?;
    let mut cursor = ledger.window_start(block).await?;
    loop {
        let page = ledger.window_page(cursor, WINDOW_PAGE).await?;
        let full_page = page.len() == WINDOW_PAGE as usize;
        for row in page {
            cursor = WindowCursor {
                time_ms: row.time_ms,
                id: row.id - 1,
            };
            let share = WindowShare {
                id: row.id,
                address: row.address,
                difficulty: row.difficulty,
                network_difficulty: row.network_difficulty,
            };
            window.push(share).map_err(payout_error)?;
            if window.is_full() {
                return Ok(window);
            }
        }
        if !full_page {
            return Ok(window);
        }
    }
}

/// Credits the block `hash` after [`CREDIT_DELAY`], in the background
/// (unless the pool is shutting down: `pool payout` will).
pub fn credit_soon(
    ledger: Ledger,
    hash: String,
    settings: CreditSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(CREDIT_DELAY) => {}
            _ = shutdown.wait_for(|&stop| stop) => return,
        }
        let outcome = match ledger.block_by_hash(&hash).await {
            Ok(Some(block)) => credit_block(&ledger, &block, &settings).await.map(drop),
            Ok(None) => Ok(()),
            Err(error) => Err(error.into()),
        };
        if let Err(error) = outcome {
            tracing::error!(%error, %hash, "block not credited yet; `pool payout` will retry");
        }
    });
}
