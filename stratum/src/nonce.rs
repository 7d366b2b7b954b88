//! The 32-bit header nonce a miner rolls.

crate::hex::be_hex_u32!(
    /// Header nonce.
    Nonce
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire() {
        assert_eq!(Nonce::from_wire("000795a5"), Ok(Nonce(0x000795a5)));
        assert_eq!(Nonce::from_wire("795a5"), Ok(Nonce(0x000795a5)));
        assert_eq!(Nonce(0x000795a5).to_wire(), "000795a5");
        assert!(Nonce::from_wire("1000795a5").is_err());
    }
}
