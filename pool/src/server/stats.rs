//! Counters for every share outcome and connection event, shared by all
//! sessions (atomics: the share path takes no lock for them).

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a share was not credited, as the Stratum error it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reject {
    /// 25
    NotSubscribed,
    /// 24
    Unauthorized,
    /// 21, the job id was never sent or has expired.
    UnknownJob,
    /// 21, the job builds on a replaced block.
    Stale,
    /// 20, a bad hex field, extranonce2 size, ntime or version bits.
    Invalid,
    /// 22
    Duplicate,
    /// 23
    LowDifficulty,
    /// 20, the ledger could not make the share durable.
    NotRecorded,
}

impl Reject {
    pub const ALL: [Reject; 8] = [
        Reject::NotSubscribed,
        Reject::Unauthorized,
        Reject::UnknownJob,
        Reject::Stale,
        Reject::Invalid,
        Reject::Duplicate,
        Reject::LowDifficulty,
        Reject::NotRecorded,
    ];

    /// The label metrics and logs use.
    pub fn name(self) -> &'static str {
        match self {
            Reject::NotSubscribed => "not_subscribed",
            Reject::Unauthorized => "unauthorized",
            Reject::UnknownJob => "unknown_job",
            Reject::Stale => "stale",
            Reject::Invalid => "invalid",
            Reject::Duplicate => "duplicate",
            Reject::LowDifficulty => "low_difficulty",
            Reject::NotRecorded => "not_recorded",
        }
    }

    fn index(self) -> usize {
        Reject::ALL
            .iter()
            .position(|reject| *reject == self)
            .expect("every reject is listed")
    }
}

/// The pool's live counters.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub connections_total: AtomicU64,
    pub connections_open: AtomicU64,
    /// Connections refused because the pool was at its limit.
    pub connections_refused: AtomicU64,
    /// Miners dropped for not keeping up with their outgoing queue.
    pub slow_miners_dropped: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub shares_accepted: AtomicU64,
    /// Sum of the difficulty of accepted shares, in millionths.
    pub accepted_difficulty_micro: AtomicU64,
    rejected: [AtomicU64; 8],
    pub blocks_found: AtomicU64,
    pub blocks_accepted: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub connections_total: u64,
    pub connections_open: u64,
    pub connections_refused: u64,
    pub slow_miners_dropped: u64,
    pub protocol_errors: u64,
    pub shares_accepted: u64,
    pub accepted_difficulty_micro: u64,
    pub rejected: Vec<(&'static str, u64)>,
    pub blocks_found: u64,
    pub blocks_accepted: u64,
}

impl StatsSnapshot {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().map(|(_, count)| count).sum()
    }

    pub fn rejected(&self, reject: Reject) -> u64 {
        self.rejected
            .iter()
            .find(|(name, _)| *name == reject.name())
            .map_or(0, |(_, count)| *count)
    }
}

impl ServerStats {
    pub fn reject(&self, reject: Reject) {
        self.rejected[reject.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn accept(&self, difficulty: f64) {
        self.shares_accepted.fetch_add(1, Ordering::Relaxed);
        self.accepted_difficulty_micro
            .fetch_add((difficulty * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            connections_total: load(&self.connections_total),
            connections_open: load(&self.connections_open),
            connections_refused: load(&self.connections_refused),
            slow_miners_dropped: load(&self.slow_miners_dropped),
            protocol_errors: load(&self.protocol_errors),
            shares_accepted: load(&self.shares_accepted),
            accepted_difficulty_micro: load(&self.accepted_difficulty_micro),
            rejected: Reject::ALL
                .iter()
                .map(|reject| (reject.name(), load(&self.rejected[reject.index()])))
                .collect(),
            blocks_found: load(&self.blocks_found),
            blocks_accepted: load(&self.blocks_accepted),
        }
    }
}
