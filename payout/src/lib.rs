//! Reward schemes as pure functions over integer satoshis.
//!
//! No I/O, no clock, no floating point on money: every amount is a [`Sats`]
//! (`u64`), and every product or quotient that decides an amount is computed
//! exactly with big integers and rounded down once, at the end. Difficulties
//! arrive as the `f64`s the pool measured; each is read as the exact binary
//! fraction it stands for (`mantissa × 2^exponent`), never rounded on the way.
//!
//! # Units
//!
//! - [`Sats`]: an amount in satoshis.
//! - [`Fee`]: the pool fee in basis points (1.25 % is 125), below 100 %.
//! - [`Score`]: the work a share proves, in blocks' worth of work:
//!   `share_difficulty / network_difficulty`, as a fixed-point integer with
//!   [`SCORE_BITS`] fractional bits, rounded down.
//!
//! # Schemes
//!
//! - **PPS** ([`pps_credit`]): every share is paid its expected value at
//!   once, `block_reward × share_difficulty / network_difficulty`, less the
//!   fee. The pool carries the luck.
//! - **FPPS** ([`fpps_credit`]): PPS where the block reward includes the
//!   transaction fees a block would have collected, averaged over recent
//!   templates by [`FeeAverage`].
//! - **SOLO** ([`solo_split`]): the coinbase pays the miner who found the
//!   block; the pool keeps only its fee.
//! - **PPLNS** ([`pplns_split`]): a found block's coinbase, less the fee, is
//!   split over the last shares worth `window_target` blocks of work, each
//!   share weighted by the network difficulty of its own time. A share
//!   straddling the window's edge counts only for its part inside. Since a
//!   share's expected pay does not depend on when in a round it came, pool
//!   hopping earns nothing (see `tests/hopping.rs`). While a young pool has
//!   fewer shares than the window, the whole reward goes to the shares there
//!   are: the pool never pockets the part of a window no one filled.
//!
//! # Rounding
//!
//! Each scheme rounds down exactly once, after the exact rational value:
//!
//! - PPS and FPPS: `floor(reward × share / network × (10000 − fee) / 10000)`.
//!   The sub-satoshi rest stays with the pool.
//! - [`Fee::of`]: `floor(amount × basis_points / 10000)`; SOLO pays the
//!   finder the rest, so the two always add up to the coinbase.
//! - PPLNS: each address gets `floor(miners_reward × its_score /
//!   window_score)`. The few satoshis these floors leave over (fewer than
//!   the number of addresses) go one each to the addresses with the largest
//!   fractional remainders; equal remainders go in ascending address order.
//!   The credits and the pool fee add up to the coinbase value exactly.
//!
//! # Example
//!
//! ```
//! use payout::{pplns_split, pps_credit, Fee, Score, WindowShare};
//!
//! let fee = Fee::from_basis_points(100)?; // 1 %
//! // PPS: 312,500,000 × 1000 / 1,000,000 × 0.99.
//! assert_eq!(pps_credit(312_500_000, 1_000.0, 1e6, fee)?, 309_375);
//!
//! // PPLNS over a 2-block window; the block's own share comes first.
//! let share = |id, address: &str, difficulty| WindowShare {
//!     id,
//!     address: address.to_string(),
//!     difficulty,
//!     network_difficulty: 100.0,
//! };
//! let shares = vec![share(3, "bob", 100.0), share(2, "alice", 100.0), share(1, "alice", 100.0)];
//! let split = pplns_split(1_000_000, fee, Score::from_blocks(2.0)?, shares)?;
//! // Bob's share and Alice's newer one fill the window; her older one is out.
//! assert_eq!(split.explain("alice").amount, 495_000);
//! assert_eq!(split.explain("bob").amount, 495_000);
//! assert_eq!(split.pool_fee, 10_000);
//! # Ok::<(), payout::PayoutError>(())
//! ```

mod difficulty;
mod error;
mod exact;
mod fee;
mod fpps;
mod pplns;
mod pps;
mod sats;
mod score;
mod solo;
mod subsidy;

#[cfg(test)]
mod reference;

pub use error::PayoutError;
pub use fee::{Fee, BASIS_POINTS_PER_WHOLE};
pub use fpps::{fpps_credit, FeeAverage};
pub use pplns::{pplns_split, Explanation, PplnsCredit, PplnsSplit, PplnsWindow, WindowShare};
pub use pps::pps_credit;
pub use sats::{group_thousands, Sats, COIN};
pub use score::{Score, SCORE_BITS};
pub use solo::{solo_split, SoloSplit};
pub use subsidy::{subsidy, INITIAL_SUBSIDY, MAINNET_HALVING_INTERVAL, REGTEST_HALVING_INTERVAL};
