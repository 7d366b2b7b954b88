//! Hex on the Stratum wire.
//!
//! Miners are inconsistent about widths (some drop leading zeros of a u32,
//! some send an odd number of digits), so decoding is liberal: a field shorter
//! than its width is left-padded with zeros. Encoding is strict lowercase.

use thiserror::Error;

/// Why a hex field could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HexError {
    #[error("not a hex digit: {0:?}")]
    BadDigit(char),
    #[error("{len} hex digits do not fit in {max_bytes} bytes")]
    TooLong { len: usize, max_bytes: usize },
    #[error("empty hex field")]
    Empty,
}

fn nibble(c: u8) -> Result<u8, HexError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(HexError::BadDigit(c as char)),
    }
}

/// Decodes `text` right-aligned into `out` (big-endian digit order), zero
/// filling on the left. Returns the number of bytes the text covered.
pub fn decode_right_aligned(text: &str, out: &mut [u8]) -> Result<usize, HexError> {
    let digits = text.as_bytes();
    if digits.is_empty() {
        return Err(HexError::Empty);
    }
    if digits.len() > out.len() * 2 {
        return Err(HexError::TooLong {
            len: digits.len(),
            max_bytes: out.len(),
        });
    }
    out.fill(0);
    // `covered ≤ out.len()` (checked above), and the loop advances `index`
    // once per byte covered: every write lands in `start..out.len()`.
    let covered = digits.len().div_ceil(2);
    let start = out.len() - covered;
    let mut high_first = digits.len().is_multiple_of(2);
    let mut index = start;
    for &digit in digits {
        let value = nibble(digit)?;
        if high_first {
            out[index] = value << 4;
        } else {
            out[index] |= value;
            index += 1;
        }
        high_first = !high_first;
    }
    Ok(covered)
}

/// Decodes a hex string of any (even or odd) length into bytes.
pub fn decode_vec(text: &str) -> Result<Vec<u8>, HexError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = vec![0u8; text.len().div_ceil(2)];
    decode_right_aligned(text, &mut out)?;
    Ok(out)
}

/// Decodes a big-endian hex u32 of at most 8 digits (`"795a5"` is `0x000795a5`).
pub fn decode_u32_be(text: &str) -> Result<u32, HexError> {
    let mut bytes = [0u8; 4];
    decode_right_aligned(text, &mut bytes)?;
    Ok(u32::from_be_bytes(bytes))
}

/// Decodes exactly 32 bytes (64 digits, or fewer left-padded).
pub fn decode_32(text: &str) -> Result<[u8; 32], HexError> {
    let mut bytes = [0u8; 32];
    decode_right_aligned(text, &mut bytes)?;
    Ok(bytes)
}

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends the lowercase hex of `bytes` to `out`.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len() * 2);
    for &byte in bytes {
        out.push(DIGITS[(byte >> 4) as usize] as char);
        out.push(DIGITS[(byte & 15) as usize] as char);
    }
}

/// Lowercase hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    encode_into(bytes, &mut out);
    out
}

/// Declares a u32 field that Stratum writes as 8 big-endian hex digits
/// (`ntime`, `nonce`, `version`, `nbits`), accepting shorter forms on input.
macro_rules! be_hex_u32 {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
        pub struct $name(pub u32);

        impl $name {
            /// Parses the big-endian hex on the wire (left-padding short forms).
            pub fn from_wire(text: &str) -> Result<$name, $crate::hex::HexError> {
                $crate::hex::decode_u32_be(text).map($name)
            }

            /// The 8 lowercase big-endian hex digits miners expect.
            pub fn to_wire(self) -> String {
                format!("{:08x}", self.0)
            }
        }
    };
}
pub(crate) use be_hex_u32;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_fields_are_left_padded() {
        assert_eq!(decode_u32_be("795a5"), Ok(0x000795a5));
        assert_eq!(decode_u32_be("000795a5"), Ok(0x000795a5));
        assert_eq!(decode_u32_be("F"), Ok(15));
        assert_eq!(decode_vec("abc"), Ok(vec![0x0a, 0xbc]));
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert_eq!(decode_u32_be(""), Err(HexError::Empty));
        assert_eq!(decode_u32_be("0x12"), Err(HexError::BadDigit('x')));
        assert_eq!(
            decode_u32_be("123456789"),
            Err(HexError::TooLong {
                len: 9,
                max_bytes: 4
            })
        );
        assert!(decode_vec("zz").is_err());
        assert!(decode_vec("é").is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(decode_vec(&encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn u32_roundtrip(value in any::<u32>()) {
            prop_assert_eq!(decode_u32_be(&format!("{value:08x}")).unwrap(), value);
            prop_assert_eq!(decode_u32_be(&format!("{value:x}")).unwrap(), value);
        }
    }
}
