//! Block solutions go to the nodes one at a time, from one bounded queue.
//!
//! On a test chain every share can be a block. Submitting each in its own
//! task once let a one-core CPU miner on regtest send tens of thousands of
//! `submitblock`s for one height (solutions of work the pool's own block
//! had just made stale): they filled tokio's blocking pool, so
//! `getblocktemplate` and the tip poll starved, and the pool stalled.
//!
//! Here one task takes solutions in the order they were found. A solution
//! whose parent already has a child of ours that a node holds (it won that
//! height, or is racing a foreign block there) is a *sibling*: its block
//! can only compete with our own, so it is counted and logged, never
//! submitted. Any other solution is persisted, submitted to every node and
//! recorded, exactly as before; a solution racing a foreign block is still
//! submitted at once (it may yet win). The sessions check the same record
//! before they queue, so a burst of siblings does not take queue places.

use super::Shared;
use crate::block::{self, Solution};
use crate::clock::unix_millis;
use crate::jobs::PoolJob;
use crate::ledger::NewBlock;
use crate::template::{SubmitReport, TemplateSource};
use bitcoin::BlockHash;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Solutions waiting for the submitter. Real blocks come minutes apart;
/// only a test chain fills this, and a full queue there loses a solution
/// the pool could not have submitted in time anyway (counted, logged).
pub(crate) const QUEUE: usize = 1024;

/// Parents remembered with the child of ours a node holds: more than any
/// job a miner may still answer builds on.
const REMEMBERED_PARENTS: usize = 64;

/// A share that met the network target, with what its block needs.
pub(crate) struct FoundBlock {
    pub job: Arc<PoolJob>,
    pub solution: Solution,
    pub block_hash: BlockHash,
    pub address: String,
    pub worker: String,
}

/// The parents whose child of ours a node holds.
#[derive(Debug, Default)]
pub(crate) struct Held {
    parents: Mutex<VecDeque<(BlockHash, BlockHash)>>,
}

impl Held {
    /// Our block on `parent` that a node holds, if any.
    pub(crate) fn child_of(&self, parent: &BlockHash) -> Option<BlockHash> {
        let parents = self
            .parents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        parents
            .iter()
            .find(|(held_parent, _)| held_parent == parent)
            .map(|(_, child)| *child)
    }

    fn insert(&self, parent: BlockHash, child: BlockHash) {
        let mut parents = self
            .parents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if parents
            .iter()
            .any(|(held_parent, _)| *held_parent == parent)
        {
            return;
        }
        parents.push_back((parent, child));
        if parents.len() > REMEMBERED_PARENTS {
            parents.pop_front();
        }
    }
}

/// The queue's sending side, held by every session.
pub(crate) type Queue = mpsc::Sender<FoundBlock>;

pub(crate) fn queue() -> (Queue, mpsc::Receiver<FoundBlock>) {
    mpsc::channel(QUEUE)
}

/// Hands a solution to the submitter, unless it is a sibling of a block of
/// ours. Never waits: a session answers its miner at once.
pub(crate) fn enqueue<S>(shared: &Shared<S>, found: FoundBlock) {
    let parent = found.job.template.previous_block_hash;
    if let Some(ours) = shared.held.child_of(&parent) {
        sibling(shared, &found, ours);
        return;
    }
    match shared.blocks.try_send(found) {
        Ok(()) => {
            shared
                .stats
                .block_submissions_queued
                .fetch_add(1, Ordering::Relaxed);
        }
        Err(mpsc::error::TrySendError::Full(found)) => {
            shared
                .stats
                .blocks_unsubmitted
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                height = found.job.height(),
                block_hash = %found.block_hash,
                queued = QUEUE,
                "block solution not submitted: the submission queue is full"
            );
        }
        Err(mpsc::error::TrySendError::Closed(found)) => {
            tracing::error!(
                height = found.job.height(),
                block_hash = %found.block_hash,
                "block solution not submitted: the pool is shutting down"
            );
        }
    }
}

fn sibling<S>(shared: &Shared<S>, found: &FoundBlock, ours: BlockHash) {
    shared.stats.block_siblings.fetch_add(1, Ordering::Relaxed);
    // On a test chain nearly every share is one: a count, not a log line each.
    tracing::debug!(
        height = found.job.height(),
        block_hash = %found.block_hash,
        ours = %ours,
        address = %found.address,
        worker = %found.worker,
        "block solution is a sibling of our own block at that height; recorded, not submitted"
    );
}

