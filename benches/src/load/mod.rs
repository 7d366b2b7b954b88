//! The load harness: many Stratum connections against a running pool on
//! 127.0.0.1, measuring what a pool's cost and speed are made of (answers
//! a second and their latency, memory per connection, and how fast a new
//! block reaches every miner). `src/bin/load.rs` is its command line;
//! `load/*.toml` are the pool configurations each mode expects.
//!
//! - [`Mode::Reject`]: random nonces at a share difficulty no random nonce
//!   meets: the share check's speed, without the ledger.
//! - [`Mode::Accept`]: a pool whose share difficulty every hash meets, so
//!   each answer waits for the durable ledger's commit.
//! - [`Mode::Notify`]: connections idle (or each with submits in flight);
//!   a block is triggered, and each connection times its first clean
//!   notify from the trigger.

mod client;
pub mod rss;
pub mod summary;

use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use summary::{Latencies, LatencySummary, Outcomes};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::time::Instant;

/// Connections opening at once: a ramp, not a SYN flood.
const CONNECT_CONCURRENCY: usize = 256;
/// How long every connection may take to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a triggered block may take to reach every connection.
const ROUND_TIMEOUT: Duration = Duration::from_secs(10);
/// A pause between triggered blocks, so rounds do not overlap.
const ROUND_GAP: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum LoadError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the pool closed the connection")]
    Closed,
    #[error("socket error: {0}")]
    Io(String),
    #[error("the pool refused: {0}")]
    Refused(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("only {ready} of {wanted} connections were ready after {timeout:?}")]
    NotReady {
        ready: usize,
        wanted: usize,
        timeout: Duration,
    },
    #[error("the trigger failed: {0}")]
    Trigger(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Reject,
    Accept,
    Notify,
}

/// What makes a new block in `notify` mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// One more connection grinds a block on its job and submits it (a
    /// simnet at low difficulty); the trigger time is when it is sent.
    Finder,
    /// A shell command that mines a block on a real node (bitcoin-cli
    /// generatetoaddress); the trigger time is when it returns.
    Command(String),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub pool: SocketAddr,
    /// The pool's process, for its memory (`None`: not measured).
    pub pid: Option<u32>,
    pub mode: Mode,
    pub connections: usize,
    /// Submits each connection keeps in flight (notify mode: 0 is idle).
    pub in_flight: usize,
    /// The longest the run lasts once every connection is ready.
    pub duration: Duration,
    /// `address.worker` prefix: connection `n` is `<username>.<n>`.
    pub username: String,
    /// Notify mode: blocks to trigger.
    pub blocks: usize,
    pub trigger: Trigger,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: Mode,
    pub connections: usize,
    pub in_flight: usize,
    /// Connections that failed (each error once, with its count).
    pub failures: Vec<(String, usize)>,
    /// Seconds from the first submit to the stop.
    pub elapsed_secs: f64,
    pub answers: u64,
    pub answers_per_sec: f64,
    pub latency: LatencySummary,
    pub outcomes: Outcomes,
    pub notify: Option<NotifyReport>,
    pub memory: Option<MemoryReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotifyReport {
    pub blocks: usize,
    /// From the trigger to each connection's first clean notify.
    pub latency: LatencySummary,
    /// (connection, block) pairs that got no clean notify in the round.
    pub missed: usize,
}

/// The pool's resident memory, in bytes.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    pub before: u64,
    /// Once every connection was ready (subscribed, authorized, a job).
    pub connected: u64,
    pub end: u64,
    pub bytes_per_connection: f64,
}

