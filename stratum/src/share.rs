//! Share validation with a cache for what miners repeat.
//!
//! The merkle root depends only on (job, extranonce1, extranonce2) and the
//! header's first-block midstate on that plus the version; a miner rolls
//! the nonce (and ntime) far more often than either. A cache hit therefore
//! costs two SHA-256 compressions: the header's second block and the outer
//! hash.

use crate::extranonce::{Extranonce1, Extranonce2};
use crate::header;
use crate::job::Job;
use crate::job_id::JobId;
use crate::merkle;
use crate::nonce::Nonce;
use crate::ntime::Ntime;
use crate::sha256d::{Midstate, Sha256d};
use crate::target::{hash_difficulty, Target};
use crate::version::{Version, VersionBits, VersionBitsOutsideMask, VersionMask};
use rustc_hash::FxHashMap;

/// What a `mining.submit` contributes to a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    pub extranonce1: Extranonce1,
    pub extranonce2: Extranonce2,
    pub ntime: Ntime,
    pub nonce: Nonce,
    pub version_bits: Option<VersionBits>,
}

/// The outcome of hashing a share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShareCheck {
    /// sha256d of the header, internal byte order (the duplicate key).
    pub hash: [u8; 32],
    /// The header version the share was hashed with.
    pub version: Version,
    pub meets_share_target: bool,
    pub meets_network_target: bool,
}

impl ShareCheck {
    /// The difficulty this hash achieved, for best-share statistics.
    pub fn difficulty(&self) -> f64 {
        hash_difficulty(&self.hash)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct RootKey {
    job: JobId,
    extranonce1: Extranonce1,
    extranonce2: Extranonce2,
}

/// Midstates kept per merkle root: version-rolling miners (Bitaxe, most
/// ASICs) send several versions per extranonce2.
const MIDSTATES_PER_ROOT: usize = 4;

struct CachedRoot {
    merkle_root: [u8; 32],
    midstates: [(Version, Midstate); MIDSTATES_PER_ROOT],
    filled: u8,
    next_slot: u8,
}

impl CachedRoot {
    fn midstate(&mut self, engine: &Sha256d, job: &Job, version: Version) -> (Midstate, bool) {
        let filled = &self.midstates[..self.filled as usize];
        if let Some((_, midstate)) = filled.iter().find(|(cached, _)| *cached == version) {
            return (*midstate, true);
        }
        let midstate = engine.midstate(&header::first_block(
            version,
            job.prevhash(),
            &self.merkle_root,
        ));
        let slot = self.next_slot as usize;
        self.midstates[slot] = (version, midstate);
        self.next_slot = ((slot + 1) % MIDSTATES_PER_ROOT) as u8;
        self.filled = (self.filled + 1).min(MIDSTATES_PER_ROOT as u8);
        (midstate, false)
    }
}

/// Hit and miss counts, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub root_misses: u64,
    pub midstate_misses: u64,
}

/// Hashes shares, remembering merkle roots and midstates. One per session
/// (or per thread): it needs `&mut self` and no locks.
pub struct ShareValidator {
    engine: Sha256d,
    roots: FxHashMap<RootKey, CachedRoot>,
    capacity: usize,
    coinbase: Vec<u8>,
    stats: CacheStats,
}

/// Roots remembered before the cache starts over: a session rarely has
/// more than a few extranonce2 values in flight per job.
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;

impl Default for ShareValidator {
    fn default() -> Self {
        ShareValidator::new(Sha256d::best(), DEFAULT_CACHE_CAPACITY)
    }
}

impl ShareValidator {
    pub fn new(engine: Sha256d, capacity: usize) -> ShareValidator {
        ShareValidator {
            engine,
            roots: FxHashMap::default(),
            capacity: capacity.max(1),
            // Grown by the first share: an idle miner's validator holds nothing.
            coinbase: Vec::new(),
            stats: CacheStats::default(),
        }
    }

