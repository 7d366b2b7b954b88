//! SHA-256 written once over a "lane" type: `u32` for the portable path,
//! 8 × u32 in an AVX2 register and 16 × u32 in an AVX-512 register for the
//! multi-buffer paths. Each lane hashes its own message; every function here
//! is `inline(always)` so it is compiled inside the caller's
//! `#[target_feature]` context and its constant words fold away.

use super::consts::{IV, K, PAD_32_TAIL, PAD_64_WK, PAD_80_TAIL};

/// One SHA-256 word per lane, and the operations the rounds need. Each
/// implementation picks its best instruction sequence (AVX-512 has native
/// rotates and three-input logic, AVX2 does not).
pub(crate) trait Lanes: Copy {
    const LANES: usize;
    fn splat(value: u32) -> Self;
    fn add(self, other: Self) -> Self;
    /// Rotate right by `R`; `L` is `32 - R` for targets that shift and or.
    fn ror<const R: i32, const L: i32>(self) -> Self;
    fn shr<const S: i32>(self) -> Self;
    fn xor3(a: Self, b: Self, c: Self) -> Self;
    /// `(e & f) ^ (!e & g)`
    fn ch(e: Self, f: Self, g: Self) -> Self;
    /// `(a & b) ^ (a & c) ^ (b & c)`
    fn maj(a: Self, b: Self, c: Self) -> Self;

    /// Builds a lane vector from `LANES` words.
    fn from_lanes(words: &[u32]) -> Self;
    /// Writes the `LANES` words of a vector.
    fn to_lanes(self, words: &mut [u32]);

    /// Loads one block per lane as big-endian words (`blocks.len() == LANES`).
    #[inline(always)]
    fn load_blocks(blocks: &[&[u8; 64]]) -> [Self; 16] {
        let mut words = [Self::splat(0); 16];
        for (word, vector) in words.iter_mut().enumerate() {
            let mut column = [0u32; MAX_LANES];
            for (lane, block) in blocks.iter().enumerate() {
                column[lane] = be_word(&block[4 * word..]);
            }
            *vector = Self::from_lanes(&column[..Self::LANES]);
        }
        words
    }

    /// Loads a header's last 16 bytes per lane (`tails.len() == LANES`).
    #[inline(always)]
    fn load_tails(tails: &[[u8; 16]]) -> [Self; 4] {
        let mut words = [Self::splat(0); 4];
        for (word, vector) in words.iter_mut().enumerate() {
            let mut column = [0u32; MAX_LANES];
            for (lane, tail) in tails.iter().enumerate() {
                column[lane] = be_word(&tail[4 * word..]);
            }
            *vector = Self::from_lanes(&column[..Self::LANES]);
        }
        words
    }

    /// Writes each lane's digest as bytes (`out.len() == LANES`).
    #[inline(always)]
    fn store_digests(state: [Self; 8], out: &mut [[u8; 32]]) {
        let mut columns = [[0u32; MAX_LANES]; 8];
        for (column, word) in columns.iter_mut().zip(state) {
            word.to_lanes(&mut column[..Self::LANES]);
        }
        for (lane, digest) in out.iter_mut().enumerate() {
            for (word, column) in columns.iter().enumerate() {
                digest[4 * word..4 * word + 4].copy_from_slice(&column[lane].to_be_bytes());
            }
        }
    }
}

/// The widest lane type (AVX-512, 16 × u32).
pub(crate) const MAX_LANES: usize = 16;