/// Opens the connections, runs the mode, stops by itself.
pub async fn run(settings: Settings) -> Result<Report, LoadError> {
    let rss_before = settings.pid.and_then(rss::resident_bytes);
    let (go, go_rx) = watch::channel(false);
    let (stop, stop_rx) = watch::channel(false);
    let clean_notifies = Arc::new(AtomicU64::new(0));
    let clean_notified = Arc::new(tokio::sync::Notify::new());
    let ready = Arc::new(Semaphore::new(0));
    let shared = client::Shared {
        pool: settings.pool,
        username: settings.username.clone(),
        in_flight: match settings.mode {
            Mode::Notify => settings.in_flight,
            _ => settings.in_flight.max(1),
        },
        avoid_blocks: settings.mode == Mode::Notify,
        go: go_rx,
        stop: stop_rx,
        clean_notifies: Arc::clone(&clean_notifies),
        clean_notified: Arc::clone(&clean_notified),
        ready: Arc::clone(&ready),
    };
    let opening = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut clients = tokio::task::JoinSet::new();
    for n in 0..settings.connections {
        let mut shared = shared.clone();
        shared.username = format!("{}.{n}", settings.username);
        let opening = Arc::clone(&opening);
        clients.spawn(async move {
            // Given back once this connection is ready (or failed).
            let opening = opening.acquire_owned().await.expect("never closed");
            client::run(shared, n as u64 + 1, None, Some(opening)).await
        });
    }
    let finder = match (&settings.mode, &settings.trigger) {
        (Mode::Notify, Trigger::Finder) => {
            let (requests, receiver) = mpsc::channel(1);
            let mut shared = shared.clone();
            shared.username = format!("{}.finder", settings.username);
            let task = tokio::spawn(client::run(shared, 0, Some(receiver), None));
            Some((requests, task))
        }
        _ => None,
    };
    // Every connection ready, or the run fails with the count.
    let wanted = settings.connections;
    let all_ready = async {
        let permits = ready
            .acquire_many(wanted as u32)
            .await
            .expect("never closed");
        permits.forget();
    };
    if tokio::time::timeout(READY_TIMEOUT, all_ready)
        .await
        .is_err()
    {
        let _ = stop.send(true);
        return Err(LoadError::NotReady {
            ready: ready.available_permits(),
            wanted,
            timeout: READY_TIMEOUT,
        });
    }
    let rss_connected = settings.pid.and_then(rss::resident_bytes);
    let started = Instant::now();
    let _ = go.send(true);
    let mut rounds = Vec::new();
    match settings.mode {
        Mode::Reject | Mode::Accept => tokio::time::sleep(settings.duration).await,
        Mode::Notify => {
            let deadline = started + settings.duration;
            let finder_requests = finder.as_ref().map(|(requests, _)| requests.clone());
            for _ in 0..settings.blocks {
                if Instant::now() >= deadline {
                    break;
                }
                let seen = clean_notifies.load(Ordering::Relaxed);
                let at = trigger(&settings.trigger, finder_requests.as_ref()).await?;
                rounds.push(at);
                let target = seen + wanted as u64;
                let round_end = (at + ROUND_TIMEOUT).min(deadline);
                // Each clean notify wakes this (a permit is kept if it
                // came first); the round ends when all came, or at its end.
                while clean_notifies.load(Ordering::Relaxed) < target {
                    let woken = tokio::time::timeout_at(round_end, clean_notified.notified());
                    if woken.await.is_err() {
                        break;
                    }
                }
                tokio::time::sleep(ROUND_GAP).await;
            }
        }
    }
    let _ = stop.send(true);
    let mut latencies = Latencies::default();
    let mut outcomes = Outcomes::default();
    let mut notify_latencies = Latencies::default();
    let mut missed = 0;
    let mut failures: Vec<(String, usize)> = Vec::new();
    while let Some(report) = clients.join_next().await {
        let report = report.unwrap_or_default();
        if let Some(error) = &report.error {
            let error = error.to_string();
            match failures.iter_mut().find(|(seen, _)| *seen == error) {
                Some((_, count)) => *count += 1,
                None => failures.push((error, 1)),
            }
        }
        outcomes.merge(&report.outcomes);
        latencies.merge(report.latencies);
        for (round, at) in rounds.iter().enumerate() {
            let next = rounds.get(round + 1).copied();
            match report
                .clean_notifies
                .iter()
                .find(|arrived| **arrived >= *at && next.is_none_or(|next| **arrived < next))
            {
                Some(arrived) => notify_latencies.record(*arrived - *at),
                None => missed += 1,
            }
        }
    }
    // Up to the last answer: the connections read what was still due.
    let elapsed = started.elapsed();
    if let Some((requests, task)) = finder {
        drop(requests);
        let report = task.await.unwrap_or_default();
        let refused = report.outcomes.total() - report.outcomes.accepted;
        if refused > 0 {
            failures.push((
                format!("the pool refused the finder's block: {:?}", report.outcomes),
                refused as usize,
            ));
        }
        if let Some(error) = report.error {
            failures.push((format!("the finder: {error}"), 1));
        }
    }
    let rss_end = settings.pid.and_then(rss::resident_bytes);
    let memory = match (rss_before, rss_connected, rss_end) {
        (Some(before), Some(connected), Some(end)) => Some(MemoryReport {
            before,
            connected,
            end,
            bytes_per_connection: connected.saturating_sub(before) as f64
                / settings.connections.max(1) as f64,
        }),
        _ => None,
    };
    let answers = outcomes.total();
    Ok(Report {
        mode: settings.mode,
        connections: settings.connections,
        in_flight: shared.in_flight,
        failures,
        elapsed_secs: elapsed.as_secs_f64(),
        answers,
        answers_per_sec: answers as f64 / elapsed.as_secs_f64().max(1e-9),
        latency: latencies.summary(),
        outcomes,
        notify: (settings.mode == Mode::Notify).then(|| NotifyReport {
            blocks: rounds.len(),
            latency: notify_latencies.summary(),
            missed,
        }),
        memory,
    })
}

