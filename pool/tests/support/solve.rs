//! Brute-force mining for tests: grinds nonces through the midstate, in
//! batches, until a header meets the job's network target.

use pool::block::Solution;
use pool::jobs::PoolJob;
use stratum::{Extranonce1, Extranonce2, Nonce, Sha256d};

/// Grinds nonces (batched, through the midstate) until the header meets
/// the job's network target.
pub fn solve(job: &PoolJob, extranonce1: Extranonce1, extranonce2: Extranonce2) -> Solution {
    let engine = Sha256d::best_batch();
    let merkle_root = job.job.merkle_root(&engine, &extranonce1, &extranonce2);
    let version = job.job.version();
    let ntime = job.job.ntime();
    let first = stratum::header::first_block(version, job.job.prevhash(), &merkle_root);
    let midstate = engine.midstate(&first);
    let mut tails = vec![[0u8; 16]; 4096];
    let mut hashes = vec![[0u8; 32]; 4096];
    for start in (0..u32::MAX).step_by(4096) {
        for (offset, tail) in tails.iter_mut().enumerate() {
            *tail = stratum::header::tail(
                &merkle_root,
                ntime,
                job.job.nbits(),
                Nonce(start + offset as u32),
            );
        }
        engine.hash_header_batch(&midstate, &tails, &mut hashes);
        if let Some(offset) = hashes
            .iter()
            .position(|hash| job.job.network_target().is_met_by(hash))
        {
            return Solution {
                extranonce1,
                extranonce2,
                ntime,
                nonce: Nonce(start + offset as u32),
                version,
            };
        }
    }
    panic!("no nonce solves the job");
}
