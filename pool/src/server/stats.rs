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
    /// Unix ms when the source last published a template (0: never).
    template_received_ms: AtomicU64,
    template_height: AtomicU64,
    /// The f64 bits of the newest template's network difficulty.
    network_difficulty_bits: AtomicU64,
}

/// The chain as the newest template showed it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChainSnapshot {
    /// Unix ms when it came; `None` before the first template.
    pub template_received_ms: Option<u64>,
    /// Height of the block the template builds.
    pub height: u32,
    pub network_difficulty: f64,
}

impl ChainSnapshot {
    /// How old the newest template is at `now_ms` (unix), if there is one.
    pub fn template_age_ms(&self, now_ms: u64) -> Option<u64> {
        self.template_received_ms
            .map(|received| now_ms.saturating_sub(received))
    }
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

    /// Notes a template from the source (new work or a refresh alike: it
    /// shows the source is alive).
    pub fn template_seen(&self, height: u32, network_difficulty: f64, now_ms: u64) {
        self.template_height
            .store(u64::from(height), Ordering::Relaxed);
        self.network_difficulty_bits
            .store(network_difficulty.to_bits(), Ordering::Relaxed);
        self.template_received_ms
            .store(now_ms.max(1), Ordering::Relaxed);
    }

    pub fn chain(&self) -> ChainSnapshot {
        let received = self.template_received_ms.load(Ordering::Relaxed);
        ChainSnapshot {
            template_received_ms: (received > 0).then_some(received),
            height: self.template_height.load(Ordering::Relaxed) as u32,
            network_difficulty: f64::from_bits(
                self.network_difficulty_bits.load(Ordering::Relaxed),
            ),
        }
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
