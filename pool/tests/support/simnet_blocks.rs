//! Blocks built by hand from a decoded [`Template`], the way a pool builds
//! them, with nothing from the simnet's own code: a coinbase with the BIP 34
//! height (Core's `CScript() << height`, written out here), a tag, the
//! payout and the template's witness commitment plus the all-zero witness
//! reserved value, then the template's transactions; the nonce is ground
//! with the stratum crate's sha256d until the header meets its target.

#![allow(dead_code)] // each test file uses its own part

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::{
    Amount, Block, CompactTarget, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxMerkleNode,
    TxOut, Witness,
};
use pool::template::Template;
use stratum::Sha256d;

/// What goes into the coinbase.
#[derive(Debug, Clone)]
pub struct CoinbaseRecipe {
    /// The height written into the scriptSig.
    pub height: u32,
    pub tag: Vec<u8>,
    pub value: Amount,
    /// The commitment output (the template's, or a broken one).
    pub witness_commitment: Option<ScriptBuf>,
    /// Whether the coinbase carries the 32-byte witness reserved value.
    pub reserved_value: bool,
}

impl CoinbaseRecipe {
    /// Everything exactly as the template asks.
    pub fn for_template(template: &Template, tag: &str) -> CoinbaseRecipe {
        CoinbaseRecipe {
            height: template.height,
            tag: tag.as_bytes().to_vec(),
            value: template.coinbase_value,
            witness_commitment: template.witness_commitment.clone(),
            reserved_value: template.witness_commitment.is_some(),
        }
    }
}

/// `CScript() << height`: OP_0, OP_1..OP_16, else a minimal little-endian
/// push with a sign byte when the top bit is set.
pub fn bip34_height(height: u32) -> Vec<u8> {
    match height {
        0 => vec![0x00],
        1..=16 => vec![0x50 + height as u8],
        _ => {
            let mut number = Vec::new();
            let mut rest = height;
            while rest > 0 {
                number.push((rest & 0xff) as u8);
                rest >>= 8;
            }
            if number.last().is_some_and(|byte| byte & 0x80 != 0) {
                number.push(0x00);
            }
            let mut push = vec![number.len() as u8];
            push.extend(number);
            push
        }
    }
}

/// A segwit v0 output to a made-up key hash.
pub fn payout_script() -> ScriptBuf {
    let mut script = vec![0x00, 0x14];
    script.extend_from_slice(&[0x5a; 20]);
    ScriptBuf::from_bytes(script)
}

pub fn coinbase(recipe: &CoinbaseRecipe) -> Transaction {
    let mut script_sig = bip34_height(recipe.height);
    script_sig.push(recipe.tag.len() as u8);
    script_sig.extend_from_slice(&recipe.tag);
    let mut output = vec![TxOut {
        value: recipe.value,
        script_pubkey: payout_script(),
    }];
    if let Some(commitment) = &recipe.witness_commitment {
        output.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: commitment.clone(),
        });
    }
    let witness = if recipe.reserved_value {
        Witness::from_slice(&[[0u8; 32]])
    } else {
        Witness::new()
    };
    Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(script_sig),
            sequence: Sequence::MAX,
            witness,
        }],
        output,
    }
}

/// The template's transactions, decoded from their raw bytes.
pub fn transactions(template: &Template) -> Vec<Transaction> {
    template
        .transactions
        .iter()
        .map(|tx| deserialize(&tx.data).expect("template transaction decodes"))
        .collect()
}

/// A sealed block: coinbase from `recipe`, the template's transactions,
/// header time `curtime`, merkle root set, nonce ground.
pub fn build(template: &Template, recipe: &CoinbaseRecipe) -> Block {
    let mut txdata = vec![coinbase(recipe)];
    txdata.extend(transactions(template));
    let mut block = Block {
        header: Header {
            version: Version::from_consensus(template.version.0 as i32),
            prev_blockhash: template.previous_block_hash,
            merkle_root: TxMerkleNode::all_zeros(),
            time: template.curtime,
            bits: CompactTarget::from_consensus(template.nbits.0),
            nonce: 0,
        },
        txdata,
    };
    seal(&mut block);
    block
}

/// Sets the merkle root from the transactions and grinds the nonce.
pub fn seal(block: &mut Block) {
    block.header.merkle_root = block.compute_merkle_root().expect("a coinbase at least");
    grind(&mut block.header);
}

fn meets_target(engine: &Sha256d, header: &Header) -> bool {
    let target = stratum::NBits(header.bits.to_consensus())
        .to_target()
        .expect("valid bits");
    target.is_met_by(&engine.hash(&serialize(header)))
}

/// Rolls the nonce until the header meets its own bits.
pub fn grind(header: &mut Header) {
    let engine = Sha256d::best();
    while !meets_target(&engine, header) {
        header.nonce = header.nonce.wrapping_add(1);
        if header.nonce == 0 {
            header.time += 1;
        }
    }
}

/// Rolls the nonce until the header misses its target.
pub fn miss_target(header: &mut Header) {
    let engine = Sha256d::best();
    loop {
        header.nonce = header.nonce.wrapping_add(1);
        if !meets_target(&engine, header) {
            return;
        }
    }
}
