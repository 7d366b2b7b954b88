//! Block solutions this process has handled: each is built, persisted,
//! submitted, alerted and counted once, however often it is submitted
//! again (on the same connection, under a reissued job, or while stale).

use rustc_hash::FxHashSet;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Solutions remembered; the oldest are forgotten first. On regtest every
/// share is a block, so this must stay bounded; a replay of a solution
/// older than this many blocks builds on a long-buried parent anyway.
const REMEMBERED: usize = 4096;

#[derive(Debug, Default)]
pub struct Solutions {
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    hashes: FxHashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl Solutions {
    /// True the first time `block_hash` is offered, false ever after (while
    /// remembered).
    pub fn first_time(&self, block_hash: &[u8; 32]) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !seen.hashes.insert(*block_hash) {
            return false;
        }
        seen.order.push_back(*block_hash);
        if seen.order.len() > REMEMBERED {
            if let Some(oldest) = seen.order.pop_front() {
                seen.hashes.remove(&oldest);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_solution_is_handled_once_and_memory_is_bounded() {
        let solutions = Solutions::default();
        assert!(solutions.first_time(&[1; 32]));
        assert!(!solutions.first_time(&[1; 32]));
        for n in 0..(REMEMBERED as u32 + 10) {
            let mut hash = [0u8; 32];
            hash[..4].copy_from_slice(&n.to_le_bytes());
            hash[31] = 2;
            assert!(solutions.first_time(&hash));
        }
        let seen = solutions.seen.lock().unwrap();
        assert_eq!(seen.hashes.len(), REMEMBERED);
        assert_eq!(seen.order.len(), REMEMBERED);
        // The first solution was forgotten, oldest first.
        assert!(!seen.hashes.contains(&[1; 32]));
    }
}
