//! One payout run, as `pool payout` does it from cron.
//!
//! 1. Take the payout lock (one run at a time, also across machines).
//! 2. Resolve every batch a cut-short run left `pending`: the wallet has
//!    a transaction with its comment (record the txid) or not (cancel it
//!    and give the balances back). Nothing else happens until this worked.
//! 3. Credit the blocks not yet credited, then follow every submitted
//!    block: confirmed at `maturity` confirmations (its credits join the
//!    balances), orphaned once out of the best chain (its credits are
//!    reversed).
//! 4. Settle PPS/FPPS share credits into the balances.
//! 5. Pay every balance at or above the threshold in one `sendmany`,
//!    recorded first as a pending batch whose id is the transaction's
//!    comment, then marked sent with its txid.
//!
//! Each step is its own transaction, so a run killed anywhere leaves a
//! state the next run finishes: no balance is paid twice or lost.

use super::{credit_block, ChainView, CreditError, CreditSettings, Depth, Wallet, WalletError};
use crate::clock::unix_millis;
use crate::ledger::accounts::{PayoutBatch, PayoutLine, Settlement};
use crate::ledger::{Ledger, LedgerError, StoredBlock};
use std::collections::BTreeMap;
use std::str::FromStr;
use thiserror::Error;

/// What a run needs beyond the ledger, the chain and the wallet.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub credit: CreditSettings,
    pub threshold_sat: u64,
    /// Confirmations that make a block's credits payable.
    pub maturity: u32,
    /// Payout addresses must be valid for this network.
    pub network: bitcoin::Network,
    /// Print the plan; change nothing and send nothing.
    pub dry_run: bool,
}

/// A block the node has not seen is orphaned once it is this old: a block
/// the pool submitted reaches every node within seconds if it is valid.
const UNKNOWN_BLOCK_GRACE_MS: i64 = 3_600_000;

#[derive(Debug, Error)]
pub enum RunError {
    #[error("another payout run holds the lock; nothing done")]
    Busy,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("crediting a block: {0}")]
    Credit(#[from] CreditError),
    #[error("batch {batch} is pending and the wallet cannot tell whether it was sent ({source}); nothing else done, the next run retries")]
    Unresolved {
        batch: String,
        #[source]
        source: WalletError,
    },
    #[error("batch {batch}: {source}; its balances were given back")]
    Refused {
        batch: String,
        #[source]
        source: WalletError,
    },
    #[error("batch {batch} was recorded but the wallet's answer is unclear ({source}); the next run finds out whether it was sent")]
    Unclear {
        batch: String,
        #[source]
        source: WalletError,
    },
}

/// What a run did (or, dry, would do).
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub dry_run: bool,
    /// Pending batches found sent, with their txid.
    pub recovered: Vec<(String, String)>,
    /// Pending batches found never sent, now cancelled.
    pub cancelled: Vec<String>,
    pub credited_blocks: Vec<String>,
    pub confirmed_blocks: Vec<String>,
    pub orphaned_blocks: Vec<String>,
    /// Blocks whose depth could not be read (the chain's error).
    pub chain_errors: Vec<String>,
    pub settled: Settlement,
    /// The batch sent (or, dry, planned: its lines, id empty).
    pub batch: Option<PayoutBatch>,
    /// Balances below the threshold: how many, how much.
    pub waiting: (u64, u64),
    /// Balances whose address is not valid for the network.
    pub skipped_addresses: Vec<String>,
}

impl RunReport {
    /// One line for cron's mail and for monitoring.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        parts.push(format!(
            "blocks credited {}, confirmed {}, orphaned {}",
            self.credited_blocks.len(),
            self.confirmed_blocks.len(),
            self.orphaned_blocks.len()
        ));
        if !self.recovered.is_empty() || !self.cancelled.is_empty() {
            parts.push(format!(
                "unfinished batches: {} found sent, {} cancelled",
                self.recovered.len(),
                self.cancelled.len()
            ));
        }
        parts.push(format!(
            "settled {} sat from {} shares",
            self.settled.total_sat, self.settled.shares
        ));
        match &self.batch {
            Some(batch) => parts.push(format!(
                "{} {} miners {} sat{}",
                if self.dry_run { "would pay" } else { "paid" },
                batch.lines.len(),
                batch.total_sat,
                batch
                    .txid
                    .as_ref()
                    .map(|txid| format!(" in {txid} (batch {})", batch.id))
                    .unwrap_or_default()
            )),
            None => parts.push("paid nobody".to_string()),
        }
        parts.push(format!(
            "below threshold {} miners {} sat",
            self.waiting.0, self.waiting.1
        ));
        if !self.chain_errors.is_empty() {
            parts.push(format!("chain errors {}", self.chain_errors.len()));
        }
        if !self.skipped_addresses.is_empty() {
            parts.push(format!(
                "invalid addresses skipped {}",
                self.skipped_addresses.len()
            ));
        }
        format!(
            "payout{}: {}",
            if self.dry_run { " (dry run)" } else { "" },
            parts.join("; ")
        )
    }
}

