//! Our double-SHA256 core.
//!
//! Four implementations give identical results: `portable` (any CPU),
//! `sha-ni` (x86 SHA extensions, one or two interleaved streams), `avx2`
//! (8 messages per instruction) and `avx512` (16 messages per instruction).
//! [`Sha256d::best`] picks the fastest for single messages and
//! [`Sha256d::best_batch`] the fastest for batches; [`Sha256d::new`] forces
//! one by name, so tests and benchmarks exercise each on the machine at hand.
//!
//! Fixed-length inputs have their own entry points: a 64-byte merkle node
//! ([`Sha256d::hash_64`]) and an 80-byte header from the midstate of its
//! first 64 bytes ([`Sha256d::hash_header`]), whose padding blocks are
//! precomputed.

mod consts;
mod lanes;
mod portable;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod shani;

use std::sync::OnceLock;
use thiserror::Error;

/// A SHA-256 implementation that can be asked for by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Implementation {
    Portable,
    ShaNi,
    Avx2,
    Avx512,
}

impl Implementation {
    pub const ALL: [Implementation; 4] = [
        Implementation::Portable,
        Implementation::ShaNi,
        Implementation::Avx2,
        Implementation::Avx512,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Implementation::Portable => "portable",
            Implementation::ShaNi => "sha-ni",
            Implementation::Avx2 => "avx2",
            Implementation::Avx512 => "avx512",
        }
    }

    pub fn from_name(name: &str) -> Option<Implementation> {
        Implementation::ALL
            .into_iter()
            .find(|implementation| implementation.name() == name)
    }

    /// Whether this CPU can run it.
    pub fn is_available(self) -> bool {
        match self {
            Implementation::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Implementation::ShaNi => {
                std::arch::is_x86_feature_detected!("sha")
                    && std::arch::is_x86_feature_detected!("sse4.1")
                    && std::arch::is_x86_feature_detected!("ssse3")
            }
            #[cfg(target_arch = "x86_64")]
            Implementation::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Implementation::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The implementations this CPU can run.
    pub fn available() -> Vec<Implementation> {
        Implementation::ALL
            .into_iter()
            .filter(|implementation| implementation.is_available())
            .collect()
    }

    /// Messages hashed side by side by one call of its batch kernel.
    pub fn lanes(self) -> usize {
        match self {
            Implementation::Portable => 1,
            Implementation::ShaNi => 2,
            Implementation::Avx2 => 8,
            Implementation::Avx512 => 16,
        }
    }
}

impl std::fmt::Display for Implementation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SelectError {
    #[error("the {0} SHA-256 implementation is not available on this CPU")]
    Unavailable(Implementation),
    #[error("no SHA-256 implementation is called {0:?} (portable, sha-ni, avx2, avx512)")]
    Unknown(String),
}

/// SHA-256 state after the first 64 bytes of a header: what stays the same
/// while a miner rolls the nonce.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Midstate(pub [u32; 8]);

const IV: [u32; 8] = consts::IV;

/// A chosen double-SHA256 implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sha256d {
    implementation: Implementation,
}

impl Sha256d {
    /// Forces `implementation`, if this CPU has it.
    pub fn new(implementation: Implementation) -> Result<Sha256d, SelectError> {
        if implementation.is_available() {
            Ok(Sha256d { implementation })
        } else {
            Err(SelectError::Unavailable(implementation))
        }
    }

    /// Forces an implementation by its name (`portable`, `sha-ni`, `avx2`, `avx512`).
    pub fn by_name(name: &str) -> Result<Sha256d, SelectError> {
        let implementation = Implementation::from_name(name)
            .ok_or_else(|| SelectError::Unknown(name.to_string()))?;
        Sha256d::new(implementation)
    }

    /// The fastest implementation for one message at a time.
    pub fn best() -> Sha256d {
        static BEST: OnceLock<Implementation> = OnceLock::new();
        let implementation = *BEST.get_or_init(|| {
            [Implementation::ShaNi, Implementation::Portable]
                .into_iter()
                .find(|implementation| implementation.is_available())
                .unwrap_or(Implementation::Portable)
        });
        Sha256d { implementation }
    }

    /// The fastest implementation for batches.
    pub fn best_batch() -> Sha256d {
        static BEST: OnceLock<Implementation> = OnceLock::new();
        let implementation = *BEST.get_or_init(|| {
            [
                Implementation::Avx512,
                Implementation::ShaNi,
                Implementation::Avx2,
                Implementation::Portable,
            ]
            .into_iter()
            .find(|implementation| implementation.is_available())
            .unwrap_or(Implementation::Portable)
        });
        Sha256d { implementation }
    }

    pub fn implementation(&self) -> Implementation {
        self.implementation
    }

    /// sha256d of any message.
    pub fn hash(&self, data: &[u8]) -> [u8; 32] {
        match self.implementation {
            Implementation::Portable => {
                streaming(data, portable::compress_blocks, portable::finish)
            }
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::ShaNi => unsafe {
                streaming(
                    data,
                    |s, b| shani::compress_blocks(s, b),
                    |s, o| shani::finish(s, o),
                )
            },
            _ => {
                let mut out = [[0u8; 32]];
                self.hash_batch(&[data], &mut out);
                out[0]
            }
        }
    }

