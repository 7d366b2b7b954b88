//! The live board of workers: what each `address.worker` is doing now
//! (connections, difficulty, share outcomes, best share, jobs sent), for
//! the miner pages and the API. The ledger holds the accepted shares for
//! good; this holds what only the running pool knows, since it started.
//!
//! Counts saturate rather than wrap (a worker cannot reach 2^64 shares, but
//! a wrap would read as a reset); difficulty sums are f64, which holds a
//! whole pool at 1 EH/s for longer than the universe is old.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// How a share submitted by a worker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareOutcome {
    Accepted,
    Stale,
    Duplicate,
    LowDifficulty,
    /// Bad fields, an unknown job, or not recorded.
    Rejected,
}

/// One worker as the running pool sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WorkerLive {
    /// Open connections authorized as this worker (0: offline).
    pub connections: u32,
    /// The difficulty of the last job sent to it.
    pub difficulty: f64,
    /// Unix ms of its last connection, and of the last time it was seen
    /// (connected, or disconnected).
    pub connected_ms: i64,
    pub last_seen_ms: i64,
    pub last_share_ms: Option<i64>,
    pub accepted: u64,
    pub stale: u64,
    pub duplicate: u64,
    pub low_difficulty: u64,
    pub rejected: u64,
    /// Sum of the difficulty credited for its accepted shares.
    pub accepted_difficulty: f64,
    /// The highest difficulty any of its hashes reached.
    pub best_share_difficulty: f64,
    pub jobs_sent: u64,
}

/// One worker's place on the board, held by the sessions authorized as it:
/// they update it under its own lock, so a new block's job or a share
/// takes no lock the whole pool shares.
#[derive(Debug, Clone, Default)]
pub struct WorkerHandle(Arc<Mutex<WorkerLive>>);

impl WorkerHandle {
    fn live(&self) -> MutexGuard<'_, WorkerLive> {
        // Plain counters: a panic elsewhere leaves them usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn job_sent(&self, difficulty: f64) {
        let mut live = self.live();
        live.jobs_sent = live.jobs_sent.saturating_add(1);
        live.difficulty = difficulty;
    }

    pub fn disconnected(&self, now_ms: i64) {
        let mut live = self.live();
        live.connections = live.connections.saturating_sub(1);
        live.last_seen_ms = now_ms;
    }

    /// A share's outcome; `credited` is the difficulty it earned (accepted
    /// shares), `reached` the difficulty its hash reached (0 if unknown).
    pub fn share(&self, outcome: ShareOutcome, credited: f64, reached: f64, now_ms: i64) {
        let mut live = self.live();
        live.last_seen_ms = now_ms;
        match outcome {
            ShareOutcome::Accepted => {
                live.accepted = live.accepted.saturating_add(1);
                live.accepted_difficulty += credited;
                live.last_share_ms = Some(now_ms);
            }
            ShareOutcome::Stale => live.stale = live.stale.saturating_add(1),
            ShareOutcome::Duplicate => live.duplicate = live.duplicate.saturating_add(1),
            ShareOutcome::LowDifficulty => {
                live.low_difficulty = live.low_difficulty.saturating_add(1)
            }
            ShareOutcome::Rejected => live.rejected = live.rejected.saturating_add(1),
        }
        if reached > live.best_share_difficulty {
            live.best_share_difficulty = reached;
        }
    }
}

/// Every worker seen since the pool started, by address then worker name.
#[derive(Debug, Default)]
pub struct WorkerBoard {
    miners: Mutex<HashMap<String, BTreeMap<String, WorkerHandle>>>,
}

