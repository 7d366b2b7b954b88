//! SHA-256 with the x86 SHA extensions (SHA-NI).
//!
//! One compression is a chain of 32 dependent `sha256rnds2`, so a single
//! stream is bound by that instruction's latency; batches run two streams
//! in lockstep so the CPU overlaps them. Blocks whose schedule is constant
//! (the padding block of a 64-byte message) skip the message expansion.
//!
//! Everything here requires `sha`, `sse4.1` and `ssse3`; the `pub` entry
//! points are `unsafe` and called only after runtime detection.

#![cfg(target_arch = "x86_64")]

use super::consts::{IV, K, PAD_32_TAIL, PAD_64_WK, PAD_80_TAIL};
use std::arch::x86_64::*;

/// The state as SHA-NI wants it: `ABEF` and `CDGH`.
#[derive(Clone, Copy)]
struct State {
    abef: __m128i,
    cdgh: __m128i,
}

#[inline(always)]
unsafe fn bswap_mask() -> __m128i {
    _mm_set_epi64x(0x0c0d0e0f08090a0b, 0x0405060700010203)
}

#[inline(always)]
unsafe fn load_be(bytes: *const u8) -> __m128i {
    _mm_shuffle_epi8(_mm_loadu_si128(bytes as *const __m128i), bswap_mask())
}

#[inline(always)]
unsafe fn load_words(words: *const u32) -> __m128i {
    _mm_loadu_si128(words as *const __m128i)
}

/// From `A..H` words to the SHA-NI layout.
#[inline(always)]
unsafe fn to_state(words: &[u32; 8]) -> State {
    let abcd = load_words(words.as_ptr());
    let efgh = load_words(words.as_ptr().add(4));
    let badc = _mm_shuffle_epi32::<0xb1>(abcd);
    let hgfe = _mm_shuffle_epi32::<0x1b>(efgh);
    State {
        abef: _mm_alignr_epi8::<8>(badc, hgfe),
        cdgh: _mm_blend_epi16::<0xf0>(hgfe, badc),
    }
}

/// Back to `[A B C D]`, `[E F G H]` (lane 0 first).
#[inline(always)]
unsafe fn to_words(state: State) -> [__m128i; 2] {
    let feba = _mm_shuffle_epi32::<0x1b>(state.abef);
    let dchg = _mm_shuffle_epi32::<0xb1>(state.cdgh);
    [
        _mm_blend_epi16::<0xf0>(feba, dchg),
        _mm_alignr_epi8::<8>(dchg, feba),
    ]
}

#[inline(always)]
unsafe fn quad_round(state: &mut State, wk: __m128i) {
    state.cdgh = _mm_sha256rnds2_epu32(state.cdgh, state.abef, wk);
    state.abef = _mm_sha256rnds2_epu32(state.abef, state.cdgh, _mm_shuffle_epi32::<0x0e>(wk));
}

/// Four rounds of two streams with their `sha256rnds2` strictly alternating.
///
/// Left to itself LLVM schedules one stream's whole compression before the
/// other's (16 xmm registers are tight); the dependent `sha256rnds2` chain
/// then fills the SHA unit's queue and the CPU never overlaps the streams.
/// Written as one asm block the interleaving survives.
#[inline(always)]
unsafe fn quad_round_pair(first: &mut State, second: &mut State, wk: [__m128i; 2]) {
    std::arch::asm!(
        "movdqa xmm0, {wk0}",
        "sha256rnds2 {cdgh0}, {abef0}, xmm0",
        "movdqa xmm0, {wk1}",
        "sha256rnds2 {cdgh1}, {abef1}, xmm0",
        "pshufd xmm0, {wk0}, 0x0e",
        "sha256rnds2 {abef0}, {cdgh0}, xmm0",
        "pshufd xmm0, {wk1}, 0x0e",
        "sha256rnds2 {abef1}, {cdgh1}, xmm0",
        wk0 = in(xmm_reg) wk[0],
        wk1 = in(xmm_reg) wk[1],
        abef0 = inout(xmm_reg) first.abef,
        cdgh0 = inout(xmm_reg) first.cdgh,
        abef1 = inout(xmm_reg) second.abef,
        cdgh1 = inout(xmm_reg) second.cdgh,
        out("xmm0") _,
        options(pure, nomem, nostack, preserves_flags),
    );
}

/// Four rounds of every stream, interleaved two by two.
#[inline(always)]
unsafe fn quad_rounds<const N: usize>(states: &mut [State; N], wk: [__m128i; N]) {
    let mut index = 0;
    while index + 1 < N {
        let (head, tail) = states.split_at_mut(index + 1);
        quad_round_pair(&mut head[index], &mut tail[0], [wk[index], wk[index + 1]]);
        index += 2;
    }
    if index < N {
        quad_round(&mut states[index], wk[index]);
    }
}

