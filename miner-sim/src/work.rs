//! Turning jobs into headers to hash: extranonce2, version rolling and the
//! nonce space, in the order hardware walks them.
//!
//! For each job: a fresh extranonce2, then every value of the version bits
//! inside the negotiated mask, each over `nonce_range` nonces; when the
//! versions are exhausted the extranonce2 rolls. A job is kept until a new
//! `mining.notify` replaces it.

use crate::dialect::{Dialect, VersionBitsForm};
use std::sync::Arc;
use stratum::{
    header, Difficulty, Extranonce1, Extranonce2, Job, Midstate, Nonce, Sha256d, Version,
    VersionBits, VersionMask,
};

/// A job as the miner holds it.
#[derive(Debug)]
pub(crate) struct JobWork {
    pub job: Job,
    /// The job id exactly as the pool wrote it, echoed in submits.
    pub raw_id: String,
    /// The difficulty in force when the job arrived (what a pool credits);
    /// `None` if no `mining.set_difficulty` had come yet.
    pub difficulty: Option<Difficulty>,
    /// Counts `clean_jobs` notifies: a job from an older epoch is stale.
    pub epoch: u64,
}

/// One header: a job with its extranonces and version, ready for nonces.
#[derive(Debug)]
pub(crate) struct HeaderWork {
    pub job: Arc<JobWork>,
    pub extranonce2: Extranonce2,
    /// The version hashed (kept for tests and debugging).
    #[allow(dead_code)]
    pub version: Version,
    /// The version bits as the dialect writes them, `None` for 5 params.
    pub version_bits: Option<VersionBits>,
    /// The mask in force when the header was built.
    pub mask: VersionMask,
    pub midstate: Midstate,
    /// The last 16 header bytes with a zero nonce.
    pub tail: [u8; 16],
    /// Whether a pool following BIP 310 rebuilds the version hashed here
    /// from the version bits sent (not so for ESP-Miner's XOR form on a job
    /// whose version has bits inside the mask).
    pub pool_sees_same_version: bool,
}

impl HeaderWork {
    /// The tail with `nonce` in place.
    pub fn tail_with(&self, nonce: Nonce) -> [u8; 16] {
        let mut tail = self.tail;
        tail[12..].copy_from_slice(&nonce.0.to_le_bytes());
        tail
    }
}

/// Hands out ranges of nonces on the current job.
pub(crate) struct WorkSource {
    engine: Sha256d,
    dialect: Dialect,
    nonce_range: u64,
    extranonce1: Extranonce1,
    extranonce2_size: usize,
    mask: VersionMask,
    /// Whether submits carry version bits (6 params).
    send_version_bits: bool,
    /// Rolls for the whole life of the miner, so no header repeats.
    extranonce2_counter: u64,
    job: Option<Arc<JobWork>>,
    header: Option<Arc<HeaderWork>>,
    rolling_bits: u32,
    next_nonce: u64,
}

impl WorkSource {
    pub fn new(dialect: Dialect, nonce_range: u64, extranonce2_counter: u64) -> WorkSource {
        WorkSource {
            engine: Sha256d::best(),
            dialect,
            nonce_range: nonce_range.clamp(1, 1 << 32),
            extranonce1: Extranonce1::from_bytes(&[]).expect("empty fits"),
            extranonce2_size: 4,
            mask: VersionMask::NONE,
            send_version_bits: dialect.always_sends_version_bits(),
            extranonce2_counter,
            job: None,
            header: None,
            rolling_bits: 0,
            next_nonce: 0,
        }
    }

    /// Where the extranonce2 counter stands, to carry it to the next connection.
    pub fn extranonce2_counter(&self) -> u64 {
        self.extranonce2_counter
    }

    pub fn mask(&self) -> VersionMask {
        self.mask
    }

    /// Whether there is anything to hash.
    pub fn has_work(&self) -> bool {
        self.header.is_some()
    }

    pub fn set_job(&mut self, job: Arc<JobWork>) {
        self.job = Some(job);
        self.restart();
    }

