//! Simulated Stratum V1 miners that really hash.
//!
//! A [`Miner`] connects to a pool over TCP, speaks one firmware's exact
//! dialect ([`Dialect`]: cgminer, ESP-Miner on a Bitaxe, cpuminer), hashes
//! every job it is sent with the `stratum` crate's double-SHA256 core on
//! rayon's threads, capped at a configured hash rate, and submits every
//! hash that meets its share target. It counts everything it sees in
//! [`MinerCounters`], and can misbehave on purpose ([`Misbehaviour`]) to
//! test that a pool rejects what it must. A [`Swarm`] runs many at once.
//!
//! ```no_run
//! # async fn demo() {
//! use miner_sim::{run_miner, Dialect, MinerConfig};
//! let config = MinerConfig::new("127.0.0.1:3333".parse().unwrap(), "addr.rig1", Dialect::Bitaxe);
//! let (stop, stop_receiver) = tokio::sync::watch::channel(false);
//! let miner = tokio::spawn(run_miner(config, stop_receiver));
//! // ... later:
//! stop.send(true).unwrap();
//! let report = miner.await.unwrap();
//! assert_eq!(report.counters.unexpected_rejections, 0);
//! # }
//! ```
//!
//! The stop signal is a `tokio::sync::watch::Receiver<bool>`: `true` (or
//! dropping every sender) stops the miner within milliseconds.

pub mod config;
mod connection;
pub mod counters;
pub mod dialect;
mod hasher;
pub mod hashrate;
pub mod miner;
pub mod misbehaviour;
mod session;
pub mod stop;
pub mod swarm;
mod work;

pub use config::MinerConfig;
pub use counters::{CountersSnapshot, MinerCounters, RejectionCounts, ShareOutcome, ShareRecord};
pub use dialect::{Dialect, SubmitParams, VersionBitsForm};
pub use hashrate::{format_hashrate, parse_hashrate};
pub use miner::{run_miner, Miner, MinerReport};
pub use misbehaviour::{BadShare, MalformedKind, Misbehaviour};
pub use session::UNKNOWN_WORKER;
pub use swarm::{numbered, Swarm, SwarmReport};