    /// Hashes `share` against `job` and compares it with `share_target`
    /// and the job's network target.
    ///
    /// Job ids must be unique (the protocol requires it): the cache trusts
    /// that an id always names the same job.
    pub fn validate(
        &mut self,
        job: &Job,
        share: &Share,
        mask: VersionMask,
        share_target: &Target,
    ) -> Result<ShareCheck, VersionBitsOutsideMask> {
        let version = job.rolled_version(share.version_bits, mask)?;
        let key = RootKey {
            job: job.id(),
            extranonce1: share.extranonce1,
            extranonce2: share.extranonce2,
        };
        if self.roots.len() >= self.capacity && !self.roots.contains_key(&key) {
            self.clear();
        }
        let ShareValidator {
            engine,
            roots,
            coinbase,
            stats,
            ..
        } = self;
        let cached = roots.entry(key).or_insert_with(|| {
            stats.root_misses += 1;
            job.coinbase_into(&share.extranonce1, &share.extranonce2, coinbase);
            let txid = engine.hash(coinbase);
            CachedRoot {
                merkle_root: merkle::root_from_branch(engine, &txid, &job.notify().merkle_branch),
                midstates: [(Version(0), Midstate([0; 8])); MIDSTATES_PER_ROOT],
                filled: 0,
                next_slot: 0,
            }
        });
        let (midstate, hit) = cached.midstate(engine, job, version);
        if hit {
            stats.hits += 1;
        } else {
            stats.midstate_misses += 1;
        }
        let tail = header::tail(&cached.merkle_root, share.ntime, job.nbits(), share.nonce);
        let hash = engine.hash_header(&midstate, &tail);
        Ok(ShareCheck {
            hash,
            version,
            meets_share_target: share_target.is_met_by(&hash),
            meets_network_target: job.network_target().is_met_by(&hash),
        })
    }

    /// Drops what is cached for one job (when it can no longer be submitted).
    pub fn forget_job(&mut self, job: JobId) {
        self.roots.retain(|key, _| key.job != job);
    }

