//! Just enough unsigned 256-bit arithmetic for targets: every share decision
//! is an exact integer comparison, never a float.

use std::cmp::Ordering;

/// An unsigned 256-bit integer, least significant limb first.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct U256(pub(crate) [u64; 4]);

impl U256 {
    pub const ZERO: U256 = U256([0; 4]);
    pub const MAX: U256 = U256([u64::MAX; 4]);

    pub const fn from_u64(value: u64) -> U256 {
        U256([value, 0, 0, 0])
    }

    /// Reads a 256-bit number stored little-endian, as Bitcoin stores hashes.
    #[inline]
    pub fn from_le_bytes(bytes: &[u8; 32]) -> U256 {
        let mut limbs = [0u64; 4];
        for (limb, chunk) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
            *limb = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
        }
        U256(limbs)
    }

    pub fn to_le_bytes(self) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        for (chunk, limb) in bytes.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&limb.to_le_bytes());
        }
        bytes
    }

    pub fn from_be_bytes(bytes: &[u8; 32]) -> U256 {
        let mut reversed = *bytes;
        reversed.reverse();
        U256::from_le_bytes(&reversed)
    }

    pub fn to_be_bytes(self) -> [u8; 32] {
        let mut bytes = self.to_le_bytes();
        bytes.reverse();
        bytes
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 4]
    }

    /// Number of significant bits (0 for zero).
    pub fn bits(&self) -> u32 {
        for index in (0..4).rev() {
            if self.0[index] != 0 {
                return 64 * index as u32 + 64 - self.0[index].leading_zeros();
            }
        }
        0
    }

    /// `self << shift`, or `None` when a set bit would fall off the top.
    pub fn checked_shl(self, shift: u32) -> Option<U256> {
        if self.is_zero() {
            return Some(self);
        }
        // bits() ≤ 256: no overflow whatever `shift` is.
        if shift > 256 - self.bits() {
            return None;
        }
        Some(self.shl(shift))
    }

    fn shl(self, shift: u32) -> U256 {
        let words = (shift / 64) as usize;
        let bits = shift % 64;
        let mut out = [0u64; 4];
        for index in (words..4).rev() {
            let source = index - words;
            out[index] = self.0[source] << bits;
            if bits > 0 && source > 0 {
                out[index] |= self.0[source - 1] >> (64 - bits);
            }
        }
        U256(out)
    }

    /// `self >> shift` (zero once every bit is shifted out).
    pub fn shifted_right(self, shift: u32) -> U256 {
        if shift >= 256 {
            return U256::ZERO;
        }
        let words = (shift / 64) as usize;
        let bits = shift % 64;
        let mut out = [0u64; 4];
        for (index, limb) in out.iter_mut().enumerate().take(4 - words) {
            let source = index + words;
            *limb = self.0[source] >> bits;
            if bits > 0 && source + 1 < 4 {
                *limb |= self.0[source + 1] << (64 - bits);
            }
        }
        U256(out)
    }

    /// Floor division of `self << shift` by `divisor`, saturating at `MAX`.
    /// The numerator may exceed 256 bits (up to 384 bits), which is what
    /// dividing diff1 by a tiny fractional difficulty needs.
    /// A zero divisor gives `MAX` (the quotient saturates), zero `self`
    /// gives zero.
    pub fn shl_div_saturating(self, shift: u32, divisor: u64) -> U256 {
        const LIMBS: usize = 6;
        if self.is_zero() {
            return U256::ZERO;
        }
        if divisor == 0 {
            return U256::MAX;
        }
        if shift > 64 * LIMBS as u32 - self.bits() {
            // The quotient is at least 2^(384 - 64): far above 2^256.
            return U256::MAX;
        }
        let mut wide = [0u64; LIMBS];
        wide[..4].copy_from_slice(&self.0);
        let words = (shift / 64) as usize;
        let bits = shift % 64;
        let mut shifted = [0u64; LIMBS];
        for index in (words..LIMBS).rev() {
            let source = index - words;
            shifted[index] = wide[source] << bits;
            if bits > 0 && source > 0 {
                shifted[index] |= wide[source - 1] >> (64 - bits);
            }
        }
        let mut quotient = [0u64; LIMBS];
        let mut remainder: u128 = 0;
        for index in (0..LIMBS).rev() {
            let current = (remainder << 64) | shifted[index] as u128;
            quotient[index] = (current / divisor as u128) as u64;
            remainder = current % divisor as u128;
        }
        if quotient[4] != 0 || quotient[5] != 0 {
            return U256::MAX;
        }
        U256([quotient[0], quotient[1], quotient[2], quotient[3]])
    }

    /// Nearest `f64` (for display and estimates only).
    pub fn to_f64(self) -> f64 {
        let mut value = 0f64;
        for limb in self.0.iter().rev() {
            value = value * 18446744073709551616.0 + *limb as f64;
        }
        value
    }
}