#[inline(always)]
fn be_word(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[inline(always)]
fn states_to_lanes<L: Lanes>(states: &[[u32; 8]]) -> [L; 8] {
    let mut words = [L::splat(0); 8];
    for (word, vector) in words.iter_mut().enumerate() {
        let mut column = [0u32; MAX_LANES];
        for (lane, state) in states.iter().enumerate() {
            column[lane] = state[word];
        }
        *vector = L::from_lanes(&column[..L::LANES]);
    }
    words
}

#[inline(always)]
fn lanes_to_states<L: Lanes>(vectors: [L; 8], states: &mut [[u32; 8]]) {
    let mut columns = [[0u32; MAX_LANES]; 8];
    for (column, vector) in columns.iter_mut().zip(vectors) {
        vector.to_lanes(&mut column[..L::LANES]);
    }
    for (lane, state) in states.iter_mut().enumerate() {
        for (word, column) in columns.iter().enumerate() {
            state[word] = column[lane];
        }
    }
}

#[inline(always)]
fn big_sigma0<L: Lanes>(x: L) -> L {
    L::xor3(x.ror::<2, 30>(), x.ror::<13, 19>(), x.ror::<22, 10>())
}

#[inline(always)]
fn big_sigma1<L: Lanes>(x: L) -> L {
    L::xor3(x.ror::<6, 26>(), x.ror::<11, 21>(), x.ror::<25, 7>())
}

#[inline(always)]
fn small_sigma0<L: Lanes>(x: L) -> L {
    L::xor3(x.ror::<7, 25>(), x.ror::<18, 14>(), x.shr::<3>())
}

#[inline(always)]
fn small_sigma1<L: Lanes>(x: L) -> L {
    L::xor3(x.ror::<17, 15>(), x.ror::<19, 13>(), x.shr::<10>())
}

/// One round with `wk = W[t] + K[t]`; the caller rotates the register names
/// instead of moving eight values. The sums are ordered so that what is
/// known early (h, wk, then Ch and Maj) is added first and the sigmas of the
/// values the previous round just produced come last: the dependency chain
/// from one round to the next stays three or four operations long.
macro_rules! round {
    ($s:ident, $wk:expr, $a:tt, $b:tt, $c:tt, $d:tt, $e:tt, $f:tt, $g:tt, $h:tt) => {{
        let t1 = $s[$h]
            .add($wk)
            .add(L::ch($s[$e], $s[$f], $s[$g]))
            .add(big_sigma1($s[$e]));
        $s[$d] = $s[$d].add(t1);
        $s[$h] = t1
            .add(L::maj($s[$a], $s[$b], $s[$c]))
            .add(big_sigma0($s[$a]));
    }};
}

/// `W[t] + K[t]` of a block being expanded in the 16-word ring `$w`; with
/// every index a constant after unrolling, `$w` lives in registers.
macro_rules! expanded_wk {
    ($w:ident, $t:expr) => {{
        if $t >= 16 {
            $w[$t % 16] = small_sigma1($w[($t + 14) % 16])
                .add($w[($t + 9) % 16])
                .add(small_sigma0($w[($t + 1) % 16]))
                .add($w[$t % 16]);
        }
        $w[$t % 16].add(L::splat(K[$t]))
    }};
}

/// `W[t] + K[t]` of a block whose schedule was computed in advance.
macro_rules! constant_wk {
    ($schedule:ident, $t:expr) => {
        L::splat($schedule[$t])
    };
}

/// Eight rounds from round `$t`, taking `W + K` from `$wk!($source, t)`.
macro_rules! eight_rounds {
    ($s:ident, $t:expr, $wk:ident, $source:ident) => {{
        round!($s, $wk!($source, $t), 0, 1, 2, 3, 4, 5, 6, 7);
        round!($s, $wk!($source, $t + 1), 7, 0, 1, 2, 3, 4, 5, 6);
        round!($s, $wk!($source, $t + 2), 6, 7, 0, 1, 2, 3, 4, 5);
        round!($s, $wk!($source, $t + 3), 5, 6, 7, 0, 1, 2, 3, 4);
        round!($s, $wk!($source, $t + 4), 4, 5, 6, 7, 0, 1, 2, 3);
        round!($s, $wk!($source, $t + 5), 3, 4, 5, 6, 7, 0, 1, 2);
        round!($s, $wk!($source, $t + 6), 2, 3, 4, 5, 6, 7, 0, 1);
        round!($s, $wk!($source, $t + 7), 1, 2, 3, 4, 5, 6, 7, 0);
    }};
}

macro_rules! sixty_four_rounds {
    ($s:ident, $wk:ident, $source:ident) => {{
        eight_rounds!($s, 0, $wk, $source);
        eight_rounds!($s, 8, $wk, $source);
        eight_rounds!($s, 16, $wk, $source);
        eight_rounds!($s, 24, $wk, $source);
        eight_rounds!($s, 32, $wk, $source);
        eight_rounds!($s, 40, $wk, $source);
        eight_rounds!($s, 48, $wk, $source);
        eight_rounds!($s, 56, $wk, $source);
    }};
}

#[inline(always)]
fn add_state<L: Lanes>(state: &mut [L; 8], rounds: [L; 8]) {
    for word in 0..8 {
        state[word] = state[word].add(rounds[word]);
    }
}

/// Compresses one block (as 16 big-endian words) into `state`.
#[inline(always)]
pub(crate) fn compress<L: Lanes>(state: &mut [L; 8], block: [L; 16]) {
    let mut w = block;
    let mut s = *state;
    sixty_four_rounds!(s, expanded_wk, w);
    add_state(state, s);
}

/// Compresses a block whose schedule is known in advance (`W + K` per round).
#[inline(always)]
pub(crate) fn compress_constant<L: Lanes>(state: &mut [L; 8], schedule: &[u32; 64]) {
    let mut s = *state;
    sixty_four_rounds!(s, constant_wk, schedule);
    add_state(state, s);
}

#[inline(always)]
pub(crate) fn initial_state<L: Lanes>() -> [L; 8] {
    splat_state(&IV)
}

#[inline(always)]
fn splat_state<L: Lanes>(words: &[u32; 8]) -> [L; 8] {
    let mut state = [L::splat(0); 8];
    for word in 0..8 {
        state[word] = L::splat(words[word]);
    }
    state
}

/// The second SHA-256 of sha256d: hashes a 32-byte digest (one padded block).
#[inline(always)]
pub(crate) fn hash_digest<L: Lanes>(digest: [L; 8]) -> [L; 8] {
    let mut block = [L::splat(0); 16];
    block[..8].copy_from_slice(&digest);
    for (word, pad) in block[8..].iter_mut().zip(PAD_32_TAIL) {
        *word = L::splat(pad);
    }
    let mut state = initial_state::<L>();
    compress(&mut state, block);
    state
}

/// sha256d of a 64-byte message (a merkle node): three compressions, the
/// middle one with a precomputed schedule.
#[inline(always)]
pub(crate) fn sha256d_64<L: Lanes>(block: [L; 16]) -> [L; 8] {
    let mut state = initial_state::<L>();
    compress(&mut state, block);
    compress_constant(&mut state, &PAD_64_WK);
    hash_digest(state)
}

/// sha256d of an 80-byte header from the midstate of its first 64 bytes and
/// its last 16 (merkle root tail, ntime, nbits, nonce) as 4 words.
#[inline(always)]
pub(crate) fn sha256d_header<L: Lanes>(midstate: [L; 8], tail: [L; 4]) -> [L; 8] {
    let mut block = [L::splat(0); 16];
    block[..4].copy_from_slice(&tail);
    for (word, pad) in block[4..].iter_mut().zip(PAD_80_TAIL) {
        *word = L::splat(pad);
    }
    let mut state = midstate;
    compress(&mut state, block);
    hash_digest(state)
}

/// The scalar lane: the portable implementation.
impl Lanes for u32 {
    const LANES: usize = 1;

    #[inline(always)]
    fn splat(value: u32) -> Self {
        value
    }

    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self.wrapping_add(other)
    }

    #[inline(always)]
    fn ror<const R: i32, const L: i32>(self) -> Self {
        self.rotate_right(R as u32)
    }

    #[inline(always)]
    fn shr<const S: i32>(self) -> Self {
        self >> S
    }

    #[inline(always)]
    fn xor3(a: Self, b: Self, c: Self) -> Self {
        a ^ b ^ c
    }

    #[inline(always)]
    fn ch(e: Self, f: Self, g: Self) -> Self {
        g ^ (e & (f ^ g))
    }

    #[inline(always)]
    fn maj(a: Self, b: Self, c: Self) -> Self {
        (a & b) | (c & (a | b))
    }

    #[inline(always)]
    fn from_lanes(words: &[u32]) -> Self {
        words[0]
    }

    #[inline(always)]
    fn to_lanes(self, words: &mut [u32]) {
        words[0] = self;
    }
}

