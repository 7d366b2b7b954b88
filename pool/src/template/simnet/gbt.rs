//! The simnet's answer to `getblocktemplate`, field for field in the shape
//! Bitcoin Core gives it (compare `vectors/gbt-regtest-*.json`), so the
//! pool decodes it with the same `Template::from_gbt` it uses for a node.

use super::mempool::MempoolTx;
use super::params::{MAX_BLOCK_SIGOPS_COST, MAX_BLOCK_WEIGHT, TEMPLATE_VERSION};
use super::validate::witness_commitment_script;
use bitcoin::{Amount, BlockHash, CompactTarget, Target, Wtxid};
use bitcoincore_rpc::json::{
    GetBlockTemplateResulMutations, GetBlockTemplateResult, GetBlockTemplateResultCapabilities,
    GetBlockTemplateResultRules, GetBlockTemplateResultTransaction,
};
use std::collections::HashMap;

/// The chain state a template is built on.
#[derive(Debug, Clone)]
pub struct TemplateBase {
    pub previous_block_hash: BlockHash,
    pub height: u32,
    pub bits: CompactTarget,
    pub subsidy: Amount,
    /// Median time past of the previous block, plus one.
    pub mintime: u32,
    pub now: u32,
    pub longpollid: String,
}

pub fn block_template(base: &TemplateBase, transactions: &[&MempoolTx]) -> GetBlockTemplateResult {
    let fees: Amount = transactions.iter().map(|tx| tx.fee).sum();
    let wtxids: Vec<Wtxid> = transactions.iter().map(|tx| tx.wtxid).collect();
    GetBlockTemplateResult {
        capabilities: vec![GetBlockTemplateResultCapabilities::Proposal],
        version: TEMPLATE_VERSION,
        // Core says ["csv", "!segwit", "taproot"]; the enum has no `!`.
        rules: vec![
            GetBlockTemplateResultRules::Csv,
            GetBlockTemplateResultRules::SegWit,
            GetBlockTemplateResultRules::Taproot,
        ],
        version_bits_available: HashMap::new(),
        version_bits_required: 0,
        previous_block_hash: base.previous_block_hash,
        transactions: transactions
            .iter()
            .map(|tx| GetBlockTemplateResultTransaction {
                txid: tx.txid,
                wtxid: tx.wtxid,
                raw_tx: tx.data.clone(),
                fee: tx.fee,
                sigops: tx.sigops,
                weight: tx.weight as usize,
                depends: Vec::new(),
            })
            .collect(),
        coinbaseaux: HashMap::new(),
        coinbase_value: base.subsidy + fees,
        longpollid: base.longpollid.clone(),
        target: Target::from_compact(base.bits).to_be_bytes().to_vec(),
        min_time: u64::from(base.mintime),
        mutable: vec![
            GetBlockTemplateResulMutations::Time,
            GetBlockTemplateResulMutations::Transactions,
            GetBlockTemplateResulMutations::PreviousBlock,
        ],
        nonce_range: vec![0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff],
        sigop_limit: MAX_BLOCK_SIGOPS_COST as u32,
        size_limit: MAX_BLOCK_WEIGHT as u32,
        weight_limit: MAX_BLOCK_WEIGHT as u32,
        current_time: u64::from(base.now.max(base.mintime)),
        bits: base.bits.to_consensus().to_be_bytes().to_vec(),
        height: u64::from(base.height),
        // Segwit is active from genesis on regtest: always present.
        default_witness_commitment: witness_commitment_script(&wtxids),
        signet_challenge: bitcoin::ScriptBuf::new(),
    }
}
