//! Block checks that need no UTXO set, in the order Bitcoin Core runs them:
//! `CheckBlock` (context-free), `ContextualCheckBlockHeader` (needs the
//! parent) and `ContextualCheckBlock` (needs the height). Every refusal
//! carries the reject reason Core's `submitblock` answers with.

use super::params::{
    MAX_BLOCK_SIGOPS_COST, MAX_BLOCK_WEIGHT, MAX_FUTURE_BLOCK_TIME, MAX_MONEY, MIN_BLOCK_VERSION,
    POW_LIMIT, WITNESS_SCALE_FACTOR,
};
use bitcoin::block::Header;
use bitcoin::consensus::encode::VarInt;
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{
    merkle_tree, Block, CompactTarget, ScriptBuf, Sequence, Target, Transaction, TxMerkleNode,
    Txid, WitnessMerkleNode, Wtxid,
};
use std::collections::HashSet;
use thiserror::Error;

/// The first bytes of a witness commitment output: `OP_RETURN`, a 36-byte
/// push, and BIP 141's header `aa21a9ed`.
pub const WITNESS_COMMITMENT_HEADER: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];

/// Why a block was not accepted, as `submitblock` says it (`Display` is the
/// exact string).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Reject {
    /// The block is already known (on the chain or stored as a side branch).
    #[error("duplicate")]
    Duplicate,
    /// The block is already known and was found invalid.
    #[error("duplicate-invalid")]
    DuplicateInvalid,
    /// Valid as far as checked, but stored on a side branch, not connected.
    #[error("inconclusive")]
    Inconclusive,
    #[error("high-hash")]
    HighHash,
    #[error("bad-txnmrklroot")]
    BadMerkleRoot,
    /// The transaction list is a CVE-2012-2459 mutation (duplicated tail).
    #[error("bad-txns-duplicate")]
    MutatedMerkleTree,
    #[error("bad-blk-length")]
    BadLength,
    #[error("bad-cb-missing")]
    CoinbaseMissing,
    #[error("bad-cb-multiple")]
    CoinbaseMultiple,
    /// A `CheckTransaction` failure (`bad-txns-vin-empty`, `bad-cb-length`, ...).
    #[error("{0}")]
    BadTransaction(&'static str),
    #[error("bad-blk-sigops")]
    TooManySigops,
    #[error("prev-blk-not-found")]
    PrevBlockNotFound,
    /// The parent is known to be invalid.
    #[error("bad-prevblk")]
    BadPrevBlock,
    #[error("bad-diffbits")]
    BadDiffBits,
    #[error("time-too-old")]
    TimeTooOld,
    #[error("time-too-new")]
    TimeTooNew,
    #[error("bad-version(0x{0:08x})")]
    BadVersion(i32),
    #[error("bad-txns-nonfinal")]
    NonFinal,
    #[error("bad-cb-height")]
    BadCoinbaseHeight,
    #[error("bad-witness-nonce-size")]
    BadWitnessNonceSize,
    #[error("bad-witness-merkle-match")]
    BadWitnessMerkleMatch,
    #[error("unexpected-witness")]
    UnexpectedWitness,
    #[error("bad-blk-weight")]
    BadWeight,
    #[error("bad-txns-BIP30")]
    OverwritesUnspent,
    #[error("bad-txns-inputs-missingorspent")]
    InputsMissingOrSpent,
    #[error("bad-txns-premature-spend-of-coinbase")]
    PrematureCoinbaseSpend,
    #[error("bad-txns-inputvalues-outofrange")]
    InputValuesOutOfRange,
    #[error("bad-txns-in-belowout")]
    InputsBelowOutputs,
    #[error("bad-cb-amount")]
    BadCoinbaseAmount,
}

