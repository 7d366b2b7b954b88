//! Merkle trees as a pool needs them: the branch that proves the coinbase
//! (position 0) into the root, built once per template from the other
//! transactions' txids, and the fold of that branch for every share.
//!
//! All hashes are in internal byte order.

use crate::sha256d::Sha256d;

/// `sha256d(left ‖ right)`.
#[inline]
pub fn parent(engine: &Sha256d, left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(left);
    block[32..].copy_from_slice(right);
    engine.hash_64(&block)
}

/// Hashes one tree level into the next, duplicating an odd last node as
/// Bitcoin does; a whole level goes to the batch kernel at once.
fn next_level(engine: &Sha256d, level: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let blocks: Vec<[u8; 64]> = level
        .chunks(2)
        .map(|pair| {
            let mut block = [0u8; 64];
            block[..32].copy_from_slice(&pair[0]);
            block[32..].copy_from_slice(pair.last().expect("non-empty chunk"));
            block
        })
        .collect();
    let mut parents = vec![[0u8; 32]; blocks.len()];
    engine.hash_64_batch(&blocks, &mut parents);
    parents
}

/// The branch for the coinbase, given the txids of every other
/// transaction in block order.
pub fn coinbase_branch(engine: &Sha256d, txids: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let mut branch = Vec::new();
    // The level below, without the coinbase-side node: its first hash is the
    // coinbase side's sibling, the rest pair among themselves.
    let mut level = txids.to_vec();
    while let Some((&sibling, rest)) = level.split_first() {
        branch.push(sibling);
        level = next_level(engine, rest);
    }
    branch
}

/// The merkle root from the coinbase txid and its branch.
#[inline]
pub fn root_from_branch(
    engine: &Sha256d,
    coinbase_txid: &[u8; 32],
    branch: &[[u8; 32]],
) -> [u8; 32] {
    branch.iter().fold(*coinbase_txid, |node, sibling| {
        parent(engine, &node, sibling)
    })
}

/// The merkle root of a whole block's txids (the coinbase's first).
pub fn root(engine: &Sha256d, txids: &[[u8; 32]]) -> Option<[u8; 32]> {
    let mut level = txids.to_vec();
    while level.len() > 1 {
        level = next_level(engine, &level);
    }
    level.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txid(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn branch_folds_to_the_full_root_for_every_tree_size() {
        let engine = Sha256d::best();
        for count in 1..40u8 {
            let txids: Vec<[u8; 32]> = (0..count).map(txid).collect();
            let branch = coinbase_branch(&engine, &txids[1..]);
            assert_eq!(
                root_from_branch(&engine, &txids[0], &branch),
                root(&engine, &txids).unwrap(),
                "{count} transactions"
            );
            let expected_depth = (count as f64).log2().ceil() as usize;
            assert_eq!(branch.len(), expected_depth, "{count} transactions");
        }
    }

    #[test]
    fn a_lone_coinbase_is_its_own_root() {
        let engine = Sha256d::best();
        assert!(coinbase_branch(&engine, &[]).is_empty());
        assert_eq!(root_from_branch(&engine, &txid(7), &[]), txid(7));
        assert_eq!(root(&engine, &[]), None);
    }
}
