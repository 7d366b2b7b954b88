//! A connection's recent shares, judged: two counts per window, so the
//! memory is the same for a miner of one share an hour and one of a
//! thousand a second.

use crate::server::stats::Reject;

/// What a share says about the miner that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    /// Accepted: real work.
    Valid,
    /// Work no honest miner sends for long: bad hex, an unknown job, low
    /// difficulty, a duplicate, an unauthorized worker.
    Invalid,
    /// Says nothing: a stale share after a new block is honest work that
    /// came late, and a share the ledger could not record is the pool's fault.
    Neutral,
}

impl Judged {
    pub fn of(reject: Reject) -> Judged {
        match reject {
            Reject::Stale | Reject::NotRecorded => Judged::Neutral,
            Reject::NotSubscribed
            | Reject::Unauthorized
            | Reject::UnknownJob
            | Reject::Invalid
            | Reject::Duplicate
            | Reject::LowDifficulty => Judged::Invalid,
        }
    }
}

/// When a connection's shares get it banned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BanRules {
    /// Length of one window; shares are judged over the current window and
    /// the one before it.
    pub window_ms: i64,
    /// Invalid shares out of all judged, in percent, that ban (0 to 100].
    pub invalid_percent: f64,
    /// Shares (valid and invalid) needed before any judgement: vardiff's
    /// first moves and a reconnect's leftovers are a handful, never this many.
    pub min_shares: u32,
    /// How long a banned address is refused.
    pub ban_ms: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub valid: u32,
    pub invalid: u32,
}

impl Tally {
    pub fn total(&self) -> u32 {
        self.valid.saturating_add(self.invalid)
    }

    fn add(&mut self, share: Judged) {
        match share {
            Judged::Valid => self.valid = self.valid.saturating_add(1),
            Judged::Invalid => self.invalid = self.invalid.saturating_add(1),
            Judged::Neutral => {}
        }
    }
}

/// The shares of the current window and of the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareWindow {
    /// When the current window began (unix ms).
    started_ms: i64,
    current: Tally,
    previous: Tally,
}

impl ShareWindow {
    pub fn new(now_ms: i64) -> ShareWindow {
        ShareWindow {
            started_ms: now_ms,
            current: Tally::default(),
            previous: Tally::default(),
        }
    }

    /// Counts `share` at `now_ms`; true when the shares now break `rules`.
    pub fn record(&mut self, share: Judged, now_ms: i64, rules: &BanRules) -> bool {
        let window = rules.window_ms.max(1);
        let elapsed = now_ms.saturating_sub(self.started_ms);
        if elapsed >= 2 * window {
            self.previous = Tally::default();
            self.current = Tally::default();
            self.started_ms = now_ms;
        } else if elapsed >= window {
            self.previous = self.current;
            self.current = Tally::default();
            self.started_ms += window;
        }
        self.current.add(share);
        share == Judged::Invalid && self.breaks(rules)
    }

    /// Both windows together.
    pub fn tally(&self) -> Tally {
        Tally {
            valid: self.current.valid.saturating_add(self.previous.valid),
            invalid: self.current.invalid.saturating_add(self.previous.invalid),
        }
    }

