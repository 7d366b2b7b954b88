//! The 80-byte block header: version ‖ prevhash ‖ merkle root ‖ ntime ‖
//! nbits ‖ nonce, every integer little-endian, every hash in internal order.
//!
//! The first 64 bytes (version, prevhash, 28 bytes of the merkle root) are
//! what the midstate covers; the last 16 are what a miner rolls.

use crate::nbits::NBits;
use crate::nonce::Nonce;
use crate::ntime::Ntime;
use crate::prevhash::PrevHash;
use crate::version::Version;

/// The first 64 bytes of a header.
pub fn first_block(version: Version, prevhash: &PrevHash, merkle_root: &[u8; 32]) -> [u8; 64] {
    let mut block = [0u8; 64];
    block[..4].copy_from_slice(&version.0.to_le_bytes());
    block[4..36].copy_from_slice(&prevhash.0);
    block[36..].copy_from_slice(&merkle_root[..28]);
    block
}

/// The last 16 bytes of a header.
#[inline]
pub fn tail(merkle_root: &[u8; 32], ntime: Ntime, nbits: NBits, nonce: Nonce) -> [u8; 16] {
    let mut tail = [0u8; 16];
    tail[..4].copy_from_slice(&merkle_root[28..]);
    tail[4..8].copy_from_slice(&ntime.0.to_le_bytes());
    tail[8..12].copy_from_slice(&nbits.0.to_le_bytes());
    tail[12..].copy_from_slice(&nonce.0.to_le_bytes());
    tail
}

/// A whole header.
pub fn serialize(
    version: Version,
    prevhash: &PrevHash,
    merkle_root: &[u8; 32],
    ntime: Ntime,
    nbits: NBits,
    nonce: Nonce,
) -> [u8; 80] {
    let mut header = [0u8; 80];
    header[..64].copy_from_slice(&first_block(version, prevhash, merkle_root));
    header[64..].copy_from_slice(&tail(merkle_root, ntime, nbits, nonce));
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_worked_share() {
        // worked-share-regtest.json: its header_hex from its fields.
        let prevhash = PrevHash::from_display_hex(
            "75c1196673ee4ed9955fb9acb7964d488977da8b2114090f09b6fce9955dc65d",
        )
        .unwrap();
        let merkle_root = crate::hex::decode_32(
            "d04a058233ae540b26cf893c5146e5a5b0f424903b4d888740d43e928d6ce27f",
        )
        .unwrap();
        let header = serialize(
            Version(0x20002000),
            &prevhash,
            &merkle_root,
            Ntime(0x6b060d97),
            NBits(0x207fffff),
            Nonce(0x000795a5),
        );
        assert_eq!(
            crate::hex::encode(&header),
            "002000205dc65d95e9fcb6090f0914218bda7789484d96b7acb95f95d94eee736619c175\
             d04a058233ae540b26cf893c5146e5a5b0f424903b4d888740d43e928d6ce27f970d066bffff7f20a5950700"
        );
    }
}
