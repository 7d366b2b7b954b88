//! One connection to the pool: the dialect's handshake, then mining until
//! the pool goes away, sends `client.reconnect`, or we are told to stop.
//!
//! Everything happens on the miner's one task: reading the pool, handing
//! chunks of nonces to the hasher, submitting what it finds, and the stop
//! signal, all in one `select!`. Shares are submitted in the order found.
//!
//! `handshake.rs` opens the session as the dialect does, `messages.rs`
//! handles what the pool sends, `shares.rs` submits what the hasher finds
//! (and the bad shares the misbehaviour asks for).

mod handshake;
mod messages;
mod shares;

use crate::config::MinerConfig;
use crate::connection::Connection;
use crate::counters::{MinerCounters, ShareOutcome, ShareRecord};
use crate::dialect::{Dialect, SubmitParams};
use crate::hasher::{Hit, Pacer, Scan, ScanResult};
use crate::misbehaviour::{BadShare, MalformedKind, Rng};
use crate::stop::stopped;
use crate::work::{HeaderWork, JobWork, WorkSource};
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use stratum::message::{
    ConfigureResult, ErrorCode, ErrorReply, Id, Notify, Response, ServerMessage, SubscribeResult,
};
use stratum::target::hash_difficulty;
use stratum::{
    Difficulty, Extranonce2, Job, Nonce, Ntime, Sha256d, Target, VersionBits, VersionMask,
};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// Job ids ESP-Miner remembers to drop repeated notifies.
const SEEN_JOB_IDS: usize = 64;

/// Submits awaiting an answer; past this (a pool that stopped answering,
/// or a silent reader) the oldest count as unanswered.
const MAX_PENDING_SUBMITS: usize = 4096;

/// The worker name of [`BadShare::UnknownWorker`] shares.
pub const UNKNOWN_WORKER: &str = "unauthorized.worker";

/// Why a session ended.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    Stopped,
    /// The pool closed the connection, or reading or writing failed.
    Disconnected(String),
    /// The pool refused the subscription or the worker.
    Refused(String),
    /// `client.reconnect`.
    Reconnect {
        host: Option<String>,
        port: Option<u16>,
        wait: Option<Duration>,
    },
}

/// What a miner keeps from one connection to the next.
pub(crate) struct Carried {
    pub extranonce2_counter: u64,
    pub rng: Rng,
    pub bad_sent: HashMap<BadShare, u32>,
}

enum Pending {
    Configure,
    Subscribe { with_agent: bool },
    Authorize,
    Other,
    Submit(Box<PendingSubmit>),
}

struct PendingSubmit {
    record: ShareRecord,
    /// To submit it again as a duplicate.
    params: Option<SubmitParams>,
    job_epoch: u64,
}

struct InFlight {
    receiver: oneshot::Receiver<ScanResult>,
    header: Arc<HeaderWork>,
    generation: u64,
}

/// A share held back to be submitted once its job is stale.
struct Held {
    params: SubmitParams,
    record: ShareRecord,
    job_epoch: u64,
}

pub(crate) struct Session<'a> {
    config: &'a MinerConfig,
    counters: &'a Arc<MinerCounters>,
    carried: &'a mut Carried,
    stop: watch::Receiver<bool>,
    conn: Connection,
    dialect: Dialect,
    engine: Sha256d,
    next_id: u64,
    pending: VecDeque<(u64, Pending)>,
    subscribed: bool,
    authorized: Option<bool>,
    /// The latest `mining.set_difficulty` (1 until one comes).
    difficulty: Difficulty,
    difficulty_set: bool,
    epoch: u64,
    seen_job_ids: VecDeque<String>,
    work: WorkSource,
    generation: Arc<AtomicU64>,
    in_flight: Option<InFlight>,
    pacer: Pacer,
    reading: bool,
    held: Vec<Held>,
    stale_decided: HashSet<(u64, String)>,
    /// Bad lines the pool cannot answer by id; an error with a null id
    /// answers one of them.
    unanswerable: u64,
}