/// Rounds `4Q..4Q+4` of `N` independent streams; from `Q = 4` on it first
/// expands the next four schedule words in the ring `m`.
#[inline(always)]
unsafe fn quad<const Q: usize, const N: usize>(states: &mut [State; N], m: &mut [[__m128i; 4]; N]) {
    let k = load_words(K.as_ptr().add(4 * Q));
    let mut wk = [k; N];
    for n in 0..N {
        let ring = &mut m[n];
        if Q >= 4 {
            let (oldest, older, old, newest) = (Q % 4, (Q + 1) % 4, (Q + 2) % 4, (Q + 3) % 4);
            let partial = _mm_add_epi32(
                _mm_sha256msg1_epu32(ring[oldest], ring[older]),
                _mm_alignr_epi8::<4>(ring[newest], ring[old]),
            );
            ring[oldest] = _mm_sha256msg2_epu32(partial, ring[newest]);
        }
        wk[n] = _mm_add_epi32(ring[Q % 4], k);
    }
    quad_rounds(states, wk);
}

/// Compresses one block (four vectors of big-endian words) per stream.
#[inline(always)]
unsafe fn compress<const N: usize>(states: &mut [State; N], blocks: [[__m128i; 4]; N]) {
    let saved = *states;
    let mut m = blocks;
    quad::<0, N>(states, &mut m);
    quad::<1, N>(states, &mut m);
    quad::<2, N>(states, &mut m);
    quad::<3, N>(states, &mut m);
    quad::<4, N>(states, &mut m);
    quad::<5, N>(states, &mut m);
    quad::<6, N>(states, &mut m);
    quad::<7, N>(states, &mut m);
    quad::<8, N>(states, &mut m);
    quad::<9, N>(states, &mut m);
    quad::<10, N>(states, &mut m);
    quad::<11, N>(states, &mut m);
    quad::<12, N>(states, &mut m);
    quad::<13, N>(states, &mut m);
    quad::<14, N>(states, &mut m);
    quad::<15, N>(states, &mut m);
    for (state, saved) in states.iter_mut().zip(saved) {
        state.abef = _mm_add_epi32(state.abef, saved.abef);
        state.cdgh = _mm_add_epi32(state.cdgh, saved.cdgh);
    }
}

/// Compresses a block whose `W + K` is known in advance: rounds only.
#[inline(always)]
unsafe fn compress_constant<const N: usize>(states: &mut [State; N], schedule: &[u32; 64]) {
    let saved = *states;
    for q in 0..16 {
        let wk = load_words(schedule.as_ptr().add(4 * q));
        quad_rounds(states, [wk; N]);
    }
    for (state, saved) in states.iter_mut().zip(saved) {
        state.abef = _mm_add_epi32(state.abef, saved.abef);
        state.cdgh = _mm_add_epi32(state.cdgh, saved.cdgh);
    }
}

#[inline(always)]
unsafe fn load_block(block: *const u8) -> [__m128i; 4] {
    [
        load_be(block),
        load_be(block.add(16)),
        load_be(block.add(32)),
        load_be(block.add(48)),
    ]
}

/// The second SHA-256 of sha256d, on each stream's first digest.
#[inline(always)]
unsafe fn hash_digests<const N: usize>(first: [State; N]) -> [State; N] {
    let pad = [
        load_words(PAD_32_TAIL.as_ptr()),
        load_words(PAD_32_TAIL.as_ptr().add(4)),
    ];
    let mut blocks = [[pad[0]; 4]; N];
    for (block, state) in blocks.iter_mut().zip(first) {
        let [abcd, efgh] = to_words(state);
        *block = [abcd, efgh, pad[0], pad[1]];
    }
    let mut states = [to_state(&IV); N];
    compress(&mut states, blocks);
    states
}

#[inline(always)]
unsafe fn store_digest(state: State, out: &mut [u8; 32]) {
    let [abcd, efgh] = to_words(state);
    let out = out.as_mut_ptr() as *mut __m128i;
    _mm_storeu_si128(out, _mm_shuffle_epi8(abcd, bswap_mask()));
    _mm_storeu_si128(out.add(1), _mm_shuffle_epi8(efgh, bswap_mask()));
}