    /// Drops everything (a new block makes every job stale) and gives the
    /// memory back down to the cache's capacity.
    pub fn clear(&mut self) {
        self.roots.clear();
        self.roots.shrink_to(self.capacity);
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    pub fn engine(&self) -> Sha256d {
        self.engine
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Notify;
    use crate::nbits::NBits;
    use crate::prevhash::PrevHash;
    use crate::sha256d::Implementation;

    fn job(id: u64, nbits: u32) -> Job {
        Job::new(Notify {
            job_id: JobId(id),
            prevhash: PrevHash([7; 32]),
            coinb1: vec![1; 60],
            coinb2: vec![2; 180],
            merkle_branch: (0..12u8).map(|level| [level; 32]).collect(),
            version: Version(0x2000_0000),
            nbits: NBits(nbits),
            ntime: Ntime(1_700_000_000),
            clean_jobs: true,
        })
        .unwrap()
    }

    fn share(en2: u64, nonce: u32, version_bits: Option<u32>) -> Share {
        Share {
            extranonce1: Extranonce1::from_bytes(&[0xf0, 0, 0, 0x0a]).unwrap(),
            extranonce2: Extranonce2::from_bytes(&en2.to_be_bytes()).unwrap(),
            ntime: Ntime(1_700_000_100),
            nonce: Nonce(nonce),
            version_bits: version_bits.map(VersionBits),
        }
    }

    /// The same share assembled and hashed the slow way, with no cache.
    fn expected_hash(job: &Job, share: &Share, mask: VersionMask) -> [u8; 32] {
        let engine = Sha256d::new(Implementation::Portable).unwrap();
        let root = job.merkle_root(&engine, &share.extranonce1, &share.extranonce2);
        let version = job.rolled_version(share.version_bits, mask).unwrap();
        engine.hash_80(&job.header(&root, version, share.ntime, share.nonce))
    }

    #[test]
    fn cached_and_uncached_hashes_agree_for_every_implementation() {
        let mask = VersionMask::POOL_DEFAULT;
        let job = job(1, 0x1d00ffff);
        // Every kernel the CPU supports, asked apart from our dispatch; the
        // others recorded as skipped.
        let kernels = test_skip::cpu::kernels_to_run(test_skip::suite!(), |name| {
            Implementation::from_name(name).is_some_and(Implementation::is_available)
        });
        let mut runs = test_skip::cpu::KernelRuns::new(&kernels);
        for name in kernels {
            let implementation = Implementation::from_name(name).unwrap();
            let mut validator = ShareValidator::new(Sha256d::new(implementation).unwrap(), 64);
            for (en2, nonce, bits) in [
                (1, 5, None),
                (1, 6, None),
                (1, 6, Some(0x2000)),
                (2, 6, Some(0x4000)),
            ] {
                let share = share(en2, nonce, bits);
                let check = validator
                    .validate(&job, &share, mask, &Target::MAX)
                    .unwrap();
                assert_eq!(
                    check.hash,
                    expected_hash(&job, &share, mask),
                    "{implementation}"
                );
                assert!(check.meets_share_target);
                assert!(!check.meets_network_target);
            }
            runs.ran(name);
        }
        runs.finish();
    }

    #[test]
    fn rolling_the_nonce_hits_the_cache() {
        let mask = VersionMask::POOL_DEFAULT;
        let job = job(1, 0x1d00ffff);
        let mut validator = ShareValidator::default();
        validator
            .validate(&job, &share(1, 0, None), mask, &Target::MAX)
            .unwrap();
        assert_eq!(
            validator.stats(),
            CacheStats {
                hits: 0,
                root_misses: 1,
                midstate_misses: 1
            }
        );
        for nonce in 1..10 {
            validator
                .validate(&job, &share(1, nonce, None), mask, &Target::MAX)
                .unwrap();
        }
        assert_eq!(validator.stats().hits, 9);
        // A new version reuses the root but needs a midstate.
        validator
            .validate(&job, &share(1, 0, Some(0x2000)), mask, &Target::MAX)
            .unwrap();
        assert_eq!(validator.stats().root_misses, 1);
        assert_eq!(validator.stats().midstate_misses, 2);
        // A new extranonce2 needs both.
        validator
            .validate(&job, &share(2, 0, None), mask, &Target::MAX)
            .unwrap();
        assert_eq!(validator.stats().root_misses, 2);
        // Same extranonces on another job are another root.
        validator
            .validate(
                &self::job(2, 0x1d00ffff),
                &share(2, 0, None),
                mask,
                &Target::MAX,
            )
            .unwrap();
        assert_eq!(validator.stats().root_misses, 3);
    }

    #[test]
    fn more_versions_than_slots_still_hash_correctly() {
        let mask = VersionMask::POOL_DEFAULT;
        let job = job(1, 0x1d00ffff);
        let mut validator = ShareValidator::default();
        for round in 0..3 {
            for step in 0..(MIDSTATES_PER_ROOT as u32 + 2) {
                let share = share(1, round, Some(step << 13));
                let check = validator
                    .validate(&job, &share, mask, &Target::MAX)
                    .unwrap();
                assert_eq!(check.hash, expected_hash(&job, &share, mask));
            }
        }
    }

    #[test]
    fn targets_decide_share_and_block() {
        let mask = VersionMask::NONE;
        let mut validator = ShareValidator::default();
        // Regtest's limit: about every other hash is a block.
        let easy = job(1, 0x207fffff);
        let blocks = (0..64)
            .filter(|&nonce| {
                let check = validator
                    .validate(&easy, &share(1, nonce, None), mask, &Target::MAX)
                    .unwrap();
                assert_eq!(
                    check.meets_network_target,
                    easy.network_target().is_met_by(&check.hash)
                );
                check.meets_network_target
            })
            .count();
        assert!(blocks > 10 && blocks < 54, "{blocks} of 64");
        // An impossible share target rejects; the difficulty is still reported.
        let check = validator
            .validate(
                &easy,
                &share(1, 0, None),
                mask,
                &Target::from_u256(crate::u256::U256::ZERO),
            )
            .unwrap();
        assert!(!check.meets_share_target);
        assert!(check.difficulty() > 0.0);
    }

    #[test]
    fn version_bits_outside_the_mask_are_refused_before_hashing() {
        let mut validator = ShareValidator::default();
        let result = validator.validate(
            &job(1, 0x1d00ffff),
            &share(1, 0, Some(0x1)),
            VersionMask::POOL_DEFAULT,
            &Target::MAX,
        );
        assert!(result.is_err());
        assert_eq!(validator.stats(), CacheStats::default());
    }

    #[test]
    fn the_cache_is_bounded_and_can_forget() {
        let mask = VersionMask::NONE;
        let job = job(1, 0x1d00ffff);
        let mut validator = ShareValidator::new(Sha256d::best(), 8);
        for en2 in 0..100 {
            let share = share(en2, 0, None);
            let check = validator
                .validate(&job, &share, mask, &Target::MAX)
                .unwrap();
            assert_eq!(check.hash, expected_hash(&job, &share, mask));
            assert!(validator.roots.len() <= 8);
        }
        validator.forget_job(JobId(1));
        assert!(validator.roots.is_empty());
        validator
            .validate(&job, &share(1, 0, None), mask, &Target::MAX)
            .unwrap();
        validator.clear();
        assert!(validator.roots.is_empty());
    }
}
