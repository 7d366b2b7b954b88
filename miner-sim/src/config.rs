//! One simulated miner's settings.

use crate::dialect::Dialect;
use crate::misbehaviour::Misbehaviour;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything a miner needs to know. Build it with [`MinerConfig::new`] and
/// change the fields you care about.
#[derive(Debug, Clone, PartialEq)]
pub struct MinerConfig {
    pub pool: SocketAddr,
    /// `<payout address>[.<worker>]`.
    pub username: String,
    pub password: String,
    pub dialect: Dialect,
    /// The most hashes per second it computes (`f64::INFINITY`: as fast as
    /// the CPU allows). Really hashed, paced by time.
    pub hashrate: f64,
    /// `None`: the dialect's habit (ESP-Miner suggests 1000, the others
    /// nothing). `Some(d)` with `d > 0` suggests `d` after authorize (cgminer
    /// rounds it to an integer; cpuminer never suggests); `Some(0.0)` sends none.
    pub suggest_difficulty: Option<f64>,
    /// ESP-Miner's optional `mining.extranonce.subscribe` after authorize.
    pub extranonce_subscribe: bool,
    pub misbehaviour: Misbehaviour,
    /// Nonces scanned per header before the version bits roll (and, when
    /// they are exhausted, extranonce2). Real hardware scans all 2^32; a
    /// smaller range makes rolling visible in short tests.
    pub nonce_range: u64,
    /// Reconnect after a disconnection, an error or `client.reconnect`.
    pub reconnect: bool,
    /// Wait before reconnecting (unless `client.reconnect` names a wait).
    pub reconnect_delay: Duration,
    /// Seeds the misbehaviour draws.
    pub seed: u64,
    /// Shares kept in the counters' share log.
    pub share_log: usize,
}

impl MinerConfig {
    /// A well-behaved miner with the dialect's defaults at 1 MH/s.
    pub fn new(pool: SocketAddr, username: impl Into<String>, dialect: Dialect) -> MinerConfig {
        MinerConfig {
            pool,
            username: username.into(),
            password: "x".to_string(),
            dialect,
            hashrate: 1e6,
            suggest_difficulty: None,
            extranonce_subscribe: false,
            misbehaviour: Misbehaviour::default(),
            nonce_range: 1 << 32,
            reconnect: true,
            reconnect_delay: Duration::from_secs(1),
            seed: 1,
            share_log: crate::counters::DEFAULT_SHARE_LOG,
        }
    }

    /// The difficulty to suggest after authorize, if any.
    pub fn suggested_difficulty(&self) -> Option<f64> {
        if !self.dialect.suggests_difficulty() {
            return None;
        }
        self.suggest_difficulty
            .or(self.dialect.default_suggest_difficulty())
            .filter(|difficulty| difficulty.is_finite() && *difficulty > 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestion_defaults_follow_the_dialect() {
        let pool: SocketAddr = "127.0.0.1:3333".parse().unwrap();
        let mut config = MinerConfig::new(pool, "addr.w", Dialect::Bitaxe);
        assert_eq!(config.suggested_difficulty(), Some(1000.0));
        config.suggest_difficulty = Some(0.0);
        assert_eq!(config.suggested_difficulty(), None);
        config.suggest_difficulty = Some(0.01);
        assert_eq!(config.suggested_difficulty(), Some(0.01));
        config.dialect = Dialect::Cpuminer;
        assert_eq!(config.suggested_difficulty(), None);
        config.dialect = Dialect::Cgminer;
        config.suggest_difficulty = None;
        assert_eq!(config.suggested_difficulty(), None);
    }
}
