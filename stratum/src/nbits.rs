//! `nBits`: the compact form of the network target in a block header.

use crate::target::Target;
use crate::u256::U256;
use thiserror::Error;

/// The header's compact target, as a u32 (`0x1d00ffff`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NBits(pub u32);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NBitsError {
    #[error("nBits {0:08x} encodes a negative target")]
    Negative(u32),
    #[error("nBits {0:08x} encodes a target above 2^256")]
    Overflow(u32),
    #[error("nBits {0:08x} encodes a zero target")]
    Zero(u32),
}

impl NBits {
    /// Expands the compact form as Bitcoin Core's `arith_uint256::SetCompact`
    /// does, refusing the encodings `DeriveTarget` refuses.
    pub fn to_target(self) -> Result<Target, NBitsError> {
        let exponent = self.0 >> 24;
        let mantissa = self.0 & 0x007f_ffff;
        if mantissa != 0 && self.0 & 0x0080_0000 != 0 {
            return Err(NBitsError::Negative(self.0));
        }
        let value = if exponent <= 3 {
            U256::from_u64((mantissa >> (8 * (3 - exponent))) as u64)
        } else {
            U256::from_u64(mantissa as u64)
                .checked_shl(8 * (exponent - 3))
                .ok_or(NBitsError::Overflow(self.0))?
        };
        if value.is_zero() {
            return Err(NBitsError::Zero(self.0));
        }
        Ok(Target::from_u256(value))
    }

    /// Network difficulty (for display and vardiff clamps).
    pub fn difficulty(self) -> Result<f64, NBitsError> {
        Ok(self.to_target()?.to_difficulty())
    }

    /// The big-endian hex of `mining.notify` (`"207fffff"`).
    pub fn to_wire(self) -> String {
        format!("{:08x}", self.0)
    }

    pub fn from_wire(text: &str) -> Result<NBits, crate::hex::HexError> {
        crate::hex::decode_u32_be(text).map(NBits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::difficulty::Difficulty;

    fn target_hex(hex: &str) -> Target {
        Target::from_be_bytes(&crate::hex::decode_32(hex).unwrap())
    }

    #[test]
    fn block_413567() {
        let target = NBits(0x18058436).to_target().unwrap();
        assert_eq!(
            target,
            target_hex("0000000000000000058436000000000000000000000000000000000000000000")
        );
        // diff1 / target, as Python's exact integers give it.
        let difficulty = NBits(0x18058436).difficulty().unwrap();
        assert!(
            (difficulty - 199_312_067_531.243).abs() < 0.001,
            "{difficulty}"
        );
        // And back: that difficulty gives the same target to within float precision.
        let back = Target::from_difficulty(Difficulty::new(difficulty).unwrap());
        let ratio = back.as_u256().to_f64() / target.as_u256().to_f64();
        assert!((ratio - 1.0).abs() < 1e-12);
    }

    #[test]
    fn regtest_limit() {
        let target = NBits(0x207fffff).to_target().unwrap();
        assert_eq!(
            target,
            target_hex("7fffff0000000000000000000000000000000000000000000000000000000000")
        );
        let difficulty = NBits(0x207fffff).difficulty().unwrap();
        assert!(
            (difficulty - 4.656542373906925e-10).abs() < 1e-24,
            "{difficulty}"
        );
        let back = Target::from_difficulty(Difficulty::new(difficulty).unwrap());
        let ratio = back.as_u256().to_f64() / target.as_u256().to_f64();
        assert!((ratio - 1.0).abs() < 1e-12);
    }

    #[test]
    fn genesis_is_difficulty_one() {
        assert_eq!(NBits(0x1d00ffff).to_target().unwrap(), Target::DIFF1);
        assert_eq!(NBits(0x1d00ffff).difficulty().unwrap(), 1.0);
    }

    #[test]
    fn invalid_encodings() {
        assert_eq!(
            NBits(0x04923456).to_target(),
            Err(NBitsError::Negative(0x04923456))
        );
        assert_eq!(
            NBits(0xff123456).to_target(),
            Err(NBitsError::Overflow(0xff123456))
        );
        assert_eq!(
            NBits(0x01003456).to_target(),
            Err(NBitsError::Zero(0x01003456))
        );
        // Small exponents shift the mantissa right, as Core does.
        assert_eq!(
            NBits(0x02123456).to_target().unwrap().as_u256(),
            U256::from_u64(0x1234)
        );
    }

    #[test]
    fn wire_roundtrip() {
        assert_eq!(NBits::from_wire("207fffff"), Ok(NBits(0x207fffff)));
        assert_eq!(NBits(0x1d00ffff).to_wire(), "1d00ffff");
    }
}