#[inline(always)]
unsafe fn sha256d_64_n<const N: usize>(blocks: [&[u8; 64]; N], out: [&mut [u8; 32]; N]) {
    let mut states = [to_state(&IV); N];
    let mut loaded = [[_mm_setzero_si128(); 4]; N];
    for (loaded, block) in loaded.iter_mut().zip(blocks) {
        *loaded = load_block(block.as_ptr());
    }
    compress(&mut states, loaded);
    compress_constant(&mut states, &PAD_64_WK);
    for (state, out) in hash_digests(states).into_iter().zip(out) {
        store_digest(state, out);
    }
}

#[inline(always)]
unsafe fn header_n<const N: usize>(
    midstate: &[u32; 8],
    tails: [&[u8; 16]; N],
    out: [&mut [u8; 32]; N],
) {
    let pad = [
        load_words(PAD_80_TAIL.as_ptr()),
        load_words(PAD_80_TAIL.as_ptr().add(4)),
        load_words(PAD_80_TAIL.as_ptr().add(8)),
    ];
    let mut states = [to_state(midstate); N];
    let mut blocks = [[pad[0]; 4]; N];
    for (block, tail) in blocks.iter_mut().zip(tails) {
        *block = [load_be(tail.as_ptr()), pad[0], pad[1], pad[2]];
    }
    compress(&mut states, blocks);
    for (state, out) in hash_digests(states).into_iter().zip(out) {
        store_digest(state, out);
    }
}

/// Compresses `blocks` (a multiple of 64 bytes) into `state`.
///
/// # Safety
/// The CPU must support `sha`, `sse4.1` and `ssse3`.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub unsafe fn compress_blocks(state: &mut [u32; 8], blocks: &[u8]) {
    debug_assert_eq!(blocks.len() % 64, 0);
    let mut current = [to_state(state)];
    for block in blocks.chunks_exact(64) {
        compress(&mut current, [load_block(block.as_ptr())]);
    }
    let [abcd, efgh] = to_words(current[0]);
    _mm_storeu_si128(state.as_mut_ptr() as *mut __m128i, abcd);
    _mm_storeu_si128(state.as_mut_ptr().add(4) as *mut __m128i, efgh);
}

/// The second SHA-256 over a first digest given as state words.
///
/// # Safety
/// The CPU must support `sha`, `sse4.1` and `ssse3`.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub unsafe fn finish(first: &[u32; 8], out: &mut [u8; 32]) {
    let [state] = hash_digests([to_state(first)]);
    store_digest(state, out);
}

/// sha256d of one 64-byte message.
///
/// # Safety
/// The CPU must support `sha`, `sse4.1` and `ssse3`.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub unsafe fn sha256d_64(block: &[u8; 64], out: &mut [u8; 32]) {
    sha256d_64_n([block], [out]);
}

/// sha256d of many 64-byte messages, two streams at a time.
///
/// # Safety
/// The CPU must support `sha`, `sse4.1` and `ssse3`.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub unsafe fn sha256d_64_batch(blocks: &[[u8; 64]], out: &mut [[u8; 32]]) {
    let mut pairs_out = out.chunks_exact_mut(2);
    let mut pairs_in = blocks.chunks_exact(2);
    for (input, output) in (&mut pairs_in).zip(&mut pairs_out) {
        let [out0, out1] = output else { unreachable!() };
        sha256d_64_n([&input[0], &input[1]], [out0, out1]);
    }
    if let ([last_in], [last_out]) = (pairs_in.remainder(), pairs_out.into_remainder()) {
        sha256d_64_n([last_in], [last_out]);
    }
}

/// sha256d of an 80-byte header from its midstate and last 16 bytes.
///
/// # Safety
/// The CPU must support `sha`, `sse4.1` and `ssse3`.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub unsafe fn header(midstate: &[u32; 8], tail: &[u8; 16], out: &mut [u8; 32]) {
    header_n(midstate, [tail], [out]);
}

/// sha256d of many headers sharing one midstate, two streams at a time.
///
/// # Safety
/// The CPU must support `sha`, `sse4.1` and `ssse3`.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub unsafe fn header_batch(midstate: &[u32; 8], tails: &[[u8; 16]], out: &mut [[u8; 32]]) {
    let mut pairs_out = out.chunks_exact_mut(2);
    let mut pairs_in = tails.chunks_exact(2);
    for (input, output) in (&mut pairs_in).zip(&mut pairs_out) {
        let [out0, out1] = output else { unreachable!() };
        header_n(midstate, [&input[0], &input[1]], [out0, out1]);
    }
    if let ([last_in], [last_out]) = (pairs_in.remainder(), pairs_out.into_remainder()) {
        header_n(midstate, [last_in], [last_out]);
    }
}
