//! The simnet's mempool: synthetic transactions with the fields
//! `getblocktemplate` lists, and Core's choice of which go into a block
//! (highest fee rate first, within the weight and sigop budgets).

use super::params::{TEMPLATE_MAX_SIGOPS_COST, TEMPLATE_MAX_WEIGHT};
use super::synthetic::{Synthetic, TxFactory};
use bitcoin::consensus::serialize;
use bitcoin::{Amount, OutPoint, Transaction, TxOut, Txid, Wtxid};
use std::collections::VecDeque;

/// A transaction waiting to be mined.
#[derive(Debug, Clone)]
pub struct MempoolTx {
    pub tx: Transaction,
    pub txid: Txid,
    pub wtxid: Wtxid,
    /// Serialized with its witness.
    pub data: Vec<u8>,
    pub fee: Amount,
    pub weight: u64,
    /// Sigop cost, as `getblocktemplate`'s `sigops` reports it.
    pub sigops: u32,
}

#[derive(Debug)]
pub struct Mempool {
    /// Oldest first.
    entries: VecDeque<MempoolTx>,
    factory: TxFactory,
}

impl Mempool {
    pub fn new(seed: u64) -> Mempool {
        Mempool {
            entries: VecDeque::new(),
            factory: TxFactory::new(seed),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn evict_oldest(&mut self) {
        self.entries.pop_front();
    }

    /// Adds a new synthetic transaction, final above `lock_height`, and
    /// returns the made-up outputs it spends.
    pub fn add_synthetic(&mut self, lock_height: u32) -> Vec<(OutPoint, TxOut)> {
        let Synthetic { tx, prevouts, fee } = self.factory.transaction(lock_height);
        let sigops = tx.total_sigop_cost(|outpoint| {
            prevouts
                .iter()
                .find(|(spent, _)| spent == outpoint)
                .map(|(_, prevout)| prevout.clone())
        });
        self.entries.push_back(MempoolTx {
            txid: tx.compute_txid(),
            wtxid: tx.compute_wtxid(),
            data: serialize(&tx),
            fee,
            weight: tx.weight().to_wu(),
            sigops: sigops as u32,
            tx,
        });
        prevouts
    }

    /// The transactions of the next block: best fee rate first, as many as
    /// fit the weight and sigop budgets Core's block assembler uses.
    pub fn select(&self) -> Vec<&MempoolTx> {
        let mut by_rate: Vec<&MempoolTx> = self.entries.iter().collect();
        // fee_a / weight_a > fee_b / weight_b, without division.
        by_rate.sort_by(|a, b| {
            let rate_a = u128::from(a.fee.to_sat()) * u128::from(b.weight);
            let rate_b = u128::from(b.fee.to_sat()) * u128::from(a.weight);
            rate_b.cmp(&rate_a)
        });
        let mut weight = 0;
        let mut sigops = 0;
        by_rate.retain(|tx| {
            let fits = weight + tx.weight <= TEMPLATE_MAX_WEIGHT
                && sigops + u64::from(tx.sigops) <= TEMPLATE_MAX_SIGOPS_COST;
            if fits {
                weight += tx.weight;
                sigops += u64::from(tx.sigops);
            }
            fits
        });
        by_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_orders_by_fee_rate_and_respects_the_weight_budget() {
        let mut mempool = Mempool::new(3);
        for _ in 0..50 {
            mempool.add_synthetic(10);
        }
        let selected = mempool.select();
        assert_eq!(selected.len(), 50);
        for pair in selected.windows(2) {
            let rate = |tx: &MempoolTx| tx.fee.to_sat() as f64 / tx.weight as f64;
            assert!(rate(pair[0]) >= rate(pair[1]));
        }

        // ~7,000 transactions of 500-1,000 WU do not fit in one block.
        let mut crowded = Mempool::new(4);
        for _ in 0..7_000 {
            crowded.add_synthetic(10);
        }
        let selected = crowded.select();
        let weight: u64 = selected.iter().map(|tx| tx.weight).sum();
        assert!(selected.len() < 7_000);
        assert!(weight <= TEMPLATE_MAX_WEIGHT);
        assert!(weight > TEMPLATE_MAX_WEIGHT - 2_000, "{weight}");
    }

    #[test]
    fn sigops_count_what_core_counts() {
        let mut mempool = Mempool::new(5);
        for _ in 0..8 {
            mempool.add_synthetic(10);
        }
        for entry in &mempool.entries {
            // Legacy sigops (x4): one per p2pkh output script. Witness
            // sigops: one per p2wpkh or p2sh-p2wpkh input, none for p2tr.
            let p2pkh_outputs = entry
                .tx
                .output
                .iter()
                .filter(|out| out.script_pubkey.is_p2pkh())
                .count() as u32;
            let signed_inputs = entry
                .tx
                .input
                .iter()
                .filter(|input| input.witness.len() == 2)
                .count() as u32;
            assert_eq!(
                entry.sigops,
                4 * p2pkh_outputs + signed_inputs,
                "{:?}",
                entry.tx
            );
        }
    }
}
