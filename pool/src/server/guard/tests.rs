//! The guard's rules on made-up addresses and times.

use super::*;

const SECOND: i64 = 1_000;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn rules() -> BanRules {
    BanRules {
        window_ms: 60 * SECOND,
        invalid_percent: 90.0,
        min_shares: 10,
        ban_ms: 600 * SECOND,
    }
}

fn guard(limit: usize, allowlist: &[&str]) -> Arc<Guard> {
    Arc::new(Guard::new(GuardSettings {
        max_connections_per_ip: limit,
        allowlist: allowlist
            .iter()
            .map(|range| IpRange::parse(range).unwrap())
            .collect(),
        bans: Some(rules()),
    }))
}

/// Sends invalid shares on `connection` until it is closed; how many it took.
fn flood(guard: &Guard, connection: u64, now_ms: i64) -> u32 {
    for sent in 1..=1_000 {
        if guard.judge(connection, Judged::Invalid, "addr.rig", now_ms) == Verdict::Close {
            return sent;
        }
    }
    panic!("a thousand invalid shares and still connected");
}

#[test]
fn the_connection_past_the_limit_is_refused_until_one_closes() {
    let guard = guard(3, &[]);
    let farm = ip("198.51.100.7");
    let mut open: Vec<Admission> = (0..3)
        .map(|id| guard.admit(farm, id, 0).expect("within the limit"))
        .collect();
    let refused = guard.admit(farm, 3, 0).unwrap_err();
    assert_eq!(refused.reason, RefusalReason::PerIpLimit { limit: 3 });
    assert_eq!(refused.log, Some(0));
    // Other addresses are not affected.
    let _other = guard.admit(ip("198.51.100.8"), 4, 0).expect("another host");
    // One closes: its place is free again.
    open.pop();
    let _again = guard.admit(farm, 5, 0).expect("a place was freed");
    assert!(guard.admit(farm, 6, 0).is_err());
    assert_eq!(guard.snapshot(0).refused_per_ip, 2);
    drop(open);
    drop(_again);
    drop(_other);
    assert_eq!(guard.open(), (0, 0), "nothing left behind");
}

#[test]
fn an_ipv6_host_is_limited_as_its_64() {
    let guard = guard(2, &[]);
    let _a = guard.admit(ip("2001:db8:1:2::1"), 0, 0).unwrap();
    let _b = guard.admit(ip("2001:db8:1:2::2"), 1, 0).unwrap();
    assert!(
        guard.admit(ip("2001:db8:1:2::3"), 2, 0).is_err(),
        "same /64"
    );
    assert!(guard.admit(ip("2001:db8:1:3::1"), 3, 0).is_ok(), "next /64");
}

#[test]
fn zero_means_no_limit_and_allowlisted_ranges_are_not_limited() {
    let unlimited = guard(0, &[]);
    let held: Vec<Admission> = (0..500)
        .map(|id| unlimited.admit(ip("192.0.2.1"), id, 0).unwrap())
        .collect();
    assert_eq!(held.len(), 500);
    assert_eq!(unlimited.open(), (500, 0), "nothing counted per host");

    let guard = guard(1, &["10.0.0.0/8", "2001:db8::/32"]);
    let held: Vec<Admission> = (0..50)
        .flat_map(|id| {
            [
                guard.admit(ip("10.1.2.3"), 2 * id, 0).unwrap(),
                guard.admit(ip("2001:db8::9"), 2 * id + 1, 0).unwrap(),
            ]
        })
        .collect();
    assert_eq!(held.len(), 100);
    let _outside = guard.admit(ip("11.0.0.1"), 1_000, 0).unwrap();
    assert!(guard.admit(ip("11.0.0.1"), 1_001, 0).is_err());
}

#[test]
fn a_flood_of_invalid_shares_bans_the_address_until_the_ban_ends() {
    let guard = guard(0, &[]);
    let attacker = ip("203.0.113.5");
    let _connection = guard.admit(attacker, 1, 0).unwrap();
    assert_eq!(flood(&guard, 1, 5 * SECOND), 10, "judged at min_shares");
    // Closing it again says close, without a second ban.
    assert_eq!(
        guard.judge(1, Judged::Invalid, "addr.rig", 5 * SECOND),
        Verdict::Close
    );
    let snapshot = guard.snapshot(5 * SECOND);
    assert_eq!(snapshot.bans_total, 1);
    assert_eq!(snapshot.bans_active, 1);
    assert_eq!(
        snapshot.bans,
        vec![Ban {
            host: HostKey::of(attacker),
            reason: BanReason::InvalidShares,
            since_ms: 5 * SECOND,
            until_ms: 605 * SECOND,
        }]
    );
    // Refused for the ban time, from any port, then served again.
    let refused = guard.admit(attacker, 2, 604_999).unwrap_err();
    assert_eq!(
        refused.reason,
        RefusalReason::Banned {
            until_ms: 605 * SECOND
        }
    );
    assert!(guard.admit(ip("203.0.113.6"), 3, 604_999).is_ok());
    assert!(guard.admit(attacker, 4, 605 * SECOND).is_ok());
    let later = guard.snapshot(605 * SECOND);
    assert_eq!((later.bans_active, later.refused_banned), (0, 1));
    assert!(later.bans.is_empty());
}

