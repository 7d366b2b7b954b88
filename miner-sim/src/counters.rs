//! What a miner did, readable while it runs.
//!
//! [`MinerCounters`] is shared (`Arc`) between the miner's task and whoever
//! watches it: plain atomics, no locks on the share path except the bounded
//! share log. [`CountersSnapshot`] is a consistent-enough copy for reports.

use crate::misbehaviour::BadShare;
use std::collections::VecDeque;
use std::ops::AddAssign;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use stratum::message::ErrorCode;

/// Shares remembered per miner in its share log; older ones are dropped.
pub const DEFAULT_SHARE_LOG: usize = 10_000;

/// Live counters of one miner.
#[derive(Debug)]
pub struct MinerCounters {
    pub connections: AtomicU64,
    pub connect_failures: AtomicU64,
    pub disconnections: AtomicU64,
    /// Lines from the pool that did not parse, over-long lines, bad jobs.
    pub protocol_errors: AtomicU64,
    pub lines_sent: AtomicU64,
    pub lines_received: AtomicU64,
    pub subscribes_ok: AtomicU64,
    pub subscribes_failed: AtomicU64,
    pub authorizes_ok: AtomicU64,
    pub authorizes_failed: AtomicU64,
    pub version_rolling: AtomicBool,
    pub version_mask: AtomicU32,
    pub jobs: AtomicU64,
    pub clean_jobs: AtomicU64,
    pub set_difficulty: AtomicU64,
    /// f64 bits of the latest `mining.set_difficulty` (0 before any).
    latest_difficulty: AtomicU64,
    pub pings: AtomicU64,
    pub hashes: AtomicU64,
    /// Valid shares submitted (expected to be accepted).
    pub shares_submitted: AtomicU64,
    /// f64 bits of the sum of the difficulties of valid shares submitted.
    submitted_difficulty: AtomicU64,
    pub accepted: AtomicU64,
    /// f64 bits of the sum of the difficulties of accepted shares.
    accepted_difficulty: AtomicU64,
    /// Rejections by code: 20 to 25, then every other code (and `false`).
    rejected: [AtomicU64; 7],
    pub blocks_found: AtomicU64,
    /// Shares found on a job that a `clean_jobs` notify had voided: dropped.
    pub stale_dropped: AtomicU64,
    /// Deliberately bad lines sent.
    pub bad_lines_sent: AtomicU64,
    /// Rejections of deliberately bad lines, and of shares that went stale
    /// in flight (sent before the clean notify reached the miner).
    pub expected_rejections: AtomicU64,
    /// Rejections of good shares: a pool bug, or a pool stricter than the protocol.
    pub unexpected_rejections: AtomicU64,
    /// Deliberately bad shares the pool accepted.
    pub unexpected_acceptances: AtomicU64,
    share_log: Mutex<VecDeque<ShareRecord>>,
    share_log_capacity: usize,
}

/// One submitted share and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareRecord {
    /// As sent (the pool's spelling).
    pub job_id: String,
    /// The difficulty the miner held the share to: the harder of the
    /// latest `set_difficulty` and the one in force when the job arrived.
    pub difficulty: f64,
    /// The difficulty the hash achieved (0 for malformed lines).
    pub hash_difficulty: f64,
    /// Whether the hash also met the network target.
    pub block: bool,
    /// `None` for a good share, else how it was made bad.
    pub bad: Option<BadShare>,
    pub expected_accept: bool,
    pub outcome: ShareOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareOutcome {
    Accepted,
    Rejected(ErrorCode),
    /// The pool answered `false` (or something not `true`) without an error.
    RejectedWithoutCode,
    /// The connection ended before the answer.
    Unanswered,
    /// No answer is possible (garbage JSON, over-long line).
    NoAnswerExpected,
}

impl Default for MinerCounters {
    fn default() -> MinerCounters {
        MinerCounters::new(DEFAULT_SHARE_LOG)
    }
}

fn add_f64(cell: &AtomicU64, value: f64) {
    let _ = cell.fetch_update(Relaxed, Relaxed, |bits| {
        Some((f64::from_bits(bits) + value).to_bits())
    });
}