impl Ord for U256 {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        for index in (0..4).rev() {
            match self.0[index].cmp(&other.0[index]) {
                Ordering::Equal => continue,
                unequal => return unequal,
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for U256 {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Debug for U256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "U256(0x{})", crate::hex::encode(&self.to_be_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn from_u128(value: u128) -> U256 {
        U256([value as u64, (value >> 64) as u64, 0, 0])
    }

    #[test]
    fn shifts_and_bits() {
        let one = U256::from_u64(1);
        assert_eq!(one.checked_shl(255).unwrap().bits(), 256);
        assert_eq!(one.checked_shl(256), None);
        assert_eq!(one.checked_shl(200).unwrap().shifted_right(200), one);
        assert_eq!(U256::MAX.shifted_right(256), U256::ZERO);
        assert_eq!(U256::MAX.shifted_right(255), one);
    }

    #[test]
    fn wide_division_saturates() {
        assert_eq!(U256::from_u64(1).shl_div_saturating(256, 1), U256::MAX);
        assert_eq!(
            U256::from_u64(1).shl_div_saturating(256, 2),
            U256::from_u64(1).checked_shl(255).unwrap()
        );
        assert_eq!(U256::MAX.shl_div_saturating(200, 3), U256::MAX);
        assert_eq!(
            U256::from_u64(1).shl_div_saturating(256, 4),
            U256::from_u64(1).checked_shl(254).unwrap()
        );
        assert_eq!(U256::ZERO.shl_div_saturating(1000, 3), U256::ZERO);
    }

    #[test]
    fn extreme_arguments_saturate_instead_of_overflowing() {
        let one = U256::from_u64(1);
        assert_eq!(one.checked_shl(u32::MAX), None);
        assert_eq!(U256::ZERO.checked_shl(u32::MAX), Some(U256::ZERO));
        assert_eq!(U256::MAX.shifted_right(u32::MAX), U256::ZERO);
        assert_eq!(one.shl_div_saturating(u32::MAX, 1), U256::MAX);
        assert_eq!(one.shl_div_saturating(0, 0), U256::MAX);
        assert_eq!(U256::ZERO.shl_div_saturating(0, 0), U256::ZERO);
    }

    proptest! {
        #[test]
        fn division_matches_u128(value in any::<u64>(), shift in 0u32..64, divisor in 1u64..) {
            let expected = ((value as u128) << shift) / divisor as u128;
            prop_assert_eq!(U256::from_u64(value).shl_div_saturating(shift, divisor), from_u128(expected));
        }

        #[test]
        fn order_matches_u128(a in any::<u128>(), b in any::<u128>()) {
            prop_assert_eq!(from_u128(a).cmp(&from_u128(b)), a.cmp(&b));
        }

        #[test]
        fn byte_roundtrip(bytes in any::<[u8; 32]>()) {
            prop_assert_eq!(U256::from_le_bytes(&bytes).to_le_bytes(), bytes);
            prop_assert_eq!(U256::from_be_bytes(&bytes).to_be_bytes(), bytes);
        }
    }
}