/// One payout run: see the module documentation.
pub async fn payout_run(
    ledger: &Ledger,
    chain: &dyn ChainView,
    wallet: &dyn Wallet,
    settings: &RunSettings,
) -> Result<RunReport, RunError> {
    let _lock = ledger.try_payout_lock().await?.ok_or(RunError::Busy)?;
    let mut report = RunReport {
        dry_run: settings.dry_run,
        ..RunReport::default()
    };
    resolve_pending(ledger, wallet, settings, &mut report).await?;
    let maturing = follow_blocks(ledger, chain, settings, &mut report).await?;
    let run_id = format!("pool-payout-{}-{}", unix_millis(), std::process::id());
    // A dry run settles nothing: it adds what settling and maturing would.
    report.settled = if settings.dry_run {
        ledger.unsettled_share_credits().await?
    } else {
        ledger.settle_share_credits(&run_id).await?
    };
    let mut balances: BTreeMap<String, i64> = ledger
        .balances()
        .await?
        .into_iter()
        .map(|balance| (balance.address, balance.balance_sat))
        .collect();
    if settings.dry_run {
        for (address, amount) in report.settled.per_address.iter().chain(maturing.iter()) {
            *balances.entry(address.clone()).or_default() += *amount as i64;
        }
    }
    let lines = plan(&balances, settings, &mut report);
    if lines.is_empty() {
        return Ok(report);
    }
    if settings.dry_run {
        report.batch = Some(PayoutBatch {
            id: String::new(),
            created_ms: unix_millis(),
            updated_ms: unix_millis(),
            state: crate::ledger::accounts::BatchState::Pending,
            total_sat: lines.iter().map(|line| line.amount_sat).sum(),
            txid: None,
            note: "dry run".to_string(),
            lines,
        });
        return Ok(report);
    }
    let batch = ledger.create_batch(&run_id, &lines).await?;
    tracing::info!(batch = %batch.id, miners = batch.lines.len(), total_sat = batch.total_sat, "payout batch recorded; sending");
    match wallet.send_many(&batch.lines, &batch.id).await {
        Ok(txid) => {
            ledger.mark_batch_sent(&batch.id, &txid, "sent").await?;
            tracing::info!(batch = %batch.id, %txid, "payout batch sent");
            report.batch = ledger.batch(&batch.id).await?;
            Ok(report)
        }
        Err(error @ WalletError::Refused(_)) => {
            ledger
                .cancel_batch(&batch.id, &format!("refused by the wallet: {error}"))
                .await?;
            Err(RunError::Refused {
                batch: batch.id,
                source: error,
            })
        }
        Err(error @ WalletError::Unclear(_)) => Err(RunError::Unclear {
            batch: batch.id,
            source: error,
        }),
    }
}

/// Step 2: every pending batch is sent or cancelled before anything else.
async fn resolve_pending(
    ledger: &Ledger,
    wallet: &dyn Wallet,
    settings: &RunSettings,
    report: &mut RunReport,
) -> Result<(), RunError> {
    for batch in ledger.pending_batches().await? {
        let found =
            wallet
                .find_payment(&batch.id)
                .await
                .map_err(|source| RunError::Unresolved {
                    batch: batch.id.clone(),
                    source,
                })?;
        match found {
            Some(txid) => {
                if !settings.dry_run {
                    ledger
                        .mark_batch_sent(&batch.id, &txid, "found in the wallet by a later run")
                        .await?;
                }
                tracing::warn!(batch = %batch.id, %txid, "unfinished payout batch was sent: txid recorded");
                report.recovered.push((batch.id, txid));
            }
            None => {
                if !settings.dry_run {
                    ledger
                        .cancel_batch(
                            &batch.id,
                            "not in the wallet: never sent; balances given back",
                        )
                        .await?;
                }
                tracing::warn!(batch = %batch.id, "unfinished payout batch was never sent: cancelled, balances given back");
                report.cancelled.push(batch.id);
            }
        }
    }
    Ok(())
}

