//! Job ids that are never reused, not even across a restart: ESP-Miner
//! ignores a `mining.notify` whose id it has already seen.
//!
//! Ids are microseconds since the Unix epoch shifted left by 8, so a process
//! started later begins above anything an earlier one could have issued
//! unless that one averaged more than 256 jobs per microsecond. Within the
//! process one atomic keeps them strictly increasing across every job
//! manager.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use stratum::JobId;

static LAST_ISSUED: AtomicU64 = AtomicU64::new(0);

fn clock_floor() -> u64 {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_micros() as u64)
        .unwrap_or(0);
    micros << 8
}

/// The next job id: above every id issued before, in this process or an
/// earlier one.
pub fn next_job_id() -> JobId {
    let floor = clock_floor();
    let mut last = LAST_ISSUED.load(Ordering::Relaxed);
    loop {
        let next = floor.max(last + 1);
        match LAST_ISSUED.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return JobId(next),
            Err(current) => last = current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| (0..10_000).map(|_| next_job_id().0).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect();
        for ids in all.chunks(10_000) {
            assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        }
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "an id was issued twice");
    }

    #[test]
    fn ids_follow_the_clock() {
        let id = next_job_id().0;
        assert!(
            id >= clock_floor() - (1_000_000 << 8),
            "more than a second behind the clock"
        );
    }
}