    /// sha256d of many messages of any lengths (`out[i]` for `messages[i]`).
    pub fn hash_batch(&self, messages: &[&[u8]], out: &mut [[u8; 32]]) {
        assert_eq!(messages.len(), out.len(), "one output per message");
        match self.implementation {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::Avx2 => unsafe { avx2::sha256d_ragged(messages, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::Avx512 => unsafe { avx512::sha256d_ragged(messages, out) },
            _ => {
                for (message, out) in messages.iter().zip(out) {
                    *out = self.hash(message);
                }
            }
        }
    }

    /// sha256d of a 64-byte message: a merkle node, `left ‖ right`.
    pub fn hash_64(&self, block: &[u8; 64]) -> [u8; 32] {
        let mut out = [0u8; 32];
        match self.implementation {
            Implementation::Portable => portable::sha256d_64(block, &mut out),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::ShaNi => unsafe { shani::sha256d_64(block, &mut out) },
            _ => self.hash_64_batch(std::slice::from_ref(block), std::slice::from_mut(&mut out)),
        }
        out
    }

    /// sha256d of many 64-byte messages (`out[i]` for `blocks[i]`).
    pub fn hash_64_batch(&self, blocks: &[[u8; 64]], out: &mut [[u8; 32]]) {
        assert_eq!(blocks.len(), out.len(), "one output per block");
        match self.implementation {
            Implementation::Portable => {
                for (block, out) in blocks.iter().zip(out) {
                    portable::sha256d_64(block, out);
                }
            }
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::ShaNi => unsafe { shani::sha256d_64_batch(blocks, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::Avx2 => unsafe { avx2::sha256d_64_batch(blocks, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::Avx512 => unsafe { avx512::sha256d_64_batch(blocks, out) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("only the portable implementation exists here"),
        }
    }

    /// The SHA-256 state after a header's first 64 bytes.
    pub fn midstate(&self, first_block: &[u8; 64]) -> Midstate {
        let mut state = IV;
        match self.implementation {
            Implementation::Portable => portable::compress_blocks(&mut state, first_block),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::ShaNi => unsafe { shani::compress_blocks(&mut state, first_block) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::Avx2 => unsafe {
                avx2::compress_each(std::slice::from_mut(&mut state), &[first_block])
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::Avx512 => unsafe {
                avx512::compress_each(std::slice::from_mut(&mut state), &[first_block])
            },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("only the portable implementation exists here"),
        }
        Midstate(state)
    }

    /// sha256d of an 80-byte header from its midstate and its last 16 bytes
    /// (end of the merkle root, ntime, nbits, nonce): two compressions.
    pub fn hash_header(&self, midstate: &Midstate, tail: &[u8; 16]) -> [u8; 32] {
        let mut out = [0u8; 32];
        match self.implementation {
            Implementation::Portable => portable::header(&midstate.0, tail, &mut out),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::ShaNi => unsafe { shani::header(&midstate.0, tail, &mut out) },
            _ => self.hash_header_batch(
                midstate,
                std::slice::from_ref(tail),
                std::slice::from_mut(&mut out),
            ),
        }
        out
    }

    /// sha256d of many headers that share a midstate (`out[i]` for `tails[i]`).
    pub fn hash_header_batch(&self, midstate: &Midstate, tails: &[[u8; 16]], out: &mut [[u8; 32]]) {
        assert_eq!(tails.len(), out.len(), "one output per header");
        match self.implementation {
            Implementation::Portable => {
                for (tail, out) in tails.iter().zip(out) {
                    portable::header(&midstate.0, tail, out);
                }
            }
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::ShaNi => unsafe { shani::header_batch(&midstate.0, tails, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::Avx2 => unsafe { avx2::header_batch(&midstate.0, tails, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` checked the CPU features.
            Implementation::Avx512 => unsafe { avx512::header_batch(&midstate.0, tails, out) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("only the portable implementation exists here"),
        }
    }

    /// sha256d of a whole 80-byte header.
    pub fn hash_80(&self, header: &[u8; 80]) -> [u8; 32] {
        let (first, tail) = header.split_at(64);
        let midstate = self.midstate(first.try_into().expect("64 bytes"));
        self.hash_header(&midstate, tail.try_into().expect("16 bytes"))
    }
}

/// sha256d of `data` with a single-stream block function and a specialised
/// second hash.
#[inline(always)]
fn streaming(
    data: &[u8],
    compress_blocks: impl Fn(&mut [u32; 8], &[u8]),
    finish: impl Fn(&[u32; 8], &mut [u8; 32]),
) -> [u8; 32] {
    let mut state = IV;
    let whole = data.len() / 64 * 64;
    compress_blocks(&mut state, &data[..whole]);
    let rest = &data[whole..];
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let tail_len = if rest.len() < 56 { 64 } else { 128 };
    tail[tail_len - 8..tail_len].copy_from_slice(&(data.len() as u64 * 8).to_be_bytes());
    compress_blocks(&mut state, &tail[..tail_len]);
    let mut out = [0u8; 32];
    finish(&state, &mut out);
    out
}

/// sha256d of any message with the best single-message implementation.
pub fn sha256d(data: &[u8]) -> [u8; 32] {
    Sha256d::best().hash(data)
}
