//! The coinbase transaction, split around the extranonce space.
//!
//! coinbase = coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2, serialized
//! without witness (that is what the txid hashes and what miners rebuild):
//!
//! - coinb1: version 2, one input spending the null outpoint, the scriptSig
//!   length, then the scriptSig's start: the BIP 34 height (`CScript() <<
//!   height`, as Core checks it), a push of the pool tag, and the opcode
//!   that pushes the extranonce bytes;
//! - coinb2: the input's sequence, the outputs (payouts, then the witness
//!   commitment), lock time 0.
//!
//! In a block the coinbase also carries the witness reserved value (one
//! 32-byte zero item) when the template commits to witnesses.

use bitcoin::consensus::Encodable;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::{Amount, Script, ScriptBuf, TxOut, VarInt};
use thiserror::Error;

/// Largest coinbase (without witness) the pool builds. Some firmware keeps
/// coinb1 and coinb2 in small fixed buffers; a pooled coinbase is about 200
/// bytes, a solo one with a fee output about 240.
pub const MAX_COINBASE_SIZE: usize = 500;

/// A scriptSig is at most 100 bytes (Core's `bad-cb-length`).
const MAX_SCRIPT_SIG: usize = 100;

/// Longest tag accepted (the config enforces the same).
pub const MAX_TAG_LEN: usize = 32;

/// What goes into one coinbase.
#[derive(Debug, Clone)]
pub struct CoinbaseSpec<'a> {
    pub height: u32,
    pub tag: &'a [u8],
    /// extranonce1 + extranonce2 bytes.
    pub extranonce_len: usize,
    /// The payouts, in order; the commitment is appended after them.
    pub payouts: Vec<TxOut>,
    pub witness_commitment: Option<&'a ScriptBuf>,
    /// The most the outputs may pay (`coinbasevalue`).
    pub coinbase_value: Amount,
}

/// A coinbase split around its extranonce space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoinbaseParts {
    pub coinb1: Vec<u8>,
    pub coinb2: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoinbaseError {
    #[error("coinbase outputs pay {paid}, more than the template's coinbasevalue {allowed}")]
    Overpays { paid: Amount, allowed: Amount },
    #[error("coinbase has no payout output")]
    NoPayout,
    #[error("tag of {0} bytes is longer than {MAX_TAG_LEN}")]
    TagTooLong(usize),
    #[error("extranonce space of {0} bytes does not fit one push (2 to 75 bytes)")]
    BadExtranonceLength(usize),
    #[error("scriptSig of {0} bytes is over Core's 100-byte limit")]
    ScriptSigTooLong(usize),
    #[error("coinbase of {size} bytes exceeds {MAX_COINBASE_SIZE}: too many outputs for miners' firmware")]
    TooLarge { size: usize },
}

/// Builds coinb1 and coinb2.
pub fn build(spec: &CoinbaseSpec) -> Result<CoinbaseParts, CoinbaseError> {
    if spec.tag.len() > MAX_TAG_LEN {
        return Err(CoinbaseError::TagTooLong(spec.tag.len()));
    }
    if !(2..=75).contains(&spec.extranonce_len) {
        return Err(CoinbaseError::BadExtranonceLength(spec.extranonce_len));
    }
    if spec.payouts.is_empty() {
        return Err(CoinbaseError::NoPayout);
    }
    // Checked: `Amount`'s sum wraps silently in release builds.
    let paid = spec
        .payouts
        .iter()
        .try_fold(Amount::ZERO, |sum, output| sum.checked_add(output.value));
    match paid {
        Some(paid) if paid <= spec.coinbase_value => {}
        paid => {
            return Err(CoinbaseError::Overpays {
                paid: paid.unwrap_or(Amount::MAX),
                allowed: spec.coinbase_value,
            })
        }
    }

    let mut script = Builder::new().push_int(i64::from(spec.height));
    if !spec.tag.is_empty() {
        // At most MAX_TAG_LEN (32) bytes, checked above: a push takes it.
        let tag = PushBytesBuf::try_from(spec.tag.to_vec()).expect("tag is at most 32 bytes");
        script = script.push_slice(tag);
    }
    let mut script_start = script.into_bytes();
    // The opcode that pushes the next `extranonce_len` bytes (2..=75,
    // checked above: it fits a u8); the bytes themselves are the miner's.
    script_start.push(spec.extranonce_len as u8);
    let script_sig_len = script_start.len() + spec.extranonce_len;
    if script_sig_len > MAX_SCRIPT_SIG {
        return Err(CoinbaseError::ScriptSigTooLong(script_sig_len));
    }

    let mut coinb1 = Vec::with_capacity(64);
    encode(&2i32, &mut coinb1); // version
    coinb1.push(1); // one input
    coinb1.extend_from_slice(&[0u8; 32]);
    coinb1.extend_from_slice(&u32::MAX.to_le_bytes());
    encode(&VarInt(script_sig_len as u64), &mut coinb1);
    coinb1.extend_from_slice(&script_start);

    let mut outputs = spec.payouts.clone();
    if let Some(commitment) = spec.witness_commitment {
        outputs.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: commitment.clone(),
        });
    }
    let mut coinb2 = Vec::with_capacity(160);
    coinb2.extend_from_slice(&u32::MAX.to_le_bytes()); // sequence
    encode(&VarInt(outputs.len() as u64), &mut coinb2);
    for output in &outputs {
        encode(output, &mut coinb2);
    }
    coinb2.extend_from_slice(&0u32.to_le_bytes()); // lock time

    let size = coinb1.len() + spec.extranonce_len + coinb2.len();
    if size > MAX_COINBASE_SIZE {
        return Err(CoinbaseError::TooLarge { size });
    }
    Ok(CoinbaseParts { coinb1, coinb2 })
}