/// Submits queued solutions one at a time until the server shuts down;
/// what is queued then is still submitted.
pub(crate) async fn run<S: TemplateSource>(
    shared: Arc<Shared<S>>,
    mut solutions: mpsc::Receiver<FoundBlock>,
) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let found = tokio::select! {
            biased;
            found = solutions.recv() => found,
            _ = shutdown.changed() => None,
        };
        let Some(found) = found else { break };
        handle(&shared, found).await;
    }
    while let Ok(found) = solutions.try_recv() {
        handle(&shared, found).await;
    }
}

async fn handle<S: TemplateSource>(shared: &Arc<Shared<S>>, found: FoundBlock) {
    shared
        .stats
        .block_submissions_queued
        .fetch_sub(1, Ordering::Relaxed);
    let parent = found.job.template.previous_block_hash;
    // A block of ours on this parent may have been taken since it queued.
    if let Some(ours) = shared.held.child_of(&parent) {
        sibling(shared, &found, ours);
        return;
    }
    let FoundBlock {
        job,
        solution,
        block_hash,
        address,
        worker,
    } = found;
    let block = match block::assemble(&job, &solution) {
        Ok(block) => block,
        Err(error) => {
            tracing::error!(%error, height = job.height(), %block_hash, "cannot assemble the block");
            return;
        }
    };
    debug_assert_eq!(
        block.block_hash(),
        block_hash,
        "the share's hash is the block's"
    );
    let raw_hex = bitcoin::consensus::encode::serialize_hex(&block);
    let report = block::submit_solved(&*shared.source, &shared.store, job.height(), block).await;
    if report.held() {
        shared.held.insert(parent, report.block_hash);
    }
    let accepted = report.accepted();
    if accepted {
        shared.stats.blocks_accepted.fetch_add(1, Ordering::Relaxed);
    }
    let record = NewBlock {
        node: shared.settings.node_prefix,
        height: job.height(),
        hash: report.block_hash.to_string(),
        address,
        worker,
        coinbase_value_sat: job.template.coinbase_value.to_sat(),
        time_ms: unix_millis(),
        raw_hex,
        answers: answers_json(&report),
        accepted,
        mode: shared.settings.mode,
    };
    if let Some(alerts) = shared.alerts.get() {
        alerts.block_found(job.height(), &record.hash, &record.address, &record.worker);
    }
    if let Err(error) = shared.ledger.record_block(record).await {
        tracing::error!(%error, hash = %report.block_hash, "block not recorded in the ledger (its hex is in the blocks dir)");
        return;
    }
    // Credits are written shortly after, once shares other nodes accepted
    // just before the block are committed; `pool payout` credits any
    // block this misses.
    crate::payouts::credit_soon(
        shared.ledger.clone(),
        report.block_hash.to_string(),
        shared.settings.credit.clone(),
        shared.shutdown.clone(),
    );
}

fn answers_json(report: &SubmitReport) -> String {
    serde_json::Value::Array(
        report
            .answers
            .iter()
            .map(|answer| {
                serde_json::json!({
                    "node": answer.node,
                    "result": match &answer.result {
                        Ok(None) => serde_json::Value::Null,
                        Ok(Some(reason)) => reason.clone().into(),
                        Err(error) => format!("error: {error}").into(),
                    },
                })
            })
            .collect(),
    )
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash as _;

    fn hash(n: u8) -> BlockHash {
        BlockHash::from_byte_array([n; 32])
    }

    #[test]
    fn held_remembers_the_first_child_per_parent_and_is_bounded() {
        let held = Held::default();
        assert_eq!(held.child_of(&hash(1)), None);
        held.insert(hash(1), hash(2));
        held.insert(hash(1), hash(3));
        assert_eq!(held.child_of(&hash(1)), Some(hash(2)));
        for n in 0..REMEMBERED_PARENTS as u8 {
            held.insert(hash(100 + n), hash(1));
        }
        assert_eq!(
            held.child_of(&hash(1)),
            None,
            "the oldest parent is forgotten"
        );
        assert_eq!(held.child_of(&hash(100)), Some(hash(1)));
        assert_eq!(held.parents.lock().unwrap().len(), REMEMBERED_PARENTS);
    }
}
