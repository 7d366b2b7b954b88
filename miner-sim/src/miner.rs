//! A miner: connect, mine, reconnect, until told to stop.

use crate::config::MinerConfig;
use crate::connection::Connection;
use crate::counters::{CountersSnapshot, MinerCounters, ShareRecord};
use crate::dialect::Dialect;
use crate::misbehaviour::Rng;
use crate::session::{Carried, Session, SessionEnd};
use crate::stop::{is_stopped, stopped};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A simulated miner. Keep [`Miner::counters`] to watch it while it runs.
pub struct Miner {
    config: MinerConfig,
    counters: Arc<MinerCounters>,
}

/// What a miner did, when it stopped.
#[derive(Debug, Clone)]
pub struct MinerReport {
    pub username: String,
    pub dialect: Dialect,
    pub counters: CountersSnapshot,
    /// The share log (the most recent [`MinerConfig::share_log`] shares).
    pub shares: Vec<ShareRecord>,
    pub elapsed: Duration,
}

impl MinerReport {
    /// Hashes computed per second.
    pub fn hashrate(&self) -> f64 {
        self.counters.hashes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The rate the valid shares submitted stand for:
    /// sum of difficulty × 2^32 per second.
    pub fn share_hashrate(&self) -> f64 {
        self.counters.submitted_difficulty * 4_294_967_296.0 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl Miner {
    pub fn new(config: MinerConfig) -> Miner {
        let counters = Arc::new(MinerCounters::new(config.share_log));
        Miner { config, counters }
    }

    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// Live counters, readable while the miner runs.
    pub fn counters(&self) -> Arc<MinerCounters> {
        self.counters.clone()
    }

    /// Mines until `stop` turns `true` (or its sender is dropped), then
    /// returns within a few milliseconds: the chunk on the hasher is
    /// cancelled and not waited for. Without [`MinerConfig::reconnect`] it
    /// also returns when the connection ends.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> MinerReport {
        let started = Instant::now();
        let config = &self.config;
        let counters = &self.counters;
        let mut carried = Carried {
            extranonce2_counter: 0,
            rng: Rng::new(config.seed),
            bad_sent: HashMap::new(),
        };
        let mut pool = config.pool;
        let misbehaviour = &config.misbehaviour;
        while !is_stopped(&stop) {
            let connecting = Connection::connect(
                pool,
                misbehaviour.slow_reader,
                misbehaviour.starves_reads(),
                counters.clone(),
            );
            let connected = tokio::select! {
                biased;
                _ = stopped(&mut stop) => break,
                connected = connecting => connected,
            };
            let mut wait = config.reconnect_delay;
            match connected {
                Err(error) => {
                    MinerCounters::bump(&counters.connect_failures);
                    tracing::debug!(%pool, %error, "cannot connect");
                }
                Ok(connection) => {
                    MinerCounters::bump(&counters.connections);
                    let session =
                        Session::new(config, counters, &mut carried, stop.clone(), connection);
                    match session.run().await {
                        SessionEnd::Stopped => break,
                        SessionEnd::Disconnected(reason) | SessionEnd::Refused(reason) => {
                            MinerCounters::bump(&counters.disconnections);
                            tracing::debug!(worker = %config.username, %reason, "disconnected");
                        }
                        SessionEnd::Reconnect {
                            host,
                            port,
                            wait: asked,
                        } => {
                            MinerCounters::bump(&counters.disconnections);
                            pool = reconnect_target(config.pool, host, port).await;
                            wait = asked.unwrap_or(Duration::ZERO);
                        }
                    }
                }
            }
            if !config.reconnect {
                break;
            }
            tokio::select! {
                biased;
                _ = stopped(&mut stop) => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        MinerReport {
            username: config.username.clone(),
            dialect: config.dialect,
            counters: counters.snapshot(),
            shares: counters.shares(),
            elapsed: started.elapsed(),
        }
    }
}

/// Where `client.reconnect` sends us: its host and port, else the pool's.
async fn reconnect_target(pool: SocketAddr, host: Option<String>, port: Option<u16>) -> SocketAddr {
    let port = port.filter(|port| *port != 0).unwrap_or(pool.port());
    let Some(host) = host.filter(|host| !host.is_empty()) else {
        return SocketAddr::new(pool.ip(), port);
    };
    let resolved = tokio::net::lookup_host(format!("{host}:{port}")).await;
    match resolved {
        Ok(mut addresses) => addresses.next().unwrap_or(pool),
        Err(error) => {
            tracing::debug!(%host, %error, "cannot resolve the reconnect host; staying");
            pool
        }
    }
}

/// Runs one miner until `stop`; see [`Miner::run`].
pub async fn run_miner(config: MinerConfig, stop: watch::Receiver<bool>) -> MinerReport {
    Miner::new(config).run(stop).await
}
