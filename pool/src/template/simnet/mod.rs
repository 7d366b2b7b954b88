//! The simnet: an embedded chain with regtest's consensus rules and a
//! configurable difficulty, for `pool demo` and the tests.
//!
//! It is a real chain in memory, not a mock of the RPC: it starts at the
//! regtest genesis block, answers `getblocktemplate` in Core's shape (so
//! templates go through [`Template::from_gbt`](super::Template::from_gbt)
//! like a node's), and accepts a block only when it would pass Core's
//! checks, refusing it with Core's own reject strings otherwise. Side
//! branches are kept and a longer one reorganises the chain.
//!
//! Its mempool holds synthetic transactions that spend made-up outpoints;
//! those outpoints are unspent coins of this chain, so fees and the
//! coinbase amount are checked for real, but no script is run.
//!
//! - [`Simnet`]: the chain itself, a plain synchronous struct.
//! - [`SimnetSource`]: a [`TemplateSource`](super::TemplateSource) around
//!   it, publishing templates on every new tip and every refresh.

mod chain;
mod gbt;
mod mempool;
mod miner;
pub mod params;
mod source;
mod synthetic;
mod utxo;
pub mod validate;

pub use source::SimnetSource;
pub use validate::Reject;

use crate::config::SimnetConfig;
use bitcoin::{Block, BlockHash, CompactTarget, Network, Script, Wtxid};
use bitcoincore_rpc::json::GetBlockTemplateResult;
use chain::Chain;
use gbt::TemplateBase;
use mempool::Mempool;
use miner::BlockPlan;
use params::block_subsidy;
use std::time::{SystemTime, UNIX_EPOCH};
use utxo::Coin;
use validate::HeaderContext;

/// The synthetic mempool is the same on every run (reproducible tests).
const MEMPOOL_SEED: u64 = 0x5eed_0f5e_17e7;

/// Tag of the coinbases the simnet mines itself.
const OWN_TAG: &[u8] = b"/simnet/";

/// The seconds clock the simnet reads (Unix time).
pub type Clock = Box<dyn Fn() -> u32 + Send>;

/// An in-memory regtest chain at a chosen difficulty.
pub struct Simnet {
    /// The bits every block after genesis must carry.
    bits: CompactTarget,
    /// How many synthetic transactions a fresh mempool holds.
    mempool_size: usize,
    chain: Chain,
    mempool: Mempool,
    /// Core's `nTransactionsUpdated`: bumped on every mempool change, part
    /// of `longpollid`.
    transactions_updated: u64,
    clock: Clock,
}

impl std::fmt::Debug for Simnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simnet")
            .field("bits", &self.bits)
            .field("height", &self.tip_height())
            .field("tip", &self.best_block_hash())
            .field("mempool", &self.mempool.len())
            .finish()
    }
}

impl Simnet {
    /// A chain at the regtest genesis block, reading the system clock.
    pub fn new(config: &SimnetConfig) -> Simnet {
        Simnet::with_clock(config, Box::new(system_time))
    }

    /// The same with another clock (tests of the time rules).
    pub fn with_clock(config: &SimnetConfig, clock: Clock) -> Simnet {
        let mut simnet = Simnet {
            bits: params::nbits_for_difficulty(config.difficulty),
            mempool_size: config.transactions,
            chain: Chain::new(bitcoin::constants::genesis_block(Network::Regtest)),
            mempool: Mempool::new(MEMPOOL_SEED),
            transactions_updated: 0,
            clock,
        };
        simnet.fill_mempool();
        simnet
    }

    /// The compact target every new block must carry.
    pub fn bits(&self) -> CompactTarget {
        self.bits
    }

    /// The network difficulty of new blocks.
    pub fn difficulty(&self) -> f64 {
        stratum::NBits(self.bits.to_consensus())
            .difficulty()
            .unwrap_or(f64::NAN)
    }

    pub fn tip_height(&self) -> u32 {
        self.chain.height()
    }

    /// `getbestblockhash`.
    pub fn best_block_hash(&self) -> BlockHash {
        self.chain.tip()
    }

    /// `getblockhash`: the active chain's block at `height`.
    pub fn getblockhash(&self, height: u32) -> Option<BlockHash> {
        self.chain.hash_at(height)
    }

    /// Any block the simnet stored (active chain or side branch).
    pub fn block(&self, hash: &BlockHash) -> Option<&Block> {
        self.chain.entry(hash).map(|entry| &entry.block)
    }

    /// Height of any stored block.
    pub fn block_height(&self, hash: &BlockHash) -> Option<u32> {
        self.chain.entry(hash).map(|entry| entry.height)
    }

    /// Median time past of the tip.
    pub fn median_time_past(&self) -> u32 {
        self.chain.median_time_past(&self.chain.tip())
    }

    /// Transactions waiting in the mempool.
    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    /// Unspent outputs of the active chain (made-up coins included).
    pub fn utxo_count(&self) -> usize {
        self.chain.utxos().len()
    }

    /// What the simnet's clock says.
    pub fn now(&self) -> u32 {
        (self.clock)()
    }

    /// Changes whenever the tip or the mempool does (Core: tip hash and
    /// `nTransactionsUpdated`).
    pub fn longpollid(&self) -> String {
        format!("{}{}", self.best_block_hash(), self.transactions_updated)
    }