fn encode<T: Encodable>(value: &T, out: &mut Vec<u8>) {
    value
        .consensus_encode(out)
        .expect("writing to a Vec cannot fail");
}

/// What `CScript() << height` gives: the prefix BIP 34 requires of the
/// coinbase's scriptSig (`OP_0`, `OP_1`..`OP_16`, else a minimal push).
pub fn bip34_prefix(height: u32) -> ScriptBuf {
    Builder::new().push_int(i64::from(height)).into_script()
}

/// Reads the BIP 34 height a coinbase scriptSig starts with, as Core writes
/// it (small heights as `OP_N`); `None` if it starts with anything else.
pub fn coinbase_height(script_sig: &Script) -> Option<u32> {
    let bytes = script_sig.as_bytes();
    let height = match *bytes.first()? {
        0x00 => 0,
        opcode @ 0x51..=0x60 => u32::from(opcode - 0x50),
        length @ 1..=5 => {
            let number = bytes.get(1..1 + usize::from(length))?;
            let (last, rest) = number.split_last()?;
            if last & 0x80 != 0 {
                return None; // negative
            }
            let magnitude = rest.iter().rev().fold(u64::from(*last), |value, byte| {
                value << 8 | u64::from(*byte)
            });
            u32::try_from(magnitude).ok()?
        }
        _ => return None,
    };
    // Only the canonical encoding counts (that is what Core compares).
    bytes
        .starts_with(bip34_prefix(height).as_bytes())
        .then_some(height)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::consensus::deserialize;
    use bitcoin::hashes::Hash as _;
    use bitcoin::Transaction;

    #[test]
    fn bip34_prefix_is_core_script_push() {
        for (height, bytes) in [
            (0u32, &[0x00][..]),
            (1, &[0x51]),
            (16, &[0x60]),
            (17, &[0x01, 0x11]),
            (127, &[0x01, 0x7f]),
            (128, &[0x02, 0x80, 0x00]),
            (255, &[0x02, 0xff, 0x00]),
            (256, &[0x02, 0x00, 0x01]),
            (32_767, &[0x02, 0xff, 0x7f]),
            (32_768, &[0x03, 0x00, 0x80, 0x00]),
            (413_567, &[0x03, 0x7f, 0x4f, 0x06]),
            (8_388_608, &[0x04, 0x00, 0x00, 0x80, 0x00]),
        ] {
            assert_eq!(bip34_prefix(height).as_bytes(), bytes, "height {height}");
            let mut script = bytes.to_vec();
            script.extend_from_slice(b"\x06/pool/");
            assert_eq!(
                coinbase_height(Script::from_bytes(&script)),
                Some(height),
                "height {height}"
            );
        }
    }

    #[test]
    fn coinbase_height_refuses_non_canonical_pushes() {
        // 1 as a one-byte push instead of OP_1, 17 padded, a negative number.
        for script in [
            &[0x01, 0x01][..],
            &[0x02, 0x11, 0x00],
            &[0x01, 0x81],
            &[0x4c, 0x01],
        ] {
            assert_eq!(
                coinbase_height(Script::from_bytes(script)),
                None,
                "{script:02x?}"
            );
        }
        assert_eq!(coinbase_height(Script::from_bytes(&[])), None);
        assert_eq!(coinbase_height(Script::from_bytes(&[0x03, 0x01])), None);
    }

    fn p2wpkh(byte: u8) -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([byte; 20]))
    }

    fn spec(height: u32, commitment: Option<&ScriptBuf>) -> CoinbaseSpec<'_> {
        CoinbaseSpec {
            height,
            tag: b"/example-pool/",
            extranonce_len: 12,
            payouts: vec![TxOut {
                value: Amount::from_sat(5_000_000_000),
                script_pubkey: p2wpkh(0x22),
            }],
            witness_commitment: commitment,
            coinbase_value: Amount::from_sat(5_000_000_000),
        }
    }

    #[test]
    fn layout_of_the_worked_share() {
        // worked-share-regtest.json's coinb1 and coinb2 come from exactly
        // this: height 109, tag /example-pool/, 12 extranonce bytes, one
        // p2wpkh payout of coinbasevalue, then the template's commitment.
        let commitment = ScriptBuf::from_hex(
            "6a24aa21a9ed3f93d83b99e4a75a59817541a6c517a19bd5bf69ccc57ef070eb1bb8142b71f3",
        )
        .unwrap();
        let mut spec = spec(109, Some(&commitment));
        spec.payouts[0].value = Amount::from_sat(5_000_060_700);
        spec.coinbase_value = Amount::from_sat(5_000_060_700);
        let parts = build(&spec).unwrap();
        assert_eq!(
            hex(&parts.coinb1),
            "02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1e016d0e2f6578616d706c652d706f6f6c2f0c"
        );
        assert_eq!(
            hex(&parts.coinb2),
            "ffffffff021cdf062a0100000016001422222222222222222222222222222222222222220000000000000000266a24aa21a9ed3f93d83b99e4a75a59817541a6c517a19bd5bf69ccc57ef070eb1bb8142b71f300000000"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn the_coinbase_parses_and_carries_the_height_the_way_core_checks_it() {
        for height in [1u32, 16, 17, 127, 128, 255, 256, 32767, 32768, 900_000] {
            let parts = build(&spec(height, None)).unwrap();
            let mut bytes = parts.coinb1.clone();
            bytes.extend_from_slice(&[0xab; 12]);
            bytes.extend_from_slice(&parts.coinb2);
            let tx: Transaction = deserialize(&bytes).unwrap();
            assert!(tx.is_coinbase());
            let expected = Builder::new().push_int(height as i64).into_bytes();
            assert!(
                tx.input[0].script_sig.as_bytes().starts_with(&expected),
                "{height}"
            );
            assert!(tx.input[0].script_sig.as_bytes().ends_with(&[0xab; 12]));
        }
    }

    #[test]
    fn refusals() {
        let mut overpaying = spec(200, None);
        overpaying.payouts[0].value = Amount::from_sat(5_000_000_001);
        assert!(matches!(
            build(&overpaying),
            Err(CoinbaseError::Overpays { .. })
        ));

        let mut no_payout = spec(200, None);
        no_payout.payouts.clear();
        assert_eq!(build(&no_payout), Err(CoinbaseError::NoPayout));

        let long_tag = [b'x'; 33];
        let mut tagged = spec(200, None);
        tagged.tag = &long_tag;
        assert_eq!(build(&tagged), Err(CoinbaseError::TagTooLong(33)));

        let mut many = spec(200, None);
        many.payouts = (0..20)
            .map(|index| TxOut {
                value: Amount::from_sat(1000),
                script_pubkey: p2wpkh(index),
            })
            .collect();
        assert!(matches!(build(&many), Err(CoinbaseError::TooLarge { .. })));

        let mut tiny = spec(200, None);
        tiny.extranonce_len = 1;
        assert_eq!(build(&tiny), Err(CoinbaseError::BadExtranonceLength(1)));

        // Outputs whose sum does not fit a u64: refused, not wrapped.
        let mut wrapping = spec(200, None);
        wrapping.coinbase_value = Amount::MAX;
        wrapping.payouts = vec![
            TxOut {
                value: Amount::MAX,
                script_pubkey: p2wpkh(1),
            },
            TxOut {
                value: Amount::from_sat(1),
                script_pubkey: p2wpkh(2),
            },
        ];
        assert_eq!(
            build(&wrapping),
            Err(CoinbaseError::Overpays {
                paid: Amount::MAX,
                allowed: Amount::MAX
            })
        );
    }
}
