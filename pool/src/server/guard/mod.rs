//! Who may connect, and who is thrown out: connections per address, the
//! allow-list exempt from that limit, bans for mostly invalid shares, and
//! each connection's recent shares. No sockets and no clock: the accept
//! loop and the sessions tell it what happened and when (unix ms), so every
//! rule is tested with made-up times.
//!
//! Memory is bounded: one small entry per open connection and per address
//! with connections open, and at most [`MAX_BANS`] bans.
//!
//! Files: `address` (IPv4 hosts, IPv6 /64s, allow-list ranges), `window`
//! (a connection's shares and the rules that judge them), `bans` (the
//! capped ban list), `log_gate` (rate-limited log lines).

mod address;
mod bans;
mod log_gate;
mod window;

pub use address::{HostKey, IpRange, IpRangeError};
pub use bans::{Ban, BanReason};
pub use window::{BanRules, Judged, Tally};

use bans::BanList;
use log_gate::LogGate;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use window::ShareWindow;

/// Most bans held at once; past it, the one that would end first goes.
pub const MAX_BANS: usize = 10_000;
/// Bans `/api/pool` lists.
pub const BANS_SHOWN: usize = 100;
/// Refusals logged per minute; the rest are counted in the next line.
const REFUSAL_LOG_BURST: u32 = 10;
const REFUSAL_LOG_PERIOD_MS: i64 = 60_000;
/// How often expired bans are swept out (they also go when looked up).
const PRUNE_EVERY_MS: i64 = 60_000;
/// Characters of a worker name a log line repeats.
const WORKER_LOGGED: usize = 100;

/// The guard's rules, from `[stratum]` and `[bans]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuardSettings {
    /// Most connections from one IPv4 address or IPv6 /64; 0: no limit.
    pub max_connections_per_ip: usize,
    /// Exempt from the per-address limit and never refused for a ban.
    pub allowlist: Vec<IpRange>,
    /// `None`: nobody is banned.
    pub bans: Option<BanRules>,
}

impl GuardSettings {
    fn allowlisted(&self, ip: IpAddr) -> bool {
        self.allowlist.iter().any(|range| range.contains(ip))
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    Banned {
        until_ms: i64,
    },
    PerIpLimit {
        limit: usize,
    },
    /// The pool is at its own limit (`stratum.max_connections`).
    MaxConnections {
        limit: usize,
    },
}

impl RefusalReason {
    /// The label metrics and logs use.
    pub fn name(self) -> &'static str {
        match self {
            RefusalReason::Banned { .. } => "banned",
            RefusalReason::PerIpLimit { .. } => "per_ip_limit",
            RefusalReason::MaxConnections { .. } => "max_connections",
        }
    }
}

/// A refused connection, and whether to log it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub reason: RefusalReason,
    /// `Some(n)`: log it, saying `n` refusals before it went unlogged.
    pub log: Option<u64>,
}

/// What a session does after a share was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Close the connection: it was banned.
    Close,
}

/// The guard's counters and bans at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuardSnapshot {
    /// Addresses banned (refused for the ban time) since the start.
    pub bans_total: u64,
    /// Allow-listed connections closed for invalid shares (no ban).
    pub allowlisted_closed_total: u64,
    pub bans_active: u64,
    pub refused_banned: u64,
    pub refused_per_ip: u64,
    /// Bans in force, newest first, at most [`BANS_SHOWN`].
    pub bans: Vec<Ban>,
}

/// One open connection.
#[derive(Debug)]
struct Connection {
    host: HostKey,
    /// Counted against its host's limit (not allow-listed).
    limited: bool,
    allowlisted: bool,
    window: ShareWindow,
    /// Banned already: later shares need no judging.
    closing: bool,
}

#[derive(Debug)]
struct State {
    /// Open connections per host (limited ones only); no entry at zero.
    per_host: HashMap<HostKey, usize>,
    connections: HashMap<u64, Connection>,
    bans: BanList,
    refusal_log: LogGate,
    next_prune_ms: i64,
    bans_total: u64,
    allowlisted_closed_total: u64,
    refused_banned: u64,
    refused_per_ip: u64,
}

#[derive(Debug)]
pub struct Guard {
    settings: GuardSettings,
    state: Mutex<State>,
}

/// An admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Admission {
    guard: Arc<Guard>,
    connection: u64,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.guard.release(self.connection);
    }
}

impl Guard {
    pub fn new(settings: GuardSettings) -> Guard {
        Guard {
            settings,
            state: Mutex::new(State {
                per_host: HashMap::new(),
                connections: HashMap::new(),
                bans: BanList::new(MAX_BANS),
                refusal_log: LogGate::new(REFUSAL_LOG_BURST, REFUSAL_LOG_PERIOD_MS),
                next_prune_ms: i64::MIN,
                bans_total: 0,
                allowlisted_closed_total: 0,
                refused_banned: 0,
                refused_per_ip: 0,
            }),
        }
    }

    pub fn settings(&self) -> &GuardSettings {
        &self.settings
    }

