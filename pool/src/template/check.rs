//! What a decoded template must satisfy before the pool mines on it.
//!
//! Bitcoin Core's templates pass all of this; a template that does not is a
//! bug, a corrupted answer or a node on another chain, and mining on it
//! would waste every miner's work on a block no node accepts (or, with an
//! absurd `coinbasevalue`, credit miners money that never comes). The
//! [`TemplateGate`](super::gate::TemplateGate) runs [`check`] on every
//! template of every source and keeps the last good one when it fails.
//!
//! The consensus numbers are the same on every network but two, the
//! proof-of-work limit and the halving interval, which [`ChainRules`]
//! holds.

use super::simnet::params::{
    MAX_BLOCK_SIGOPS_COST, MAX_BLOCK_WEIGHT, MAX_FUTURE_BLOCK_TIME, MIN_BLOCK_VERSION,
    WITNESS_SCALE_FACTOR,
};
use super::simnet::validate::{witness_commitment_script, WITNESS_COMMITMENT_HEADER};
use super::{Template, TemplateError};
use crate::coinbase::MAX_COINBASE_SIZE;
use crate::config::Network;
use bitcoin::hashes::Hash as _;
use bitcoin::{Amount, Wtxid};
use std::collections::HashSet;
use stratum::{NBits, Target};

/// `MAX_BLOCK_SERIALIZED_SIZE`.
const MAX_BLOCK_SIZE: u64 = 4_000_000;
/// `MIN_TRANSACTION_WEIGHT`: a transaction is at least 60 bytes without
/// witness (one input, one output).
const MIN_TRANSACTION_WEIGHT: u64 = WITNESS_SCALE_FACTOR * 60;
/// The coinbase's witness: marker and flag, one stack item of 32 bytes.
const COINBASE_WITNESS_BYTES: u64 = 2 + 1 + 1 + 32;
/// Header (80 bytes), the transaction count (3 bytes up to 65535) and the
/// largest coinbase the pool builds.
const BLOCK_OVERHEAD_BYTES: u64 = 80 + 3 + MAX_COINBASE_SIZE as u64 + COINBASE_WITNESS_BYTES;
const BLOCK_OVERHEAD_WEIGHT: u64 =
    WITNESS_SCALE_FACTOR * (80 + 3 + MAX_COINBASE_SIZE as u64) + COINBASE_WITNESS_BYTES;
/// What the template's transactions may weigh, and hold, next to those.
pub const MAX_TRANSACTIONS_WEIGHT: u64 = MAX_BLOCK_WEIGHT - BLOCK_OVERHEAD_WEIGHT;
const MAX_TRANSACTIONS_SIZE: u64 = MAX_BLOCK_SIZE - BLOCK_OVERHEAD_BYTES;
/// The most transactions that fit next to the coinbase.
pub const MAX_TRANSACTIONS: usize = (MAX_TRANSACTIONS_WEIGHT / MIN_TRANSACTION_WEIGHT) as usize;
/// Sigop cost Core's block assembler leaves for the coinbase (ours has at
/// most two payout outputs: 8).
const COINBASE_SIGOPS_RESERVE: u64 = 400;
pub const MAX_TRANSACTIONS_SIGOPS: u64 = MAX_BLOCK_SIGOPS_COST - COINBASE_SIGOPS_RESERVE;
/// A witness commitment output script: header and a 32-byte hash.
const WITNESS_COMMITMENT_LEN: usize = WITNESS_COMMITMENT_HEADER.len() + 32;

/// What differs between networks: the easiest target a block may have and
/// how often the subsidy halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainRules {
    /// `powLimit` in compact form (exact for every network's limit).
    pow_limit: NBits,
    halving_interval: u32,
}

impl ChainRules {
    pub fn for_network(network: Network) -> ChainRules {
        match network {
            Network::Mainnet | Network::Testnet4 => ChainRules {
                pow_limit: NBits(0x1d00_ffff),
                halving_interval: payout::MAINNET_HALVING_INTERVAL,
            },
            // Every signet, the default and custom ones, shares this limit.
            Network::Signet => ChainRules {
                pow_limit: NBits(0x1e03_77ae),
                halving_interval: payout::MAINNET_HALVING_INTERVAL,
            },
            Network::Regtest => ChainRules::regtest(),
        }
    }

    /// Regtest's, which the simnet follows.
    pub fn regtest() -> ChainRules {
        ChainRules {
            pow_limit: NBits(0x207f_ffff),
            halving_interval: payout::REGTEST_HALVING_INTERVAL,
        }
    }

    pub fn pow_limit(&self) -> NBits {
        self.pow_limit
    }

    /// The subsidy of a block at `height`.
    pub fn subsidy(&self, height: u32) -> Amount {
        Amount::from_sat(payout::subsidy(height, self.halving_interval))
    }

    fn pow_limit_target(&self) -> Target {
        // The limits above are valid compact targets; MAX never matches a
        // real target, so a mistake there would refuse nothing.
        self.pow_limit.to_target().unwrap_or(Target::MAX)
    }
}

/// Checks `template` against the consensus rules it can be judged by alone,
/// at `now` (unix seconds). The first broken rule is the error.
pub fn check(template: &Template, rules: &ChainRules, now: u32) -> Result<(), TemplateError> {
    check_header_fields(template, rules, now)?;
    let totals = Totals::of(template)?;
    check_value(template, rules, totals.fees)?;
    check_witness_commitment(template)
}