impl WorkerBoard {
    fn miners(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<String, WorkerHandle>>> {
        self.miners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The worker's place, made if new. The board's lock is always taken
    /// before a worker's, never the other way.
    fn with_worker<T>(
        &self,
        address: &str,
        worker: &str,
        update: impl FnOnce(&WorkerHandle) -> T,
    ) -> T {
        let mut miners = self.miners();
        let workers = match miners.get_mut(address) {
            Some(workers) => workers,
            None => miners.entry(address.to_string()).or_default(),
        };
        let handle = match workers.get_mut(worker) {
            Some(handle) => handle,
            None => workers.entry(worker.to_string()).or_default(),
        };
        update(handle)
    }

    /// A connection authorized as this worker: its handle, for the
    /// session's updates.
    pub fn connected(&self, address: &str, worker: &str, now_ms: i64) -> WorkerHandle {
        self.with_worker(address, worker, |handle| {
            let mut live = handle.live();
            live.connections = live.connections.saturating_add(1);
            live.connected_ms = now_ms;
            live.last_seen_ms = now_ms;
            drop(live);
            handle.clone()
        })
    }

    /// One address's workers, by name.
    pub fn miner(&self, address: &str) -> Option<BTreeMap<String, WorkerLive>> {
        self.miners().get(address).map(|workers| {
            workers
                .iter()
                .map(|(worker, handle)| (worker.clone(), handle.live().clone()))
                .collect()
        })
    }

    /// Every worker on the board: `(address, worker, state)`.
    pub fn snapshot(&self) -> Vec<(String, String, WorkerLive)> {
        let miners = self.miners();
        miners
            .iter()
            .flat_map(|(address, workers)| {
                workers.iter().map(move |(worker, handle)| {
                    (address.clone(), worker.clone(), handle.live().clone())
                })
            })
            .collect()
    }

    /// Addresses and workers with at least one open connection.
    pub fn online(&self) -> (u64, u64) {
        let miners = self.miners();
        let mut addresses = 0;
        let mut workers = 0;
        for miner in miners.values() {
            // usize fits u64 on every target.
            let online = miner
                .values()
                .filter(|handle| handle.live().connections > 0)
                .count() as u64;
            workers += online;
            addresses += u64::from(online > 0);
        }
        (addresses, workers)
    }

    /// Forgets workers offline since before `cutoff_ms`: the board stays
    /// bounded however many workers come and go.
    pub fn prune(&self, cutoff_ms: i64) {
        let mut miners = self.miners();
        for workers in miners.values_mut() {
            workers.retain(|_, handle| {
                let live = handle.live();
                live.connections > 0 || live.last_seen_ms >= cutoff_ms
            });
        }
        miners.retain(|_, workers| !workers.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_board_follows_connections_and_outcomes() {
        let board = WorkerBoard::default();
        let rig1 = board.connected("bc1qa", "rig1", 1_000);
        let rig1_again = board.connected("bc1qa", "rig1", 1_100);
        board.connected("bc1qa", "rig2", 1_200);
        let other = board.connected("bc1qb", "", 1_300);
        assert_eq!(board.online(), (2, 3));
        rig1.job_sent(512.0);
        rig1.share(ShareOutcome::Accepted, 512.0, 9_000.0, 2_000);
        rig1_again.share(ShareOutcome::Accepted, 512.0, 600.0, 2_100);
        rig1.share(ShareOutcome::Stale, 0.0, 0.0, 2_200);
        rig1.share(ShareOutcome::Duplicate, 0.0, 0.0, 2_300);
        rig1.share(ShareOutcome::LowDifficulty, 0.0, 10.0, 2_400);
        let seen = board.miner("bc1qa").unwrap()["rig1"].clone();
        assert_eq!(
            (
                seen.accepted,
                seen.stale,
                seen.duplicate,
                seen.low_difficulty
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(seen.accepted_difficulty, 1024.0);
        assert_eq!(seen.best_share_difficulty, 9_000.0);
        assert_eq!(seen.last_share_ms, Some(2_100));
        assert_eq!(
            (seen.jobs_sent, seen.difficulty, seen.connections),
            (1, 512.0, 2)
        );

        other.disconnected(3_000);
        rig1.disconnected(3_000);
        assert_eq!(board.online(), (1, 2), "rig1 still has a connection");
        board.prune(3_500);
        assert!(
            board.miner("bc1qb").is_none(),
            "offline since before the cutoff"
        );
        assert_eq!(board.miner("bc1qa").unwrap().len(), 2);
    }

    #[test]
    fn counts_saturate_and_sums_hold_a_year_of_an_exahash_pool() {
        let board = WorkerBoard::default();
        let handle = board.connected("a", "w", 0);
        handle.share(ShareOutcome::Accepted, 1.0, 1.0, 0);
        {
            let mut live = handle.live();
            live.accepted = u64::MAX;
            live.connections = u32::MAX;
            live.jobs_sent = u64::MAX;
        }
        // A year of 1 EH/s credited to one worker: ~7.3e15 difficulty.
        let year = 1e18 * 365.25 * 86_400.0 / 4_294_967_296.0;
        handle.share(ShareOutcome::Accepted, year, year, 1);
        board.connected("a", "w", 2);
        handle.job_sent(1.0);
        let live = board.miner("a").unwrap()["w"].clone();
        assert_eq!(
            (live.accepted, live.connections, live.jobs_sent),
            (u64::MAX, u32::MAX, u64::MAX)
        );
        assert!((live.accepted_difficulty / (year + 1.0) - 1.0).abs() < 1e-12);
        assert_eq!(live.best_share_difficulty, year);
    }
}
