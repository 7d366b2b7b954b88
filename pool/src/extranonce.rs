//! Extranonce1 allocation: 4 bytes per connection, the first of which is
//! this node's prefix, so pool nodes sharing one database never hand two
//! miners the same coinbase space. The other 3 bytes count connections;
//! on wrap-around, values still held by live connections are skipped.
//!
//! A miner that reconnects may ask for the extranonce1 it had (the session
//! id of `mining.subscribe`, which is the extranonce1 in hex, as ckpool
//! does): it gets it back if no connection holds it, so work it was doing
//! stays valid. Shares it already had credited under that extranonce1 are
//! the same headers if sent again, which the ledger refuses as duplicates.

use rustc_hash::FxHashSet;
use std::sync::{Arc, Mutex};
use stratum::Extranonce1;

/// Connections one node can hold extranonces for at once.
const COUNTER_SPACE: u32 = 1 << 24;

#[derive(Debug)]
struct State {
    next: u32,
    /// Size of the counter space (2^24 outside tests).
    space: u32,
    in_use: FxHashSet<u32>,
}

/// Hands out extranonce1 values; cheap to clone and share between tasks.
#[derive(Debug, Clone)]
pub struct Extranonce1Allocator {
    prefix: u8,
    state: Arc<Mutex<State>>,
}

/// An extranonce1 held by one connection; released when dropped.
#[derive(Debug)]
pub struct Extranonce1Lease {
    value: Extranonce1,
    counter: u32,
    state: Arc<Mutex<State>>,
}

impl Extranonce1Lease {
    pub fn value(&self) -> Extranonce1 {
        self.value
    }
}

impl Drop for Extranonce1Lease {
    fn drop(&mut self) {
        if let Ok(mut state) = self.state.lock() {
            state.in_use.remove(&self.counter);
        }
    }
}

impl Extranonce1Allocator {
    /// `start` lets a restarted node begin elsewhere in its space (e.g. from
    /// the clock), which keeps returning miners off recently used values.
    pub fn new(prefix: u8, start: u32) -> Extranonce1Allocator {
        Extranonce1Allocator::with_space(prefix, start, COUNTER_SPACE)
    }

    fn with_space(prefix: u8, start: u32, space: u32) -> Extranonce1Allocator {
        Extranonce1Allocator {
            prefix,
            state: Arc::new(Mutex::new(State {
                next: start % space,
                space,
                in_use: FxHashSet::default(),
            })),
        }
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// A fresh extranonce1, or `None` when all 16.7 million are in use.
    pub fn allocate(&self) -> Option<Extranonce1Lease> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.in_use.len() as u32 >= state.space {
            return None;
        }
        let mut counter = state.next;
        while state.in_use.contains(&counter) {
            counter = (counter + 1) % state.space;
        }
        state.in_use.insert(counter);
        state.next = (counter + 1) % state.space;
        let bytes = [
            self.prefix,
            (counter >> 16) as u8,
            (counter >> 8) as u8,
            counter as u8,
        ];
        Some(Extranonce1Lease {
            value: Extranonce1::from_bytes(&bytes).expect("4 bytes fit"),
            counter,
            state: Arc::clone(&self.state),
        })
    }

    /// The extranonce1 a reconnecting miner had, if it is this node's and
    /// no connection holds it now.
    pub fn resume(&self, previous: Extranonce1) -> Option<Extranonce1Lease> {
        let bytes = previous.as_bytes();
        let [prefix, high, middle, low] = bytes else {
            return None;
        };
        if *prefix != self.prefix {
            return None;
        }
        let counter = u32::from_be_bytes([0, *high, *middle, *low]);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if counter >= state.space || !state.in_use.insert(counter) {
            return None;
        }
        Some(Extranonce1Lease {
            value: previous,
            counter,
            state: Arc::clone(&self.state),
        })
    }

    /// Connections currently holding an extranonce1.
    pub fn in_use(&self) -> usize {
        self.state
            .lock()
            .map(|state| state.in_use.len())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn two_node_prefixes_never_collide() {
        let first = Extranonce1Allocator::new(1, 0);
        let second = Extranonce1Allocator::new(2, 0);
        let mut seen = HashSet::new();
        let mut leases = Vec::new();
        for _ in 0..5000 {
            for allocator in [&first, &second] {
                let lease = allocator.allocate().unwrap();
                assert_eq!(lease.value().as_bytes()[0], allocator.prefix());
                assert!(seen.insert(lease.value().as_bytes().to_vec()), "collision");
                leases.push(lease);
            }
        }
    }

    #[test]
    fn a_released_value_can_be_resumed_once_and_only_by_this_node() {
        let allocator = Extranonce1Allocator::new(3, 100);
        let lease = allocator.allocate().unwrap();
        let value = lease.value();
        assert!(allocator.resume(value).is_none(), "still held");
        drop(lease);
        let resumed = allocator.resume(value).expect("free again");
        assert_eq!(resumed.value(), value);
        assert!(
            allocator.resume(value).is_none(),
            "held by the resumed session"
        );
        // Fresh allocations skip it while it is held.
        for _ in 0..10 {
            assert_ne!(allocator.allocate().unwrap().value(), value);
        }
        let other_node = Extranonce1::from_bytes(&[4, 0, 0, 100]).unwrap();
        assert!(allocator.resume(other_node).is_none());
        let short = Extranonce1::from_bytes(&[3, 0, 100]).unwrap();
        assert!(allocator.resume(short).is_none());
        drop(resumed);
        assert_eq!(allocator.in_use(), 0);
    }

    #[test]
    fn wrap_around_skips_live_values_and_drop_releases() {
        const SPACE: u32 = 16;
        let allocator = Extranonce1Allocator::with_space(7, SPACE - 2, SPACE);
        let held = allocator.allocate().unwrap(); // counter 14
        let released = allocator.allocate().unwrap(); // 15
        let held_value = held.value();
        drop(released);
        assert_eq!(allocator.in_use(), 1);
        // Wraps to 0, 1, ...; later, back near the end, skips the held value.
        let mut later = Vec::new();
        for _ in 0..(SPACE as usize - 1) {
            let lease = allocator.allocate().unwrap();
            assert_ne!(lease.value(), held_value);
            later.push(lease);
        }
        assert_eq!(allocator.in_use(), SPACE as usize);
        assert!(allocator.allocate().is_none(), "every value is in use");
        drop(later);
        assert_eq!(allocator.in_use(), 1);
    }
}
