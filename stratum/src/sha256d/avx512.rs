//! 16-lane multi-buffer SHA-256 with AVX-512: sixteen messages hashed at
//! once, one per 32-bit lane, using native rotates (`vprord`) and
//! three-input logic (`vpternlogd`) for Ch, Maj and the sigma XORs.

#![cfg(target_arch = "x86_64")]

use super::lanes::{self, Lanes};
use std::arch::x86_64::*;

#[derive(Clone, Copy)]
pub(crate) struct V16(__m512i);

/// `vpshufb` indices that reverse the bytes of every 32-bit word.
#[inline(always)]
unsafe fn byte_swap_mask() -> __m512i {
    _mm512_broadcast_i32x4(_mm_set_epi64x(0x0c0d0e0f08090a0b, 0x0405060700010203))
}

// SAFETY (for every `unsafe` block in this impl): a `V16` only exists inside
// the `#[target_feature(enable = "avx512f,avx512bw")]` entry points below,
// which the dispatcher calls only after detecting those features.
impl Lanes for V16 {
    const LANES: usize = 16;

    #[inline(always)]
    fn splat(value: u32) -> Self {
        unsafe { V16(_mm512_set1_epi32(value as i32)) }
    }

    #[inline(always)]
    fn add(self, other: Self) -> Self {
        unsafe { V16(_mm512_add_epi32(self.0, other.0)) }
    }

    #[inline(always)]
    fn ror<const R: i32, const L: i32>(self) -> Self {
        unsafe { V16(_mm512_ror_epi32::<R>(self.0)) }
    }

    #[inline(always)]
    fn shr<const S: i32>(self) -> Self {
        // SHA-256 shifts by 3 and 10 only; the intrinsic wants an unsigned immediate.
        unsafe {
            V16(match S {
                3 => _mm512_srli_epi32::<3>(self.0),
                10 => _mm512_srli_epi32::<10>(self.0),
                _ => unreachable!("SHA-256 shifts by 3 or 10"),
            })
        }
    }

    #[inline(always)]
    fn xor3(a: Self, b: Self, c: Self) -> Self {
        unsafe { V16(_mm512_ternarylogic_epi32::<0x96>(a.0, b.0, c.0)) }
    }

    #[inline(always)]
    fn ch(e: Self, f: Self, g: Self) -> Self {
        unsafe { V16(_mm512_ternarylogic_epi32::<0xca>(e.0, f.0, g.0)) }
    }

    #[inline(always)]
    fn maj(a: Self, b: Self, c: Self) -> Self {
        unsafe { V16(_mm512_ternarylogic_epi32::<0xe8>(a.0, b.0, c.0)) }
    }

    #[inline(always)]
    fn from_lanes(words: &[u32]) -> Self {
        assert_eq!(words.len(), 16);
        unsafe { V16(_mm512_loadu_si512(words.as_ptr() as *const _)) }
    }

    #[inline(always)]
    fn to_lanes(self, words: &mut [u32]) {
        assert_eq!(words.len(), 16);
        unsafe { _mm512_storeu_si512(words.as_mut_ptr() as *mut _, self.0) }
    }

