//! The block tree and the active chain: every block the simnet accepted
//! (side branches included), the most-work chain connected to the UTXO
//! set, and reorganisations when a side branch overtakes it.

use super::params::MEDIAN_TIME_SPAN;
use super::utxo::{Undo, UtxoSet};
use super::validate::Reject;
use bitcoin::{Block, BlockHash, Work};
use std::collections::HashMap;

/// One known block.
#[derive(Debug)]
pub struct Entry {
    pub block: Block,
    pub height: u32,
    /// Work of the chain up to and including this block.
    pub chain_work: Work,
    /// Found invalid (itself or an ancestor): `duplicate-invalid`.
    pub failed: bool,
    /// Set while the block is connected (on the active chain).
    undo: Option<Undo>,
}

/// Connecting a block of a new branch failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub hash: BlockHash,
    pub reason: Reject,
}

#[derive(Debug)]
pub struct Chain {
    entries: HashMap<BlockHash, Entry>,
    /// Block hashes of the active chain by height.
    active: Vec<BlockHash>,
    utxos: UtxoSet,
}

impl Chain {
    /// A chain holding only `genesis` (whose outputs, as in Core, are not
    /// spendable).
    pub fn new(genesis: Block) -> Chain {
        let hash = genesis.block_hash();
        let entry = Entry {
            chain_work: genesis.header.work(),
            block: genesis,
            height: 0,
            failed: false,
            undo: Some(Undo::default()),
        };
        Chain {
            entries: HashMap::from([(hash, entry)]),
            active: vec![hash],
            utxos: UtxoSet::default(),
        }
    }

    pub fn tip(&self) -> BlockHash {
        self.active[self.active.len() - 1]
    }

    pub fn height(&self) -> u32 {
        (self.active.len() - 1) as u32
    }

    pub fn hash_at(&self, height: u32) -> Option<BlockHash> {
        self.active.get(height as usize).copied()
    }

    pub fn entry(&self, hash: &BlockHash) -> Option<&Entry> {
        self.entries.get(hash)
    }

    pub fn is_active(&self, hash: &BlockHash) -> bool {
        self.entries
            .get(hash)
            .is_some_and(|entry| self.hash_at(entry.height) == Some(*hash))
    }

    pub fn utxos(&self) -> &UtxoSet {
        &self.utxos
    }

    pub fn utxos_mut(&mut self) -> &mut UtxoSet {
        &mut self.utxos
    }

    /// Median time of `hash` and its ten ancestors (`GetMedianTimePast`).
    pub fn median_time_past(&self, hash: &BlockHash) -> u32 {
        let mut times = Vec::with_capacity(MEDIAN_TIME_SPAN);
        let mut cursor = self.entries.get(hash);
        while let Some(entry) = cursor {
            times.push(entry.block.header.time);
            if times.len() == MEDIAN_TIME_SPAN {
                break;
            }
            cursor = self.entries.get(&entry.block.header.prev_blockhash);
        }
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or(0)
    }

    /// Stores a block whose parent is known; `failed` records a block
    /// found invalid by the contextual checks.
    pub fn insert(&mut self, block: Block, failed: bool) -> BlockHash {
        let hash = block.block_hash();
        let parent = self.entries.get(&block.header.prev_blockhash);
        let (height, parent_work) = parent.map_or((0, Work::from_be_bytes([0; 32])), |parent| {
            (parent.height + 1, parent.chain_work)
        });
        let entry = Entry {
            chain_work: parent_work + block.header.work(),
            block,
            height,
            failed,
            undo: None,
        };
        self.entries.insert(hash, entry);
        hash
    }

    /// Makes `hash` the tip if its chain has more work than the active one
    /// (first seen wins a tie, as in Core). `Ok(true)`: the tip moved.
    /// On a block of the new branch that does not connect, that block and
    /// its descendants there are marked failed and the old chain stays.
    pub fn activate(&mut self, hash: BlockHash) -> Result<bool, Failure> {
        let tip_work = self.entries[&self.tip()].chain_work;
        match self.entries.get(&hash) {
            Some(entry) if !entry.failed && entry.chain_work > tip_work => {}
            _ => return Ok(false),
        }
        // The new branch, from the fork point up to `hash`.
        let mut branch = Vec::new();
        let mut cursor = hash;
        while !self.is_active(&cursor) {
            branch.push(cursor);
            cursor = self.entries[&cursor].block.header.prev_blockhash;
        }
        branch.reverse();
        let fork_height = self.entries[&cursor].height;

        let mut disconnected = Vec::new();
        while self.height() > fork_height {
            disconnected.push(self.disconnect_tip());
        }
        for (index, next) in branch.iter().enumerate() {
            if let Err(reason) = self.connect(*next) {
                for failed in &branch[index..] {
                    if let Some(entry) = self.entries.get_mut(failed) {
                        entry.failed = true;
                    }
                }
                // Back to the chain we had: it connected before, it connects again.
                while self.height() > fork_height {
                    self.disconnect_tip();
                }
                for old in disconnected.into_iter().rev() {
                    if let Err(error) = self.connect(old) {
                        tracing::error!(block = %old, %error, "simnet could not reconnect its own chain");
                    }
                }
                return Err(Failure {
                    hash: *next,
                    reason,
                });
            }
        }
        Ok(true)
    }

    fn connect(&mut self, hash: BlockHash) -> Result<(), Reject> {
        let entry = &self.entries[&hash];
        let undo = self.utxos.connect(&entry.block, entry.height)?;
        if let Some(entry) = self.entries.get_mut(&hash) {
            entry.undo = Some(undo);
        }
        self.active.push(hash);
        Ok(())
    }

    fn disconnect_tip(&mut self) -> BlockHash {
        let hash = self.tip();
        if let Some(undo) = self
            .entries
            .get_mut(&hash)
            .and_then(|entry| entry.undo.take())
        {
            self.utxos.disconnect(undo);
        }
        self.active.pop();
        hash
    }
}
