//! A small rate limit for the one thing the pages let a visitor change
//! (a miner's alert settings): at most `limit` attempts per key in a
//! sliding window, counted before the signature is even checked.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys remembered at most; past that the oldest windows are dropped.
const MAX_KEYS: usize = 10_000;

#[derive(Debug)]
pub struct RateLimit {
    limit: usize,
    window: Duration,
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimit {
    pub fn new(limit: usize, window: Duration) -> RateLimit {
        RateLimit {
            limit,
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt for `key`; false when it is one too many.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        let mut attempts = self
            .attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if attempts.len() >= MAX_KEYS && !attempts.contains_key(key) {
            let window = self.window;
            attempts.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|last| now.duration_since(*last) < window)
            });
        }
        let times = attempts.entry(key.to_string()).or_default();
        while times
            .front()
            .is_some_and(|first| now.duration_since(*first) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.limit {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_past_the_limit_wait_for_the_window() {
        let limit = RateLimit::new(2, Duration::from_secs(60));
        let start = Instant::now();
        assert!(limit.allow("a", start));
        assert!(limit.allow("a", start + Duration::from_secs(1)));
        assert!(!limit.allow("a", start + Duration::from_secs(2)));
        assert!(limit.allow("b", start + Duration::from_secs(2)), "per key");
        assert!(
            limit.allow("a", start + Duration::from_secs(61)),
            "the first left the window"
        );
    }
}