    pub fn set_extranonce(&mut self, extranonce1: Extranonce1, extranonce2_size: usize) {
        self.extranonce1 = extranonce1;
        self.extranonce2_size = extranonce2_size;
        self.restart();
    }

    /// A negotiated (or changed) version-rolling mask.
    pub fn set_mask(&mut self, mask: VersionMask) {
        if self.dialect.version_bits_form().is_none() {
            return;
        }
        self.mask = mask;
        self.send_version_bits = true;
        self.restart();
    }

    /// The next `count` nonces (fewer at the end of a range), or `None`
    /// when there is no job or its whole space is spent.
    pub fn next_chunk(&mut self, count: u32) -> Option<(Arc<HeaderWork>, u32, u32)> {
        loop {
            let header = self.header.clone()?;
            if self.next_nonce < self.nonce_range {
                let first = self.next_nonce;
                let count = (count as u64).min(self.nonce_range - first).max(1);
                self.next_nonce += count;
                return Some((header, first as u32, count as u32));
            }
            let next_bits = (self.rolling_bits | !self.mask.0).wrapping_add(1) & self.mask.0;
            if next_bits != 0 {
                self.rolling_bits = next_bits;
                self.build_header(header.extranonce2);
            } else if self.extranonce2_size == 0 {
                self.header = None;
            } else {
                self.rolling_bits = 0;
                let extranonce2 = self.next_extranonce2();
                self.build_header(extranonce2);
            }
        }
    }

    fn restart(&mut self) {
        self.rolling_bits = 0;
        if self.job.is_some() {
            let extranonce2 = self.next_extranonce2();
            self.build_header(extranonce2);
        }
    }

    fn next_extranonce2(&mut self) -> Extranonce2 {
        self.extranonce2_counter = self.extranonce2_counter.wrapping_add(1);
        let bytes = self.extranonce2_counter.to_be_bytes();
        let size = self.extranonce2_size.min(Extranonce2::MAX_LEN);
        let mut wide = [0u8; Extranonce2::MAX_LEN];
        let take = size.min(8);
        wide[size - take..size].copy_from_slice(&bytes[8 - take..]);
        Extranonce2::from_bytes(&wide[..size]).expect("size is at most MAX_LEN")
    }

