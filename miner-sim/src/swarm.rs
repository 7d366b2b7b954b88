//! Many miners started together, stopped together, summed up together.

use crate::config::MinerConfig;
use crate::counters::{CountersSnapshot, MinerCounters};
use crate::miner::{Miner, MinerReport};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Running miners, each on its own tokio task, sharing one stop signal.
pub struct Swarm {
    counters: Vec<Arc<MinerCounters>>,
    tasks: Vec<JoinHandle<MinerReport>>,
    stop: watch::Sender<bool>,
    started: Instant,
}

/// What a swarm did.
#[derive(Debug, Clone)]
pub struct SwarmReport {
    pub miners: Vec<MinerReport>,
    /// The sum over all miners.
    pub total: CountersSnapshot,
    pub elapsed: Duration,
}

impl SwarmReport {
    /// Hashes computed per second by all miners.
    pub fn hashrate(&self) -> f64 {
        self.total.hashes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `count` copies of `base`, named after it: the worker part of
/// `addr.rig` becomes `rig1..rigN`, a bare address gets `w1..wN`; each
/// gets its own seed. A single miner keeps the name as it is.
pub fn numbered(base: &MinerConfig, count: usize) -> Vec<MinerConfig> {
    (1..=count)
        .map(|index| {
            let username = if count == 1 {
                base.username.clone()
            } else if base.username.contains('.') {
                format!("{}{index}", base.username)
            } else {
                format!("{}.w{index}", base.username)
            };
            MinerConfig {
                username,
                seed: base.seed.wrapping_add(index as u64),
                ..base.clone()
            }
        })
        .collect()
}

impl Swarm {
    /// Starts every miner now. Must be called inside a tokio runtime.
    pub fn start(configs: Vec<MinerConfig>) -> Swarm {
        let (stop, stop_receiver) = watch::channel(false);
        let (counters, tasks) = configs
            .into_iter()
            .map(|config| {
                let miner = Miner::new(config);
                let counters = miner.counters();
                let task = tokio::spawn(miner.run(stop_receiver.clone()));
                (counters, task)
            })
            .unzip();
        Swarm {
            counters,
            tasks,
            stop,
            started: Instant::now(),
        }
    }

    pub fn len(&self) -> usize {
        self.counters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// Each miner's live counters, in the order of the configs.
    pub fn counters(&self) -> &[Arc<MinerCounters>] {
        &self.counters
    }

    /// The sum of all miners' counters right now.
    pub fn snapshot(&self) -> CountersSnapshot {
        let mut total = CountersSnapshot::default();
        for counters in &self.counters {
            total += &counters.snapshot();
        }
        total
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stops every miner and waits for their reports.
    pub async fn stop(self) -> SwarmReport {
        let _ = self.stop.send(true);
        self.collect().await
    }

    /// Waits for every miner to end by itself (a miner without
    /// reconnect ends with its connection).
    pub async fn wait(self) -> SwarmReport {
        self.collect().await
    }

    async fn collect(self) -> SwarmReport {
        let mut miners = Vec::with_capacity(self.tasks.len());
        let mut total = CountersSnapshot::default();
        for task in self.tasks {
            match task.await {
                Ok(report) => {
                    total += &report.counters;
                    miners.push(report);
                }
                Err(error) => tracing::warn!(%error, "a miner task failed"),
            }
        }
        // Keep the sender alive until every miner has returned.
        drop(self.stop);
        SwarmReport {
            miners,
            total,
            elapsed: self.started.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Dialect;

    #[test]
    fn numbered_names() {
        let pool = "127.0.0.1:3333".parse().unwrap();
        let rig = MinerConfig::new(pool, "addr.rig", Dialect::Bitaxe);
        let names: Vec<String> = numbered(&rig, 3).into_iter().map(|c| c.username).collect();
        assert_eq!(names, ["addr.rig1", "addr.rig2", "addr.rig3"]);
        let bare = MinerConfig::new(pool, "addr", Dialect::Bitaxe);
        let configs = numbered(&bare, 2);
        assert_eq!(configs[1].username, "addr.w2");
        assert_ne!(configs[0].seed, configs[1].seed);
        assert_eq!(numbered(&rig, 1)[0].username, "addr.rig");
    }
}
