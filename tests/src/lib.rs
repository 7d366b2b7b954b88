//! End-to-end tests live in `tests/tests/`; this library holds what they share:
//! where the real-data vectors are, loaders for blocks and JSON, and a few
//! helpers that do not depend on the code under test (so they can catch it).

use bitcoin::consensus::encode;
use bitcoin::{Block, Transaction};
use std::path::PathBuf;
use stratum::{Implementation, Sha256d};

/// `vectors/` at the workspace root: real data this project did not write.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors"))
}

/// The bytes of one vector file; panics with the path if it is missing.
pub fn read_vector(name: &str) -> Vec<u8> {
    let path = vectors_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// A vector file as text.
pub fn read_vector_text(name: &str) -> String {
    String::from_utf8(read_vector(name)).unwrap_or_else(|_| panic!("{name} is not UTF-8"))
}

/// A JSON vector file.
pub fn read_vector_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&read_vector(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// Decodes hex, panicking with what was being decoded.
pub fn unhex(text: &str, what: &str) -> Vec<u8> {
    hex::decode(text.trim()).unwrap_or_else(|error| panic!("{what}: bad hex: {error}"))
}

/// Decodes 32 bytes of hex, as written.
pub fn unhex_32(text: &str, what: &str) -> [u8; 32] {
    unhex(text, what)
        .try_into()
        .unwrap_or_else(|bytes: Vec<u8>| panic!("{what}: {} bytes, not 32", bytes.len()))
}

/// Decodes 32 bytes of hex written in display order (reversed), giving
/// internal byte order.
pub fn unhex_32_display(text: &str, what: &str) -> [u8; 32] {
    let mut bytes = unhex_32(text, what);
    bytes.reverse();
    bytes
}

/// A whole block from its raw consensus serialization; every byte must be used.
pub fn parse_block(bytes: &[u8], what: &str) -> Block {
    let block: Block =
        encode::deserialize(bytes).unwrap_or_else(|error| panic!("{what}: not a block: {error}"));
    assert_eq!(
        encode::serialize(&block),
        bytes,
        "{what}: rust-bitcoin does not re-serialize the block byte for byte"
    );
    block
}

/// A block stored as raw bytes.
pub fn load_block_raw(name: &str) -> Block {
    parse_block(&read_vector(name), name)
}

/// A block stored as hex text.
pub fn load_block_hex(name: &str) -> Block {
    parse_block(&unhex(&read_vector_text(name), name), name)
}

/// A real testnet3 block from Bitcoin Core's `blockfilters.json`.
pub struct TestnetBlock {
    pub height: u64,
    /// Display order, as the file writes it.
    pub hash_hex: String,
    pub block: Block,
    pub notes: String,
}

/// Every block row of `blockfilters.json` (the header row and any other
/// row whose first cell is not a height are skipped).
pub fn load_testnet_blocks() -> Vec<TestnetBlock> {
    let json = read_vector_json("blockfilters.json");
    let rows = json
        .as_array()
        .expect("blockfilters.json is an array of rows");
    let blocks: Vec<TestnetBlock> = rows
        .iter()
        .filter_map(|row| {
            let row = row.as_array()?;
            let height = row.first()?.as_u64()?;
            let hash_hex = row.get(1)?.as_str()?.to_string();
            let block_hex = row.get(2)?.as_str()?;
            let what = format!("blockfilters.json height {height}");
            Some(TestnetBlock {
                height,
                hash_hex,
                block: parse_block(&unhex(block_hex, &what), &what),
                notes: row.last()?.as_str().unwrap_or_default().to_string(),
            })
        })
        .collect();
    assert_eq!(
        blocks.len(),
        rows.len() - 1,
        "every row but the header row should be a block"
    );
    blocks
}

/// A transaction's serialization without witness data: what its txid hashes.
pub fn non_witness_bytes(tx: &Transaction) -> Vec<u8> {
    let mut stripped = tx.clone();
    for input in &mut stripped.input {
        input.witness.clear();
    }
    let bytes = encode::serialize(&stripped);
    assert_eq!(bytes.len(), tx.base_size(), "non-witness size");
    bytes
}

/// One engine per kernel this CPU supports (portable at least), as the CPU
/// says (`is_x86_feature_detected!`, apart from our dispatch); the others
/// are recorded as skipped for `suite` (`test_skip::suite!()`). Panics if
/// the dispatch withholds a kernel the CPU has.
pub fn engines(suite: &str) -> Vec<Sha256d> {
    let kernels = test_skip::cpu::kernels_to_run(suite, |name| {
        Implementation::from_name(name).is_some_and(Implementation::is_available)
    });
    assert!(
        kernels.contains(&"portable"),
        "the portable implementation is always available"
    );
    kernels
        .into_iter()
        .map(|name| {
            let engine = Sha256d::by_name(name).expect("a kernel the CPU supports");
            assert_eq!(engine.implementation().name(), name);
            engine
        })
        .collect()
}

/// Runs `check` with every engine of [`engines`]; fails if a kernel the
/// CPU supports did not run.
pub fn each_engine(suite: &str, mut check: impl FnMut(&Sha256d)) {
    let engines = engines(suite);
    let kernels: Vec<&'static str> = engines
        .iter()
        .map(|engine| engine.implementation().name())
        .collect();
    let mut runs = test_skip::cpu::KernelRuns::new(&kernels);
    for engine in &engines {
        check(engine);
        runs.ran(engine.implementation().name());
    }
    runs.finish();
}

/// Double SHA-256 with the `sha2` crate: an oracle independent of our core.
pub fn sha2_sha256d(data: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(Sha256::digest(data)).into()
}

/// A 256-bit (or wider) unsigned number as little-endian u64 limbs, for exact
/// comparisons of targets without our own `U256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wide(pub [u64; 6]);

impl Wide {
    pub fn from_be_bytes(bytes: &[u8; 32]) -> Wide {
        let mut limbs = [0u64; 6];
        for (index, chunk) in bytes.rchunks_exact(8).enumerate() {
            limbs[index] = u64::from_be_bytes(chunk.try_into().expect("8 bytes"));
        }
        Wide(limbs)
    }

    pub fn from_u64(value: u64) -> Wide {
        Wide([value, 0, 0, 0, 0, 0])
    }

    /// `self * factor`; panics on overflow of 384 bits.
    pub fn mul_u64(self, factor: u64) -> Wide {
        let mut out = [0u64; 6];
        let mut carry = 0u128;
        for (index, limb) in self.0.iter().enumerate() {
            let product = *limb as u128 * factor as u128 + carry;
            out[index] = product as u64;
            carry = product >> 64;
        }
        assert_eq!(carry, 0, "Wide overflow");
        Wide(out)
    }

    /// `self << shift`; panics if bits would be lost.
    pub fn shifted_left(self, shift: u32) -> Wide {
        let mut out = [0u64; 6];
        for bit in 0..384u32 {
            if self.0[(bit / 64) as usize] >> (bit % 64) & 1 == 1 {
                let to = bit + shift;
                assert!(to < 384, "Wide overflow");
                out[(to / 64) as usize] |= 1 << (to % 64);
            }
        }
        Wide(out)
    }

    /// `self + other`; panics on overflow.
    pub fn plus(self, other: Wide) -> Wide {
        let mut out = [0u64; 6];
        let mut carry = false;
        for (index, slot) in out.iter_mut().enumerate() {
            let (sum, c1) = self.0[index].overflowing_add(other.0[index]);
            let (sum, c2) = sum.overflowing_add(carry as u64);
            *slot = sum;
            carry = c1 || c2;
        }
        assert!(!carry, "Wide overflow");
        Wide(out)
    }

    /// `|self - other|`.
    pub fn abs_diff(self, other: Wide) -> Wide {
        let (big, small) = if self >= other {
            (self, other)
        } else {
            (other, self)
        };
        let mut out = [0u64; 6];
        let mut borrow = false;
        for (index, slot) in out.iter_mut().enumerate() {
            let (diff, b1) = big.0[index].overflowing_sub(small.0[index]);
            let (diff, b2) = diff.overflowing_sub(borrow as u64);
            *slot = diff;
            borrow = b1 || b2;
        }
        assert!(!borrow);
        Wide(out)
    }
}

impl PartialOrd for Wide {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Wide {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

/// An f64 above zero as `mantissa * 2^exponent`, exactly.
pub fn f64_parts(value: f64) -> (u64, i32) {
    assert!(value.is_finite() && value > 0.0);
    let bits = value.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_arithmetic() {
        let one = Wide::from_u64(1);
        assert_eq!(one.shifted_left(200).0[3], 1 << 8);
        assert!(one.shifted_left(200) > Wide::from_u64(u64::MAX));
        assert_eq!(Wide::from_u64(u64::MAX).plus(one), Wide([0, 1, 0, 0, 0, 0]));
        assert_eq!(
            Wide([0, 1, 0, 0, 0, 0]).abs_diff(one),
            Wide::from_u64(u64::MAX)
        );
        assert_eq!(
            Wide::from_u64(u64::MAX).mul_u64(u64::MAX),
            Wide([1, u64::MAX - 1, 0, 0, 0, 0])
        );
        let mut be = [0u8; 32];
        be[0] = 0x12;
        be[31] = 0x34;
        let wide = Wide::from_be_bytes(&be);
        assert_eq!(wide.0[0], 0x34);
        assert_eq!(wide.0[3], 0x12 << 56);
        assert_eq!(f64_parts(1.0), (1 << 52, -52));
        assert_eq!(f64_parts(0.5), (1 << 52, -53));
    }

    #[test]
    fn sha2_oracle_matches_the_known_empty_hash() {
        // The well-known sha256d of the empty message.
        assert_eq!(
            hex::encode(sha2_sha256d(b"")),
            "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
        );
    }
}
