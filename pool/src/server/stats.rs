//! Counters for every share outcome and connection event, shared by all
//! sessions (atomics: the share path takes no lock for them).
//!
//! None of them can wrap at any pool size. An event count goes up by one
//! per share, connection or block: the pool cannot check more than some
//! 10^7 shares a second, and a u64 at that rate lasts 58,000 years. The
//! difficulty sum is the one that grows fast: a pool of 1 EH/s credits
//! ~7.3e15 difficulty a year, 7.3e21 in the millionths this counter once
//! kept, past a u64's 1.8e19 within three months; it is an f64 now
//! ([`DifficultySum`]).

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
        // ALL lists the variants in declaration order.
        self as usize
    }
}

/// Why a connection on a PROXY protocol port was closed before its
/// session began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyRefusal {
    /// Its peer is not in `stratum.proxy_trusted`.
    UntrustedPeer,
    /// Bytes that are not a PROXY header.
    Malformed,
    /// No complete header in time.
    Timeout,
    /// Closed (or reset) partway through the header.
    Truncated,
}

impl ProxyRefusal {
    pub const ALL: [ProxyRefusal; 4] = [
        ProxyRefusal::UntrustedPeer,
        ProxyRefusal::Malformed,
        ProxyRefusal::Timeout,
        ProxyRefusal::Truncated,
    ];

    /// The label metrics and logs use.
    pub fn name(self) -> &'static str {
        match self {
            ProxyRefusal::UntrustedPeer => "untrusted_peer",
            ProxyRefusal::Malformed => "malformed",
            ProxyRefusal::Timeout => "timeout",
            ProxyRefusal::Truncated => "truncated",
        }
    }

    fn index(self) -> usize {
        // ALL lists the variants in declaration order.
        self as usize
    }
}

/// A sum of share difficulties that holds any pool for any time: the f64
/// bits in an atomic, added to with a compare-and-swap loop (no lock on
/// the share path; a retry only when two sessions add at the same
/// instant). An f64 reaches 1.8e308; its rounding is relative, below 1e-16
/// per addition, so even 10^12 additions leave the sum within 1e-4 of the
/// exact one, and a rate taken from two readings keeps that precision as
/// long as the window's work is not 10^12 times smaller than the total.
#[derive(Debug, Default)]
pub struct DifficultySum(AtomicU64);