    /// A poisoned lock still holds consistent counts (each change is one
    /// statement), so it is used rather than taking the pool down.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Admits connection `connection` from `ip`, or says why not.
    pub fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        connection: u64,
        now_ms: i64,
    ) -> Result<Admission, Refusal> {
        let host = HostKey::of(ip);
        let allowlisted = self.settings.allowlisted(ip);
        let limit = self.settings.max_connections_per_ip;
        let mut state = self.state();
        if now_ms >= state.next_prune_ms {
            state.bans.prune(now_ms);
            state.next_prune_ms = now_ms.saturating_add(PRUNE_EVERY_MS);
        }
        if !allowlisted {
            if let Some(ban) = state.bans.active(host, now_ms) {
                state.refused_banned += 1;
                return Err(Refusal {
                    reason: RefusalReason::Banned {
                        until_ms: ban.until_ms,
                    },
                    log: state.refusal_log.pass(now_ms),
                });
            }
        }
        let limited = !allowlisted && limit > 0;
        if limited {
            let open = state.per_host.get(&host).copied().unwrap_or(0);
            if open >= limit {
                state.refused_per_ip += 1;
                return Err(Refusal {
                    reason: RefusalReason::PerIpLimit { limit },
                    log: state.refusal_log.pass(now_ms),
                });
            }
            *state.per_host.entry(host).or_insert(0) += 1;
        }
        state.connections.insert(
            connection,
            Connection {
                host,
                limited,
                allowlisted,
                window: ShareWindow::new(now_ms),
                closing: false,
            },
        );
        Ok(Admission {
            guard: Arc::clone(self),
            connection,
        })
    }

    /// A connection refused because the pool is full: `Some(n)` to log it.
    pub fn refused_at_capacity(&self, now_ms: i64) -> Option<u64> {
        self.state().refusal_log.pass(now_ms)
    }

    /// A connection refused for its PROXY protocol header (or its peer not
    /// a trusted balancer): `Some(n)` to log it. It shares the refusal
    /// lines' budget, so a flood of any kind logs 10 lines a minute.
    pub fn refused_proxy_header(&self, now_ms: i64) -> Option<u64> {
        self.state().refusal_log.pass(now_ms)
    }

    fn release(&self, connection: u64) {
        let mut state = self.state();
        let Some(closed) = state.connections.remove(&connection) else {
            return;
        };
        if closed.limited {
            if let Some(open) = state.per_host.get_mut(&closed.host) {
                *open = open.saturating_sub(1);
                if *open == 0 {
                    state.per_host.remove(&closed.host);
                }
            }
        }
    }

    /// Counts a share of `connection`, sent as `worker`, at `now_ms`.
    /// `Close` once its shares break the rules: its address is then
    /// refused for the ban time (unless allow-listed), logged once.
    pub fn judge(&self, connection: u64, share: Judged, worker: &str, now_ms: i64) -> Verdict {
        let Some(rules) = self.settings.bans else {
            return Verdict::Keep;
        };
        if share == Judged::Neutral {
            return Verdict::Keep;
        }
        let mut state = self.state();
        let Some(open) = state.connections.get_mut(&connection) else {
            return Verdict::Keep;
        };
        if open.closing {
            return Verdict::Close;
        }
        if !open.window.record(share, now_ms, &rules) {
            return Verdict::Keep;
        }
        open.closing = true;
        let (host, allowlisted, tally) = (open.host, open.allowlisted, open.window.tally());
        let worker: String = worker.chars().take(WORKER_LOGGED).collect();
        if allowlisted {
            state.allowlisted_closed_total += 1;
            tracing::warn!(
                connection,
                ip = %host,
                worker = %worker,
                valid = tally.valid,
                invalid = tally.invalid,
                "mostly invalid shares: connection closed (allow-listed address: not banned)"
            );
            return Verdict::Close;
        }
        if state.bans.active(host, now_ms).is_some() {
            // Another connection of the same host was banned first: that
            // ban was logged and stands.
            tracing::debug!(connection, ip = %host, "banned address's connection closed");
            return Verdict::Close;
        }
        let until_ms = now_ms.saturating_add(rules.ban_ms);
        state.bans.insert(
            Ban {
                host,
                reason: BanReason::InvalidShares,
                since_ms: now_ms,
                until_ms,
            },
            now_ms,
        );
        state.bans_total += 1;
        tracing::warn!(
            connection,
            ip = %host,
            worker = %worker,
            valid = tally.valid,
            invalid = tally.invalid,
            until_ms,
            ban_secs = rules.ban_ms / 1000,
            "mostly invalid shares: banned"
        );
        Verdict::Close
    }

    /// The counters and the newest bans in force at `now_ms`.
    pub fn snapshot(&self, now_ms: i64) -> GuardSnapshot {
        let state = self.state();
        GuardSnapshot {
            bans_total: state.bans_total,
            allowlisted_closed_total: state.allowlisted_closed_total,
            bans_active: state.bans.count_active(now_ms) as u64,
            refused_banned: state.refused_banned,
            refused_per_ip: state.refused_per_ip,
            bans: state.bans.newest(now_ms, BANS_SHOWN),
        }
    }

    /// Connections open, and hosts with connections counted.
    #[cfg(test)]
    fn open(&self) -> (usize, usize) {
        let state = self.state();
        (state.connections.len(), state.per_host.len())
    }
}

#[cfg(test)]
mod tests;
