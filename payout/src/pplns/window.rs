//! Walking the PPLNS window: which shares count, and for how much.

use std::collections::BTreeMap;

use super::WindowShare;
use crate::{PayoutError, Score};

/// One address's part of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AddressTally {
    pub(crate) shares: u64,
    pub(crate) score: Score,
}

/// The shares that counted, summed by address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Window {
    /// By address, so the split comes out sorted and ties break by address.
    pub(crate) by_address: BTreeMap<String, AddressTally>,
    pub(crate) score: Score,
    pub(crate) full: bool,
    pub(crate) shares_used: u64,
    pub(crate) oldest_share_id: Option<i64>,
}

/// Adds one share (the next older) to `window` unless it is full already.
/// The share that crosses `target` counts only for the part that reaches
/// it, so the window's score never exceeds `target` and cannot overflow.
pub(crate) fn add(
    window: &mut Window,
    target: Score,
    share: WindowShare,
) -> Result<(), PayoutError> {
    let still_open = target.saturating_sub(window.score);
    if still_open == Score::ZERO {
        window.full = true;
        return Ok(());
    }
    let score = Score::of_share(share.difficulty, share.network_difficulty).map_err(|reason| {
        PayoutError::InvalidWindowShare {
            id: share.id,
            source: Box::new(reason),
        }
    })?;
    let counted = score.min(still_open);
    window.score = window.score.saturating_add(counted);
    // Counts of database rows: saturating, never a panic or a wrap.
    window.shares_used = window.shares_used.saturating_add(1);
    window.oldest_share_id = Some(share.id);
    window.full = window.score >= target;
    let tally = window.by_address.entry(share.address).or_default();
    tally.shares = tally.shares.saturating_add(1);
    tally.score = tally.score.saturating_add(counted);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window `pplns_split` walks: newest first, stopping once full.
    fn walk(target: Score, shares: Vec<WindowShare>) -> Result<Window, PayoutError> {
        let mut window = super::super::PplnsWindow::new(target)?;
        window.fill(shares)?;
        Ok(window.window)
    }

    fn share(id: i64, address: &str, difficulty: f64, network_difficulty: f64) -> WindowShare {
        WindowShare {
            id,
            address: address.to_string(),
            difficulty,
            network_difficulty,
        }
    }

    #[test]
    fn stops_reading_once_the_window_is_full() -> Result<(), PayoutError> {
        // Two shares of exactly one block each fill a 2-block window; the
        // third must not even be read (it would be an error if it were).
        let shares = vec![
            share(3, "a", 8.0, 8.0),
            share(2, "b", 8.0, 8.0),
            share(1, "c", f64::NAN, 8.0),
        ];
        let window = walk(Score::from_blocks(2.0)?, shares)?;
        assert!(window.full);
        assert_eq!(window.shares_used, 2);
        assert_eq!(window.oldest_share_id, Some(2));
        assert_eq!(window.score, Score::from_blocks(2.0)?);
        Ok(())
    }

    #[test]
    fn a_share_bigger_than_the_window_fills_it_alone() -> Result<(), PayoutError> {
        // Regtest: one share worth ~2 billion blocks against a 2-block window.
        let window = walk(Score::from_blocks(2.0)?, vec![share(9, "a", 1.0, 4.6e-10)])?;
        assert!(window.full);
        assert_eq!(window.by_address["a"].score, Score::from_blocks(2.0)?);
        Ok(())
    }

    #[test]
    fn a_bad_share_inside_the_window_is_named() {
        let outcome = walk(
            Score::MAX,
            vec![share(1, "a", 1.0, 8.0), share(7, "b", -1.0, 8.0)],
        );
        assert_eq!(
            outcome,
            Err(PayoutError::InvalidWindowShare {
                id: 7,
                source: Box::new(PayoutError::InvalidShareDifficulty { value: -1.0 })
            })
        );
    }
}
