//! The unspent outputs of the active chain, and `ConnectBlock`'s checks
//! that need them: inputs exist and are mature, values add up, sigops stay
//! in bounds, the coinbase claims no more than subsidy plus fees.
//!
//! Synthetic mempool transactions spend made-up outpoints: those are put in
//! the set as plain coins when the transaction is created, so a block
//! carrying it spends something real to this chain (and cannot spend it
//! twice). Scripts are not run.

use super::params::{block_subsidy, COINBASE_MATURITY, MAX_BLOCK_SIGOPS_COST, MAX_MONEY};
use super::validate::Reject;
use bitcoin::{Amount, Block, OutPoint, TxOut};
use std::collections::HashMap;

/// Scripts longer than this are unspendable (`MAX_SCRIPT_SIZE`).
const MAX_SCRIPT_SIZE: usize = 10_000;

/// An unspent output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coin {
    pub output: TxOut,
    /// Height of the block that created it (0 for made-up coins).
    pub height: u32,
    pub is_coinbase: bool,
}

/// What connecting a block changed, to undo it in a reorg.
#[derive(Debug, Clone, Default)]
pub struct Undo {
    spent: Vec<(OutPoint, Coin)>,
    created: Vec<OutPoint>,
}

#[derive(Debug, Default)]
pub struct UtxoSet {
    coins: HashMap<OutPoint, Coin>,
}

impl UtxoSet {
    pub fn add(&mut self, outpoint: OutPoint, coin: Coin) {
        self.coins.insert(outpoint, coin);
    }

    #[cfg(test)]
    pub fn get(&self, outpoint: &OutPoint) -> Option<&Coin> {
        self.coins.get(outpoint)
    }

    pub fn len(&self) -> usize {
        self.coins.len()
    }

    /// Checks `block` (already through `CheckBlock`, so only its first
    /// transaction is a coinbase) against the set at `height` and applies
    /// it; on any refusal the set is left as it was.
    pub fn connect(&mut self, block: &Block, height: u32) -> Result<Undo, Reject> {
        // BIP 30 (enforced on regtest): never overwrite an unspent output.
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            if (0..tx.output.len() as u32)
                .any(|vout| self.coins.contains_key(&OutPoint::new(txid, vout)))
            {
                return Err(Reject::OverwritesUnspent);
            }
        }
        let mut view = View {
            base: &self.coins,
            spent: HashMap::new(),
            created: HashMap::new(),
        };
        let mut fees = Amount::ZERO;
        let mut sigop_cost: u64 = 0;
        for (index, tx) in block.txdata.iter().enumerate() {
            let txid = tx.compute_txid();
            let is_coinbase = index == 0;
            if !is_coinbase {
                let mut value_in = Amount::ZERO;
                for input in &tx.input {
                    let coin = view
                        .peek(&input.previous_output)
                        .ok_or(Reject::InputsMissingOrSpent)?;
                    if coin.is_coinbase && height - coin.height < COINBASE_MATURITY {
                        return Err(Reject::PrematureCoinbaseSpend);
                    }
                    value_in = value_in
                        .checked_add(coin.output.value)
                        .filter(|value| *value <= MAX_MONEY)
                        .ok_or(Reject::InputValuesOutOfRange)?;
                }
                // CheckTransaction bounded the outputs by MAX_MONEY.
                let value_out: Amount = tx.output.iter().map(|output| output.value).sum();
                let fee = value_in
                    .checked_sub(value_out)
                    .ok_or(Reject::InputsBelowOutputs)?;
                fees = fees
                    .checked_add(fee)
                    .filter(|fees| *fees <= MAX_MONEY)
                    .ok_or(Reject::InputValuesOutOfRange)?;
            }
            let cost =
                tx.total_sigop_cost(|outpoint| view.peek(outpoint).map(|c| c.output.clone()));
            sigop_cost = sigop_cost.saturating_add(cost as u64);
            if sigop_cost > MAX_BLOCK_SIGOPS_COST {
                return Err(Reject::TooManySigops);
            }
            if !is_coinbase {
                for input in &tx.input {
                    view.spend(&input.previous_output);
                }
            }
            for (vout, output) in tx.output.iter().enumerate() {
                let script = &output.script_pubkey;
                if script.is_op_return() || script.len() > MAX_SCRIPT_SIZE {
                    continue;
                }
                let coin = Coin {
                    output: output.clone(),
                    height,
                    is_coinbase,
                };
                view.created.insert(OutPoint::new(txid, vout as u32), coin);
            }
        }
        let coinbase_value: Amount = block.txdata[0].output.iter().map(|o| o.value).sum();
        let allowed = block_subsidy(height)
            .checked_add(fees)
            .ok_or(Reject::BadCoinbaseAmount)?;
        if coinbase_value > allowed {
            return Err(Reject::BadCoinbaseAmount);
        }

        let View { spent, created, .. } = view;
        for outpoint in spent.keys() {
            self.coins.remove(outpoint);
        }
        let undo = Undo {
            spent: spent.into_iter().collect(),
            created: created.keys().copied().collect(),
        };
        self.coins.extend(created);
        Ok(undo)
    }

    /// Reverts a block `connect` applied (the most recent one first).
    pub fn disconnect(&mut self, undo: Undo) {
        for outpoint in &undo.created {
            self.coins.remove(outpoint);
        }
        self.coins.extend(undo.spent);
    }
}

/// The set as seen halfway through a block.
struct View<'a> {
    base: &'a HashMap<OutPoint, Coin>,
    /// Coins of `base` spent by this block.
    spent: HashMap<OutPoint, Coin>,
    /// Coins created by this block and still unspent.
    created: HashMap<OutPoint, Coin>,
}

