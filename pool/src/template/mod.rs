//! Block templates and where they come from.
//!
//! A [`TemplateSource`] publishes the current [`Template`] through a watch
//! channel (a new one on every new tip and every fee refresh) and takes
//! solved blocks back. Two sources exist: [`bitcoind`] (one or more Bitcoin
//! Core nodes) and [`simnet`] (an embedded regtest chain for the demo and
//! the tests). Both speak `getblocktemplate`'s shape, decoded by
//! [`Template::from_gbt`], and both pass every template through a
//! [`TemplateGate`] ([`check`]) before publishing it: a template that is
//! refused never reaches the job manager.

pub mod bitcoind;
pub mod check;
mod error;
pub mod gate;
pub mod rpc_metrics;
pub mod simnet;

pub use error::{RefusalReason, TemplateError};
pub use gate::{TemplateGate, TemplateRefusals};

use bitcoin::{Amount, Block, BlockHash, ScriptBuf, Txid, Wtxid};
use bitcoincore_rpc::json::GetBlockTemplateResult;
use std::future::Future;
use std::sync::Arc;
use stratum::nbits::NBitsError;
use stratum::{NBits, Version};
use tokio::sync::watch;

/// One transaction of a template, as Core lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateTransaction {
    pub txid: Txid,
    pub wtxid: Wtxid,
    /// Serialized with its witness, as it goes into the block.
    pub data: Vec<u8>,
    pub fee: Amount,
    pub weight: u64,
    pub sigops: u32,
}

/// What the pool mines on: everything of `getblocktemplate` it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub height: u32,
    pub previous_block_hash: BlockHash,
    pub version: Version,
    pub nbits: NBits,
    pub curtime: u32,
    pub mintime: u32,
    /// Subsidy plus fees: the most the coinbase may pay.
    pub coinbase_value: Amount,
    pub transactions: Vec<TemplateTransaction>,
    /// The coinbase output script committing to the witnesses, when the
    /// template has segwit transactions (or always, on a segwit chain).
    pub witness_commitment: Option<ScriptBuf>,
    /// Set on signet (public or private).
    pub signet_challenge: Option<ScriptBuf>,
    /// Core's id for this template, to tell refreshes apart.
    pub longpollid: String,
}

/// The longest refresh and poll intervals a source takes from the config:
/// a day is plenty, and the timers add them to `Instant::now()`, which
/// panics past its range.
pub(crate) const MAX_TIMER_INTERVAL: std::time::Duration = std::time::Duration::from_secs(86_400);

/// The sign bit of a compact target.
const NBITS_SIGN: u32 = 0x0080_0000;

impl Template {
    /// Decodes `getblocktemplate`'s JSON answer: anything that is not
    /// Core's shape is an error, never a panic.
    pub fn from_gbt_json(answer: serde_json::Value) -> Result<Template, TemplateError> {
        let gbt: GetBlockTemplateResult = serde_json::from_value(answer)
            .map_err(|error| TemplateError::Undecodable(error.to_string()))?;
        Template::from_gbt(gbt)
    }

    /// Decodes (and sanity-checks) what `getblocktemplate` answered.
    pub fn from_gbt(gbt: GetBlockTemplateResult) -> Result<Template, TemplateError> {
        let bits: [u8; 4] = gbt
            .bits
            .as_slice()
            .try_into()
            .map_err(|_| TemplateError::BadBits(gbt.bits.clone()))?;
        let nbits = NBits(u32::from_be_bytes(bits));
        // Core reads `0x00800000` as a negative zero; any target with the
        // sign bit set is no target.
        if nbits.0 & NBITS_SIGN != 0 {
            return Err(TemplateError::InvalidTarget(
                nbits.0,
                NBitsError::Negative(nbits.0),
            ));
        }
        nbits
            .to_target()
            .map_err(|error| TemplateError::InvalidTarget(nbits.0, error))?;
        let height = u32::try_from(gbt.height).map_err(|_| TemplateError::BadHeight(gbt.height))?;
        let curtime = u32::try_from(gbt.current_time)
            .map_err(|_| TemplateError::BadTime(gbt.current_time))?;
        let mintime =
            u32::try_from(gbt.min_time).map_err(|_| TemplateError::BadTime(gbt.min_time))?;
        let transactions = gbt
            .transactions
            .into_iter()
            .enumerate()
            .map(|(index, tx)| {
                if tx.raw_tx.is_empty() {
                    return Err(TemplateError::EmptyTransaction { index });
                }
                Ok(TemplateTransaction {
                    txid: tx.txid,
                    wtxid: tx.wtxid,
                    data: tx.raw_tx,
                    fee: tx.fee,
                    // usize is at most 64 bits on every target: lossless.
                    weight: tx.weight as u64,
                    sigops: tx.sigops,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Template {
            height,
            previous_block_hash: gbt.previous_block_hash,
            version: Version(gbt.version),
            nbits,
            curtime,
            mintime,
            coinbase_value: gbt.coinbase_value,
            transactions,
            witness_commitment: (!gbt.default_witness_commitment.is_empty())
                .then_some(gbt.default_witness_commitment),
            signet_challenge: (!gbt.signet_challenge.is_empty()).then_some(gbt.signet_challenge),
            longpollid: gbt.longpollid,
        })
    }

    /// Whether `other` asks for the same block: same previous block, bits,
    /// version, reward and transactions. A refetch that changed nothing but
    /// the clock is not worth a notify (each one costs every miner a job
    /// switch).
    pub fn same_work(&self, other: &Template) -> bool {
        self.previous_block_hash == other.previous_block_hash
            && self.nbits == other.nbits
            && self.version == other.version
            && self.coinbase_value == other.coinbase_value
            && self.transactions.len() == other.transactions.len()
            && self
                .transactions
                .iter()
                .zip(&other.transactions)
                .all(|(a, b)| a.txid == b.txid)
    }

    /// Sum of the transactions' fees, `None` if it does not fit a u64.
    pub fn checked_fees(&self) -> Option<Amount> {
        self.transactions
            .iter()
            .try_fold(Amount::ZERO, |sum, tx| sum.checked_add(tx.fee))
    }

    /// Sum of the transactions' fees (for logs and tests), saturating: the
    /// gate refuses a template whose fees do not fit.
    pub fn fees(&self) -> Amount {
        self.checked_fees().unwrap_or(Amount::MAX)
    }

    /// `coinbasevalue − fees`: the subsidy. Fails when the fees exceed the
    /// value (or overflow), which the gate refuses.
    pub fn subsidy(&self) -> Result<Amount, TemplateError> {
        let fees = self.checked_fees();
        fees.and_then(|fees| self.coinbase_value.checked_sub(fees))
            .ok_or(TemplateError::FeesExceedValue {
                fees,
                value: self.coinbase_value,
            })
    }
}

/// What one node answered to `submitblock` (`None` is Core's `null`: accepted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAnswer {
    /// The node's URL (or `simnet`).
    pub node: String,
    /// `Ok(None)` accepted, `Ok(Some(reason))` rejected with Core's string
    /// (`duplicate`, `high-hash`, ...), `Err` the node could not be asked.
    pub result: Result<Option<String>, String>,
}

impl NodeAnswer {
    /// The node stored the block: accepted now, earlier (`duplicate`), or
    /// as a side branch it has not fully checked yet (`inconclusive`, Core's
    /// answer for a valid block that did not become its tip).
    pub fn holds_block(&self) -> bool {
        match &self.result {
            Ok(None) => true,
            Ok(Some(reason)) => reason == "duplicate" || reason == "inconclusive",
            Err(_) => false,
        }
    }
}

/// The outcome of submitting one block everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitReport {
    pub block_hash: BlockHash,
    pub height: u32,
    pub answers: Vec<NodeAnswer>,
    /// A node's `getblockhash(height)` returned our hash after submission.
    pub confirmed: bool,
}

impl SubmitReport {
    /// The block is at its height on a node, or a node took it as its tip.
    pub fn accepted(&self) -> bool {
        self.confirmed || self.answers.iter().any(|answer| answer.result == Ok(None))
    }

