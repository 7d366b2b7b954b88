//! A mining job: everything a miner needs to build headers, and what the
//! pool needs to rebuild them from a `mining.submit`.
//!
//! coinbase = coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2 (non-witness form);
//! merkle root = fold of sha256d(node ‖ sibling) up the branch;
//! header version = (job version & !mask) | (version bits & mask).

use crate::extranonce::{Extranonce1, Extranonce2};
use crate::header;
use crate::job_id::JobId;
use crate::merkle;
use crate::message::Notify;
use crate::nbits::{NBits, NBitsError};
use crate::nonce::Nonce;
use crate::ntime::Ntime;
use crate::prevhash::PrevHash;
use crate::sha256d::Sha256d;
use crate::target::Target;
use crate::version::{Version, VersionBits, VersionBitsOutsideMask, VersionMask};

/// A job with its network target decoded once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    notify: Notify,
    network_target: Target,
}

impl Job {
    /// Fails only when `nbits` is not a valid compact target.
    pub fn new(notify: Notify) -> Result<Job, NBitsError> {
        let network_target = notify.nbits.to_target()?;
        Ok(Job {
            notify,
            network_target,
        })
    }

    /// The same work under another id, without `clean_jobs`: what a pool
    /// sends after a difficulty change. The target is already decoded, so
    /// this cannot fail.
    pub fn reissued(&self, job_id: JobId) -> Job {
        let mut notify = self.notify.clone();
        notify.job_id = job_id;
        notify.clean_jobs = false;
        Job {
            notify,
            network_target: self.network_target,
        }
    }

    /// The `mining.notify` that announces this job.
    pub fn notify(&self) -> &Notify {
        &self.notify
    }

    pub fn id(&self) -> JobId {
        self.notify.job_id
    }

    pub fn version(&self) -> Version {
        self.notify.version
    }

    pub fn nbits(&self) -> NBits {
        self.notify.nbits
    }

    pub fn ntime(&self) -> Ntime {
        self.notify.ntime
    }

    pub fn prevhash(&self) -> &PrevHash {
        &self.notify.prevhash
    }

    pub fn network_target(&self) -> &Target {
        &self.network_target
    }

    /// The coinbase in its non-witness serialization (what the txid hashes).
    pub fn coinbase(&self, extranonce1: &Extranonce1, extranonce2: &Extranonce2) -> Vec<u8> {
        let mut coinbase = Vec::new();
        self.coinbase_into(extranonce1, extranonce2, &mut coinbase);
        coinbase
    }

    /// Like [`Job::coinbase`], reusing `out`'s allocation.
    pub fn coinbase_into(
        &self,
        extranonce1: &Extranonce1,
        extranonce2: &Extranonce2,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        out.reserve(
            self.notify.coinb1.len()
                + extranonce1.len()
                + extranonce2.len()
                + self.notify.coinb2.len(),
        );
        out.extend_from_slice(&self.notify.coinb1);
        out.extend_from_slice(extranonce1.as_bytes());
        out.extend_from_slice(extranonce2.as_bytes());
        out.extend_from_slice(&self.notify.coinb2);
    }

    /// The merkle root a share with these extranonces commits to.
    pub fn merkle_root(
        &self,
        engine: &Sha256d,
        extranonce1: &Extranonce1,
        extranonce2: &Extranonce2,
    ) -> [u8; 32] {
        let txid = engine.hash(&self.coinbase(extranonce1, extranonce2));
        merkle::root_from_branch(engine, &txid, &self.notify.merkle_branch)
    }

    /// The header version of a share: the job's own without version bits.
    pub fn rolled_version(
        &self,
        version_bits: Option<VersionBits>,
        mask: VersionMask,
    ) -> Result<Version, VersionBitsOutsideMask> {
        match version_bits {
            Some(bits) => bits.apply(self.notify.version, mask),
            None => Ok(self.notify.version),
        }
    }

    /// The 80-byte header of a share.
    pub fn header(
        &self,
        merkle_root: &[u8; 32],
        version: Version,
        ntime: Ntime,
        nonce: Nonce,
    ) -> [u8; 80] {
        header::serialize(
            version,
            &self.notify.prevhash,
            merkle_root,
            ntime,
            self.notify.nbits,
            nonce,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notify(nbits: u32) -> Notify {
        Notify {
            job_id: JobId(7),
            prevhash: PrevHash([1; 32]),
            coinb1: vec![1, 2],
            coinb2: vec![3],
            merkle_branch: vec![[4; 32]],
            version: Version(0x2000_0000),
            nbits: NBits(nbits),
            ntime: Ntime(1_700_000_000),
            clean_jobs: true,
        }
    }

    #[test]
    fn a_reissued_job_is_the_same_work_under_a_new_id() {
        let job = Job::new(notify(0x207f_ffff)).unwrap();
        let reissued = job.reissued(JobId(8));
        assert_eq!(reissued.id(), JobId(8));
        assert!(!reissued.notify().clean_jobs);
        assert_eq!(reissued.network_target(), job.network_target());
        let mut expected = job.notify().clone();
        expected.job_id = JobId(8);
        expected.clean_jobs = false;
        assert_eq!(reissued.notify(), &expected);
    }

    #[test]
    fn invalid_bits_are_refused_not_a_panic() {
        for bits in [0, 0x0080_0000, 0x0492_3456, 0xff7f_ffff] {
            assert!(Job::new(notify(bits)).is_err(), "{bits:08x}");
        }
    }
}
