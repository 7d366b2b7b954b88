//! `pool audit`: proves the books balance, or says where they do not.
//!
//! From shares and blocks alone, it recomputes what every miner should
//! have been credited under the configured scheme, then follows the money
//! into the balance journal:
//!
//! - blocks (`blocks.rs`, `split.rs`, `pplns.rs`, `block_records.rs`):
//!   each credited PPLNS block's split over the shares its window covers,
//!   with the payout crate's own window and split and the fee and window
//!   stored with the block (a note says where those differ from the
//!   config); SOLO records; PPS and FPPS blocks credit nobody. Credits'
//!   states against their block's status, and `block` moves against what
//!   matured.
//! - shares (`shares.rs`, `subsidy.rs`): each PPS credit against PPS on
//!   the subsidies its time allows, each FPPS credit against its floor
//!   (the fee average is not in the ledger), no credit under PPLNS or
//!   SOLO; a header hash recorded twice.
//! - removed duplicates (`removed.rs`): `duplicate_shares` and the
//!   `duplicate_share` moves taking back settled copies' credits.
//! - the journal (`journal.rs`, `batches.rs`): `pps` moves against the
//!   settled credits, payout batches against their `payout`,
//!   `payout_cancelled` and `payout_reversed` moves, no negative balance,
//!   no move of an unknown kind.
//!
//! It reads one snapshot of the ledger over a connection of its own
//! ([`LedgerSnapshot`]) and never writes, so it may run beside a live
//! pool and a payout run. Rows are read in pages: memory grows with the
//! number of addresses (and of differences), never with the shares.

mod batches;
mod block_records;
mod blocks;
mod difference;
mod journal;
mod pplns;
mod removed;
mod report;
mod shares;
mod split;
mod subsidy;

pub use difference::{sats, Check, Difference};
pub use report::{AuditCounts, AuditReport};

use crate::config::{Config, Network, PayoutMode};
use crate::ledger::audit_reads::LedgerSnapshot;
use crate::ledger::LedgerError;
use crate::payouts::CreditSettings;
use payout::{Fee, Score};
use thiserror::Error;

/// Rows read per query.
pub const PAGE_ROWS: u32 = 5_000;

/// The scheme the books are held to, from the config.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub mode: PayoutMode,
    pub fee: Fee,
    /// PPLNS: the window, in blocks' worth of work.
    pub window: Score,
    /// Blocks between halvings of the chain's subsidy (PPS credits).
    pub halving_interval: u32,
    /// Rows per query ([`PAGE_ROWS`]; tests page in small steps).
    pub page_rows: u32,
}

impl AuditSettings {
    /// From a validated config.
    pub fn from_config(config: &Config) -> AuditSettings {
        let credit = CreditSettings::from_config(config);
        AuditSettings {
            mode: credit.mode,
            fee: credit.fee,
            window: credit.window,
            halving_interval: match config.pool.network {
                Network::Regtest => payout::REGTEST_HALVING_INTERVAL,
                Network::Mainnet | Network::Testnet4 | Network::Signet => {
                    payout::MAINNET_HALVING_INTERVAL
                }
            },
            page_rows: PAGE_ROWS,
        }
    }
}

#[derive(Debug, Error)]
pub enum AuditError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(
        "the database holds no pool ledger with payouts (schema version {version}, payouts came \
         with 2): is database.url the pool's?"
    )]
    NotALedger { version: i64 },
}

/// The first schema with the payout tables.
const PAYOUT_SCHEMA: i64 = 2;

/// Audits the ledger at `url` (read-only, one snapshot).
pub async fn audit(url: &str, settings: &AuditSettings) -> Result<AuditReport, AuditError> {
    let mut snapshot = LedgerSnapshot::open(url).await?;
    let outcome = audit_snapshot(&mut snapshot, settings).await;
    snapshot.close().await;
    outcome
}

/// Audits an open snapshot.
pub async fn audit_snapshot(
    snapshot: &mut LedgerSnapshot,
    settings: &AuditSettings,
) -> Result<AuditReport, AuditError> {
    let version = if snapshot.has_table("schema_migrations").await? {
        snapshot.schema_version().await?
    } else {
        0
    };
    if version < PAYOUT_SCHEMA {
        return Err(AuditError::NotALedger { version });
    }
    // Migration 5 moves repeated shares into this table and makes the
    // header hash unique; an older ledger may still hold repeats.
    let removed_table = snapshot.has_table("duplicate_shares").await?;
    let mut report = AuditReport::default();
    blocks::check_blocks(snapshot, settings, removed_table, &mut report).await?;
    let mut settled = shares::check_share_credits(snapshot, settings, &mut report).await?;
    if !snapshot.has_index("shares_hash").await? {
        shares::check_repeated_hashes(snapshot, settings, &mut report).await?;
    }
    let removed =
        removed::check_removed_shares(snapshot, settings, removed_table, &mut report).await?;
    for (address, credit) in removed {
        *settled.by_address.entry(address).or_default() += credit;
    }
    batches::check_batches(snapshot, settings, &mut report).await?;
    journal::check_journal(snapshot, settings, &settled.by_address, &mut report).await?;
    Ok(report)
}

/// The first ten of `items`, and how many more.
fn listed(items: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}