impl Reject {
    /// Core's `BLOCK_MUTATED`: the same header could come with a valid body,
    /// so the hash is not remembered as invalid.
    pub fn is_mutation(&self) -> bool {
        matches!(
            self,
            Reject::BadMerkleRoot
                | Reject::MutatedMerkleTree
                | Reject::BadWitnessNonceSize
                | Reject::BadWitnessMerkleMatch
                | Reject::UnexpectedWitness
        )
    }
}

pub use crate::coinbase::{bip34_prefix, coinbase_height};

/// The output script committing to the witnesses of a block whose
/// non-coinbase transactions have these wtxids, with the all-zero witness
/// reserved value: what `default_witness_commitment` holds.
pub fn witness_commitment_script(wtxids: &[Wtxid]) -> ScriptBuf {
    let leaves = std::iter::once(Wtxid::all_zeros())
        .chain(wtxids.iter().copied())
        .map(Wtxid::to_raw_hash);
    let root = merkle_tree::calculate_root(leaves)
        .map(WitnessMerkleNode::from_raw_hash)
        .unwrap_or_else(WitnessMerkleNode::all_zeros);
    let commitment = Block::compute_witness_commitment(&root, &[0u8; 32]);
    let mut script = WITNESS_COMMITMENT_HEADER.to_vec();
    script.extend_from_slice(commitment.as_byte_array());
    ScriptBuf::from_bytes(script)
}

/// Core's `GetWitnessCommitmentIndex`: the last output that looks like a
/// witness commitment.
pub fn witness_commitment_index(coinbase: &Transaction) -> Option<usize> {
    coinbase.output.iter().rposition(|output| {
        let script = output.script_pubkey.as_bytes();
        script.len() >= 38 && script[..6] == WITNESS_COMMITMENT_HEADER
    })
}

/// The transaction merkle root and whether the list is mutated (two equal
/// siblings somewhere), as Core's `ComputeMerkleRoot` reports it.
pub fn merkle_root(txids: &[Txid]) -> Option<(TxMerkleNode, bool)> {
    let mut level: Vec<[u8; 32]> = txids.iter().map(|txid| txid.to_byte_array()).collect();
    let mut mutated = false;
    while level.len() > 1 {
        mutated |= level.chunks_exact(2).any(|pair| pair[0] == pair[1]);
        if level.len() % 2 == 1 {
            level.push(level[level.len() - 1]);
        }
        level = level
            .chunks_exact(2)
            .map(|pair| {
                let mut node = [0u8; 64];
                node[..32].copy_from_slice(&pair[0]);
                node[32..].copy_from_slice(&pair[1]);
                sha256d::Hash::hash(&node).to_byte_array()
            })
            .collect();
    }
    let root = *level.first()?;
    Some((TxMerkleNode::from_byte_array(root), mutated))
}

/// `CheckBlock`: everything that needs nothing but the block.
pub fn check_block(block: &Block) -> Result<(), Reject> {
    check_proof_of_work(&block.header)?;
    check_merkle_root(block)?;

    let count = block.txdata.len() as u64;
    if count == 0
        || count * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT
        || stripped_size(block) * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT
    {
        return Err(Reject::BadLength);
    }
    if !block.txdata[0].is_coinbase() {
        return Err(Reject::CoinbaseMissing);
    }
    if block.txdata[1..].iter().any(Transaction::is_coinbase) {
        return Err(Reject::CoinbaseMultiple);
    }
    for tx in &block.txdata {
        check_transaction(tx)?;
    }
    let legacy_sigops: u64 = block.txdata.iter().map(legacy_sigop_count).sum();
    if legacy_sigops * WITNESS_SCALE_FACTOR > MAX_BLOCK_SIGOPS_COST {
        return Err(Reject::TooManySigops);
    }
    Ok(())
}