#[test]
fn honest_and_stale_shares_keep_a_connection() {
    let guard = guard(0, &[]);
    let _miner = guard.admit(ip("192.0.2.10"), 1, 0).unwrap();
    let mut now = 0;
    // A start with low-difficulty answers, a block's worth of stale
    // shares, and 2 % rejects for hours.
    for share in 0..5_000u32 {
        let judged = match share {
            0..=4 => Judged::Invalid,
            100..=400 => Judged::Neutral,
            _ if share % 50 == 0 => Judged::Invalid,
            _ => Judged::Valid,
        };
        assert_eq!(guard.judge(1, judged, "addr.rig", now), Verdict::Keep);
        now += 2 * SECOND;
    }
    assert_eq!(guard.snapshot(now).bans_total, 0);
}

#[test]
fn one_ban_per_address_however_many_connections_trip() {
    let guard = guard(0, &[]);
    let attacker = ip("203.0.113.5");
    let _first = guard.admit(attacker, 1, 0).unwrap();
    let _second = guard.admit(attacker, 2, 0).unwrap();
    flood(&guard, 1, SECOND);
    flood(&guard, 2, 2 * SECOND);
    let snapshot = guard.snapshot(2 * SECOND);
    assert_eq!(snapshot.bans_total, 1);
    assert_eq!(snapshot.bans[0].since_ms, SECOND, "the first ban stands");
}

#[test]
fn an_allowlisted_connection_is_closed_but_its_address_not_banned() {
    let guard = guard(0, &["10.0.0.0/8"]);
    let _broken = guard.admit(ip("10.0.0.9"), 1, 0).unwrap();
    flood(&guard, 1, SECOND);
    let snapshot = guard.snapshot(SECOND);
    assert_eq!(snapshot.bans_total, 0);
    assert_eq!(snapshot.allowlisted_closed_total, 1);
    assert!(guard.admit(ip("10.0.0.9"), 2, SECOND).is_ok());
}

#[test]
fn without_ban_rules_nobody_is_judged() {
    let guard = Arc::new(Guard::new(GuardSettings::default()));
    let _connection = guard.admit(ip("203.0.113.5"), 1, 0).unwrap();
    for _ in 0..1_000 {
        assert_eq!(guard.judge(1, Judged::Invalid, "", 0), Verdict::Keep);
    }
}

#[test]
fn refusal_logs_are_rate_limited() {
    let guard = guard(1, &[]);
    let _held = guard.admit(ip("192.0.2.1"), 0, 0).unwrap();
    let logged = (1..=100)
        .filter(|id| {
            guard
                .admit(ip("192.0.2.1"), *id, 0)
                .unwrap_err()
                .log
                .is_some()
        })
        .count();
    assert_eq!(logged, REFUSAL_LOG_BURST as usize);
    let next = guard
        .admit(ip("192.0.2.1"), 101, REFUSAL_LOG_PERIOD_MS)
        .unwrap_err();
    assert_eq!(next.log, Some(100 - u64::from(REFUSAL_LOG_BURST)));
    assert_eq!(guard.snapshot(0).refused_per_ip, 101);
}

#[test]
fn the_ban_list_stays_bounded_under_a_flood_from_many_addresses() {
    let guard = guard(0, &[]);
    let mut now = 0;
    for n in 0..(MAX_BANS as u32 + 500) {
        let attacker = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
        let id = u64::from(n);
        let admission = guard.admit(attacker, id, now).unwrap();
        flood(&guard, id, now);
        drop(admission);
        now += 1;
    }
    let snapshot = guard.snapshot(now);
    assert_eq!(snapshot.bans_total, MAX_BANS as u64 + 500);
    assert_eq!(snapshot.bans_active, MAX_BANS as u64);
    assert_eq!(snapshot.bans.len(), BANS_SHOWN);
    // The newest offenders are the ones kept.
    let newest = IpAddr::from(std::net::Ipv4Addr::from(
        0x0a00_0000 + MAX_BANS as u32 + 499,
    ));
    assert_eq!(snapshot.bans[0].host, HostKey::of(newest));
    assert_eq!(guard.open(), (0, 0));
}