/// Makes one block; returns the trigger time.
async fn trigger(
    trigger: &Trigger,
    finder: Option<&mpsc::Sender<client::SolveRequest>>,
) -> Result<Instant, LoadError> {
    match trigger {
        Trigger::Finder => {
            let finder = finder.ok_or_else(|| LoadError::Trigger("no finder".into()))?;
            let (answer, sent) = oneshot::channel();
            finder
                .send(answer)
                .await
                .map_err(|_| LoadError::Trigger("the finder's connection ended".into()))?;
            sent.await
                .map_err(|_| LoadError::Trigger("the finder's connection ended".into()))?
        }
        Trigger::Command(command) => {
            let status = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .stdout(std::process::Stdio::null())
                .status()
                .await
                .map_err(|error| LoadError::Trigger(format!("{command}: {error}")))?;
            let at = Instant::now();
            if !status.success() {
                return Err(LoadError::Trigger(format!("{command}: {status}")));
            }
            Ok(at)
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "mode {:?}: {} connections x {} in flight, {:.1} s",
            self.mode, self.connections, self.in_flight, self.elapsed_secs
        )?;
        for (error, count) in &self.failures {
            writeln!(f, "  failed connections: {count} x {error}")?;
        }
        if self.answers > 0 {
            writeln!(
                f,
                "  answers: {} ({:.0}/s); {}",
                self.answers, self.answers_per_sec, self.outcomes
            )?;
            writeln!(f, "  answer latency: {}", self.latency)?;
        }
        if let Some(notify) = &self.notify {
            writeln!(
                f,
                "  new block to every connection ({} blocks, {} missed): {}",
                notify.blocks, notify.missed, notify.latency
            )?;
        }
        if let Some(memory) = &self.memory {
            writeln!(
                f,
                "  pool RSS: {:.1} MB before, {:.1} MB connected, {:.1} MB at the end: {:.0} bytes per connection",
                memory.before as f64 / 1e6,
                memory.connected as f64 / 1e6,
                memory.end as f64 / 1e6,
                memory.bytes_per_connection
            )?;
        }
        Ok(())
    }
}