/// sha256d of many 64-byte messages, `L::LANES` at a time.
#[inline(always)]
pub(crate) fn sha256d_64_batch<L: Lanes>(blocks: &[[u8; 64]], out: &mut [[u8; 32]]) {
    assert_eq!(blocks.len(), out.len(), "one output per input");
    for (inputs, outputs) in blocks.chunks(L::LANES).zip(out.chunks_mut(L::LANES)) {
        // A short last group repeats its last block in the idle lanes.
        let mut refs = [&inputs[0]; MAX_LANES];
        for (lane, slot) in refs.iter_mut().enumerate() {
            *slot = &inputs[lane.min(inputs.len() - 1)];
        }
        let digests = sha256d_64(L::load_blocks(&refs[..L::LANES]));
        if outputs.len() == L::LANES {
            L::store_digests(digests, outputs);
        } else {
            let mut scratch = [[0u8; 32]; MAX_LANES];
            L::store_digests(digests, &mut scratch[..L::LANES]);
            outputs.copy_from_slice(&scratch[..outputs.len()]);
        }
    }
}

/// sha256d of many headers sharing one midstate, `L::LANES` at a time.
#[inline(always)]
pub(crate) fn sha256d_header_batch<L: Lanes>(
    midstate: &[u32; 8],
    tails: &[[u8; 16]],
    out: &mut [[u8; 32]],
) {
    assert_eq!(tails.len(), out.len(), "one output per input");
    let midstate = splat_state::<L>(midstate);
    for (inputs, outputs) in tails.chunks(L::LANES).zip(out.chunks_mut(L::LANES)) {
        if inputs.len() == L::LANES {
            let digests = sha256d_header(midstate, L::load_tails(inputs));
            L::store_digests(digests, outputs);
        } else {
            let mut padded = [[0u8; 16]; MAX_LANES];
            padded[..inputs.len()].copy_from_slice(inputs);
            let digests = sha256d_header(midstate, L::load_tails(&padded[..L::LANES]));
            let mut scratch = [[0u8; 32]; MAX_LANES];
            L::store_digests(digests, &mut scratch[..L::LANES]);
            outputs.copy_from_slice(&scratch[..outputs.len()]);
        }
    }
}

