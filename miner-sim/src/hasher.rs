//! The hashing itself, on rayon's threads, and the pacing that caps it.
//!
//! A miner's task hands out one chunk of nonces at a time; the chunk runs
//! on the rayon pool (never on a tokio worker) and comes back with the
//! nonces whose hash met the share target, as firmware submits them. The
//! [`Pacer`] decides when the next chunk may start so the miner never
//! hashes faster than its configured rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stratum::{Midstate, Nonce, Sha256d, Target};
use tokio::sync::oneshot;

/// Headers per call of the batch kernel: several rounds of 16 lanes.
const BATCH: usize = 256;

/// A chunk is at most this long in time at the capped rate, so a new job
/// or a stop is picked up quickly.
const CHUNK_SECS: f64 = 0.02;

/// The largest chunk, which also bounds how long an uncapped chunk runs.
const MAX_CHUNK: u32 = 1 << 18;

/// Hits kept per chunk: a pool that sets an absurdly low difficulty gets
/// a flood, but a bounded one.
const MAX_HITS: usize = 1024;

/// One range of nonces on one header.
pub(crate) struct Scan {
    pub engine: Sha256d,
    pub midstate: Midstate,
    /// The header's last 16 bytes with the nonce still zero.
    pub tail: [u8; 16],
    pub first_nonce: u32,
    pub count: u32,
    pub share_target: Target,
    /// The scan stops early once this no longer equals `generation`.
    pub cancel: Arc<AtomicU64>,
    pub generation: u64,
}

/// A hash that met a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub nonce: Nonce,
    pub hash: [u8; 32],
}

#[derive(Debug, Default)]
pub(crate) struct ScanResult {
    pub hits: Vec<Hit>,
    pub hashed: u64,
}

impl Scan {
    /// Runs the scan on the rayon pool; the answer arrives on the receiver.
    pub fn spawn(self) -> oneshot::Receiver<ScanResult> {
        let (sender, receiver) = oneshot::channel();
        rayon::spawn(move || {
            let _ = sender.send(self.run());
        });
        receiver
    }

    pub fn run(&self) -> ScanResult {
        let mut result = ScanResult::default();
        let mut tails = [self.tail; BATCH];
        let mut hashes = [[0u8; 32]; BATCH];
        let end = self.first_nonce as u64 + self.count as u64;
        let mut next = self.first_nonce as u64;
        while next < end {
            if self.cancel.load(Ordering::Relaxed) != self.generation {
                break;
            }
            let batch = ((end - next) as usize).min(BATCH);
            for (offset, tail) in tails[..batch].iter_mut().enumerate() {
                tail[12..].copy_from_slice(&((next as u32) + offset as u32).to_le_bytes());
            }
            self.engine
                .hash_header_batch(&self.midstate, &tails[..batch], &mut hashes[..batch]);
            for (offset, hash) in hashes[..batch].iter().enumerate() {
                if self.share_target.is_met_by(hash) && result.hits.len() < MAX_HITS {
                    result.hits.push(Hit {
                        nonce: Nonce(next as u32 + offset as u32),
                        hash: *hash,
                    });
                }
            }
            result.hashed += batch as u64;
            next += batch as u64;
        }
        result
    }
}

/// Caps the hash rate by time: chunk `k` may start only once the chunks
/// before it would have taken their share of time at the capped rate.
#[derive(Debug)]
pub(crate) struct Pacer {
    rate: f64,
    origin: Instant,
    hashes: f64,
}

/// How far the pacer may fall behind (idle, or a CPU slower than the cap)
/// before it forgets the debt instead of bursting to catch up.
const MAX_LAG: Duration = Duration::from_millis(100);

impl Pacer {
    pub fn new(rate: f64) -> Pacer {
        Pacer {
            rate,
            origin: Instant::now(),
            hashes: 0.0,
        }
    }

    fn capped(&self) -> bool {
        self.rate.is_finite() && self.rate > 0.0
    }

    /// Nonces in the next chunk.
    pub fn chunk(&self) -> u32 {
        if self.capped() {
            (self.rate * CHUNK_SECS).clamp(1.0, MAX_CHUNK as f64) as u32
        } else {
            MAX_CHUNK
        }
    }

    /// When the next chunk may start.
    pub fn ready_at(&mut self, now: Instant) -> Instant {
        if !self.capped() {
            return now;
        }
        let due = self.origin + Duration::from_secs_f64(self.hashes / self.rate);
        if now > due + MAX_LAG {
            self.origin = now - Duration::from_secs_f64(self.hashes / self.rate);
            return now;
        }
        due
    }

    /// Counts a chunk as started.
    pub fn spend(&mut self, hashes: u32) {
        self.hashes += hashes as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stratum::header;
    use stratum::{NBits, Ntime, PrevHash, Version};

    #[test]
    fn hits_are_exactly_the_hashes_under_the_target() {
        let engine = Sha256d::best_batch();
        let root = [3u8; 32];
        let midstate = engine.midstate(&header::first_block(
            Version(0x2000_0000),
            &PrevHash([1; 32]),
            &root,
        ));
        let tail = header::tail(&root, Ntime(1_700_000_000), NBits(0x207f_ffff), Nonce(0));
        // About one hash in 16 meets diff1 / 2^-28.
        let share_target =
            Target::from_difficulty(stratum::Difficulty::new(1.0 / (1u64 << 28) as f64).unwrap());
        let scan = Scan {
            engine,
            midstate,
            tail,
            first_nonce: 1000,
            count: 700,
            share_target,
            cancel: Arc::new(AtomicU64::new(0)),
            generation: 0,
        };
        let result = scan.run();
        assert_eq!(result.hashed, 700);
        let expected: Vec<u32> = (1000..1700)
            .filter(|&nonce| {
                let mut tail = tail;
                tail[12..].copy_from_slice(&u32::to_le_bytes(nonce));
                share_target.is_met_by(&engine.hash_header(&midstate, &tail))
            })
            .collect();
        assert!(!expected.is_empty());
        let found: Vec<u32> = result.hits.iter().map(|hit| hit.nonce.0).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn a_cancelled_scan_stops() {
        let scan = Scan {
            engine: Sha256d::best_batch(),
            midstate: Midstate([0; 8]),
            tail: [0; 16],
            first_nonce: 0,
            count: 1 << 20,
            share_target: Target::MAX,
            cancel: Arc::new(AtomicU64::new(1)),
            generation: 0,
        };
        assert_eq!(scan.run().hashed, 0);
    }

    #[test]
    fn pacing_spreads_chunks_over_time() {
        let mut pacer = Pacer::new(1000.0);
        assert_eq!(pacer.chunk(), 20);
        let start = pacer.ready_at(Instant::now());
        pacer.spend(500);
        let next = pacer.ready_at(start);
        assert_eq!(next - start, Duration::from_millis(500));
        // Far behind: forget the debt rather than burst.
        let late = start + Duration::from_secs(10);
        assert_eq!(pacer.ready_at(late), late);
        assert_eq!(Pacer::new(f64::INFINITY).chunk(), MAX_CHUNK);
    }
}