/// `CheckProofOfWork` with the header's own bits: they must decode to a
/// target no easier than regtest's limit, and the hash must meet it.
fn check_proof_of_work(header: &Header) -> Result<(), Reject> {
    // stratum's NBits refuses what Core's DeriveTarget refuses (negative,
    // zero, overflowing); rust-bitcoin then checks the hash.
    let target = stratum::NBits(header.bits.to_consensus())
        .to_target()
        .map_err(|_| Reject::HighHash)?;
    let target = Target::from_be_bytes(target.to_be_bytes());
    if target > POW_LIMIT {
        return Err(Reject::HighHash);
    }
    header
        .validate_pow(target)
        .map(drop)
        .map_err(|_| Reject::HighHash)
}

fn check_merkle_root(block: &Block) -> Result<(), Reject> {
    let txids: Vec<Txid> = block.txdata.iter().map(Transaction::compute_txid).collect();
    let Some((root, mutated)) = merkle_root(&txids) else {
        return Err(Reject::BadMerkleRoot);
    };
    if root != block.header.merkle_root || !block.check_merkle_root() {
        return Err(Reject::BadMerkleRoot);
    }
    if mutated {
        return Err(Reject::MutatedMerkleTree);
    }
    Ok(())
}

/// Size of the block without witnesses.
fn stripped_size(block: &Block) -> u64 {
    let transactions: usize = block.txdata.iter().map(Transaction::base_size).sum();
    (Header::SIZE + VarInt::from(block.txdata.len()).size() + transactions) as u64
}

/// `GetLegacySigOpCount`: sigops of scriptSigs and scriptPubKeys, counted
/// the inaccurate way.
fn legacy_sigop_count(tx: &Transaction) -> u64 {
    let inputs: usize = tx
        .input
        .iter()
        .map(|input| input.script_sig.count_sigops_legacy())
        .sum();
    let outputs: usize = tx
        .output
        .iter()
        .map(|output| output.script_pubkey.count_sigops_legacy())
        .sum();
    (inputs + outputs) as u64
}

/// `CheckTransaction`: the rules every transaction obeys on its own.
pub fn check_transaction(tx: &Transaction) -> Result<(), Reject> {
    if tx.input.is_empty() {
        return Err(Reject::BadTransaction("bad-txns-vin-empty"));
    }
    if tx.output.is_empty() {
        return Err(Reject::BadTransaction("bad-txns-vout-empty"));
    }
    if tx.base_size() as u64 * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT {
        return Err(Reject::BadTransaction("bad-txns-oversize"));
    }
    let mut total = bitcoin::Amount::ZERO;
    for output in &tx.output {
        // Core reads values as signed: the top bit set is a negative value.
        if output.value.to_sat() > i64::MAX as u64 {
            return Err(Reject::BadTransaction("bad-txns-vout-negative"));
        }
        if output.value > MAX_MONEY {
            return Err(Reject::BadTransaction("bad-txns-vout-toolarge"));
        }
        total = total
            .checked_add(output.value)
            .filter(|total| *total <= MAX_MONEY)
            .ok_or(Reject::BadTransaction("bad-txns-txouttotal-toolarge"))?;
    }
    let mut outpoints = HashSet::with_capacity(tx.input.len());
    if !tx
        .input
        .iter()
        .all(|input| outpoints.insert(input.previous_output))
    {
        return Err(Reject::BadTransaction("bad-txns-inputs-duplicate"));
    }
    if tx.is_coinbase() {
        if !(2..=100).contains(&tx.input[0].script_sig.len()) {
            return Err(Reject::BadTransaction("bad-cb-length"));
        }
    } else if tx.input.iter().any(|input| input.previous_output.is_null()) {
        return Err(Reject::BadTransaction("bad-txns-prevout-null"));
    }
    Ok(())
}

/// What a header is checked against: its parent and the clock.
#[derive(Debug, Clone, Copy)]
pub struct HeaderContext {
    /// Height of the block (parent's + 1).
    pub height: u32,
    /// The bits every simnet block must carry.
    pub required_bits: CompactTarget,
    /// Median time past of the parent.
    pub median_time_past: u32,
    /// Our clock, for `time-too-new`.
    pub now: u32,
}

