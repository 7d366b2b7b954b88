//! The previous block hash, in the three byte orders it appears in.

use crate::hex::HexError;

/// A previous-block hash in internal (header) byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrevHash(pub [u8; 32]);

impl PrevHash {
    /// From the display (RPC, explorer) order, as in `previousblockhash`.
    pub fn from_display_hex(text: &str) -> Result<PrevHash, HexError> {
        let mut bytes = crate::hex::decode_32(text)?;
        bytes.reverse();
        Ok(PrevHash(bytes))
    }

    pub fn to_display_hex(&self) -> String {
        let mut bytes = self.0;
        bytes.reverse();
        crate::hex::encode(&bytes)
    }

    /// From `mining.notify`: header order with every 4-byte word byte-swapped.
    pub fn from_wire(text: &str) -> Result<PrevHash, HexError> {
        Ok(PrevHash(swap_words(crate::hex::decode_32(text)?)))
    }

    /// The form `mining.notify` carries.
    pub fn to_wire(&self) -> String {
        crate::hex::encode(&swap_words(self.0))
    }
}

fn swap_words(mut bytes: [u8; 32]) -> [u8; 32] {
    for word in bytes.chunks_exact_mut(4) {
        word.reverse();
    }
    bytes
}

impl std::fmt::Debug for PrevHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrevHash({})", self.to_display_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_orders_of_the_worked_share() {
        // previousblockhash of gbt-regtest-30tx.json and the notify built from it.
        let display = "75c1196673ee4ed9955fb9acb7964d488977da8b2114090f09b6fce9955dc65d";
        let wire = "955dc65d09b6fce92114090f8977da8bb7964d48955fb9ac73ee4ed975c11966";
        let prev = PrevHash::from_display_hex(display).unwrap();
        assert_eq!(prev.to_wire(), wire);
        assert_eq!(PrevHash::from_wire(wire).unwrap(), prev);
        assert_eq!(prev.to_display_hex(), display);
        assert_eq!(&prev.0[..4], &[0x5d, 0xc6, 0x5d, 0x95]);
    }
}