impl DifficultySum {
    /// Adds `difficulty`; anything not finite and above zero is ignored
    /// (a share's difficulty always is).
    pub fn add(&self, difficulty: f64) {
        if !(difficulty.is_finite() && difficulty > 0.0) {
            return;
        }
        // The closure always returns Some: the update cannot fail.
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + difficulty).to_bits())
            });
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// The pool's live counters.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub connections_total: AtomicU64,
    pub connections_open: AtomicU64,
    /// Connections refused because the pool was at its limit.
    pub connections_refused: AtomicU64,
    /// Connections closed for their PROXY protocol header, by reason.
    proxy_header_refused: [AtomicU64; 4],
    /// Miners dropped for not taking their work (see `WORK_STALL`).
    pub slow_miners_dropped: AtomicU64,
    /// Work batches replaced by newer work before a slow miner took them.
    pub work_coalesced: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub shares_accepted: AtomicU64,
    /// Sum of the difficulty of accepted shares.
    pub accepted_difficulty: DifficultySum,
    /// Shares passed to the ledger whose commit has not finished yet.
    pub shares_awaiting_ledger: AtomicU64,
    rejected: [AtomicU64; 8],
    pub blocks_found: AtomicU64,
    pub blocks_accepted: AtomicU64,
    /// Solutions on a parent that already has a block of ours a node
    /// holds: recorded, not submitted.
    pub block_siblings: AtomicU64,
    /// Solutions that found the submission queue full.
    pub blocks_unsubmitted: AtomicU64,
    /// Solutions waiting in the submission queue now.
    pub block_submissions_queued: AtomicU64,
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsSnapshot {
    pub connections_total: u64,
    pub connections_open: u64,
    pub connections_refused: u64,
    /// Per [`ProxyRefusal`], in [`ProxyRefusal::ALL`]'s order.
    pub proxy_header_refused: Vec<(&'static str, u64)>,
    pub slow_miners_dropped: u64,
    pub work_coalesced: u64,
    pub protocol_errors: u64,
    pub shares_accepted: u64,
    pub accepted_difficulty: f64,
    pub shares_awaiting_ledger: u64,
    pub rejected: Vec<(&'static str, u64)>,
    pub blocks_found: u64,
    pub blocks_accepted: u64,
    pub block_siblings: u64,
    pub blocks_unsubmitted: u64,
    pub block_submissions_queued: u64,
}

impl StatsSnapshot {
    pub fn rejected_total(&self) -> u64 {
        self.rejected
            .iter()
            .map(|(_, count)| *count)
            .fold(0, u64::saturating_add)
    }

    /// Connections closed for their PROXY header, every reason.
    pub fn proxy_header_refused_total(&self) -> u64 {
        self.proxy_header_refused
            .iter()
            .map(|(_, count)| *count)
            .fold(0, u64::saturating_add)
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

    pub fn refuse_proxy_header(&self, reason: ProxyRefusal) {
        self.proxy_header_refused[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn accept(&self, difficulty: f64) {
        self.shares_accepted.fetch_add(1, Ordering::Relaxed);
        self.accepted_difficulty.add(difficulty);
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
            // Stored from a u32.
            height: u32::try_from(self.template_height.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
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
            proxy_header_refused: ProxyRefusal::ALL
                .iter()
                .map(|reason| {
                    let count = load(&self.proxy_header_refused[reason.index()]);
                    (reason.name(), count)
                })
                .collect(),
            slow_miners_dropped: load(&self.slow_miners_dropped),
            work_coalesced: load(&self.work_coalesced),
            protocol_errors: load(&self.protocol_errors),
            shares_accepted: load(&self.shares_accepted),
            accepted_difficulty: self.accepted_difficulty.get(),
            shares_awaiting_ledger: load(&self.shares_awaiting_ledger),
            rejected: Reject::ALL
                .iter()
                .map(|reject| (reject.name(), load(&self.rejected[reject.index()])))
                .collect(),
            blocks_found: load(&self.blocks_found),
            blocks_accepted: load(&self.blocks_accepted),
            block_siblings: load(&self.block_siblings),
            blocks_unsubmitted: load(&self.blocks_unsubmitted),
            block_submissions_queued: load(&self.block_submissions_queued),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes behind a share of difficulty 1.
    const HASHES_PER_DIFFICULTY: f64 = 4_294_967_296.0;
    const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

    #[test]
    fn rejects_are_indexed_in_declaration_order() {
        for (index, reject) in Reject::ALL.iter().enumerate() {
            assert_eq!(reject.index(), index, "{reject:?}");
        }
        for (index, reason) in ProxyRefusal::ALL.iter().enumerate() {
            assert_eq!(reason.index(), index, "{reason:?}");
        }
    }

    #[test]
    fn a_year_of_an_exahash_pool_does_not_wrap_the_difficulty_sum() {
        // 1 EH/s for a year: ~7.3e15 difficulty, in millionths 7.3e21,
        // past what the old u64 counter held.
        let year = 1e18 * SECONDS_PER_YEAR / HASHES_PER_DIFFICULTY;
        assert!(year * 1e6 > u64::MAX as f64);
        let stats = ServerStats::default();
        // A year's worth, added a day at a time (the point is the size the
        // counter reaches, and its precision once there).
        let per_day = year / 365.25;
        for _ in 0..366 {
            stats.accept(per_day);
        }
        let total = stats.snapshot().accepted_difficulty;
        assert!(total > year, "{total} vs {year}");
        assert!((total / (366.0 * per_day) - 1.0).abs() < 1e-12, "{total}");
        // Still exact enough to see one more ordinary share on top of it.
        let before = stats.accepted_difficulty.get();
        stats.accept(65_536.0);
        let added = stats.accepted_difficulty.get() - before;
        assert!((added - 65_536.0).abs() <= 1.0, "{added}");
    }

    #[test]
    fn many_small_shares_add_up() {
        let sum = DifficultySum::default();
        // ESP32 lottery miners: a million shares of 0.001.
        for _ in 0..1_000_000 {
            sum.add(0.001);
        }
        assert!((sum.get() - 1_000.0).abs() < 1e-6, "{}", sum.get());
        sum.add(f64::NAN);
        sum.add(-1.0);
        sum.add(f64::INFINITY);
        assert!((sum.get() - 1_000.0).abs() < 1e-6, "{}", sum.get());
    }

    #[test]
    fn concurrent_additions_are_all_counted() {
        let sum = std::sync::Arc::new(DifficultySum::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let sum = std::sync::Arc::clone(&sum);
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        sum.add(1.0);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("adder thread");
        }
        // Whole numbers below 2^53 add exactly: a lost update would show.
        assert_eq!(sum.get(), 400_000.0);
    }
}
