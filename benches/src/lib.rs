//! Inputs the criterion benchmarks in `benches/benches/` share.

use stratum::sha256d::{Implementation, Sha256d};

/// Every implementation this CPU has, in a fixed order.
pub fn engines() -> Vec<Sha256d> {
    Implementation::available()
        .into_iter()
        .map(|implementation| Sha256d::new(implementation).expect("available"))
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift).
pub fn sample_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

pub fn sample_header() -> [u8; 80] {
    sample_bytes(80, 1).try_into().expect("80 bytes")
}

/// The last 16 bytes of `header` with the nonce counting up, as a miner rolls it.
pub fn nonce_tails(header: &[u8; 80], count: usize) -> Vec<[u8; 16]> {
    (0..count as u32)
        .map(|nonce| {
            let mut tail: [u8; 16] = header[64..].try_into().expect("16 bytes");
            tail[12..].copy_from_slice(&nonce.to_le_bytes());
            tail
        })
        .collect()
}

pub fn sample_nodes(count: usize) -> Vec<[u8; 64]> {
    (0..count)
        .map(|index| {
            sample_bytes(64, 100 + index as u64)
                .try_into()
                .expect("64 bytes")
        })
        .collect()
}