impl View<'_> {
    fn peek(&self, outpoint: &OutPoint) -> Option<&Coin> {
        if let Some(coin) = self.created.get(outpoint) {
            return Some(coin);
        }
        if self.spent.contains_key(outpoint) {
            return None;
        }
        self.base.get(outpoint)
    }

    fn spend(&mut self, outpoint: &OutPoint) {
        if self.created.remove(outpoint).is_none() {
            if let Some(coin) = self.base.get(outpoint) {
                self.spent.insert(*outpoint, coin.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::absolute::LockTime;
    use bitcoin::hashes::Hash;
    use bitcoin::transaction::Version;
    use bitcoin::ScriptBuf;
    use bitcoin::{Sequence, Transaction, TxIn, Txid, Witness};

    fn p2wpkh(byte: u8) -> ScriptBuf {
        let mut script = vec![0x00, 0x14];
        script.extend_from_slice(&[byte; 20]);
        ScriptBuf::from_bytes(script)
    }

    fn coinbase(height: u32, value: Amount) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::from_bytes(vec![0x03, height as u8, 0, 0, 0x51]),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value,
                script_pubkey: p2wpkh(0xcb),
            }],
        }
    }

    fn spend(outpoint: OutPoint, value: Amount) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[[0x30u8; 71].as_slice(), [0x02u8; 33].as_slice()]),
            }],
            output: vec![TxOut {
                value,
                script_pubkey: p2wpkh(0x11),
            }],
        }
    }

    fn block(txdata: Vec<Transaction>) -> Block {
        let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
        Block {
            header: genesis.header,
            txdata,
        }
    }

    fn made_up(set: &mut UtxoSet, byte: u8, sats: u64) -> OutPoint {
        let outpoint = OutPoint::new(Txid::from_byte_array([byte; 32]), 0);
        set.add(
            outpoint,
            Coin {
                output: TxOut {
                    value: Amount::from_sat(sats),
                    script_pubkey: p2wpkh(byte),
                },
                height: 0,
                is_coinbase: false,
            },
        );
        outpoint
    }

    #[test]
    fn fees_pay_the_coinbase_and_spent_coins_are_gone() {
        let mut set = UtxoSet::default();
        let outpoint = made_up(&mut set, 1, 100_000);
        let subsidy = block_subsidy(5);
        let fee = Amount::from_sat(3_000);
        let tx = spend(outpoint, Amount::from_sat(97_000));
        let over = block(vec![
            coinbase(5, subsidy + fee + Amount::from_sat(1)),
            tx.clone(),
        ]);
        assert_eq!(
            set.connect(&over, 5).unwrap_err(),
            Reject::BadCoinbaseAmount
        );
        assert_eq!(set.len(), 1, "a refused block changes nothing");

        let good = block(vec![coinbase(5, subsidy + fee), tx.clone()]);
        let undo = set.connect(&good, 5).unwrap();
        assert!(set.get(&outpoint).is_none());
        assert_eq!(set.len(), 2, "the coinbase output and the payment");

        // The same transaction again would overwrite its unspent outputs.
        let again = block(vec![coinbase(6, subsidy), tx]);
        assert_eq!(
            set.connect(&again, 6).unwrap_err(),
            Reject::OverwritesUnspent
        );
        // Another spend of the same coin: it is gone.
        let double = block(vec![
            coinbase(6, subsidy),
            spend(outpoint, Amount::from_sat(90_000)),
        ]);
        assert_eq!(
            set.connect(&double, 6).unwrap_err(),
            Reject::InputsMissingOrSpent
        );

        set.disconnect(undo);
        assert_eq!(set.len(), 1);
        assert!(set.get(&outpoint).is_some());
    }

    #[test]
    fn outputs_above_inputs_and_immature_coinbases_are_refused() {
        let mut set = UtxoSet::default();
        let outpoint = made_up(&mut set, 2, 10_000);
        let greedy = block(vec![
            coinbase(3, block_subsidy(3)),
            spend(outpoint, Amount::from_sat(10_001)),
        ]);
        assert_eq!(
            set.connect(&greedy, 3).unwrap_err(),
            Reject::InputsBelowOutputs
        );

        let first = block(vec![coinbase(1, block_subsidy(1))]);
        let coinbase_txid = first.txdata[0].compute_txid();
        set.connect(&first, 1).unwrap();
        let young = OutPoint::new(coinbase_txid, 0);
        let early = block(vec![
            coinbase(100, block_subsidy(100)),
            spend(young, Amount::from_sat(1_000)),
        ]);
        assert_eq!(
            set.connect(&early, 100).unwrap_err(),
            Reject::PrematureCoinbaseSpend
        );
        let mature = block(vec![
            coinbase(101, block_subsidy(101)),
            spend(young, Amount::from_sat(1_000)),
        ]);
        assert!(set.connect(&mature, 101).is_ok());
    }

    #[test]
    fn a_block_may_spend_its_own_outputs_once() {
        let mut set = UtxoSet::default();
        let outpoint = made_up(&mut set, 3, 50_000);
        let parent = spend(outpoint, Amount::from_sat(40_000));
        let child = spend(
            OutPoint::new(parent.compute_txid(), 0),
            Amount::from_sat(30_000),
        );
        let chain = block(vec![
            coinbase(7, block_subsidy(7) + Amount::from_sat(20_000)),
            parent.clone(),
            child.clone(),
        ]);
        let mut copy = UtxoSet::default();
        made_up(&mut copy, 3, 50_000);
        assert!(copy.connect(&chain, 7).is_ok());

        let mut double = child.clone();
        double.output[0].value = Amount::from_sat(29_000);
        let twice = block(vec![coinbase(7, block_subsidy(7)), parent, child, double]);
        assert_eq!(
            set.connect(&twice, 7).unwrap_err(),
            Reject::InputsMissingOrSpent
        );
    }
}