/// Step 3. Returns, for a dry run, the credits that confirming blocks
/// would add to balances.
async fn follow_blocks(
    ledger: &Ledger,
    chain: &dyn ChainView,
    settings: &RunSettings,
    report: &mut RunReport,
) -> Result<BTreeMap<String, u64>, RunError> {
    let mut maturing = BTreeMap::new();
    for block in ledger.uncredited_blocks().await? {
        if settings.dry_run || credit_block(ledger, &block, &settings.credit).await? {
            report.credited_blocks.push(block.hash.clone());
        }
    }
    let now = unix_millis();
    for block in ledger.blocks_in_flight().await? {
        let depth = match chain.depth(&block.hash).await {
            Ok(depth) => depth,
            Err(error) => {
                tracing::error!(hash = %block.hash, %error, "cannot read the block's depth; left for the next run");
                report.chain_errors.push(format!("{}: {error}", block.hash));
                continue;
            }
        };
        match depth {
            Depth::InBestChain(confirmations) if confirmations >= i64::from(settings.maturity) => {
                if settings.dry_run {
                    for credit in ledger.block_credits(block.id).await? {
                        if credit.state == crate::ledger::accounts::CreditState::Immature {
                            *maturing.entry(credit.address).or_default() += credit.amount_sat;
                        }
                    }
                    report.confirmed_blocks.push(block.hash.clone());
                } else if ledger.confirm_block(block.id, confirmations).await? {
                    tracing::info!(hash = %block.hash, height = block.height, confirmations, "block confirmed: its credits are payable");
                    report.confirmed_blocks.push(block.hash.clone());
                }
            }
            Depth::InBestChain(confirmations) => {
                if !settings.dry_run {
                    ledger
                        .set_block_confirmations(block.id, confirmations)
                        .await?;
                }
            }
            Depth::NotInBestChain => {
                orphan(ledger, &block, settings, report, "out of the best chain").await?
            }
            Depth::Unknown if !block.accepted || now - block.time_ms > UNKNOWN_BLOCK_GRACE_MS => {
                orphan(ledger, &block, settings, report, "unknown to the node").await?;
            }
            Depth::Unknown => {}
        }
    }
    Ok(maturing)
}

async fn orphan(
    ledger: &Ledger,
    block: &StoredBlock,
    settings: &RunSettings,
    report: &mut RunReport,
    why: &str,
) -> Result<(), RunError> {
    if settings.dry_run || ledger.orphan_block(block.id).await? {
        tracing::warn!(hash = %block.hash, height = block.height, why, "block orphaned: its credits are reversed");
        report.orphaned_blocks.push(block.hash.clone());
    }
    Ok(())
}

/// Step 5's lines: balances at or above the threshold, with an address
/// valid for the network (one bad address must not block everyone's pay).
fn plan(
    balances: &BTreeMap<String, i64>,
    settings: &RunSettings,
    report: &mut RunReport,
) -> Vec<PayoutLine> {
    let mut lines = Vec::new();
    for (address, &balance) in balances {
        let Ok(amount) = u64::try_from(balance) else {
            continue;
        };
        if amount == 0 {
            continue;
        }
        if amount < settings.threshold_sat.max(1) {
            report.waiting.0 += 1;
            report.waiting.1 += amount;
            continue;
        }
        let valid = bitcoin::Address::from_str(address)
            .ok()
            .and_then(|parsed| parsed.require_network(settings.network).ok())
            .is_some();
        if !valid {
            tracing::error!(%address, balance_sat = amount, network = %settings.network, "balance not paid: the address is not valid for the network");
            report.skipped_addresses.push(address.clone());
            continue;
        }
        lines.push(PayoutLine {
            address: address.clone(),
            amount_sat: amount,
        });
    }
    lines
}