impl MinerCounters {
    pub fn new(share_log_capacity: usize) -> MinerCounters {
        MinerCounters {
            connections: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            disconnections: AtomicU64::new(0),
            protocol_errors: AtomicU64::new(0),
            lines_sent: AtomicU64::new(0),
            lines_received: AtomicU64::new(0),
            subscribes_ok: AtomicU64::new(0),
            subscribes_failed: AtomicU64::new(0),
            authorizes_ok: AtomicU64::new(0),
            authorizes_failed: AtomicU64::new(0),
            version_rolling: AtomicBool::new(false),
            version_mask: AtomicU32::new(0),
            jobs: AtomicU64::new(0),
            clean_jobs: AtomicU64::new(0),
            set_difficulty: AtomicU64::new(0),
            latest_difficulty: AtomicU64::new(0),
            pings: AtomicU64::new(0),
            hashes: AtomicU64::new(0),
            shares_submitted: AtomicU64::new(0),
            submitted_difficulty: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            accepted_difficulty: AtomicU64::new(0),
            rejected: Default::default(),
            blocks_found: AtomicU64::new(0),
            stale_dropped: AtomicU64::new(0),
            bad_lines_sent: AtomicU64::new(0),
            expected_rejections: AtomicU64::new(0),
            unexpected_rejections: AtomicU64::new(0),
            unexpected_acceptances: AtomicU64::new(0),
            share_log: Mutex::new(VecDeque::new()),
            share_log_capacity,
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn set_latest_difficulty(&self, difficulty: f64) {
        self.latest_difficulty.store(difficulty.to_bits(), Relaxed);
    }

    pub fn latest_difficulty(&self) -> f64 {
        f64::from_bits(self.latest_difficulty.load(Relaxed))
    }

    pub(crate) fn share_submitted(&self, difficulty: f64, block: bool) {
        Self::bump(&self.shares_submitted);
        add_f64(&self.submitted_difficulty, difficulty);
        if block {
            Self::bump(&self.blocks_found);
        }
    }

    pub(crate) fn share_accepted(&self, difficulty: f64) {
        Self::bump(&self.accepted);
        add_f64(&self.accepted_difficulty, difficulty);
    }

    pub(crate) fn share_rejected(&self, code: Option<ErrorCode>) {
        let slot = match code.map(ErrorCode::code) {
            Some(code @ 20..=25) => (code - 20) as usize,
            _ => 6,
        };
        Self::bump(&self.rejected[slot]);
    }

    pub(crate) fn log_share(&self, record: ShareRecord) {
        if self.share_log_capacity == 0 {
            return;
        }
        let mut log = self
            .share_log
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if log.len() == self.share_log_capacity {
            log.pop_front();
        }
        log.push_back(record);
    }

    /// The share log, oldest first.
    pub fn shares(&self) -> Vec<ShareRecord> {
        let log = self
            .share_log
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        log.iter().cloned().collect()
    }

    pub fn snapshot(&self) -> CountersSnapshot {
        let load = |counter: &AtomicU64| counter.load(Relaxed);
        let rejected = RejectionCounts {
            other: load(&self.rejected[0]),
            job_not_found: load(&self.rejected[1]),
            duplicate: load(&self.rejected[2]),
            low_difficulty: load(&self.rejected[3]),
            unauthorized: load(&self.rejected[4]),
            not_subscribed: load(&self.rejected[5]),
            unlisted: load(&self.rejected[6]),
        };
        CountersSnapshot {
            connections: load(&self.connections),
            connect_failures: load(&self.connect_failures),
            disconnections: load(&self.disconnections),
            protocol_errors: load(&self.protocol_errors),
            lines_sent: load(&self.lines_sent),
            lines_received: load(&self.lines_received),
            subscribes_ok: load(&self.subscribes_ok),
            subscribes_failed: load(&self.subscribes_failed),
            authorizes_ok: load(&self.authorizes_ok),
            authorizes_failed: load(&self.authorizes_failed),
            version_mask: self
                .version_rolling
                .load(Relaxed)
                .then(|| self.version_mask.load(Relaxed)),
            jobs: load(&self.jobs),
            clean_jobs: load(&self.clean_jobs),
            set_difficulty: load(&self.set_difficulty),
            latest_difficulty: self.latest_difficulty(),
            pings: load(&self.pings),
            hashes: load(&self.hashes),
            shares_submitted: load(&self.shares_submitted),
            submitted_difficulty: f64::from_bits(load(&self.submitted_difficulty)),
            accepted: load(&self.accepted),
            accepted_difficulty: f64::from_bits(load(&self.accepted_difficulty)),
            rejected,
            blocks_found: load(&self.blocks_found),
            stale_dropped: load(&self.stale_dropped),
            bad_lines_sent: load(&self.bad_lines_sent),
            expected_rejections: load(&self.expected_rejections),
            unexpected_rejections: load(&self.unexpected_rejections),
            unexpected_acceptances: load(&self.unexpected_acceptances),
        }
    }
}

/// Rejections by Stratum error code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectionCounts {
    /// 20
    pub other: u64,
    /// 21
    pub job_not_found: u64,
    /// 22
    pub duplicate: u64,
    /// 23
    pub low_difficulty: u64,
    /// 24
    pub unauthorized: u64,
    /// 25
    pub not_subscribed: u64,
    /// Any other code, or a `false` result without one.
    pub unlisted: u64,
}

impl RejectionCounts {
    pub fn total(&self) -> u64 {
        self.other
            + self.job_not_found
            + self.duplicate
            + self.low_difficulty
            + self.unauthorized
            + self.not_subscribed
            + self.unlisted
    }