/// Compresses one block into each of `states` (at most `L::LANES`).
#[inline(always)]
pub(crate) fn compress_each<L: Lanes>(states: &mut [[u32; 8]], blocks: &[&[u8; 64]]) {
    assert!(states.len() == blocks.len() && states.len() <= L::LANES);
    let mut padded_states = [[0u32; 8]; MAX_LANES];
    padded_states[..states.len()].copy_from_slice(states);
    let mut refs = [blocks[0]; MAX_LANES];
    for (lane, slot) in refs.iter_mut().enumerate() {
        *slot = blocks[lane.min(blocks.len() - 1)];
    }
    let mut vectors = states_to_lanes::<L>(&padded_states[..L::LANES]);
    compress(&mut vectors, L::load_blocks(&refs[..L::LANES]));
    lanes_to_states(vectors, &mut padded_states[..L::LANES]);
    states.copy_from_slice(&padded_states[..states.len()]);
}

/// Where one lane is in hashing one message of a ragged batch.
#[derive(Clone, Copy)]
struct LaneJob {
    message: usize,
    /// Next block of the padded message; `blocks` means the second SHA-256.
    block: usize,
    blocks: usize,
}

fn padded_blocks(len: usize) -> usize {
    (len + 9).div_ceil(64)
}

/// Writes the `index`th 64-byte block of `message` after SHA-256 padding.
fn write_padded_block(message: &[u8], index: usize, block: &mut [u8; 64]) {
    let start = index * 64;
    let end = message.len().min(start + 64);
    block.fill(0);
    if start <= message.len() {
        block[..end - start].copy_from_slice(&message[start..end]);
        if end - start < 64 {
            block[end - start] = 0x80;
        }
    }
    if index == padded_blocks(message.len()) - 1 {
        block[56..].copy_from_slice(&(message.len() as u64 * 8).to_be_bytes());
    }
}

/// Writes the block the second SHA-256 hashes: a first digest, padded.
fn write_digest_block(first: &[u32; 8], block: &mut [u8; 64]) {
    block.fill(0);
    for (word, value) in first.iter().enumerate() {
        block[4 * word..4 * word + 4].copy_from_slice(&value.to_be_bytes());
    }
    block[32] = 0x80;
    block[62..].copy_from_slice(&256u16.to_be_bytes());
}

/// sha256d of messages of any lengths: each lane takes the next message as
/// soon as it finishes its own (multi-buffer scheduling).
#[inline(always)]
pub(crate) fn sha256d_ragged<L: Lanes>(messages: &[&[u8]], out: &mut [[u8; 32]]) {
    assert_eq!(messages.len(), out.len(), "one output per input");
    let mut jobs: [Option<LaneJob>; MAX_LANES] = [None; MAX_LANES];
    let mut states = [IV; MAX_LANES];
    let mut buffers = [[0u8; 64]; MAX_LANES];
    let mut next_message = 0;
    loop {
        for lane in 0..L::LANES {
            if jobs[lane].is_none() && next_message < messages.len() {
                jobs[lane] = Some(LaneJob {
                    message: next_message,
                    block: 0,
                    blocks: padded_blocks(messages[next_message].len()),
                });
                states[lane] = IV;
                next_message += 1;
            }
            match jobs[lane] {
                Some(job) if job.block < job.blocks => {
                    write_padded_block(messages[job.message], job.block, &mut buffers[lane])
                }
                Some(_) => {
                    write_digest_block(&states[lane], &mut buffers[lane]);
                    states[lane] = IV;
                }
                None => {}
            }
        }
        if jobs[..L::LANES].iter().all(Option::is_none) {
            return;
        }
        let mut refs = [&buffers[0]; MAX_LANES];
        for (slot, buffer) in refs.iter_mut().zip(buffers.iter()) {
            *slot = buffer;
        }
        compress_each::<L>(&mut states[..L::LANES], &refs[..L::LANES]);
        for lane in 0..L::LANES {
            let Some(job) = jobs[lane].as_mut() else {
                continue;
            };
            if job.block < job.blocks {
                job.block += 1;
                continue;
            }
            for (word, value) in states[lane].iter().enumerate() {
                out[job.message][4 * word..4 * word + 4].copy_from_slice(&value.to_be_bytes());
            }
            jobs[lane] = None;
        }
    }
}