/// `ContextualCheckBlockHeader`.
pub fn contextual_check_header(header: &Header, context: &HeaderContext) -> Result<(), Reject> {
    if header.bits != context.required_bits {
        return Err(Reject::BadDiffBits);
    }
    if header.time <= context.median_time_past {
        return Err(Reject::TimeTooOld);
    }
    if u64::from(header.time) > u64::from(context.now) + u64::from(MAX_FUTURE_BLOCK_TIME) {
        return Err(Reject::TimeTooNew);
    }
    let version = header.version.to_consensus();
    if version < MIN_BLOCK_VERSION {
        return Err(Reject::BadVersion(version));
    }
    Ok(())
}

/// `ContextualCheckBlock`: finality, BIP 34, witness commitment, weight.
/// `median_time_past` is the parent's (BIP 113 lock-time cutoff).
pub fn contextual_check_block(
    block: &Block,
    height: u32,
    median_time_past: u32,
) -> Result<(), Reject> {
    if !block
        .txdata
        .iter()
        .all(|tx| is_final(tx, height, median_time_past))
    {
        return Err(Reject::NonFinal);
    }
    let coinbase = &block.txdata[0];
    if !coinbase.input[0]
        .script_sig
        .as_bytes()
        .starts_with(bip34_prefix(height).as_bytes())
    {
        return Err(Reject::BadCoinbaseHeight);
    }
    check_witness_commitment(block)?;
    if block.weight().to_wu() > MAX_BLOCK_WEIGHT {
        return Err(Reject::BadWeight);
    }
    Ok(())
}

/// Core's `IsFinalTx`.
fn is_final(tx: &Transaction, height: u32, median_time_past: u32) -> bool {
    let lock_time = tx.lock_time.to_consensus_u32();
    if lock_time == 0 {
        return true;
    }
    let cutoff = if lock_time < bitcoin::locktime::absolute::LOCK_TIME_THRESHOLD {
        height
    } else {
        median_time_past
    };
    lock_time < cutoff || tx.input.iter().all(|input| input.sequence == Sequence::MAX)
}

