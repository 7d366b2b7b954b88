//! Deliberately bad behaviour, to test that a pool rejects what it must
//! and survives what it should.
//!
//! Everything is off by default. The per-share kinds are probabilities,
//! drawn from a seeded generator so a run can be repeated, and each is
//! capped by [`Misbehaviour::limit`] (probability 1 with limit 1 is a
//! one-shot). A bad share is sent *in addition to* the good share it was
//! derived from, so the miner's real work is still credited. Every bad line
//! is counted as an expected rejection when the pool rejects it.

use crate::dialect::{json_str, Dialect, SubmitParams};
use std::time::Duration;

/// What to do wrong, and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Misbehaviour {
    /// Per job: hold back one valid share and submit it after a
    /// `clean_jobs` notify replaced its job (expect 21).
    pub stale: f64,
    /// Per accepted share: submit it again (expect 22).
    pub duplicate: f64,
    /// Per share: also send a malformed line, cycling through `malformed_kinds`.
    pub malformed: f64,
    pub malformed_kinds: Vec<MalformedKind>,
    /// Per share: also submit a hash that misses the share target (expect 23).
    pub low_difficulty: f64,
    /// Per share: also submit it with version bits outside the mask.
    pub bad_version_bits: f64,
    /// Per share: also submit it under a worker name never authorized (expect 24).
    pub unknown_worker: f64,
    /// Before subscribing, submit a share on a job that does not exist
    /// (expect 25, or 24 or 21).
    pub submit_before_auth: bool,
    /// After the handshake and the first job, never read the socket again:
    /// the pool's queue to this miner fills up. It keeps mining and submitting.
    pub silent_reader: bool,
    /// Read at most [`SLOW_READ_BYTES`] per this interval.
    pub slow_reader: Option<Duration>,
    /// The most bad lines of each kind per miner.
    pub limit: u32,
}

/// Bytes a slow reader takes per read.
pub const SLOW_READ_BYTES: usize = 64;

/// A line long enough to pass any pool's limit (64 KiB is the most the
/// stratum parsers look at).
pub const OVERLONG_LINE_BYTES: usize = 70 * 1024;

impl Default for Misbehaviour {
    fn default() -> Misbehaviour {
        Misbehaviour {
            stale: 0.0,
            duplicate: 0.0,
            malformed: 0.0,
            malformed_kinds: MalformedKind::ALL.to_vec(),
            low_difficulty: 0.0,
            bad_version_bits: 0.0,
            unknown_worker: 0.0,
            submit_before_auth: false,
            silent_reader: false,
            slow_reader: None,
            limit: u32::MAX,
        }
    }
}

impl Misbehaviour {
    /// A well-behaved miner.
    pub fn none() -> Misbehaviour {
        Misbehaviour::default()
    }

    /// Whether the miner reads slowly or not at all, so its socket should
    /// have a small receive buffer (like an ESP32's TCP window).
    pub fn starves_reads(&self) -> bool {
        self.silent_reader || self.slow_reader.is_some()
    }
}

/// The ways a line can be broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MalformedKind {
    /// A submit whose nonce is not hex (expect 20).
    BadHex,
    /// A submit whose ntime and nonce are numbers, not strings (expect 20).
    WrongTypes,
    /// Not JSON at all: the pool cannot even read an id to answer.
    GarbageJson,
    /// A submit longer than any pool reads ([`OVERLONG_LINE_BYTES`]).
    OverLong,
}

impl MalformedKind {
    pub const ALL: [MalformedKind; 4] = [
        MalformedKind::BadHex,
        MalformedKind::WrongTypes,
        MalformedKind::GarbageJson,
        MalformedKind::OverLong,
    ];

    /// Whether a pool can tell which request it was, and so answer it.
    pub fn has_readable_id(self) -> bool {
        matches!(self, MalformedKind::BadHex | MalformedKind::WrongTypes)
    }

    /// The bad line, built from a real submit.
    pub fn line(self, dialect: Dialect, id: u64, submit: &SubmitParams) -> String {
        let mut params = submit.json_params();
        match self {
            MalformedKind::BadHex => {
                params[4] = json_str("zz0795a5");
                dialect.submit_line_with(id, &params)
            }
            MalformedKind::WrongTypes => {
                params[3] = submit.ntime.0.to_string();
                params[4] = submit.nonce.0.to_string();
                dialect.submit_line_with(id, &params)
            }
            MalformedKind::GarbageJson => {
                let line = dialect.submit_line_with(id, &params);
                // Cut inside the params and drop the id: unreadable, unanswerable.
                let cut = line.find("\"mining.submit\"").unwrap_or(0);
                format!("{{\"method\": {}[[[\n", &line[cut..cut + 15])
            }
            MalformedKind::OverLong => {
                params[0] = json_str(&"x".repeat(OVERLONG_LINE_BYTES));
                dialect.submit_line_with(id, &params)
            }
        }
    }
}

/// Why a share was made bad on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadShare {
    Stale,
    Duplicate,
    Malformed(MalformedKind),
    LowDifficulty,
    BadVersionBits,
    UnknownWorker,
    BeforeAuthorize,
}

/// A small, seeded generator (SplitMix64): enough to decide misbehaviour
/// without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p` (0 never draws, 1 always).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stratum::message::ClientMessage;
    use stratum::{Extranonce2, Nonce, Ntime};

    fn submit() -> SubmitParams {
        SubmitParams {
            worker: "addr.w1".into(),
            job_id: "1a2b3c4d".into(),
            extranonce2: Extranonce2::from_wire("0000000000000001").unwrap(),
            ntime: Ntime(0x6b06_0d97),
            nonce: Nonce(0x0007_95a5),
            version_bits: None,
        }
    }

    #[test]
    fn malformed_lines_fail_to_parse_as_promised() {
        for dialect in Dialect::ALL {
            for kind in MalformedKind::ALL {
                let line = kind.line(dialect, 7, &submit());
                assert!(line.ends_with('\n'));
                let parsed = ClientMessage::parse(line.trim_end().as_bytes());
                let error = parsed.expect_err(&format!("{kind:?} {dialect}: {line}"));
                assert_eq!(error.id.is_null(), !kind.has_readable_id(), "{kind:?}");
            }
        }
        assert!(
            MalformedKind::OverLong
                .line(Dialect::Bitaxe, 1, &submit())
                .len()
                > 70_000
        );
    }

    #[test]
    fn chance_is_seeded_and_bounded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let draws: Vec<bool> = (0..100).map(|_| a.chance(0.5)).collect();
        assert_eq!(draws, (0..100).map(|_| b.chance(0.5)).collect::<Vec<_>>());
        let hits = draws.iter().filter(|hit| **hit).count();
        assert!((20..80).contains(&hits), "{hits}");
        assert!(!a.chance(0.0));
        assert!(a.chance(1.0));
    }
}
