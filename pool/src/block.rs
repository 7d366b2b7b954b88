//! Solved shares become blocks: assembly, the raw hex written to disk
//! before anything else, then submission through the template source.
//!
//! block = header ‖ tx count ‖ coinbase (with the witness reserved value
//! when the template commits to witnesses) ‖ the template's transactions.

use crate::jobs::PoolJob;
use crate::template::{SubmitReport, Template, TemplateSource};
use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash as _;
use bitcoin::{Block, BlockHash, CompactTarget, Transaction, TxMerkleNode, Witness};
use std::io::Write;
use std::path::{Path, PathBuf};
use stratum::{Extranonce1, Extranonce2, Nonce, Ntime, Sha256d, Version};
use thiserror::Error;

/// The parts of a share that, with its job, make a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solution {
    pub extranonce1: Extranonce1,
    pub extranonce2: Extranonce2,
    pub ntime: Ntime,
    pub nonce: Nonce,
    /// The header version after version rolling.
    pub version: Version,
}

#[derive(Debug, Error)]
pub enum BlockError {
    #[error("the coinbase does not parse: {0}")]
    Coinbase(bitcoin::consensus::encode::Error),
    #[error("template transaction {index} does not parse: {source}")]
    Transaction {
        index: usize,
        source: bitcoin::consensus::encode::Error,
    },
}

/// Builds the full block for a share that met the network target.
pub fn assemble(job: &PoolJob, solution: &Solution) -> Result<Block, BlockError> {
    let coinbase_bytes = job
        .job
        .coinbase(&solution.extranonce1, &solution.extranonce2);
    let coinbase: Transaction = deserialize(&coinbase_bytes).map_err(BlockError::Coinbase)?;
    let merkle_root = job.job.merkle_root(
        &Sha256d::best(),
        &solution.extranonce1,
        &solution.extranonce2,
    );
    let header = Header {
        version: BlockVersion::from_consensus(solution.version.0 as i32),
        prev_blockhash: job.template.previous_block_hash,
        merkle_root: TxMerkleNode::from_byte_array(merkle_root),
        time: solution.ntime.0,
        bits: CompactTarget::from_consensus(job.template.nbits.0),
        nonce: solution.nonce.0,
    };
    assemble_from_parts(header, coinbase, &job.template)
}

/// A block from its header, its coinbase (witness-less) and the template
/// the coinbase was built for.
pub fn assemble_from_parts(
    header: Header,
    mut coinbase: Transaction,
    template: &Template,
) -> Result<Block, BlockError> {
    if template.witness_commitment.is_some() {
        // BIP 141: the commitment is to the witness root and this 32-byte
        // reserved value, which the coinbase's witness must carry.
        coinbase.input[0].witness = Witness::from_slice(&[[0u8; 32]]);
    }
    let mut txdata = Vec::with_capacity(template.transactions.len() + 1);
    txdata.push(coinbase);
    for (index, tx) in template.transactions.iter().enumerate() {
        txdata.push(
            deserialize(&tx.data).map_err(|source| BlockError::Transaction {
                index: index + 1,
                source,
            })?,
        );
    }
    Ok(Block { header, txdata })
}

/// Where solved blocks are written before they are submitted, so a crash
/// or a dead node never loses one: `<height>-<hash>.hex`, then the nodes'
/// answers in `<height>-<hash>.json`.
#[derive(Debug, Clone)]
pub struct BlockStore {
    dir: PathBuf,
}

impl BlockStore {
    pub fn new(dir: impl Into<PathBuf>) -> BlockStore {
        BlockStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, height: u32, hash: &BlockHash, extension: &str) -> PathBuf {
        self.dir.join(format!("{height}-{hash}.{extension}"))
    }

    /// Writes the block's raw hex durably (written, synced, renamed into place).
    pub fn persist(&self, height: u32, block: &Block) -> std::io::Result<PathBuf> {
        let hex = bitcoin::consensus::encode::serialize_hex(block);
        let path = self.path(height, &block.block_hash(), "hex");
        write_durably(&self.dir, &path, hex.as_bytes())?;
        Ok(path)
    }

    /// Keeps what every node answered.
    pub fn record(&self, report: &SubmitReport) -> std::io::Result<PathBuf> {
        let answers: Vec<serde_json::Value> = report
            .answers
            .iter()
            .map(|answer| match &answer.result {
                Ok(None) => serde_json::json!({"node": answer.node, "accepted": true}),
                Ok(Some(reason)) => {
                    serde_json::json!({"node": answer.node, "accepted": false, "reason": reason})
                }
                Err(error) => serde_json::json!({"node": answer.node, "error": error}),
            })
            .collect();
        let record = serde_json::json!({
            "height": report.height,
            "hash": report.block_hash.to_string(),
            "confirmed": report.confirmed,
            "answers": answers,
        });
        let path = self.path(report.height, &report.block_hash, "json");
        write_durably(&self.dir, &path, record.to_string().as_bytes())?;
        Ok(path)
    }
}

fn write_durably(dir: &Path, path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Persists a solved block, submits it to every node, records the answers.
/// A block that cannot be written is still submitted: it is worth more
/// than the file (the failure is logged loudly).
pub async fn submit_solved<S: TemplateSource>(
    source: &S,
    store: &BlockStore,
    height: u32,
    block: Block,
) -> SubmitReport {
    let hash = block.block_hash();
    let persisted = {
        let store = store.clone();
        let block = block.clone();
        tokio::task::spawn_blocking(move || store.persist(height, &block)).await
    };
    match persisted {
        Ok(Ok(path)) => tracing::info!(height, %hash, path = %path.display(), "block persisted"),
        Ok(Err(error)) => {
            tracing::error!(height, %hash, %error, "could not persist the block; submitting anyway")
        }
        Err(error) => {
            tracing::error!(height, %hash, %error, "block persistence task failed; submitting anyway")
        }
    }
    let report = source.submit_block(block).await;
    for answer in &report.answers {
        match &answer.result {
            Ok(None) => tracing::info!(height, %hash, node = %answer.node, "block accepted"),
            Ok(Some(reason)) => {
                tracing::warn!(height, %hash, node = %answer.node, %reason, "block rejected")
            }
            Err(error) => {
                tracing::error!(height, %hash, node = %answer.node, %error, "submitblock failed")
            }
        }
    }
    let recorded = {
        let store = store.clone();
        let report = report.clone();
        tokio::task::spawn_blocking(move || store.record(&report)).await
    };
    if !matches!(recorded, Ok(Ok(_))) {
        tracing::error!(height, %hash, "could not record the nodes' answers");
    }
    report
}

/// The raw bytes of a block (for tests and the ledger).
pub fn raw(block: &Block) -> Vec<u8> {
    serialize(block)
}
