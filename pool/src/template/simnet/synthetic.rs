//! Made-up mempool transactions that look like a wallet's: p2wpkh, p2tr key
//! path, p2sh-p2wpkh and legacy p2pkh spends with realistic sizes,
//! signature-shaped witness data and fees of a few thousand satoshis.
//! They spend made-up outpoints (returned with them so the chain can treat
//! them as unspent coins); no signature would verify, no script is run.

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::transaction::Version;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};

/// The kinds of output a synthetic transaction spends and pays to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    P2wpkh,
    P2pkh,
    P2tr,
    P2shP2wpkh,
}

const KINDS: [Kind; 4] = [Kind::P2wpkh, Kind::P2pkh, Kind::P2tr, Kind::P2shP2wpkh];

/// A synthetic transaction and the outputs it spends.
#[derive(Debug, Clone)]
pub struct Synthetic {
    pub tx: Transaction,
    pub prevouts: Vec<(OutPoint, TxOut)>,
    pub fee: Amount,
}

/// Deterministic source of synthetic transactions (splitmix64).
#[derive(Debug, Clone)]
pub struct TxFactory {
    state: u64,
    made: u64,
}

impl TxFactory {
    pub fn new(seed: u64) -> TxFactory {
        TxFactory {
            state: seed,
            made: 0,
        }
    }

    /// The next transaction, final in any block above `lock_height` (like
    /// Core's wallet, it sets nLockTime to the current height).
    pub fn transaction(&mut self, lock_height: u32) -> Synthetic {
        let spend_kind = KINDS[(self.made % 4) as usize];
        let input_count = if self.made % 3 == 2 { 2 } else { 1 };
        self.made += 1;

        let mut prevouts = Vec::with_capacity(input_count);
        let mut input = Vec::with_capacity(input_count);
        for _ in 0..input_count {
            let outpoint =
                OutPoint::new(Txid::from_byte_array(self.bytes()), self.range(0, 3) as u32);
            let value = Amount::from_sat(self.range(200_000, 100_000_000));
            let script_pubkey = self.output_script(spend_kind);
            prevouts.push((
                outpoint,
                TxOut {
                    value,
                    script_pubkey,
                },
            ));
            input.push(self.input(outpoint, spend_kind));
        }
        let output = (0..2)
            .map(|_| {
                let kind = KINDS[self.range(0, 3) as usize];
                TxOut {
                    value: Amount::ZERO,
                    script_pubkey: self.output_script(kind),
                }
            })
            .collect();
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::from_consensus(lock_height),
            input,
            output,
        };