async fn scan_done(in_flight: &mut Option<InFlight>) -> ScanResult {
    match in_flight {
        // A dropped sender (a panicking scan) counts as an empty result.
        Some(in_flight) => (&mut in_flight.receiver).await.unwrap_or_default(),
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The job id exactly as the pool wrote it (the parsed one is a number).
fn raw_job_id(line: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(line).ok()?;
    Some(value.get("params")?.get(0)?.as_str()?.to_string())
}

fn now_ntime() -> Ntime {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    Ntime(now as u32)
}

impl<'a> Session<'a> {
    pub fn new(
        config: &'a MinerConfig,
        counters: &'a Arc<MinerCounters>,
        carried: &'a mut Carried,
        stop: watch::Receiver<bool>,
        conn: Connection,
    ) -> Session<'a> {
        let work = WorkSource::new(
            config.dialect,
            config.nonce_range,
            carried.extranonce2_counter,
        );
        Session {
            config,
            counters,
            carried,
            stop,
            conn,
            dialect: config.dialect,
            engine: Sha256d::best_batch(),
            next_id: config.dialect.first_id(),
            pending: VecDeque::new(),
            subscribed: false,
            authorized: None,
            difficulty: Difficulty::ONE,
            difficulty_set: false,
            epoch: 0,
            seen_job_ids: VecDeque::new(),
            work,
            generation: Arc::new(AtomicU64::new(0)),
            in_flight: None,
            pacer: Pacer::new(config.hashrate),
            reading: true,
            held: Vec::new(),
            stale_decided: HashSet::new(),
            unanswerable: 0,
        }
    }

    pub async fn run(mut self) -> SessionEnd {
        let end = match self.handshake().await {
            Ok(()) => self.mine().await,
            Err(end) => end,
        };
        // Cancel the scan in flight; nobody waits for it.
        self.generation.fetch_add(1, Ordering::Relaxed);
        self.carried.extranonce2_counter = self.work.extranonce2_counter();
        for (_, pending) in self.pending.drain(..) {
            if let Pending::Submit(submit) = pending {
                self.counters.log_share(submit.record);
            }
        }
        end
    }

    async fn send(&mut self, line: &str) -> Result<(), SessionEnd> {
        tokio::select! {
            biased;
            _ = stopped(&mut self.stop) => Err(SessionEnd::Stopped),
            written = self.conn.write(line) => {
                written.map_err(|error| SessionEnd::Disconnected(error.to_string()))
            }
        }
    }

    // ---- mining loop -----------------------------------------------------

    async fn mine(&mut self) -> SessionEnd {
        let silent = self.config.misbehaviour.silent_reader;
        loop {
            if silent && self.reading && self.work.has_work() {
                tracing::debug!(worker = %self.config.username, "silent reader stops reading");
                self.reading = false;
            }
            let mut wake_at = None;
            if self.in_flight.is_none() && self.work.has_work() {
                let now = Instant::now();
                let ready = self.pacer.ready_at(now.into_std());
                if ready <= now.into_std() {
                    self.dispatch();
                } else {
                    wake_at = Some(Instant::from_std(ready));
                }
            }
            // The pool's lines go first: a clean notify or a new difficulty
            // already received applies before what the hasher found is sent.
            let step = tokio::select! {
                biased;
                _ = stopped(&mut self.stop) => return SessionEnd::Stopped,
                line = self.conn.read_line(), if self.reading => match line {
                    Ok(line) => self.handle_line(&line).await,
                    Err(error) => Err(SessionEnd::Disconnected(error.to_string())),
                },
                result = scan_done(&mut self.in_flight) => {
                    let in_flight = self.in_flight.take().expect("a scan was in flight");
                    self.finish_scan(in_flight, result).await
                }
                _ = sleep_until(wake_at) => Ok(()),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// The difficulty a share on `job` is held to: the harder of the latest
    /// one and the one in force when the job came, right under either rule
    /// a pool may follow (credit by job, or apply at once).
    fn difficulty_for(&self, job: &JobWork) -> Difficulty {
        match job.difficulty {
            Some(at_job) if at_job.as_f64() > self.difficulty.as_f64() => at_job,
            _ => self.difficulty,
        }
    }

    fn dispatch(&mut self) {
        let Some((header, first_nonce, count)) = self.work.next_chunk(self.pacer.chunk()) else {
            return;
        };
        self.pacer.spend(count);
        let generation = self.generation.load(Ordering::Relaxed);
        let scan = Scan {
            engine: self.engine,
            midstate: header.midstate,
            tail: header.tail,
            first_nonce,
            count,
            share_target: Target::from_difficulty(self.difficulty_for(&header.job)),
            cancel: self.generation.clone(),
            generation,
        };
        self.in_flight = Some(InFlight {
            receiver: scan.spawn(),
            header,
            generation,
        });
    }

    async fn finish_scan(
        &mut self,
        in_flight: InFlight,
        result: ScanResult,
    ) -> Result<(), SessionEnd> {
        self.counters
            .hashes
            .fetch_add(result.hashed, Ordering::Relaxed);
        if in_flight.generation != self.generation.load(Ordering::Relaxed) {
            self.counters
                .stale_dropped
                .fetch_add(result.hits.len() as u64, Ordering::Relaxed);
            return Ok(());
        }
        for hit in result.hits {
            self.found(&in_flight.header, hit).await?;
        }
        Ok(())
    }
}
