//! A cap on how often one kind of line is logged: a flood of refused
//! connections must not fill the disk, but the first ones and a count of
//! the rest must reach the operator.

/// At most `burst` lines per `period_ms`; the rest are counted.
#[derive(Debug)]
pub struct LogGate {
    burst: u32,
    period_ms: i64,
    period_started_ms: i64,
    shown: u32,
    suppressed: u64,
}

impl LogGate {
    pub fn new(burst: u32, period_ms: i64) -> LogGate {
        LogGate {
            burst,
            period_ms,
            period_started_ms: i64::MIN,
            shown: 0,
            suppressed: 0,
        }
    }

    /// `Some(n)`: log this one, and say that `n` before it were not.
    /// `None`: do not log it.
    pub fn pass(&mut self, now_ms: i64) -> Option<u64> {
        if now_ms.saturating_sub(self.period_started_ms) >= self.period_ms {
            self.period_started_ms = now_ms;
            self.shown = 0;
        }
        if self.shown < self.burst {
            self.shown += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_per_period_then_a_count_of_the_rest() {
        let mut gate = LogGate::new(3, 1_000);
        let passed: Vec<Option<u64>> = (0..10).map(|i| gate.pass(i)).collect();
        assert_eq!(&passed[..3], &[Some(0), Some(0), Some(0)]);
        assert!(passed[3..].iter().all(Option::is_none));
        // The next period: the first line carries the 7 unlogged ones.
        assert_eq!(gate.pass(1_000), Some(7));
        assert_eq!(gate.pass(1_001), Some(0));
    }
}