    fn breaks(&self, rules: &BanRules) -> bool {
        let tally = self.tally();
        let total = tally.total();
        total >= rules.min_shares
            && f64::from(tally.invalid) * 100.0 >= rules.invalid_percent * f64::from(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000;

    fn rules() -> BanRules {
        BanRules {
            window_ms: 60 * SECOND,
            invalid_percent: 90.0,
            min_shares: 20,
            ban_ms: 600 * SECOND,
        }
    }

    /// Records `count` shares one per `gap_ms` from `*now`; true if any banned.
    fn send(
        window: &mut ShareWindow,
        share: Judged,
        count: u32,
        now: &mut i64,
        gap_ms: i64,
    ) -> bool {
        let mut banned = false;
        for _ in 0..count {
            banned |= window.record(share, *now, &rules());
            *now += gap_ms;
        }
        banned
    }

    #[test]
    fn a_flood_of_invalid_shares_breaks_the_rules_at_the_minimum_count() {
        let mut window = ShareWindow::new(0);
        let mut now = 0;
        // 19 invalid shares: 100 % invalid, but fewer than min_shares.
        assert!(!send(&mut window, Judged::Invalid, 19, &mut now, 10));
        // The 20th judges: 20 of 20.
        assert!(window.record(Judged::Invalid, now, &rules()));
    }

    #[test]
    fn the_threshold_is_the_fraction_of_judged_shares() {
        // 2 valid then invalid ones: 18 of 20 is exactly 90 %.
        let mut window = ShareWindow::new(0);
        let mut now = 0;
        assert!(!send(&mut window, Judged::Valid, 2, &mut now, 10));
        assert!(!send(&mut window, Judged::Invalid, 17, &mut now, 10));
        assert!(window.record(Judged::Invalid, now, &rules()));

        // 3 valid: 18 of 21 is 85.7 %; it takes 27 invalid (27 of 30).
        let mut window = ShareWindow::new(0);
        let mut now = 0;
        assert!(!send(&mut window, Judged::Valid, 3, &mut now, 10));
        assert!(!send(&mut window, Judged::Invalid, 26, &mut now, 10));
        assert_eq!(
            window.tally(),
            Tally {
                valid: 3,
                invalid: 26
            }
        );
        assert!(window.record(Judged::Invalid, now, &rules()));
    }

    #[test]
    fn stale_shares_after_a_block_never_count() {
        let mut window = ShareWindow::new(0);
        let mut now = 0;
        assert!(!send(&mut window, Judged::Valid, 5, &mut now, 10));
        // A new block: a burst of stale shares, then valid work again.
        assert!(!send(&mut window, Judged::Neutral, 1_000, &mut now, 1));
        assert!(!send(&mut window, Judged::Valid, 5, &mut now, 10));
        assert_eq!(
            window.tally(),
            Tally {
                valid: 10,
                invalid: 0
            }
        );
    }

    #[test]
    fn a_valid_share_never_bans() {
        // 19 invalid and then a valid share reach min_shares at 95 %; only
        // an invalid share triggers the judgement, so it comes with the next.
        let mut window = ShareWindow::new(0);
        let mut now = 0;
        assert!(!send(&mut window, Judged::Invalid, 19, &mut now, 10));
        assert!(!window.record(Judged::Valid, now, &rules()));
        assert!(window.record(Judged::Invalid, now + 10, &rules()));
    }

    #[test]
    fn an_honest_miner_settling_its_difficulty_is_never_judged_badly() {
        // Its first shares: 8 low-difficulty answers to an old job after a
        // retarget (more than any real firmware sends), then 6 shares a
        // minute, 2 % of them rejected, for a day.
        let mut window = ShareWindow::new(0);
        let mut now = 0;
        assert!(!send(&mut window, Judged::Invalid, 8, &mut now, SECOND));
        for share in 0..(6 * 60 * 24) {
            let judged = if share % 50 == 0 {
                Judged::Invalid
            } else {
                Judged::Valid
            };
            assert!(!window.record(judged, now, &rules()), "share {share}");
            now += 10 * SECOND;
        }
    }

    #[test]
    fn old_windows_are_forgotten() {
        let mut window = ShareWindow::new(0);
        let mut now = 0;
        // 15 invalid in the first window, 4 in the second: 19, under 20.
        assert!(!send(&mut window, Judged::Invalid, 15, &mut now, 10));
        now = 60 * SECOND;
        assert!(!send(&mut window, Judged::Invalid, 4, &mut now, 10));
        assert_eq!(window.tally().invalid, 19);
        // In the third window the first is gone: 4 + 15 again is not enough.
        now = 120 * SECOND;
        assert!(!send(&mut window, Judged::Invalid, 15, &mut now, 10));
        assert_eq!(window.tally().invalid, 19);
        // A quiet spell of two windows forgets everything.
        now = 400 * SECOND;
        assert!(!window.record(Judged::Invalid, now, &rules()));
        assert_eq!(
            window.tally(),
            Tally {
                valid: 0,
                invalid: 1
            }
        );
    }

    #[test]
    fn rejects_map_to_judgements() {
        assert_eq!(Judged::of(Reject::Stale), Judged::Neutral);
        assert_eq!(Judged::of(Reject::NotRecorded), Judged::Neutral);
        for reject in [
            Reject::NotSubscribed,
            Reject::Unauthorized,
            Reject::UnknownJob,
            Reject::Invalid,
            Reject::Duplicate,
            Reject::LowDifficulty,
        ] {
            assert_eq!(Judged::of(reject), Judged::Invalid, "{reject:?}");
        }
    }
}
