//! One payout run, as `pool payout` does it from cron.
//!
//! 1. Take the payout lock (one run at a time, also across machines).
//! 2. Resolve every batch a cut-short run left `pending`: the wallet has
//!    a transaction with its comment (record the txid) or not (cancel it
//!    and give the balances back). Nothing else happens until this worked.
//!    Then follow every sent batch: `confirmed` once its transaction (or a
//!    fee-bumped replacement, which the batch then records) is
//!    [`PAYMENT_DEPTH`] deep; `reversed` (balances given back, paid again
//!    in step 5) only once every transaction of the payment conflicts with
//!    one [`PAYMENT_DEPTH`] deep, so none can ever confirm. A payment still
//!    in doubt is never paid twice.
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

use super::{
    credit_block, ChainView, CreditError, CreditSettings, Depth, PaymentStatus, Wallet, WalletError,
};
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

/// Confirmations that settle a payment: it is `confirmed` at this depth,
/// and `reversed` when a conflicting transaction reaches it.
pub const PAYMENT_DEPTH: i64 = 6;

/// An unconfirmed payment older than this is reported as stuck (its fee
/// may be too low: `bitcoin-cli bumpfee`, which the run then follows).
const STUCK_AFTER_MS: i64 = 6 * 3_600_000;

/// How long an orphaned block is still looked for in the best chain: a
/// reorg that brings a block back happens within minutes, not days.
const ORPHAN_WATCH_MS: i64 = 86_400_000;

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
    /// Sent batches whose transaction is now buried.
    pub confirmed_batches: Vec<String>,
    /// Sent batches that follow a replacement now: (batch, new txid).
    pub replaced_batches: Vec<(String, String)>,
    /// Sent batches whose transaction can never confirm: given back.
    pub reversed_batches: Vec<String>,
    /// Sent batches still unconfirmed after [`STUCK_AFTER_MS`], or that the
    /// wallet no longer knows or abandoned: (batch, why).
    pub stuck_batches: Vec<(String, String)>,
    pub credited_blocks: Vec<String>,
    pub confirmed_blocks: Vec<String>,
    pub orphaned_blocks: Vec<String>,
    /// Orphaned blocks a reorg brought back: their credits are immature again.
    pub restored_blocks: Vec<String>,
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
        if !self.restored_blocks.is_empty() {
            parts.push(format!(
                "orphaned blocks back in the best chain {}",
                self.restored_blocks.len()
            ));
        }
        if !self.confirmed_batches.is_empty()
            || !self.replaced_batches.is_empty()
            || !self.reversed_batches.is_empty()
            || !self.stuck_batches.is_empty()
        {
            parts.push(format!(
                "payments confirmed {}, replaced {}, reversed {}, stuck {}",
                self.confirmed_batches.len(),
                self.replaced_batches.len(),
                self.reversed_batches.len(),
                self.stuck_batches.len()
            ));
        }
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
    let lock = ledger.try_payout_lock().await?.ok_or(RunError::Busy)?;
    let result = run_locked(ledger, chain, wallet, settings).await;
    lock.release().await;
    result
}