    /// The count for one code.
    pub fn by_code(&self, code: ErrorCode) -> u64 {
        match code {
            ErrorCode::Other => self.other,
            ErrorCode::JobNotFound => self.job_not_found,
            ErrorCode::Duplicate => self.duplicate,
            ErrorCode::LowDifficulty => self.low_difficulty,
            ErrorCode::UnauthorizedWorker => self.unauthorized,
            ErrorCode::NotSubscribed => self.not_subscribed,
            ErrorCode::Unlisted(_) => self.unlisted,
        }
    }
}

impl AddAssign for RejectionCounts {
    fn add_assign(&mut self, other: RejectionCounts) {
        self.other += other.other;
        self.job_not_found += other.job_not_found;
        self.duplicate += other.duplicate;
        self.low_difficulty += other.low_difficulty;
        self.unauthorized += other.unauthorized;
        self.not_subscribed += other.not_subscribed;
        self.unlisted += other.unlisted;
    }
}

/// A copy of [`MinerCounters`] (or the sum over a swarm).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CountersSnapshot {
    pub connections: u64,
    pub connect_failures: u64,
    pub disconnections: u64,
    pub protocol_errors: u64,
    pub lines_sent: u64,
    pub lines_received: u64,
    pub subscribes_ok: u64,
    pub subscribes_failed: u64,
    pub authorizes_ok: u64,
    pub authorizes_failed: u64,
    /// The negotiated version-rolling mask, `None` when not granted.
    pub version_mask: Option<u32>,
    pub jobs: u64,
    pub clean_jobs: u64,
    pub set_difficulty: u64,
    /// The latest difficulty set (the highest of a swarm's).
    pub latest_difficulty: f64,
    pub pings: u64,
    pub hashes: u64,
    pub shares_submitted: u64,
    pub submitted_difficulty: f64,
    pub accepted: u64,
    pub accepted_difficulty: f64,
    pub rejected: RejectionCounts,
    pub blocks_found: u64,
    pub stale_dropped: u64,
    pub bad_lines_sent: u64,
    pub expected_rejections: u64,
    pub unexpected_rejections: u64,
    pub unexpected_acceptances: u64,
}

impl AddAssign<&CountersSnapshot> for CountersSnapshot {
    fn add_assign(&mut self, other: &CountersSnapshot) {
        self.connections += other.connections;
        self.connect_failures += other.connect_failures;
        self.disconnections += other.disconnections;
        self.protocol_errors += other.protocol_errors;
        self.lines_sent += other.lines_sent;
        self.lines_received += other.lines_received;
        self.subscribes_ok += other.subscribes_ok;
        self.subscribes_failed += other.subscribes_failed;
        self.authorizes_ok += other.authorizes_ok;
        self.authorizes_failed += other.authorizes_failed;
        self.version_mask = self.version_mask.or(other.version_mask);
        self.jobs += other.jobs;
        self.clean_jobs += other.clean_jobs;
        self.set_difficulty += other.set_difficulty;
        self.latest_difficulty = self.latest_difficulty.max(other.latest_difficulty);
        self.pings += other.pings;
        self.hashes += other.hashes;
        self.shares_submitted += other.shares_submitted;
        self.submitted_difficulty += other.submitted_difficulty;
        self.accepted += other.accepted;
        self.accepted_difficulty += other.accepted_difficulty;
        self.rejected += other.rejected;
        self.blocks_found += other.blocks_found;
        self.stale_dropped += other.stale_dropped;
        self.bad_lines_sent += other.bad_lines_sent;
        self.expected_rejections += other.expected_rejections;
        self.unexpected_rejections += other.unexpected_rejections;
        self.unexpected_acceptances += other.unexpected_acceptances;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_land_in_their_code() {
        let counters = MinerCounters::default();
        for code in [20, 21, 21, 22, 23, 24, 25, 26, -1] {
            counters.share_rejected(Some(ErrorCode::from_code(code)));
        }
        counters.share_rejected(None);
        let rejected = counters.snapshot().rejected;
        assert_eq!(rejected.by_code(ErrorCode::JobNotFound), 2);
        assert_eq!(rejected.by_code(ErrorCode::NotSubscribed), 1);
        assert_eq!(rejected.unlisted, 3);
        assert_eq!(rejected.total(), 10);
    }

    #[test]
    fn difficulty_sums_and_log_bound() {
        let counters = MinerCounters::new(2);
        counters.share_submitted(0.5, true);
        counters.share_submitted(0.25, false);
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.submitted_difficulty, 0.75);
        assert_eq!(snapshot.blocks_found, 1);
        for index in 0..3 {
            counters.log_share(ShareRecord {
                job_id: index.to_string(),
                difficulty: 1.0,
                hash_difficulty: 1.0,
                block: false,
                bad: None,
                expected_accept: true,
                outcome: ShareOutcome::Accepted,
            });
        }
        let jobs: Vec<String> = counters.shares().into_iter().map(|s| s.job_id).collect();
        assert_eq!(jobs, ["1", "2"]);
        let mut total = CountersSnapshot::default();
        total += &snapshot;
        total += &snapshot;
        assert_eq!(total.shares_submitted, 4);
    }
}
