//! The portable implementation: plain `u32` arithmetic, one message at a
//! time, correct on every CPU. It is the reference the SIMD paths are
//! tested against (alongside the `sha2` crate) and the fallback.

use super::lanes;

fn block_words(block: &[u8]) -> [u32; 16] {
    std::array::from_fn(|word| {
        u32::from_be_bytes(block[4 * word..4 * word + 4].try_into().expect("4 bytes"))
    })
}

fn digest_bytes(state: [u32; 8], out: &mut [u8; 32]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// Compresses `blocks` (a multiple of 64 bytes) into `state`.
pub fn compress_blocks(state: &mut [u32; 8], blocks: &[u8]) {
    debug_assert_eq!(blocks.len() % 64, 0);
    for block in blocks.chunks_exact(64) {
        lanes::compress::<u32>(state, block_words(block));
    }
}

/// The second SHA-256 over a first digest given as state words.
pub fn finish(first: &[u32; 8], out: &mut [u8; 32]) {
    digest_bytes(lanes::hash_digest::<u32>(*first), out);
}

pub fn sha256d_64(block: &[u8; 64], out: &mut [u8; 32]) {
    digest_bytes(lanes::sha256d_64::<u32>(block_words(block)), out);
}

pub fn header(midstate: &[u32; 8], tail: &[u8; 16], out: &mut [u8; 32]) {
    let tail_words = std::array::from_fn(|word| {
        u32::from_be_bytes(tail[4 * word..4 * word + 4].try_into().expect("4 bytes"))
    });
    digest_bytes(lanes::sha256d_header::<u32>(*midstate, tail_words), out);
}