    /// Some node holds the block (its tip, or a branch racing another
    /// block at that height): any other solution on the same parent can
    /// only compete with it.
    pub fn held(&self) -> bool {
        self.confirmed || self.answers.iter().any(NodeAnswer::holds_block)
    }
}

/// How a source is doing, for `pool check`, logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// One line per node: ok, or why not.
    pub nodes: Vec<(String, Result<(), String>)>,
    /// When the last good template was published; `None` before the first.
    pub last_template_height: Option<u32>,
    /// True while the pool serves an old template because every node failed.
    pub serving_stale_template: bool,
}

/// A source of templates and a sink for blocks.
pub trait TemplateSource: Send + Sync + 'static {
    /// The current template, updated on every new tip and fee refresh;
    /// `None` until the first template arrives.
    fn templates(&self) -> watch::Receiver<Option<Arc<Template>>>;

    /// Submits a solved block to every node at once, then asks them to
    /// prefer it (`preciousblock`) and checks `getblockhash(height)`.
    fn submit_block(&self, block: Block) -> impl Future<Output = SubmitReport> + Send;

    fn status(&self) -> SourceStatus;

    /// Latency and errors of the source's RPC calls, for `/metrics` and
    /// `/health`; `None` for a source that makes none (the simnet).
    fn rpc_metrics(&self) -> Option<Arc<rpc_metrics::RpcMetrics>> {
        None
    }

    /// Templates the source's gate refused, by reason, for `/metrics`;
    /// `None` for a source without a gate (a test double).
    fn template_refusals(&self) -> Option<Arc<TemplateRefusals>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> String {
        let path = format!("{}/../vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    #[test]
    fn decodes_every_core_capture() {
        for (name, height, count, segwit, signet) in [
            ("gbt-regtest-empty.json", 109, 0, true, false),
            ("gbt-regtest-30tx.json", 109, 30, true, false),
            ("gbt-regtest-6segwit.json", 112, 6, true, false),
            ("gbt-signet51-6tx.json", 107, 6, true, true),
        ] {
            let gbt: GetBlockTemplateResult = serde_json::from_str(&vector(name)).unwrap();
            let template = Template::from_gbt(gbt).unwrap();
            assert_eq!(template.height, height, "{name}");
            assert_eq!(template.transactions.len(), count, "{name}");
            assert_eq!(template.witness_commitment.is_some(), segwit, "{name}");
            assert_eq!(template.signet_challenge.is_some(), signet, "{name}");
            assert!(template.fees() <= template.coinbase_value);
        }
    }

    #[test]
    fn refuses_malformed_bits() {
        let mut gbt: GetBlockTemplateResult =
            serde_json::from_str(&vector("gbt-regtest-empty.json")).unwrap();
        gbt.bits = vec![0x20, 0x7f];
        assert!(matches!(
            Template::from_gbt(gbt.clone()),
            Err(TemplateError::BadBits(_))
        ));
        gbt.bits = vec![0x04, 0x92, 0x34, 0x56];
        assert!(matches!(
            Template::from_gbt(gbt),
            Err(TemplateError::InvalidTarget(..))
        ));
    }
}