    fn build_header(&mut self, extranonce2: Extranonce2) {
        let Some(job) = self.job.clone() else {
            return;
        };
        let job_version = job.job.version();
        let (version, sent) = match self.dialect.version_bits_form() {
            Some(VersionBitsForm::XorJobVersion) => {
                let rolled = job_version.0 | self.rolling_bits;
                (Version(rolled), rolled ^ job_version.0)
            }
            Some(VersionBitsForm::Bip310) | None => {
                let rolled = (job_version.0 & !self.mask.0) | self.rolling_bits;
                (Version(rolled), self.rolling_bits)
            }
        };
        let version_bits = self.send_version_bits.then_some(VersionBits(sent));
        let pool_sees_same_version = job.job.rolled_version(version_bits, self.mask) == Ok(version);
        let root = job
            .job
            .merkle_root(&self.engine, &self.extranonce1, &extranonce2);
        let midstate =
            self.engine
                .midstate(&header::first_block(version, job.job.prevhash(), &root));
        let tail = header::tail(&root, job.job.ntime(), job.job.nbits(), Nonce(0));
        self.next_nonce = 0;
        self.header = Some(Arc::new(HeaderWork {
            job,
            extranonce2,
            version,
            version_bits,
            mask: self.mask,
            midstate,
            tail,
            pool_sees_same_version,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stratum::message::Notify;
    use stratum::{JobId, NBits, Ntime, PrevHash};

    fn job(version: u32) -> Arc<JobWork> {
        let notify = Notify {
            job_id: JobId(1),
            prevhash: PrevHash([7; 32]),
            coinb1: vec![1; 40],
            coinb2: vec![2; 60],
            merkle_branch: vec![[9; 32]],
            version: Version(version),
            nbits: NBits(0x207f_ffff),
            ntime: Ntime(1_700_000_000),
            clean_jobs: true,
        };
        Arc::new(JobWork {
            job: Job::new(notify).unwrap(),
            raw_id: "1".into(),
            difficulty: Some(Difficulty::ONE),
            epoch: 0,
        })
    }

    fn headers(source: &mut WorkSource, chunks: usize) -> Vec<(String, Option<u32>, u32)> {
        (0..chunks)
            .map(|_| {
                let (header, first, _) = source.next_chunk(4).unwrap();
                (
                    header.extranonce2.to_wire(),
                    header.version_bits.map(|bits| bits.0),
                    first,
                )
            })
            .collect()
    }

    #[test]
    fn rolls_nonces_then_versions_then_extranonce2() {
        let mut source = WorkSource::new(Dialect::Cgminer, 8, 0);
        source.set_extranonce(Extranonce1::from_wire("f000000a").unwrap(), 4);
        source.set_mask(VersionMask(0x0000_6000));
        source.set_job(job(0x2000_0000));
        let walked = headers(&mut source, 10);
        let expect = |en2: &str, bits: u32, first: u32| (en2.to_string(), Some(bits), first);
        assert_eq!(
            walked,
            vec![
                expect("00000001", 0, 0),
                expect("00000001", 0, 4),
                expect("00000001", 0x2000, 0),
                expect("00000001", 0x2000, 4),
                expect("00000001", 0x4000, 0),
                expect("00000001", 0x4000, 4),
                expect("00000001", 0x6000, 0),
                expect("00000001", 0x6000, 4),
                expect("00000002", 0, 0),
                expect("00000002", 0, 4),
            ]
        );
    }

    #[test]
    fn hashed_version_is_what_the_pool_rebuilds() {
        for dialect in Dialect::ALL {
            let mut source = WorkSource::new(dialect, 1, 0);
            source.set_extranonce(Extranonce1::from_wire("01").unwrap(), 8);
            source.set_mask(VersionMask::POOL_DEFAULT);
            source.set_job(job(0x2000_0000));
            for _ in 0..5 {
                let (header, _, _) = source.next_chunk(1).unwrap();
                assert!(header.pool_sees_same_version, "{dialect}");
                let rebuilt = header
                    .job
                    .job
                    .rolled_version(header.version_bits, VersionMask::POOL_DEFAULT);
                assert_eq!(rebuilt, Ok(header.version), "{dialect}");
            }
        }
        // ESP-Miner's XOR form on a job signalling inside the mask.
        let mut bitaxe = WorkSource::new(Dialect::Bitaxe, 1, 0);
        bitaxe.set_mask(VersionMask::POOL_DEFAULT);
        bitaxe.set_job(job(0x2000_4000));
        bitaxe.next_chunk(1).unwrap();
        let (rolled, _, _) = bitaxe.next_chunk(1).unwrap();
        assert_eq!(rolled.version, Version(0x2000_6000));
        assert_eq!(rolled.version_bits, Some(VersionBits(0x2000)));
        assert!(!rolled.pool_sees_same_version);
    }

    #[test]
    fn without_extranonce2_space_work_runs_out() {
        let mut source = WorkSource::new(Dialect::Cpuminer, 4, 0);
        source.set_extranonce(Extranonce1::from_wire("01").unwrap(), 0);
        source.set_job(job(0x2000_0000));
        assert_eq!(
            source.next_chunk(8).map(|(_, first, count)| (first, count)),
            Some((0, 4))
        );
        assert!(source.next_chunk(8).is_none());
        assert!(!source.has_work());
        source.set_job(job(0x2000_0000));
        assert!(source.has_work());
    }

    #[test]
    fn cpuminer_never_rolls_versions() {
        let mut source = WorkSource::new(Dialect::Cpuminer, 4, 0);
        source.set_mask(VersionMask::POOL_DEFAULT);
        source.set_job(job(0x2000_0000));
        let (header, _, _) = source.next_chunk(4).unwrap();
        assert_eq!(header.version_bits, None);
        assert_eq!(header.mask, VersionMask::NONE);
    }
}
