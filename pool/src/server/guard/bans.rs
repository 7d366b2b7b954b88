//! The addresses refused for a while, capped: when it is full the ban that
//! would end first makes room, so a flood from many addresses costs a
//! bounded amount of memory and the newest offenders stay out.

use super::address::HostKey;
use std::collections::HashMap;

/// Why an address was banned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanReason {
    /// Mostly invalid shares over `[bans]`' window.
    InvalidShares,
}

impl BanReason {
    /// The name the API and logs use.
    pub fn name(self) -> &'static str {
        match self {
            BanReason::InvalidShares => "invalid_shares",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ban {
    pub host: HostKey,
    pub reason: BanReason,
    pub since_ms: i64,
    pub until_ms: i64,
}

#[derive(Debug)]
pub struct BanList {
    bans: HashMap<HostKey, Ban>,
    capacity: usize,
}

impl BanList {
    pub fn new(capacity: usize) -> BanList {
        BanList {
            bans: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The ban on `host` in force at `now_ms`; an expired one is dropped.
    pub fn active(&mut self, host: HostKey, now_ms: i64) -> Option<Ban> {
        let ban = *self.bans.get(&host)?;
        if ban.until_ms > now_ms {
            Some(ban)
        } else {
            self.bans.remove(&host);
            None
        }
    }

    /// Bans `host` (a ban already there is replaced).
    pub fn insert(&mut self, ban: Ban, now_ms: i64) {
        if !self.bans.contains_key(&ban.host) && self.bans.len() >= self.capacity {
            self.prune(now_ms);
            if self.bans.len() >= self.capacity {
                let first_to_end = self
                    .bans
                    .values()
                    .min_by_key(|ban| (ban.until_ms, ban.since_ms))
                    .map(|ban| ban.host);
                if let Some(host) = first_to_end {
                    self.bans.remove(&host);
                }
            }
        }
        self.bans.insert(ban.host, ban);
    }

    /// Drops every ban over at `now_ms`.
    pub fn prune(&mut self, now_ms: i64) {
        self.bans.retain(|_, ban| ban.until_ms > now_ms);
    }

    /// Bans in force at `now_ms`, newest first, at most `limit`.
    pub fn newest(&self, now_ms: i64, limit: usize) -> Vec<Ban> {
        let mut bans: Vec<Ban> = self
            .bans
            .values()
            .filter(|ban| ban.until_ms > now_ms)
            .copied()
            .collect();
        bans.sort_by_key(|ban| std::cmp::Reverse((ban.since_ms, ban.host)));
        bans.truncate(limit);
        bans
    }

    /// Bans in force at `now_ms`.
    pub fn count_active(&self, now_ms: i64) -> usize {
        self.bans
            .values()
            .filter(|ban| ban.until_ms > now_ms)
            .count()
    }

    /// Entries held, expired ones not yet pruned included.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.bans.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn host(last: u8) -> HostKey {
        HostKey::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn ban(last: u8, since_ms: i64, until_ms: i64) -> Ban {
        Ban {
            host: host(last),
            reason: BanReason::InvalidShares,
            since_ms,
            until_ms,
        }
    }

    #[test]
    fn a_ban_holds_until_its_end_and_is_then_dropped() {
        let mut list = BanList::new(10);
        list.insert(ban(1, 1_000, 5_000), 1_000);
        assert_eq!(list.active(host(1), 4_999), Some(ban(1, 1_000, 5_000)));
        assert_eq!(list.active(host(2), 4_999), None);
        assert_eq!(list.active(host(1), 5_000), None);
        assert_eq!(list.len(), 0, "the expired ban was dropped");
    }

    #[test]
    fn a_full_list_drops_what_ends_first() {
        let mut list = BanList::new(3);
        list.insert(ban(1, 0, 9_000), 0);
        list.insert(ban(2, 100, 3_000), 100);
        list.insert(ban(3, 200, 8_000), 200);
        list.insert(ban(4, 300, 9_500), 300);
        assert_eq!(list.len(), 3);
        assert_eq!(list.active(host(2), 300), None, "ended first, so it went");
        for kept in [1, 3, 4] {
            assert!(list.active(host(kept), 300).is_some(), "{kept}");
        }
        // Expired bans make room before any live one is dropped.
        list.insert(ban(5, 8_500, 20_000), 8_500);
        assert_eq!(list.len(), 3);
        assert!(list.active(host(3), 8_500).is_none(), "expired at 8000");
        assert!(list.active(host(1), 8_500).is_some());
    }

    #[test]
    fn newest_first_capped_and_only_live_ones() {
        let mut list = BanList::new(10);
        list.insert(ban(1, 100, 1_000), 100);
        list.insert(ban(2, 300, 10_000), 300);
        list.insert(ban(3, 200, 10_000), 200);
        let hosts: Vec<HostKey> = list.newest(2_000, 10).iter().map(|b| b.host).collect();
        assert_eq!(hosts, vec![host(2), host(3)]);
        assert_eq!(list.newest(2_000, 1).len(), 1);
        assert_eq!(list.count_active(2_000), 2);
        list.prune(2_000);
        assert_eq!(list.len(), 2);
    }
}
