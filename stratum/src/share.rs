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
            coinbase: Vec::with_capacity(512),
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
            self.roots.clear();
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
                merkle_root: merkle::root_from_branch(engine, &txid, &job.parts().merkle_branch),
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

    /// Drops everything (a new block makes every job stale).
    pub fn clear(&mut self) {
        self.roots.clear();
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    pub fn engine(&self) -> Sha256d {
        self.engine
    }
}
