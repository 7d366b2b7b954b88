//! 256-bit targets: what a hash must not exceed.
//!
//! A hash meets a target when, read as a little-endian 256-bit number, it is
//! less than or equal to it (Bitcoin Core's `CheckProofOfWork`).

use crate::difficulty::Difficulty;
use crate::u256::U256;

/// A proof-of-work target.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target(U256);

/// `0x00000000FFFF << 208`: the target of difficulty 1 (bdiff).
const DIFF1: U256 = U256([0, 0, 0, 0x0000_0000_ffff_0000]);

impl Target {
    /// The target of difficulty 1.
    pub const DIFF1: Target = Target(DIFF1);
    /// The easiest possible target: every hash meets it.
    pub const MAX: Target = Target(U256::MAX);

    pub const fn from_u256(value: U256) -> Target {
        Target(value)
    }

    pub fn as_u256(&self) -> U256 {
        self.0
    }

    /// `floor(diff1 / difficulty)`, exact for the binary value of the
    /// difficulty, saturating at the maximum target for tiny difficulties.
    pub fn from_difficulty(difficulty: Difficulty) -> Target {
        let (mantissa, exponent) = difficulty.to_mantissa_exponent();
        let target = if exponent >= 0 {
            DIFF1
                .shifted_right(exponent as u32)
                .shl_div_saturating(0, mantissa)
        } else {
            DIFF1.shl_div_saturating(exponent.unsigned_abs(), mantissa)
        };
        Target(target)
    }

    /// The difficulty this target stands for (`diff1 / target`), for display
    /// and estimates; decisions compare targets, never these floats.
    pub fn to_difficulty(&self) -> f64 {
        if self.0.is_zero() {
            return f64::INFINITY;
        }
        DIFF1.to_f64() / self.0.to_f64()
    }

    /// Whether `hash` (as sha256d produced it, internal byte order) meets this target.
    #[inline]
    pub fn is_met_by(&self, hash: &[u8; 32]) -> bool {
        U256::from_le_bytes(hash) <= self.0
    }

    /// Reads the big-endian form that `getblocktemplate`'s `target` field uses.
    pub fn from_be_bytes(bytes: &[u8; 32]) -> Target {
        Target(U256::from_be_bytes(bytes))
    }

    pub fn to_be_bytes(&self) -> [u8; 32] {
        self.0.to_be_bytes()
    }
}

/// The difficulty a hash achieved (`diff1 / hash`), for best-share statistics.
pub fn hash_difficulty(hash: &[u8; 32]) -> f64 {
    Target(U256::from_le_bytes(hash)).to_difficulty()
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({self})")
    }
}

/// Big-endian hex, the way block explorers and `getblocktemplate` print targets.
impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::hex::encode(&self.to_be_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn target_hex(hex: &str) -> Target {
        Target::from_be_bytes(&crate::hex::decode_32(hex).unwrap())
    }

    #[test]
    fn difficulty_one_is_diff1() {
        let target = Target::from_difficulty(Difficulty::new(1.0).unwrap());
        assert_eq!(
            target,
            target_hex("00000000ffff0000000000000000000000000000000000000000000000000000")
        );
        assert_eq!(target.to_difficulty(), 1.0);
    }

    #[test]
    fn difficulty_one_million() {
        // (0xFFFF << 208) // 10**6, computed with Python's integers.
        let expected =
            target_hex("00000000000010c6e6d9be4cd74927913e81450efdc9c4da9003eea209aaa3ad");
        let target = Target::from_difficulty(Difficulty::new(1e6).unwrap());
        assert_eq!(target, expected);
        assert!((target.to_difficulty() - 1e6).abs() < 1e-6);
    }

    #[test]
    fn tiny_difficulty_saturates_to_every_hash() {
        let target = Target::from_difficulty(Difficulty::new(1e-300).unwrap());
        assert_eq!(target, Target::MAX);
        assert!(target.is_met_by(&[0xff; 32]));
    }

    #[test]
    fn meets_is_inclusive_and_little_endian() {
        let target = Target::DIFF1;
        let mut hash = target.to_be_bytes();
        hash.reverse();
        assert!(target.is_met_by(&hash));
        hash[0] = 1; // least significant byte, already zero in diff1
        assert!(!target.is_met_by(&hash));
        assert_eq!(hash_difficulty(&[0u8; 32]), f64::INFINITY);
    }

    proptest! {
        #[test]
        fn difficulty_roundtrips_within_float_precision(difficulty in 1e-9f64..1e15) {
            let target = Target::from_difficulty(Difficulty::new(difficulty).unwrap());
            let back = target.to_difficulty();
            prop_assert!(((back - difficulty) / difficulty).abs() < 1e-12);
        }

        #[test]
        fn higher_difficulty_never_gives_an_easier_target(a in 1e-9f64..1e15, b in 1e-9f64..1e15) {
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            let easy = Target::from_difficulty(Difficulty::new(low).unwrap());
            let hard = Target::from_difficulty(Difficulty::new(high).unwrap());
            prop_assert!(hard <= easy);
        }
    }
}
