//! PPLNS: a found block is split over the last N blocks' worth of shares.

mod explanation;
mod largest_remainder;
mod window;

#[cfg(test)]
mod tests;

pub use explanation::Explanation;

use crate::{Fee, PayoutError, Sats, Score};
use largest_remainder::split_by_weight;

/// A share as the PPLNS window sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowShare {
    /// The share's id in the pool's ledger (reported as `oldest_share_id`).
    pub id: i64,
    /// Who is paid for it.
    pub address: String,
    pub difficulty: f64,
    /// The network difficulty when the share was found: a share weighs the
    /// work it proved against the chain of its own time.
    pub network_difficulty: f64,
}

/// How a found block's coinbase is split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PplnsSplit {
    pub coinbase_value: Sats,
    pub fee: Fee,
    /// `fee.of(coinbase_value)`; the whole coinbase when no share has any score.
    pub pool_fee: Sats,
    /// `coinbase_value − pool_fee`: what the credits add up to.
    pub miners_reward: Sats,
    /// The window size asked for, in score units.
    pub window_target: Score,
    /// The sum of the (possibly partial) scores actually used.
    pub window_score: Score,
    /// Whether the shares reached the target.
    pub full_window: bool,
    pub shares_used: u64,
    /// The oldest share that counted, possibly in part.
    pub oldest_share_id: Option<i64>,
    /// One per address in the window, sorted by address.
    pub credits: Vec<PplnsCredit>,
}

/// One address's pay from a PPLNS split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PplnsCredit {
    pub address: String,
    /// How many of its shares counted (the straddling one included).
    pub shares: u64,
    /// The part of the window score that is its work.
    pub score: Score,
    pub amount: Sats,
}

/// Splits a found block's coinbase over the last `window_target` of work.
///
/// `shares` come newest first (the block's own share first). They are
/// summed from newest to oldest until their scores reach `window_target`;
/// the share that straddles the window's edge counts only for the part
/// inside it, and older shares are not read at all. Each share's score uses
/// the network difficulty of its own time, so shares before and after a
/// retarget weigh what their work was worth then.
///
/// The pool takes `fee.of(coinbase_value)`; the rest, `miners_reward`, is
/// split over the window. If the shares run out before the target (a young
/// pool), the whole `miners_reward` still goes to the shares there are:
/// the pool keeps only its fee, never the unfilled part of the window.
///
/// **Rounding.** Each address gets `floor(miners_reward × its_score /
/// window_score)`. The satoshis left over (fewer than the number of
/// addresses) go one each to the addresses with the largest fractional
/// remainder of that division; equal remainders go to the addresses in
/// ascending order. So every credit is within one satoshi of its exact
/// share, and `sum(credits) + pool_fee == coinbase_value` always.
///
/// **No work.** With no shares at all, or only shares of zero score,
/// nobody can be paid: `pool_fee` is the whole coinbase and
/// `miners_reward` is zero (credits are empty, or list the zero-score
/// addresses with zero amounts).
///
/// Refuses a zero `window_target` and, naming its id, any share inside the
/// window with a bad difficulty.
pub fn pplns_split(
    coinbase_value: Sats,
    fee: Fee,
    window_target: Score,
    shares: impl IntoIterator<Item = WindowShare>,
) -> Result<PplnsSplit, PayoutError> {
    let mut window = PplnsWindow::new(window_target)?;
    window.fill(shares)?;
    Ok(window.split(coinbase_value, fee))
}

/// A PPLNS window filled one share at a time, for a caller that reads
/// shares in pages from a database: it holds one tally per address, never
/// the shares, so a window of millions of shares takes little memory.
/// [`pplns_split`] is the same walk over an iterator.
///
/// ```
/// use payout::{pplns_split, Fee, PplnsWindow, Score, WindowShare};
/// # fn main() -> Result<(), payout::PayoutError> {
/// let shares = (1..=3).rev().map(|id| WindowShare {
///     id,
///     address: format!("addr{id}"),
///     difficulty: 4.0,
///     network_difficulty: 8.0,
/// });
/// let target = Score::from_blocks(1.0)?;
/// let mut window = PplnsWindow::new(target)?;
/// for share in shares.clone() {
///     if window.is_full() {
///         break;
///     }
///     window.push(share)?;
/// }
/// let fee = Fee::from_basis_points(100)?;
/// assert_eq!(window.split(1_000, fee), pplns_split(1_000, fee, target, shares)?);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PplnsWindow {
    target: Score,
    window: window::Window,
}

impl PplnsWindow {
    /// An empty window of `target` score; refuses zero.
    pub fn new(target: Score) -> Result<PplnsWindow, PayoutError> {
        if target == Score::ZERO {
            return Err(PayoutError::EmptyWindowTarget);
        }
        Ok(PplnsWindow {
            target,
            window: window::Window::default(),
        })
    }

    /// Whether the shares so far reach the target: older ones would not
    /// count, so reading can stop.
    pub fn is_full(&self) -> bool {
        self.window.full
    }

    /// Adds the next older share (nothing, once full). Refuses, naming its
    /// id, a share with a bad difficulty.
    pub fn push(&mut self, share: WindowShare) -> Result<(), PayoutError> {
        window::add(&mut self.window, self.target, share)
    }

    /// Pushes `shares` (newest first) until the window is full; no share
    /// older than the one that fills it is read, so `shares` may be a lazy
    /// cursor over a long history.
    fn fill(&mut self, shares: impl IntoIterator<Item = WindowShare>) -> Result<(), PayoutError> {
        let mut shares = shares.into_iter();
        while !self.is_full() {
            let Some(share) = shares.next() else {
                break;
            };
            self.push(share)?;
        }
        Ok(())
    }

    /// The split of `coinbase_value` over the shares pushed: see
    /// [`pplns_split`] for the fee, the young-pool rule and the rounding.
    pub fn split(self, coinbase_value: Sats, fee: Fee) -> PplnsSplit {
        let window = self.window;
        let pool_fee = if window.score == Score::ZERO {
            coinbase_value
        } else {
            fee.of(coinbase_value)
        };
        let miners_reward = coinbase_value - pool_fee;

        let weights: Vec<u128> = window
            .by_address
            .values()
            .map(|tally| tally.score.raw())
            .collect();
        let amounts = split_by_weight(miners_reward, &weights);
        let credits = window
            .by_address
            .into_iter()
            .zip(amounts)
            .map(|((address, tally), amount)| PplnsCredit {
                address,
                shares: tally.shares,
                score: tally.score,
                amount,
            })
            .collect();

        PplnsSplit {
            coinbase_value,
            fee,
            pool_fee,
            miners_reward,
            window_target: self.target,
            window_score: window.score,
            full_window: window.full,
            shares_used: window.shares_used,
            oldest_share_id: window.oldest_share_id,
            credits,
        }
    }
}

impl PplnsSplit {
    /// The credit of `address`, if it had shares in the window.
    pub fn credit(&self, address: &str) -> Option<&PplnsCredit> {
        self.credits
            .binary_search_by(|credit| credit.address.as_str().cmp(address))
            .ok()
            .map(|index| &self.credits[index])
    }
}