/// Core's `CheckWitnessMalleation` (segwit is active from genesis on
/// regtest): a commitment output needs exactly one 32-byte witness item on
/// the coinbase and must match; without one, no transaction may carry a
/// witness.
fn check_witness_commitment(block: &Block) -> Result<(), Reject> {
    let coinbase = &block.txdata[0];
    if let Some(index) = witness_commitment_index(coinbase) {
        let witness = &coinbase.input[0].witness;
        let reserved_value = match witness.nth(0) {
            Some(item) if witness.len() == 1 && item.len() == 32 => item,
            _ => return Err(Reject::BadWitnessNonceSize),
        };
        let root = block.witness_root().ok_or(Reject::BadWitnessMerkleMatch)?;
        let commitment = Block::compute_witness_commitment(&root, reserved_value);
        let committed = &coinbase.output[index].script_pubkey.as_bytes()[6..38];
        // rust-bitcoin's own check must agree.
        if committed != commitment.as_byte_array() || !block.check_witness_commitment() {
            return Err(Reject::BadWitnessMerkleMatch);
        }
        return Ok(());
    }
    if block
        .txdata
        .iter()
        .any(|tx| tx.input.iter().any(|input| !input.witness.is_empty()))
    {
        return Err(Reject::UnexpectedWitness);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::consensus::deserialize;
    use bitcoincore_rpc::json::GetBlockTemplateResult;

    fn vector(name: &str) -> String {
        let path = format!("{}/../vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    fn vector_block(name: &str) -> Block {
        let hex = vector(name);
        let bytes: Vec<u8> = (0..hex.trim().len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&hex.trim()[at..at + 2], 16).unwrap())
            .collect();
        deserialize(&bytes).unwrap()
    }

    #[test]
    fn default_witness_commitment_of_core_templates() {
        for name in [
            "gbt-regtest-empty.json",
            "gbt-regtest-30tx.json",
            "gbt-regtest-6segwit.json",
            "gbt-signet51-6tx.json",
        ] {
            let gbt: GetBlockTemplateResult = serde_json::from_str(&vector(name)).unwrap();
            let wtxids: Vec<Wtxid> = gbt.transactions.iter().map(|tx| tx.wtxid).collect();
            assert_eq!(
                witness_commitment_script(&wtxids),
                gbt.default_witness_commitment,
                "{name}"
            );
        }
    }

    #[test]
    fn core_mined_blocks_pass_the_context_free_and_contextual_checks() {
        for (name, height) in [
            ("block-regtest-30tx.hex", 109),
            ("block-regtest-handbuilt-6segwit.hex", 112),
        ] {
            let block = vector_block(name);
            assert_eq!(check_block(&block), Ok(()), "{name}");
            assert_eq!(contextual_check_block(&block, height, 0), Ok(()), "{name}");
            assert_eq!(
                contextual_check_block(&block, height + 1, 0),
                Err(Reject::BadCoinbaseHeight),
                "{name}"
            );
            let context = HeaderContext {
                height,
                required_bits: CompactTarget::from_consensus(0x207fffff),
                median_time_past: block.header.time - 1,
                now: block.header.time,
            };
            assert_eq!(contextual_check_header(&block.header, &context), Ok(()));
        }
    }

    #[test]
    fn merkle_mutation_is_detected() {
        let block = vector_block("block-regtest-30tx.hex");
        let mut txids: Vec<Txid> = block.txdata.iter().map(Transaction::compute_txid).collect();
        let (root, mutated) = merkle_root(&txids).unwrap();
        assert_eq!(root, block.header.merkle_root);
        assert!(!mutated);
        // 31 transactions: duplicating the last gives the same root (CVE-2012-2459).
        assert_eq!(txids.len() % 2, 1);
        txids.push(*txids.last().unwrap());
        assert_eq!(merkle_root(&txids).unwrap(), (root, true));

        let mut mutated_block = block.clone();
        mutated_block
            .txdata
            .push(block.txdata.last().unwrap().clone());
        assert_eq!(
            check_merkle_root(&mutated_block),
            Err(Reject::MutatedMerkleTree)
        );
    }

    #[test]
    fn witness_rules_follow_core() {
        let block = vector_block("block-regtest-handbuilt-6segwit.hex");
        assert_eq!(check_witness_commitment(&block), Ok(()));

        let mut no_reserved_value = block.clone();
        no_reserved_value.txdata[0].input[0].witness.clear();
        assert_eq!(
            check_witness_commitment(&no_reserved_value),
            Err(Reject::BadWitnessNonceSize)
        );

        let mut two_items = block.clone();
        two_items.txdata[0].input[0].witness.push([0u8; 32]);
        assert_eq!(
            check_witness_commitment(&two_items),
            Err(Reject::BadWitnessNonceSize)
        );

        // Another reserved value changes the commitment it must match.
        let mut other_reserved_value = block.clone();
        other_reserved_value.txdata[0].input[0].witness =
            bitcoin::Witness::from_slice(&[[1u8; 32]]);
        assert_eq!(
            check_witness_commitment(&other_reserved_value),
            Err(Reject::BadWitnessMerkleMatch)
        );

        let index = witness_commitment_index(&block.txdata[0]).unwrap();
        let mut no_commitment = block.clone();
        no_commitment.txdata[0].output.remove(index);
        assert_eq!(
            check_witness_commitment(&no_commitment),
            Err(Reject::UnexpectedWitness)
        );
    }

    #[test]
    fn transaction_rules() {
        let block = vector_block("block-regtest-30tx.hex");
        let mut coinbase = block.txdata[0].clone();
        coinbase.input[0].script_sig = ScriptBuf::from_bytes(vec![0x51]);
        assert_eq!(
            check_transaction(&coinbase),
            Err(Reject::BadTransaction("bad-cb-length"))
        );
        let mut spend = block.txdata[1].clone();
        spend.input.push(spend.input[0].clone());
        assert_eq!(
            check_transaction(&spend),
            Err(Reject::BadTransaction("bad-txns-inputs-duplicate"))
        );
        let mut spend = block.txdata[1].clone();
        spend.output[0].value = bitcoin::Amount::from_sat(u64::MAX);
        assert_eq!(
            check_transaction(&spend),
            Err(Reject::BadTransaction("bad-txns-vout-negative"))
        );
        spend.output[0].value = MAX_MONEY + bitcoin::Amount::from_sat(1);
        assert_eq!(
            check_transaction(&spend),
            Err(Reject::BadTransaction("bad-txns-vout-toolarge"))
        );
        spend.output.clear();
        assert_eq!(
            check_transaction(&spend),
            Err(Reject::BadTransaction("bad-txns-vout-empty"))
        );
    }

    #[test]
    fn header_rules() {
        let block = vector_block("block-regtest-30tx.hex");
        let context = HeaderContext {
            height: 109,
            required_bits: block.header.bits,
            median_time_past: block.header.time - 1,
            now: block.header.time,
        };
        let check = |change: &dyn Fn(&mut Header)| {
            let mut header = block.header;
            change(&mut header);
            contextual_check_header(&header, &context)
        };
        assert_eq!(check(&|_| ()), Ok(()));
        assert_eq!(
            check(&|header| header.bits = CompactTarget::from_consensus(0x1d00ffff)),
            Err(Reject::BadDiffBits)
        );
        assert_eq!(check(&|header| header.time -= 1), Err(Reject::TimeTooOld));
        assert_eq!(check(&|header| header.time += 7200), Ok(()));
        assert_eq!(
            check(&|header| header.time += 7201),
            Err(Reject::TimeTooNew)
        );
        assert_eq!(
            check(&|header| header.version = bitcoin::block::Version::from_consensus(3)),
            Err(Reject::BadVersion(3))
        );
        assert_eq!(Reject::BadVersion(3).to_string(), "bad-version(0x00000003)");
        assert_eq!(
            Reject::BadVersion(-1).to_string(),
            "bad-version(0xffffffff)"
        );
    }

    #[test]
    fn proof_of_work_uses_the_headers_bits_within_regtest_limit() {
        let block = vector_block("block-regtest-30tx.hex");
        assert_eq!(check_proof_of_work(&block.header), Ok(()));
        let mut header = block.header;
        // Easier than regtest's limit, negative, or a hash above the target.
        for bits in [0x2100ffff, 0x04923456] {
            header.bits = CompactTarget::from_consensus(bits);
            assert_eq!(check_proof_of_work(&header), Err(Reject::HighHash));
        }
        header.bits = CompactTarget::from_consensus(0x1d00ffff);
        assert_eq!(check_proof_of_work(&header), Err(Reject::HighHash));
    }

    #[test]
    fn finality() {
        let block = vector_block("block-regtest-30tx.hex");
        let mut tx = block.txdata[1].clone();
        tx.lock_time = bitcoin::absolute::LockTime::from_consensus(109);
        assert!(!is_final(&tx, 109, 0));
        assert!(is_final(&tx, 110, 0));
        for input in &mut tx.input {
            input.sequence = Sequence::MAX;
        }
        assert!(is_final(&tx, 109, 0));
        tx.lock_time = bitcoin::absolute::LockTime::from_consensus(1_700_000_000);
        tx.input[0].sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;
        assert!(!is_final(&tx, 109, 1_700_000_000));
        assert!(is_final(&tx, 109, 1_700_000_001));
    }
}