        // Values do not change the size: pick the fee, then split the rest.
        let fee = Amount::from_sat(self.range(10, 30) * tx.vsize() as u64);
        let value_in: Amount = prevouts.iter().map(|(_, prevout)| prevout.value).sum();
        let spendable = value_in - fee;
        let payment = Amount::from_sat(self.range(spendable.to_sat() / 10, spendable.to_sat() / 2));
        tx.output[0].value = payment;
        tx.output[1].value = spendable - payment;
        Synthetic { tx, prevouts, fee }
    }

    fn input(&mut self, previous_output: OutPoint, kind: Kind) -> TxIn {
        let (script_sig, witness) = match kind {
            Kind::P2wpkh => (
                ScriptBuf::new(),
                Witness::from_slice(&[self.der_signature().as_slice(), &self.pubkey()]),
            ),
            Kind::P2tr => (ScriptBuf::new(), Witness::from_slice(&[self.bytes::<64>()])),
            Kind::P2pkh => {
                let mut script = vec![71];
                script.extend_from_slice(&self.der_signature());
                script.push(33);
                script.extend_from_slice(&self.pubkey());
                (ScriptBuf::from_bytes(script), Witness::new())
            }
            Kind::P2shP2wpkh => {
                // A push of the redeem script `0014<hash160>`.
                let mut script = vec![22, 0x00, 0x14];
                script.extend_from_slice(&self.bytes::<20>());
                (
                    ScriptBuf::from_bytes(script),
                    Witness::from_slice(&[self.der_signature().as_slice(), &self.pubkey()]),
                )
            }
        };
        TxIn {
            previous_output,
            script_sig,
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness,
        }
    }

    fn output_script(&mut self, kind: Kind) -> ScriptBuf {
        let mut script = match kind {
            Kind::P2wpkh => vec![0x00, 0x14],
            Kind::P2tr => vec![0x51, 0x20],
            Kind::P2pkh => vec![0x76, 0xa9, 0x14],
            Kind::P2shP2wpkh => vec![0xa9, 0x14],
        };
        match kind {
            Kind::P2tr => script.extend_from_slice(&self.bytes::<32>()),
            _ => script.extend_from_slice(&self.bytes::<20>()),
        }
        match kind {
            Kind::P2pkh => script.extend_from_slice(&[0x88, 0xac]),
            Kind::P2shP2wpkh => script.push(0x87),
            _ => {}
        }
        ScriptBuf::from_bytes(script)
    }

    /// A 71-byte DER signature shape: `30 44 02 20 r 02 20 s` + SIGHASH_ALL.
    fn der_signature(&mut self) -> Vec<u8> {
        let mut signature = vec![0x30, 0x44];
        for _ in 0..2 {
            let mut scalar = self.bytes::<32>();
            scalar[0] = (scalar[0] & 0x7f) | 0x01; // positive, no padding byte
            signature.extend_from_slice(&[0x02, 0x20]);
            signature.extend_from_slice(&scalar);
        }
        signature.push(0x01);
        signature
    }

    /// A compressed public key shape.
    fn pubkey(&mut self) -> [u8; 33] {
        let mut key = [0u8; 33];
        key[0] = 0x02 | (self.next() & 1) as u8;
        key[1..].copy_from_slice(&self.bytes::<32>());
        key
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `low..=high`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut bytes = [0u8; N];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes()[..chunk.len()]);
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::consensus::{deserialize, serialize};

    #[test]
    fn transactions_are_well_formed_and_varied() {
        let mut factory = TxFactory::new(7);
        let mut segwit = 0;
        let mut legacy = 0;
        for _ in 0..40 {
            let synthetic = factory.transaction(100);
            let tx = &synthetic.tx;
            // Round trip through rust-bitcoin's encoding.
            let back: Transaction = deserialize(&serialize(tx)).unwrap();
            assert_eq!(&back, tx);
            assert_eq!(tx.input.len(), synthetic.prevouts.len());
            let value_in: Amount = synthetic.prevouts.iter().map(|(_, out)| out.value).sum();
            let value_out: Amount = tx.output.iter().map(|out| out.value).sum();
            assert_eq!(value_in - value_out, synthetic.fee);
            let rate = synthetic.fee.to_sat() / tx.vsize() as u64;
            assert!((10..=30).contains(&rate), "{rate} sat/vB");
            assert!(
                (1_000..=20_000).contains(&synthetic.fee.to_sat()),
                "{}",
                synthetic.fee
            );
            assert!(tx
                .output
                .iter()
                .all(|out| out.value >= Amount::from_sat(10_000)));
            assert_eq!(super::super::validate::check_transaction(tx), Ok(()));
            if tx.input.iter().any(|input| !input.witness.is_empty()) {
                assert_ne!(
                    tx.compute_txid().to_byte_array(),
                    tx.compute_wtxid().to_byte_array()
                );
                segwit += 1;
            } else {
                assert_eq!(
                    tx.compute_txid().to_byte_array(),
                    tx.compute_wtxid().to_byte_array()
                );
                legacy += 1;
            }
        }
        assert_eq!((segwit, legacy), (30, 10));
    }

    #[test]
    fn sizes_look_like_real_spends() {
        let mut factory = TxFactory::new(1);
        // p2wpkh, p2pkh (one input each), p2tr (two inputs), p2sh-p2wpkh.
        let weights: Vec<u64> = (0..4)
            .map(|_| factory.transaction(5).tx.weight().to_wu())
            .collect();
        // A p2wpkh 1-in 2-out spend is 561 WU in Core's capture
        // (gbt-regtest-6segwit); other output types are a little larger.
        assert!((561..=657).contains(&weights[0]), "{weights:?}");
        assert!((880..=976).contains(&weights[1]), "{weights:?}");
        assert!((750..=846).contains(&weights[2]), "{weights:?}");
        assert!((653..=749).contains(&weights[3]), "{weights:?}");
    }
}
