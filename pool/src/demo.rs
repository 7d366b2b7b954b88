//! `pool demo`: the whole pool on one machine with nothing to set up: the
//! simulated chain, the pool on it, a few simulated miners (one of each
//! firmware dialect) and the web page. Blocks come every few seconds.

use crate::app::{Pool, StartError};
use crate::config::{Config, TemplateSourceKind};
use crate::server::stats::StatsSnapshot;
use miner_sim::{Dialect, MinerConfig, Swarm};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The simulated chain's difficulty: with the demo miners' ~4.5 MH/s a
/// block takes about 5 s, so a minute without one is vanishingly rare.
const DEMO_NETWORK_DIFFICULTY: f64 = 0.005;

/// Where the demo would like to listen; taken ports fall back to any free one.
const STRATUM_PORT: u16 = 3333;
const WEB_PORT: u16 = 8080;

/// What a demo run did.
#[derive(Debug, Clone)]
pub struct DemoOutcome {
    pub pool: StatsSnapshot,
    pub miners: miner_sim::CountersSnapshot,
}

impl DemoOutcome {
    /// The one line the demo ends with.
    pub fn summary(&self) -> String {
        format!(
            "demo: blocks found {}, shares accepted {}, rejected {}",
            self.pool.blocks_accepted,
            self.pool.shares_accepted,
            self.pool.rejected_total()
        )
    }

    /// A block was found and nothing was rejected that the miners did not
    /// mean to be rejected.
    pub fn succeeded(&self) -> bool {
        self.pool.blocks_accepted >= 1 && self.miners.unexpected_rejections == 0
    }
}

/// The demo's configuration: simnet, regtest, a throwaway ledger and
/// blocks directory, difficulties that suit CPU miners.
pub fn config(scratch: &std::path::Path, stratum: SocketAddr, web: SocketAddr) -> Config {
    let mut config = Config::default();
    config.chain.source = TemplateSourceKind::Simnet;
    config.chain.blocks_dir = scratch.join("blocks");
    config.simnet.difficulty = DEMO_NETWORK_DIFFICULTY;
    config.database.url = format!("sqlite://{}", scratch.join("demo.db").display());
    config.stratum.listen = stratum;
    config.stratum.start_difficulty = 0.001;
    config.stratum.min_difficulty = 0.0001;
    config.stratum.share_interval_secs = 5.0;
    config.web.listen = web;
    config
}

fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("pool-demo-{}", std::process::id()))
}

/// Starts the pool on the preferred ports, or on free ones if they are taken.
async fn start_pool(scratch: &std::path::Path) -> Result<Pool, StartError> {
    let preferred = config(
        scratch,
        SocketAddr::from(([0, 0, 0, 0], STRATUM_PORT)),
        SocketAddr::from(([127, 0, 0, 1], WEB_PORT)),
    );
    match Pool::start(&preferred).await {
        Err(StartError::Bind { .. }) => {
            let any_port = config(
                scratch,
                SocketAddr::from(([0, 0, 0, 0], 0)),
                SocketAddr::from(([127, 0, 0, 1], 0)),
            );
            Pool::start(&any_port).await
        }
        other => other,
    }
}

/// Runs the demo until `stop` resolves, printing where to look.
pub async fn run(stop: impl std::future::Future<Output = ()>) -> Result<DemoOutcome, StartError> {
    let scratch = scratch_dir();
    let _ = std::fs::remove_dir_all(&scratch);
    let pool = start_pool(&scratch).await?;
    let address = crate::config::simnet_demo_address();
    let stratum = pool.stratum_addr();
    let local = SocketAddr::from(([127, 0, 0, 1], stratum.port()));
    let miners = [
        (Dialect::Cgminer, "cgminer", 1.5e6),
        (Dialect::Bitaxe, "bitaxe", 1.5e6),
        (Dialect::Cpuminer, "cpuminer", 1.5e6),
    ]
    .into_iter()
    .map(|(dialect, worker, hashrate)| {
        let mut miner = MinerConfig::new(local, format!("{address}.{worker}"), dialect);
        miner.hashrate = hashrate;
        // The Bitaxe habit is to suggest 1000, far above a CPU's share rate.
        miner.suggest_difficulty = Some(0.0);
        miner
    })
    .collect();
    let swarm = Swarm::start(miners);
    println!("pool demo: the simulated regtest chain, the pool and 3 simulated miners");
    println!("  stratum:   stratum+tcp://{stratum}");
    println!("  web page:  http://{}/", pool.web_addr());
    println!(
        "  join with a real miner: cgminer -o stratum+tcp://<this host>:{} -u {address}.rig1 -p x",
        stratum.port()
    );
    println!("  (Ctrl-C stops)");
    stop.await;
    let miners = swarm.stop().await.total;
    let pool_stats = pool.stats().snapshot();
    pool.shutdown().await;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(DemoOutcome {
        pool: pool_stats,
        miners,
    })
}

/// Waits for the demo's duration (if any) or a shutdown signal.
pub async fn until(duration: Option<Duration>, signal: impl std::future::Future<Output = ()>) {
    match duration {
        Some(duration) => {
            tokio::select! {
                _ = tokio::time::sleep(duration) => {}
                _ = signal => {}
            }
        }
        None => signal.await,
    }
}
