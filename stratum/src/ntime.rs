//! `ntime`: the header timestamp a miner submits.

use thiserror::Error;

crate::hex::be_hex_u32!(
    /// Header time, seconds since the Unix epoch.
    Ntime
);

/// How far into the future a share's ntime may be (ckpool's rule; Bitcoin
/// Core itself allows two hours).
pub const MAX_NTIME_AHEAD_SECS: u64 = 7000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NtimeError {
    #[error("ntime {ntime} is before the job's ntime {job}")]
    BeforeJob { ntime: u32, job: u32 },
    #[error("ntime {ntime} is more than {MAX_NTIME_AHEAD_SECS} s after now ({now})")]
    TooFarAhead { ntime: u32, now: u64 },
}

impl Ntime {
    /// A submitted ntime must be at least the job's and at most
    /// `now + MAX_NTIME_AHEAD_SECS`.
    pub fn check_window(self, job: Ntime, now_unix: u64) -> Result<(), NtimeError> {
        if self.0 < job.0 {
            return Err(NtimeError::BeforeJob {
                ntime: self.0,
                job: job.0,
            });
        }
        if u64::from(self.0) > now_unix.saturating_add(MAX_NTIME_AHEAD_SECS) {
            return Err(NtimeError::TooFarAhead {
                ntime: self.0,
                now: now_unix,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window() {
        let job = Ntime(1_000_000);
        let now = 1_000_100;
        assert!(Ntime(1_000_000).check_window(job, now).is_ok());
        assert!(Ntime(1_000_100 + 7000).check_window(job, now).is_ok());
        assert!(matches!(
            Ntime(999_999).check_window(job, now),
            Err(NtimeError::BeforeJob { .. })
        ));
        assert!(matches!(
            Ntime(1_000_100 + 7001).check_window(job, now),
            Err(NtimeError::TooFarAhead { .. })
        ));
    }

    #[test]
    fn a_clock_at_the_end_of_time_does_not_overflow() {
        assert!(Ntime(u32::MAX).check_window(Ntime(0), u64::MAX).is_ok());
    }

    #[test]
    fn wire() {
        assert_eq!(Ntime::from_wire("6b060d97"), Ok(Ntime(0x6b060d97)));
        assert_eq!(Ntime(0x6b060d97).to_wire(), "6b060d97");
        assert_eq!(Ntime(5).to_wire(), "00000005");
    }
}
