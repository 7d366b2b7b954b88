//! 8-lane multi-buffer SHA-256 with AVX2: eight messages hashed at once,
//! one per 32-bit lane. AVX2 has no vector rotate, so rotates are two
//! shifts and an or.

#![cfg(target_arch = "x86_64")]

use super::lanes::{self, Lanes};
use std::arch::x86_64::*;

#[derive(Clone, Copy)]
pub(crate) struct V8(__m256i);

// SAFETY (for every `unsafe` block in this impl): a `V8` only exists inside
// the `#[target_feature(enable = "avx2")]` entry points below, which the
// dispatcher calls only after detecting AVX2.
impl Lanes for V8 {
    const LANES: usize = 8;

    #[inline(always)]
    fn splat(value: u32) -> Self {
        unsafe { V8(_mm256_set1_epi32(value as i32)) }
    }

    #[inline(always)]
    fn add(self, other: Self) -> Self {
        unsafe { V8(_mm256_add_epi32(self.0, other.0)) }
    }

    #[inline(always)]
    fn ror<const R: i32, const L: i32>(self) -> Self {
        unsafe {
            V8(_mm256_or_si256(
                _mm256_srli_epi32::<R>(self.0),
                _mm256_slli_epi32::<L>(self.0),
            ))
        }
    }

    #[inline(always)]
    fn shr<const S: i32>(self) -> Self {
        unsafe { V8(_mm256_srli_epi32::<S>(self.0)) }
    }

    #[inline(always)]
    fn xor3(a: Self, b: Self, c: Self) -> Self {
        unsafe { V8(_mm256_xor_si256(_mm256_xor_si256(a.0, b.0), c.0)) }
    }

    #[inline(always)]
    fn ch(e: Self, f: Self, g: Self) -> Self {
        unsafe {
            V8(_mm256_xor_si256(
                g.0,
                _mm256_and_si256(e.0, _mm256_xor_si256(f.0, g.0)),
            ))
        }
    }

    #[inline(always)]
    fn maj(a: Self, b: Self, c: Self) -> Self {
        unsafe {
            V8(_mm256_or_si256(
                _mm256_and_si256(a.0, b.0),
                _mm256_and_si256(c.0, _mm256_or_si256(a.0, b.0)),
            ))
        }
    }

    #[inline(always)]
    fn from_lanes(words: &[u32]) -> Self {
        assert_eq!(words.len(), 8);
        unsafe { V8(_mm256_loadu_si256(words.as_ptr() as *const __m256i)) }
    }

    #[inline(always)]
    fn to_lanes(self, words: &mut [u32]) {
        assert_eq!(words.len(), 8);
        unsafe { _mm256_storeu_si256(words.as_mut_ptr() as *mut __m256i, self.0) }
    }

    /// Two 8 × 8 transposes (words 0..8 and 8..16) and a byte swap.
    #[inline(always)]
    fn load_blocks(blocks: &[&[u8; 64]]) -> [Self; 16] {
        assert_eq!(blocks.len(), 8);
        unsafe {
            let swap = _mm256_set_epi64x(
                0x0c0d0e0f08090a0b,
                0x0405060700010203,
                0x0c0d0e0f08090a0b,
                0x0405060700010203,
            );
            let mut words = [V8(_mm256_setzero_si256()); 16];
            for half in 0..2 {
                let mut rows = [_mm256_setzero_si256(); 8];
                for (row, block) in rows.iter_mut().zip(blocks) {
                    *row = _mm256_loadu_si256(block.as_ptr().add(32 * half) as *const __m256i);
                }
                let mut pairs = [_mm256_setzero_si256(); 8];
                for pair in 0..4 {
                    let (a, b) = (rows[2 * pair], rows[2 * pair + 1]);
                    pairs[2 * pair] = _mm256_unpacklo_epi32(a, b);
                    pairs[2 * pair + 1] = _mm256_unpackhi_epi32(a, b);
                }
                // quads[4g + j]: low half word j, high half word 4 + j, of rows 4g..4g+4.
                let mut quads = [_mm256_setzero_si256(); 8];
                for group in 0..2 {
                    for pair in 0..2 {
                        let low = pairs[4 * group + pair];
                        let high = pairs[4 * group + 2 + pair];
                        quads[4 * group + 2 * pair] = _mm256_unpacklo_epi64(low, high);
                        quads[4 * group + 2 * pair + 1] = _mm256_unpackhi_epi64(low, high);
                    }
                }
                for word in 0..4 {
                    let low = _mm256_permute2x128_si256::<0x20>(quads[word], quads[4 + word]);
                    let high = _mm256_permute2x128_si256::<0x31>(quads[word], quads[4 + word]);
                    words[8 * half + word] = V8(_mm256_shuffle_epi8(low, swap));
                    words[8 * half + 4 + word] = V8(_mm256_shuffle_epi8(high, swap));
                }
            }
            words
        }
    }
}

/// sha256d of many 64-byte messages.
///
/// # Safety
/// The CPU must support `avx2`.
#[target_feature(enable = "avx2")]
pub unsafe fn sha256d_64_batch(blocks: &[[u8; 64]], out: &mut [[u8; 32]]) {
    lanes::sha256d_64_batch::<V8>(blocks, out);
}

/// sha256d of many headers sharing one midstate.
///
/// # Safety
/// The CPU must support `avx2`.
#[target_feature(enable = "avx2")]
pub unsafe fn header_batch(midstate: &[u32; 8], tails: &[[u8; 16]], out: &mut [[u8; 32]]) {
    lanes::sha256d_header_batch::<V8>(midstate, tails, out);
}

/// sha256d of messages of any lengths.
///
/// # Safety
/// The CPU must support `avx2`.
#[target_feature(enable = "avx2")]
pub unsafe fn sha256d_ragged(messages: &[&[u8]], out: &mut [[u8; 32]]) {
    lanes::sha256d_ragged::<V8>(messages, out);
}

/// Compresses one block into each state (at most 8).
///
/// # Safety
/// The CPU must support `avx2`.
#[target_feature(enable = "avx2")]
pub unsafe fn compress_each(states: &mut [[u32; 8]], blocks: &[&[u8; 64]]) {
    lanes::compress_each::<V8>(states, blocks);
}