    /// A 16 × 16 transpose of 32-bit words in four shuffle stages, then a
    /// byte swap per word.
    #[inline(always)]
    fn load_blocks(blocks: &[&[u8; 64]]) -> [Self; 16] {
        assert_eq!(blocks.len(), 16);
        unsafe {
            let mut rows = [_mm512_setzero_si512(); 16];
            for (row, block) in rows.iter_mut().zip(blocks) {
                *row = _mm512_loadu_si512(block.as_ptr() as *const _);
            }
            // Stage 1: interleave words of row pairs.
            let mut pairs = [_mm512_setzero_si512(); 16];
            for pair in 0..8 {
                let (a, b) = (rows[2 * pair], rows[2 * pair + 1]);
                pairs[2 * pair] = _mm512_unpacklo_epi32(a, b);
                pairs[2 * pair + 1] = _mm512_unpackhi_epi32(a, b);
            }
            // Stage 2: each 128-bit chunk k of quads[4g + j] holds word 4k + j
            // of rows 4g..4g+4.
            let mut quads = [_mm512_setzero_si512(); 16];
            for group in 0..4 {
                for half in 0..2 {
                    let low = pairs[4 * group + half];
                    let high = pairs[4 * group + 2 + half];
                    quads[4 * group + 2 * half] = _mm512_unpacklo_epi64(low, high);
                    quads[4 * group + 2 * half + 1] = _mm512_unpackhi_epi64(low, high);
                }
            }
            // Stages 3 and 4: a 4 × 4 transpose of 128-bit chunks.
            let swap = byte_swap_mask();
            let mut words = [V16(_mm512_setzero_si512()); 16];
            for word in 0..4 {
                let (a, b, c, d) = (
                    quads[word],
                    quads[4 + word],
                    quads[8 + word],
                    quads[12 + word],
                );
                let ab_low = _mm512_shuffle_i32x4::<0x44>(a, b);
                let ab_high = _mm512_shuffle_i32x4::<0xee>(a, b);
                let cd_low = _mm512_shuffle_i32x4::<0x44>(c, d);
                let cd_high = _mm512_shuffle_i32x4::<0xee>(c, d);
                let chunks = [
                    _mm512_shuffle_i32x4::<0x88>(ab_low, cd_low),
                    _mm512_shuffle_i32x4::<0xdd>(ab_low, cd_low),
                    _mm512_shuffle_i32x4::<0x88>(ab_high, cd_high),
                    _mm512_shuffle_i32x4::<0xdd>(ab_high, cd_high),
                ];
                for (chunk, vector) in chunks.into_iter().enumerate() {
                    words[4 * chunk + word] = V16(_mm512_shuffle_epi8(vector, swap));
                }
            }
            words
        }
    }

    /// Four loads of four tails each, then two-source permutes gather word
    /// `j` of every tail into vector `j`.
    #[inline(always)]
    fn load_tails(tails: &[[u8; 16]]) -> [Self; 4] {
        assert_eq!(tails.len(), 16);
        unsafe {
            let base = tails.as_ptr() as *const __m512i;
            let quarters = [
                _mm512_loadu_si512(base as *const _),
                _mm512_loadu_si512(base.add(1) as *const _),
                _mm512_loadu_si512(base.add(2) as *const _),
                _mm512_loadu_si512(base.add(3) as *const _),
            ];
            let swap = byte_swap_mask();
            let mut words = [V16(_mm512_setzero_si512()); 4];
            for (word, vector) in words.iter_mut().enumerate() {
                let word = word as i32;
                // Lanes 0..8 take word `word` of tails 0..8 from quarters 0 and 1,
                // lanes 8..16 the same of tails 8..16 from quarters 2 and 3.
                let index = _mm512_set_epi32(
                    28 + word,
                    24 + word,
                    20 + word,
                    16 + word,
                    12 + word,
                    8 + word,
                    4 + word,
                    word,
                    28 + word,
                    24 + word,
                    20 + word,
                    16 + word,
                    12 + word,
                    8 + word,
                    4 + word,
                    word,
                );
                let low = _mm512_permutex2var_epi32(quarters[0], index, quarters[1]);
                let high = _mm512_permutex2var_epi32(quarters[2], index, quarters[3]);
                *vector = V16(_mm512_shuffle_epi8(
                    _mm512_mask_blend_epi32(0xff00, low, high),
                    swap,
                ));
            }
            words
        }
    }
}

/// sha256d of many 64-byte messages.
///
/// # Safety
/// The CPU must support `avx512f` and `avx512bw`.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn sha256d_64_batch(blocks: &[[u8; 64]], out: &mut [[u8; 32]]) {
    lanes::sha256d_64_batch::<V16>(blocks, out);
}

/// sha256d of many headers sharing one midstate.
///
/// # Safety
/// The CPU must support `avx512f` and `avx512bw`.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn header_batch(midstate: &[u32; 8], tails: &[[u8; 16]], out: &mut [[u8; 32]]) {
    lanes::sha256d_header_batch::<V16>(midstate, tails, out);
}

/// sha256d of messages of any lengths.
///
/// # Safety
/// The CPU must support `avx512f` and `avx512bw`.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn sha256d_ragged(messages: &[&[u8]], out: &mut [[u8; 32]]) {
    lanes::sha256d_ragged::<V16>(messages, out);
}

/// Compresses one block into each state (at most 16).
///
/// # Safety
/// The CPU must support `avx512f` and `avx512bw`.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn compress_each(states: &mut [[u32; 8]], blocks: &[&[u8; 64]]) {
    lanes::compress_each::<V16>(states, blocks);
}
