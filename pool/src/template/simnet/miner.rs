//! The simnet's own miner (Core's `generatetoaddress`): builds a block the
//! way a pool does and grinds its nonce. Used for blocks "another miner"
//! finds, for side branches in tests, and by the unit tests.

use super::validate::bip34_prefix;
use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version};
use bitcoin::script::PushBytesBuf;
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, Script, ScriptBuf, Sequence, Transaction, TxIn,
    TxMerkleNode, TxOut, Witness,
};

/// What goes into a block besides its transactions.
#[derive(Debug, Clone)]
pub struct BlockPlan<'a> {
    pub parent: BlockHash,
    pub height: u32,
    pub time: u32,
    pub bits: CompactTarget,
    pub coinbase_value: Amount,
    pub payout: &'a Script,
    /// Written after the BIP 34 height.
    pub tag: &'a [u8],
    /// The template's `default_witness_commitment`, if any.
    pub witness_commitment: Option<ScriptBuf>,
}

/// A block as a pool builds it from a template: coinbase with the BIP 34
/// height and tag, paying `coinbase_value`, the witness commitment and its
/// all-zero reserved value, then `transactions`. The nonce is not ground.
pub fn assemble(plan: &BlockPlan<'_>, transactions: Vec<Transaction>) -> Block {
    let mut script_sig = bip34_prefix(plan.height).into_bytes();
    let tag = PushBytesBuf::try_from(plan.tag.to_vec()).unwrap_or_default();
    script_sig.extend_from_slice(ScriptBuf::builder().push_slice(tag).as_bytes());
    let mut output = vec![TxOut {
        value: plan.coinbase_value,
        script_pubkey: plan.payout.to_owned(),
    }];
    let mut witness = Witness::new();
    if let Some(commitment) = &plan.witness_commitment {
        output.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: commitment.clone(),
        });
        witness.push([0u8; 32]);
    }
    let coinbase = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: bitcoin::OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(script_sig),
            sequence: Sequence::MAX,
            witness,
        }],
        output,
    };
    let mut txdata = vec![coinbase];
    txdata.extend(transactions);
    let mut block = Block {
        header: Header {
            version: Version::from_consensus(super::params::TEMPLATE_VERSION as i32),
            prev_blockhash: plan.parent,
            merkle_root: TxMerkleNode::from_raw_hash(bitcoin::hashes::Hash::all_zeros()),
            time: plan.time,
            bits: plan.bits,
            nonce: 0,
        },
        txdata,
    };
    if let Some(root) = block.compute_merkle_root() {
        block.header.merkle_root = root;
    }
    block
}

/// Rolls the nonce (and the time when the nonce runs out) until the
/// header meets its own target. Expected work: difficulty × 2^32 hashes.
pub fn grind(header: &mut Header) {
    let target = header.target();
    loop {
        if target.is_met_by(header.block_hash()) {
            return;
        }
        header.nonce = header.nonce.wrapping_add(1);
        if header.nonce == 0 {
            header.time += 1;
        }
    }
}
