//! Extranonces: `extranonce1` is the pool's per-connection prefix,
//! `extranonce2` the miner's own space. Both sit in the coinbase between
//! `coinb1` and `coinb2`.
//!
//! They are stored inline (no allocation) because they key the share
//! validator's cache on the hot path.

use crate::hex::HexError;
use thiserror::Error;

/// Longest extranonce1 the pool hands out (4 is usual, 8 leaves room for a node prefix).
pub const MAX_EXTRANONCE1: usize = 8;
/// Longest extranonce2 a session may ask miners to roll.
pub const MAX_EXTRANONCE2: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExtranonceError {
    #[error("extranonce of {len} bytes is longer than {max}")]
    TooLong { len: usize, max: usize },
    #[error("extranonce hex: {0}")]
    Hex(#[from] HexError),
}

macro_rules! inline_extranonce {
    ($(#[$meta:meta])* $name:ident, $max:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name {
            len: u8,
            bytes: [u8; $max],
        }

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn from_bytes(bytes: &[u8]) -> Result<$name, ExtranonceError> {
                if bytes.len() > $max {
                    return Err(ExtranonceError::TooLong { len: bytes.len(), max: $max });
                }
                let mut inline = [0u8; $max];
                inline[..bytes.len()].copy_from_slice(bytes);
                Ok($name { len: bytes.len() as u8, bytes: inline })
            }

            /// Parses hex as sent on the wire; an odd digit count is left-padded.
            pub fn from_wire(text: &str) -> Result<$name, ExtranonceError> {
                if text.len() > 2 * $max {
                    return Err(ExtranonceError::TooLong { len: text.len().div_ceil(2), max: $max });
                }
                let mut scratch = [0u8; $max];
                let len = text.len().div_ceil(2);
                if len > 0 {
                    crate::hex::decode_right_aligned(text, &mut scratch[..len])?;
                }
                $name::from_bytes(&scratch[..len])
            }

            pub fn as_bytes(&self) -> &[u8] {
                &self.bytes[..self.len as usize]
            }

            pub fn len(&self) -> usize {
                self.len as usize
            }

            pub fn is_empty(&self) -> bool {
                self.len == 0
            }

            pub fn to_wire(&self) -> String {
                crate::hex::encode(self.as_bytes())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_wire())
            }
        }
    };
}

inline_extranonce!(
    /// The per-connection prefix the pool assigns in `mining.subscribe`.
    Extranonce1,
    MAX_EXTRANONCE1
);
inline_extranonce!(
    /// The bytes a miner rolls, sent back in `mining.submit`.
    Extranonce2,
    MAX_EXTRANONCE2
);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("extranonce2 has {len} bytes, the session allows {size}")]
pub struct Extranonce2SizeError {
    pub len: usize,
    pub size: usize,
}

impl Extranonce2 {
    /// Brings a submitted extranonce2 to the session's width: shorter values
    /// are left-padded with zeros (some miners drop leading zeros), longer
    /// ones are refused.
    pub fn fit(self, size: usize) -> Result<Extranonce2, Extranonce2SizeError> {
        if self.len() == size {
            return Ok(self);
        }
        if self.len() > size || size > MAX_EXTRANONCE2 {
            return Err(Extranonce2SizeError {
                len: self.len(),
                size,
            });
        }
        let mut padded = [0u8; MAX_EXTRANONCE2];
        padded[size - self.len()..size].copy_from_slice(self.as_bytes());
        Ok(Extranonce2 {
            len: size as u8,
            bytes: padded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_fit() {
        let en2 = Extranonce2::from_wire("0000000000000001").unwrap();
        assert_eq!(en2.len(), 8);
        assert_eq!(en2.fit(8).unwrap(), en2);
        let short = Extranonce2::from_wire("1").unwrap();
        assert_eq!(short.as_bytes(), &[1]);
        assert_eq!(short.fit(8).unwrap(), en2);
        assert_eq!(en2.fit(4), Err(Extranonce2SizeError { len: 8, size: 4 }));
    }

    #[test]
    fn bounds() {
        assert!(Extranonce1::from_wire("f000000a").is_ok());
        assert!(matches!(
            Extranonce1::from_wire("001122334455667788"),
            Err(ExtranonceError::TooLong { .. })
        ));
        assert!(matches!(
            Extranonce2::from_wire("zz"),
            Err(ExtranonceError::Hex(_))
        ));
        assert!(Extranonce2::from_wire("").unwrap().is_empty());
    }

    #[test]
    fn equality_ignores_nothing_but_unused_space() {
        let a = Extranonce2::from_bytes(&[1, 2]).unwrap();
        let b = Extranonce2::from_wire("0102").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Extranonce2::from_bytes(&[1, 2, 0]).unwrap());
    }
}