/// The run itself, while this process holds the payout lock.
async fn run_locked(
    ledger: &Ledger,
    chain: &dyn ChainView,
    wallet: &dyn Wallet,
    settings: &RunSettings,
) -> Result<RunReport, RunError> {
    let mut report = RunReport {
        dry_run: settings.dry_run,
        ..RunReport::default()
    };
    resolve_pending(ledger, wallet, settings, &mut report).await?;
    follow_batches(ledger, wallet, settings, &mut report).await?;
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
                .find_payments(&batch.id)
                .await
                .map_err(|source| RunError::Unresolved {
                    batch: batch.id.clone(),
                    source,
                })?;
        // The first sent: a replacement, if any, is found when following.
        match found.into_iter().next() {
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

/// Most transactions one payment is followed through (the payment and its
/// fee bumps); a longer chain of replacements is the operator's to settle.
const MAX_FAMILY: usize = 16;

/// Every transaction of a sent batch the wallet knows, with its status:
/// the recorded one, those carrying the batch's comment, and their
/// replacements either way. The batch is paid if any of them confirms.
async fn payment_family(
    wallet: &dyn Wallet,
    batch: &PayoutBatch,
    txid: &str,
) -> Result<Vec<(String, PaymentStatus)>, WalletError> {
    let mut queue = vec![txid.to_string()];
    queue.extend(wallet.find_payments(&batch.id).await?);
    let mut seen: Vec<String> = Vec::new();
    let mut family = Vec::new();
    while let Some(next) = queue.pop() {
        if seen.contains(&next) || seen.len() >= MAX_FAMILY {
            continue;
        }
        seen.push(next.clone());
        if let Some(status) = wallet.payment_status(&next).await? {
            queue.extend(status.replaced_by.iter().cloned());
            queue.extend(status.replaces.iter().cloned());
            family.push((next, status));
        }
    }
    Ok(family)
}

/// Step 2, continued: every sent batch's transactions, as the wallet sees
/// them. Confirmed once one of them is buried (the txid recorded is then
/// that one); reversed only once every one of them conflicts with a buried
/// transaction, as then none can ever confirm.
async fn follow_batches(
    ledger: &Ledger,
    wallet: &dyn Wallet,
    settings: &RunSettings,
    report: &mut RunReport,
) -> Result<(), RunError> {
    let now = unix_millis();
    for batch in ledger.sent_batches().await? {
        let Some(txid) = batch.txid.clone() else {
            continue;
        };
        let family = match payment_family(wallet, &batch, &txid).await {
            Ok(family) => family,
            Err(error) => {
                tracing::error!(batch = %batch.id, %txid, %error, "cannot read the payment's status; left for the next run");
                report
                    .stuck_batches
                    .push((batch.id, format!("wallet error: {error}")));
                continue;
            }
        };
        let Some((best, best_status)) = family
            .iter()
            .max_by_key(|(_, status)| status.confirmations)
            .cloned()
        else {
            tracing::error!(batch = %batch.id, %txid, "the wallet does not know the payment: check that payout.wallet names the wallet that sent it");
            report
                .stuck_batches
                .push((batch.id, format!("{txid} not in the wallet")));
            continue;
        };
        // The transaction to follow: the one in the chain, else the newest
        // replacement still unconfirmed.
        let live = if best_status.confirmations > 0 {
            Some(best.clone())
        } else {
            family
                .iter()
                .find(|(_, status)| {
                    status.confirmations == 0 && status.replaced_by.is_none() && !status.abandoned
                })
                .map(|(live, _)| live.clone())
        };
        if let Some(live) = live.filter(|live| *live != txid) {
            if settings.dry_run || ledger.replace_batch_txid(&batch.id, &txid, &live).await? {
                tracing::info!(batch = %batch.id, old = %txid, new = %live, "payment replaced in the wallet: following the replacement");
                report.replaced_batches.push((batch.id.clone(), live));
            }
        }
        let confirmations = best_status.confirmations;
        if confirmations >= PAYMENT_DEPTH {
            let note = format!("{best}: {confirmations} confirmations");
            if settings.dry_run || ledger.confirm_batch(&batch.id, &note).await? {
                report.confirmed_batches.push(batch.id);
            }
            continue;
        }
        if confirmations <= -PAYMENT_DEPTH {
            let why = format!(
                "every transaction of the payment ({}) conflicts with one at least {PAYMENT_DEPTH} blocks deep: \
                 none can confirm; balances given back",
                family.len()
            );
            if settings.dry_run || ledger.reverse_batch(&batch.id, &why).await? {
                tracing::warn!(batch = %batch.id, %txid, "payment reversed: a conflicting transaction is buried; the balances are paid again");
                report.reversed_batches.push(batch.id);
            }
            continue;
        }
        let age_ms = now - batch.created_ms;
        let why = if confirmations > 0 {
            None
        } else if confirmations < 0 {
            Some(format!(
                "{txid} conflicted, {} of {PAYMENT_DEPTH} blocks deep",
                -confirmations
            ))
        } else if family.iter().all(|(_, status)| status.abandoned) {
            Some(format!(
                "{txid} abandoned: reversed once a transaction spending its inputs is {PAYMENT_DEPTH} deep"
            ))
        } else if age_ms > STUCK_AFTER_MS {
            Some(format!(
                "{txid} unconfirmed after {} h: bumpfee it",
                age_ms / 3_600_000
            ))
        } else {
            None
        };
        if let Some(why) = why {
            tracing::warn!(batch = %batch.id, %why, "payment not settling");
            report.stuck_batches.push((batch.id, why));
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
    // A reorg can undo an orphaning (in the tests, `reconsiderblock`): a
    // block orphaned lately and back in the best chain is followed again.
    for block in ledger.blocks_orphaned_since(now - ORPHAN_WATCH_MS).await? {
        if let Ok(Depth::InBestChain(confirmations)) = chain.depth(&block.hash).await {
            if settings.dry_run
                || ledger
                    .restore_orphaned_block(block.id, confirmations)
                    .await?
            {
                tracing::warn!(hash = %block.hash, height = block.height, confirmations, "orphaned block back in the best chain: its credits are restored");
                report.restored_blocks.push(block.hash.clone());
            }
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
