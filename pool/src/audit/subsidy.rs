//! Which block subsidy a PPS share was paid on. The ledger does not keep
//! a share's height, but the pool's own blocks bound it: a share accepted
//! after a block of height h is for height h or later, one accepted
//! before a block of height h for height h or earlier. One height of
//! slack on each side covers nodes' clocks and jobs still in flight, so
//! only a share right at a halving has two candidates.

use crate::ledger::audit_reads::{BlockHeight, TimeSpan};

/// Halvings after which the 50 BTC subsidy is 0 (`50e8 >> 33 == 0`).
const LAST_EPOCH: u32 = 33;

/// The pool's blocks by time, for bounding shares' heights.
#[derive(Debug, Clone)]
pub(super) struct HeightBounds {
    times: Vec<i64>,
    /// The highest height of the blocks up to each index.
    highest_so_far: Vec<i64>,
    /// The lowest height of the blocks from each index on.
    lowest_from: Vec<i64>,
    halving_interval: u32,
}

impl HeightBounds {
    /// `blocks` oldest first.
    pub(super) fn new(blocks: &[BlockHeight], halving_interval: u32) -> HeightBounds {
        let times = blocks.iter().map(|block| block.time_ms).collect();
        let highest_so_far = blocks
            .iter()
            .scan(i64::MIN, |highest, block| {
                *highest = (*highest).max(block.height);
                Some(*highest)
            })
            .collect();
        let mut lowest_from: Vec<i64> = blocks
            .iter()
            .rev()
            .scan(i64::MAX, |lowest, block| {
                *lowest = (*lowest).min(block.height);
                Some(*lowest)
            })
            .collect();
        lowest_from.reverse();
        HeightBounds {
            times,
            highest_so_far,
            lowest_from,
            halving_interval: halving_interval.max(1),
        }
    }

    /// The subsidies a share accepted at `time_ms` may have been paid on,
    /// the likeliest (the latest block's epoch) first.
    pub(super) fn subsidies(&self, time_ms: i64) -> Vec<u64> {
        let up_to = self.times.partition_point(|&time| time <= time_ms);
        let from = self.times.partition_point(|&time| time < time_ms);
        let first = match up_to.checked_sub(1) {
            Some(index) => self.epoch(self.highest_so_far[index].saturating_sub(1)),
            None => 0,
        };
        let last = match self.lowest_from.get(from) {
            Some(&height) => self.epoch(height.saturating_add(1)),
            None => LAST_EPOCH,
        };
        let (first, last) = (first.min(last), first.max(last));
        (first..=last)
            .map(|epoch| payout::INITIAL_SUBSIDY.checked_shr(epoch).unwrap_or(0))
            .collect()
    }

    /// The spans of time the blocks cut, each with the subsidies a share
    /// in it may have been paid on: within a span they are the same for
    /// every share, so shares are checked a span at a time.
    pub(super) fn spans(&self) -> Vec<(TimeSpan, Vec<u64>)> {
        let mut times = self.times.clone();
        times.dedup();
        let mut spans = Vec::with_capacity(2 * times.len() + 1);
        match times.first() {
            None => spans.push(TimeSpan::All),
            Some(&first) => spans.push(TimeSpan::Before(first)),
        }
        for (index, &time) in times.iter().enumerate() {
            spans.push(TimeSpan::At(time));
            match times.get(index + 1) {
                Some(&next) if next > time.saturating_add(1) => {
                    spans.push(TimeSpan::Between(time, next))
                }
                Some(_) => {}
                None => spans.push(TimeSpan::After(time)),
            }
        }
        spans
            .into_iter()
            .map(|span| {
                // Any time inside the span: the bounds do not change there.
                let inside = match span {
                    TimeSpan::All => 0,
                    TimeSpan::Before(time) => time.saturating_sub(1),
                    TimeSpan::At(time) => time,
                    TimeSpan::Between(low, _) | TimeSpan::After(low) => low.saturating_add(1),
                };
                (span, self.subsidies(inside))
            })
            .collect()
    }

    fn epoch(&self, height: i64) -> u32 {
        let height = u32::try_from(height.max(0)).unwrap_or(u32::MAX);
        (height / self.halving_interval).min(LAST_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(blocks: &[(i64, i64)]) -> HeightBounds {
        let blocks: Vec<BlockHeight> = blocks
            .iter()
            .map(|&(time_ms, height)| BlockHeight { time_ms, height })
            .collect();
        HeightBounds::new(&blocks, 150)
    }

    #[test]
    fn blocks_on_both_sides_pin_the_epoch() {
        // Regtest halves every 150 blocks: heights 10 and 20 are epoch 0.
        let bounds = bounds(&[(1_000, 10), (2_000, 20)]);
        assert_eq!(bounds.subsidies(1_500), vec![5_000_000_000]);
        // At a block's own time: still epoch 0.
        assert_eq!(bounds.subsidies(2_000), vec![5_000_000_000]);
    }

    #[test]
    fn a_share_at_a_halving_has_both_subsidies() {
        // Blocks 149 and 151 around it: height 150 (25 BTC) or 149 (50 BTC).
        let bounds = bounds(&[(1_000, 149), (2_000, 151)]);
        assert_eq!(bounds.subsidies(1_500), vec![5_000_000_000, 2_500_000_000]);
        // After block 151 only the 25 BTC epoch and later remain.
        let after = bounds.subsidies(3_000);
        assert_eq!(after[0], 2_500_000_000);
        assert_eq!(after.last(), Some(&0));
    }

    #[test]
    fn blocks_cut_time_into_spans_of_equal_bounds() {
        let bounds = bounds(&[(1_000, 149), (1_000, 150), (2_000, 160), (2_001, 161)]);
        let spans: Vec<TimeSpan> = bounds.spans().into_iter().map(|(span, _)| span).collect();
        assert_eq!(
            spans,
            vec![
                TimeSpan::Before(1_000),
                TimeSpan::At(1_000),
                TimeSpan::Between(1_000, 2_000),
                TimeSpan::At(2_000),
                TimeSpan::At(2_001),
                TimeSpan::After(2_001),
            ]
        );
        for (span, subsidies) in bounds.spans() {
            let inside = match span {
                TimeSpan::Before(time) => time - 500,
                TimeSpan::At(time) => time,
                TimeSpan::Between(low, high) => (low + high) / 2,
                TimeSpan::After(time) => time + 500,
                TimeSpan::All => unreachable!("there are blocks"),
            };
            assert_eq!(subsidies, bounds.subsidies(inside), "{span:?}");
        }
        assert_eq!(bounds.spans()[0].1, vec![5_000_000_000, 2_500_000_000]);
        let none = HeightBounds::new(&[], 150).spans();
        assert_eq!(none.len(), 1);
        assert_eq!(none[0].0, TimeSpan::All);
    }

    #[test]
    fn without_blocks_every_subsidy_is_possible() {
        let subsidies = bounds(&[]).subsidies(0);
        assert_eq!(subsidies.len(), LAST_EPOCH as usize + 1);
        assert_eq!(subsidies[0], 5_000_000_000);
        assert_eq!(subsidies[4], 312_500_000);
        assert_eq!(subsidies.last(), Some(&0));
        // Before the first block (height 400, epoch 2): epochs 0 to 2.
        assert_eq!(
            bounds(&[(5_000, 400)]).subsidies(1_000),
            vec![5_000_000_000, 2_500_000_000, 1_250_000_000]
        );
    }
}