fn check_header_fields(
    template: &Template,
    rules: &ChainRules,
    now: u32,
) -> Result<(), TemplateError> {
    if template.height == 0 {
        return Err(TemplateError::GenesisHeight);
    }
    if template.previous_block_hash.to_byte_array() == [0; 32] {
        return Err(TemplateError::NoPreviousBlock);
    }
    // The header's nVersion is a signed field: top bit set reads negative.
    let version = template.version.0.cast_signed();
    if version < MIN_BLOCK_VERSION {
        return Err(TemplateError::VersionTooLow(version));
    }
    let target = template
        .nbits
        .to_target()
        .map_err(|error| TemplateError::InvalidTarget(template.nbits.0, error))?;
    if target > rules.pow_limit_target() {
        return Err(TemplateError::TooEasy {
            bits: template.nbits.0,
            limit: rules.pow_limit.0,
        });
    }
    if template.curtime < template.mintime {
        return Err(TemplateError::TimeBeforeMintime {
            curtime: template.curtime,
            mintime: template.mintime,
        });
    }
    if u64::from(template.curtime) > u64::from(now) + u64::from(MAX_FUTURE_BLOCK_TIME) {
        return Err(TemplateError::TimeInFuture {
            curtime: template.curtime,
            now,
        });
    }
    Ok(())
}

/// The transactions added up, each sum checked against its block limit as
/// it grows (so none can wrap, whatever the template claims).
struct Totals {
    fees: Amount,
}

impl Totals {
    fn of(template: &Template) -> Result<Totals, TemplateError> {
        let count = template.transactions.len();
        if count > MAX_TRANSACTIONS {
            return Err(TemplateError::TooManyTransactions {
                count,
                max: MAX_TRANSACTIONS,
            });
        }
        let mut fees = Some(Amount::ZERO);
        let mut weight = 0u64;
        let mut bytes = 0u64;
        let mut sigops = 0u64;
        let mut txids = HashSet::with_capacity(count);
        for (index, tx) in template.transactions.iter().enumerate() {
            if tx.data.is_empty() {
                return Err(TemplateError::EmptyTransaction { index });
            }
            if !txids.insert(tx.txid) {
                return Err(TemplateError::DuplicateTransaction { txid: tx.txid });
            }
            fees = fees.and_then(|fees| fees.checked_add(tx.fee));
            // Saturating: one absurd term cannot wrap a sum back under
            // its limit.
            weight = weight.saturating_add(tx.weight);
            bytes = bytes.saturating_add(tx.data.len() as u64);
            sigops = sigops.saturating_add(u64::from(tx.sigops));
        }
        if weight > MAX_TRANSACTIONS_WEIGHT {
            return Err(TemplateError::TooHeavy {
                weight,
                max: MAX_TRANSACTIONS_WEIGHT,
            });
        }
        if bytes > MAX_TRANSACTIONS_SIZE {
            return Err(TemplateError::TooLarge {
                bytes,
                max: MAX_TRANSACTIONS_SIZE,
            });
        }
        if sigops > MAX_TRANSACTIONS_SIGOPS {
            return Err(TemplateError::TooManySigops {
                sigops,
                max: MAX_TRANSACTIONS_SIGOPS,
            });
        }
        match fees {
            Some(fees) if fees <= template.coinbase_value => Ok(Totals { fees }),
            fees => Err(TemplateError::FeesExceedValue {
                fees,
                value: template.coinbase_value,
            }),
        }
    }
}

/// `coinbasevalue` within the cap and within subsidy plus fees (Core's
/// `bad-cb-amount` otherwise).
fn check_value(template: &Template, rules: &ChainRules, fees: Amount) -> Result<(), TemplateError> {
    let value = template.coinbase_value;
    if value > Amount::MAX_MONEY {
        return Err(TemplateError::ValueAboveMoney { value });
    }
    let subsidy = rules.subsidy(template.height);
    // Both are at most 21 million BTC here: their sum fits.
    if subsidy
        .checked_add(fees)
        .is_none_or(|reward| value > reward)
    {
        return Err(TemplateError::ValueAboveReward {
            value,
            subsidy,
            fees,
        });
    }
    Ok(())
}

/// The commitment is BIP 141's output, committing to exactly these
/// transactions with the zero witness reserved value the pool's coinbase
/// carries; it must be there when any transaction has a witness.
fn check_witness_commitment(template: &Template) -> Result<(), TemplateError> {
    let Some(commitment) = &template.witness_commitment else {
        let has_witness = template
            .transactions
            .iter()
            .any(|tx| tx.txid.to_byte_array() != tx.wtxid.to_byte_array());
        return if has_witness {
            Err(TemplateError::WitnessCommitmentMissing)
        } else {
            Ok(())
        };
    };
    let bytes = commitment.as_bytes();
    if bytes.len() != WITNESS_COMMITMENT_LEN || !bytes.starts_with(&WITNESS_COMMITMENT_HEADER) {
        return Err(TemplateError::WitnessCommitmentMalformed {
            script: hex::encode(bytes),
        });
    }
    let wtxids: Vec<Wtxid> = template.transactions.iter().map(|tx| tx.wtxid).collect();
    let expected = witness_commitment_script(&wtxids);
    if expected.as_bytes() != bytes {
        return Err(TemplateError::WitnessCommitmentWrong {
            found: hex::encode(bytes),
            expected: hex::encode(expected.as_bytes()),
        });
    }
    Ok(())
}
