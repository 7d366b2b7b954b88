//! The work this connection has been credited for, so the same work is
//! never credited twice, whatever job id it comes back under.
//!
//! A share is its header: the header hash commits to the previous block,
//! the merkle root (and so the coinbase with this connection's
//! extranonce1 and the miner's extranonce2), ntime, nonce and version. A
//! job reissued after a retarget or a suggestion carries the same work
//! under a new id, so the key is the hash, never the job id. Hashes are
//! grouped by the block they build on and dropped with the last job of
//! that block the miner may still answer.
//!
//! Only accepted shares enter, so every entry cost the miner a share's
//! proof of work; the set is still capped, and when it fills the oldest
//! block's hashes go (or, with one block, the set starts over): the
//! ledger's unique index on the header hash then refuses any copy, at the
//! price of a database round trip.

use bitcoin::BlockHash;
use rustc_hash::FxHashSet;

/// Hashes kept per connection: at vardiff's default pace (one share in
/// 10 s) that is 11 hours of one connection's shares.
pub(super) const MAX_HASHES: usize = 4096;

pub(super) struct AcceptedWork {
    groups: Vec<Group>,
}

struct Group {
    prevhash: BlockHash,
    /// The hash's first 8 bytes, which are the low (random) end of the
    /// 256-bit number: two different headers share them with odds of
    /// 1 in 2^64 per pair, and a miner who forced it would only lose a share.
    keys: FxHashSet<u64>,
}

fn key(hash: &[u8; 32]) -> u64 {
    let mut low = [0u8; 8];
    low.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(low)
}

impl AcceptedWork {
    pub(super) fn new() -> AcceptedWork {
        AcceptedWork { groups: Vec::new() }
    }

    /// Whether this header was already accepted on this connection.
    pub(super) fn contains(&self, hash: &[u8; 32]) -> bool {
        let key = key(hash);
        self.groups.iter().any(|group| group.keys.contains(&key))
    }

    /// Records an accepted header that builds on `prevhash`.
    pub(super) fn insert(&mut self, prevhash: BlockHash, hash: &[u8; 32]) {
        while self.len() >= MAX_HASHES {
            if self.groups.len() > 1 {
                self.groups.remove(0);
            } else if let Some(group) = self.groups.first_mut() {
                // Starting over frees the memory; the ledger's index holds the line.
                group.keys = FxHashSet::default();
            }
        }
        let index = match self
            .groups
            .iter()
            .position(|group| group.prevhash == prevhash)
        {
            Some(index) => index,
            None => {
                self.groups.push(Group {
                    prevhash,
                    keys: FxHashSet::default(),
                });
                self.groups.len() - 1
            }
        };
        self.groups[index].keys.insert(key(hash));
    }

    /// Forgets the blocks no answerable job builds on any more.
    pub(super) fn retain(&mut self, mut answerable: impl FnMut(&BlockHash) -> bool) {
        self.groups.retain(|group| answerable(&group.prevhash));
    }

    /// Hashes held, for tests and the memory budget.
    pub(super) fn len(&self) -> usize {
        self.groups.iter().map(|group| group.keys.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    fn block(byte: u8) -> BlockHash {
        BlockHash::from_byte_array([byte; 32])
    }

    fn hash(n: u64) -> [u8; 32] {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&n.to_le_bytes());
        hash
    }

    #[test]
    fn the_same_header_is_seen_whatever_job_carried_it() {
        let mut accepted = AcceptedWork::new();
        accepted.insert(block(1), &hash(7));
        assert!(accepted.contains(&hash(7)));
        assert!(!accepted.contains(&hash(8)));
        accepted.insert(block(2), &hash(8));
        assert!(accepted.contains(&hash(7)) && accepted.contains(&hash(8)));
        assert_eq!(accepted.len(), 2);
    }

    #[test]
    fn a_block_no_job_builds_on_is_forgotten() {
        let mut accepted = AcceptedWork::new();
        accepted.insert(block(1), &hash(1));
        accepted.insert(block(2), &hash(2));
        accepted.retain(|prevhash| *prevhash == block(2));
        assert!(!accepted.contains(&hash(1)));
        assert!(accepted.contains(&hash(2)));
        assert_eq!(accepted.groups.len(), 1);
    }

    #[test]
    fn a_full_set_starts_over_and_stays_bounded() {
        let mut accepted = AcceptedWork::new();
        for n in 0..(3 * MAX_HASHES as u64) {
            accepted.insert(block(1), &hash(n));
            assert!(accepted.len() <= MAX_HASHES);
            assert!(accepted.contains(&hash(n)));
        }
        // Capacity is released with the old set, not kept at its peak.
        let capacity = accepted.groups[0].keys.capacity();
        assert!(capacity < 2 * MAX_HASHES, "{capacity}");
    }

    #[test]
    fn when_full_the_oldest_block_goes_first() {
        let mut accepted = AcceptedWork::new();
        for n in 0..(MAX_HASHES as u64 - 1) {
            accepted.insert(block(1), &hash(n));
        }
        accepted.insert(block(2), &hash(u64::MAX));
        accepted.insert(block(2), &hash(u64::MAX - 1));
        assert!(!accepted.contains(&hash(0)), "block 1's hashes went");
        assert!(accepted.contains(&hash(u64::MAX)) && accepted.contains(&hash(u64::MAX - 1)));
        assert_eq!(accepted.len(), 2);
    }
}