    /// `getblocktemplate`: the next block on the tip, with the mempool's
    /// best transactions, shaped like Bitcoin Core's answer.
    pub fn template(&self) -> GetBlockTemplateResult {
        let tip = self.best_block_hash();
        let height = self.tip_height() + 1;
        let base = TemplateBase {
            previous_block_hash: tip,
            height,
            bits: self.bits,
            subsidy: block_subsidy(height),
            mintime: self.chain.median_time_past(&tip) + 1,
            now: self.now(),
            longpollid: self.longpollid(),
        };
        gbt::block_template(&base, &self.mempool.select())
    }

    /// New fees arrived: one more synthetic transaction (the oldest leave
    /// beyond twice the configured size). Nothing changes with an empty
    /// mempool configured.
    pub fn refresh(&mut self) {
        if self.mempool_size == 0 {
            return;
        }
        self.add_transaction();
        while self.mempool.len() > 2 * self.mempool_size {
            self.mempool.evict_oldest();
        }
        self.transactions_updated += 1;
    }

    /// `submitblock`: `None` when accepted (Core's `null`), else Core's
    /// reason (`high-hash`, `bad-cb-amount`, `duplicate`, `inconclusive`,
    /// ...). An accepted block that extends the most-work chain becomes
    /// the tip and the mempool is renewed.
    pub fn submit_block(&mut self, block: &Block) -> Option<String> {
        self.process_block(block)
            .err()
            .map(|reason| reason.to_string())
    }

    /// [`Simnet::submit_block`] with a typed answer. Unlike Core's RPC it
    /// does not add a missing witness reserved value to the coinbase: the
    /// pool must send blocks that are valid as they are.
    pub fn process_block(&mut self, block: &Block) -> Result<(), Reject> {
        // submitblock itself refuses this before validation.
        if !block.txdata.first().is_some_and(|tx| tx.is_coinbase()) {
            return Err(Reject::CoinbaseMissing);
        }
        let hash = block.block_hash();
        if let Some(entry) = self.chain.entry(&hash) {
            return Err(if entry.failed {
                Reject::DuplicateInvalid
            } else {
                Reject::Duplicate
            });
        }
        validate::check_block(block)?;
        let parent_hash = block.header.prev_blockhash;
        let parent = self
            .chain
            .entry(&parent_hash)
            .ok_or(Reject::PrevBlockNotFound)?;
        if parent.failed {
            return Err(Reject::BadPrevBlock);
        }
        let height = parent.height + 1;
        let median_time_past = self.chain.median_time_past(&parent_hash);
        let context = HeaderContext {
            height,
            required_bits: self.bits,
            median_time_past,
            now: self.now(),
        };
        validate::contextual_check_header(&block.header, &context)?;
        if let Err(reason) = validate::contextual_check_block(block, height, median_time_past) {
            if !reason.is_mutation() {
                self.chain.insert(block.clone(), true);
            }
            return Err(reason);
        }
        self.chain.insert(block.clone(), false);
        match self.chain.activate(hash) {
            Ok(true) => {
                tracing::debug!(block = %hash, height, "simnet: new tip");
                self.fill_mempool();
                Ok(())
            }
            Ok(false) => Err(Reject::Inconclusive),
            Err(failure) if failure.hash == hash => Err(failure.reason),
            // An ancestor on the branch failed: Core reports nothing for
            // the submitted block itself.
            Err(_) => Err(Reject::Inconclusive),
        }
    }

    /// Builds and grinds a block on `parent` as another miner would (the
    /// mempool's transactions when `parent` is the tip, none otherwise),
    /// paying subsidy and fees to `payout`; not submitted. Expected work is
    /// difficulty × 2^32 hashes: keep the difficulty small.
    pub fn mine_block(&self, parent: &BlockHash, payout: &Script, tag: &[u8]) -> Option<Block> {
        let entry = self.chain.entry(parent)?;
        let height = entry.height + 1;
        let transactions = if *parent == self.best_block_hash() {
            self.mempool.select()
        } else {
            Vec::new()
        };
        let wtxids: Vec<Wtxid> = transactions.iter().map(|tx| tx.wtxid).collect();
        let fees = transactions.iter().map(|tx| tx.fee).sum();
        let plan = BlockPlan {
            parent: *parent,
            height,
            time: self.now().max(self.chain.median_time_past(parent) + 1),
            bits: self.bits,
            coinbase_value: block_subsidy(height) + fees,
            payout,
            tag,
            witness_commitment: Some(validate::witness_commitment_script(&wtxids)),
        };
        let transactions = transactions.into_iter().map(|tx| tx.tx.clone()).collect();
        let mut block = miner::assemble(&plan, transactions);
        miner::grind(&mut block.header);
        Some(block)
    }

    /// `generatetoaddress` for one block: mines on the tip and submits.
    pub fn generate(&mut self, payout: &Script) -> Result<BlockHash, Reject> {
        let tip = self.best_block_hash();
        let block = self
            .mine_block(&tip, payout, OWN_TAG)
            .ok_or(Reject::PrevBlockNotFound)?;
        self.process_block(&block)?;
        Ok(block.block_hash())
    }

    /// A fresh mempool for the current tip.
    fn fill_mempool(&mut self) {
        self.mempool.clear();
        for _ in 0..self.mempool_size {
            self.add_transaction();
        }
        self.transactions_updated += 1;
    }

    fn add_transaction(&mut self) {
        let prevouts = self.mempool.add_synthetic(self.tip_height());
        for (outpoint, output) in prevouts {
            let coin = Coin {
                output,
                height: 0,
                is_coinbase: false,
            };
            self.chain.utxos_mut().add(outpoint, coin);
        }
    }
}

fn system_time() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u32::try_from(elapsed.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
