//! A small scripted Stratum pool for the miner's tests: real TCP on
//! 127.0.0.1, answers built with the stratum crate, and every submit
//! verified by recomputing its header hash with `ShareValidator`.
//!
//! Tests drive it step by step (read a line, answer, send a job) or let it
//! serve like a pool until a condition holds. Every wait is bounded.

#![allow(dead_code)]

use miner_sim::{Dialect, Miner, MinerConfig, MinerCounters, MinerReport};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use stratum::framer::LineFramer;
use stratum::message::{
    ClientMessage, ClientMethod, ConfigureResult, ErrorCode, Id, Notify, Response, ServerMessage,
    SetDifficulty, SetVersionMask, Submit, SubscribeResult,
};
use stratum::{
    Difficulty, Extranonce1, Job, JobId, NBits, Ntime, PrevHash, Share, ShareValidator, Target,
    Version, VersionMask,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// The longest any single wait may take before the test fails.
pub const STEP: Duration = Duration::from_secs(30);

pub const EXTRANONCE1: &str = "f000000a";
pub const EXTRANONCE2_SIZE: usize = 8;
pub const USER: &str = "bcrt1qexampleworkeraddress.rig1";

pub struct TestPool {
    listener: TcpListener,
}

impl TestPool {
    pub async fn bind() -> TestPool {
        TestPool {
            listener: TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("local addr")
    }

    pub async fn accept(&self) -> PoolConn {
        let (stream, _) = timeout(STEP, self.listener.accept())
            .await
            .expect("the miner connects in time")
            .expect("accept");
        let (reader, writer) = stream.into_split();
        PoolConn::new(reader, writer)
    }
}

enum Read {
    Line(Option<String>),
    Timeout,
    Closed,
}

/// A job as the pool keeps it.
struct PoolJob {
    job: Job,
    difficulty: Difficulty,
    stale: bool,
}

/// A submit the pool received, and what it answered.
#[derive(Debug, Clone)]
pub struct SubmitSeen {
    pub line: String,
    pub id: Id,
    pub submit: Submit,
    pub verdict: Result<(), ErrorCode>,
    /// The difficulty of the job the share answers (what the pool credits).
    pub job_difficulty: f64,
    /// The difficulty the hash achieved, when it could be hashed.
    pub hash_difficulty: Option<f64>,
    pub block: bool,
    /// How many notifies the pool had sent when the submit arrived.
    pub notifies_sent: usize,
}

/// One miner's connection, seen from the pool.
pub struct PoolConn {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    framer: LineFramer,
    buffer: Vec<u8>,
    pub extranonce1: Extranonce1,
    pub extranonce2_size: usize,
    pub pool_mask: VersionMask,
    pub mask: VersionMask,
    /// Send `mining.set_version_mask` after answering configure.
    pub send_set_version_mask: bool,
    /// Answer lines it cannot read with an error carrying a null id.
    pub answer_unreadable: bool,
    pub subscribed: bool,
    pub authorized: HashSet<String>,
    pub difficulty: Difficulty,
    jobs: HashMap<JobId, PoolJob>,
    validator: ShareValidator,
    seen_hashes: HashSet<[u8; 32]>,
    pub notifies_sent: usize,
    /// Every line received, in order (over-long ones as `<too long>`).
    pub lines: Vec<String>,
    pub submits: Vec<SubmitSeen>,
    pub unreadable: usize,
    /// A write failed: the miner has closed the connection.
    pub peer_gone: bool,
    sync_serial: u32,
}

impl PoolConn {
    fn new(reader: OwnedReadHalf, writer: OwnedWriteHalf) -> PoolConn {
        PoolConn {
            reader,
            writer,
            framer: LineFramer::default(),
            buffer: vec![0; 64 * 1024],
            extranonce1: Extranonce1::from_wire(EXTRANONCE1).unwrap(),
            extranonce2_size: EXTRANONCE2_SIZE,
            pool_mask: VersionMask::POOL_DEFAULT,
            mask: VersionMask::NONE,
            send_set_version_mask: true,
            answer_unreadable: true,
            subscribed: false,
            authorized: HashSet::new(),
            difficulty: Difficulty::ONE,
            jobs: HashMap::new(),
            validator: ShareValidator::default(),
            seen_hashes: HashSet::new(),
            notifies_sent: 0,
            lines: Vec::new(),
            submits: Vec::new(),
            unreadable: 0,
            peer_gone: false,
            sync_serial: 0,
        }
    }

    /// The next line; `None` for a line over the framer's limit. Panics
    /// when the miner closes the connection or says nothing for `STEP`.
    pub async fn next(&mut self) -> Option<String> {
        self.try_next(STEP)
            .await
            .expect("a line from the miner in time")
    }

    /// The next line, or `Err` if none arrives within `wait`.
    pub async fn try_next(&mut self, wait: Duration) -> Result<Option<String>, ()> {
        match self.read(wait).await {
            Read::Line(line) => Ok(line),
            Read::Timeout => Err(()),
            Read::Closed => panic!("the miner closed the connection"),
        }
    }

    async fn read(&mut self, wait: Duration) -> Read {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(item) = self.framer.next_line() {
                let line = item
                    .ok()
                    .map(|line| String::from_utf8_lossy(line).into_owned());
                self.lines
                    .push(line.clone().unwrap_or_else(|| "<too long>".into()));
                return Read::Line(line);
            }
            let read = tokio::time::timeout_at(deadline, self.reader.read(&mut self.buffer)).await;
            match read {
                Err(_) => return Read::Timeout,
                Ok(Ok(0)) | Ok(Err(_)) => return Read::Closed,
                Ok(Ok(read)) => self.framer.push(&self.buffer[..read]),
            }
        }
    }

    /// The next readable line, or `None` once the miner has gone (or is
    /// silent for `STEP`).
    pub async fn next_or_end(&mut self) -> Option<String> {
        loop {
            match self.read(STEP).await {
                Read::Line(Some(line)) => return Some(line),
                Read::Line(None) => continue,
                Read::Timeout | Read::Closed => return None,
            }
        }
    }

    /// Serves like a pool until the miner disconnects (or is silent for `STEP`).
    pub async fn serve_to_end(&mut self) {
        while let Read::Line(line) = self.read(STEP).await {
            if let Some(line) = line {
                self.handle(&line).await;
            }
            if self.peer_gone {
                return;
            }
        }
    }

    /// The next line, which must be readable.
    pub async fn line(&mut self) -> String {
        self.next().await.expect("a line within the framer's limit")
    }

    /// Writes a line; a miner that has gone away is noted in `peer_gone`.
    pub async fn send(&mut self, line: &str) {
        let written = timeout(STEP, self.writer.write_all(line.as_bytes()))
            .await
            .expect("the miner reads in time");
        if written.is_err() {
            self.peer_gone = true;
        }
    }

    /// Tries to write within `wait`; `false` when the miner's queue is full.
    pub async fn try_send(&mut self, line: &str, wait: Duration) -> bool {
        match timeout(wait, self.writer.write_all(line.as_bytes())).await {
            Ok(written) => {
                written.expect("write to the miner");
                true
            }
            Err(_) => false,
        }
    }

    pub async fn set_difficulty(&mut self, difficulty: f64) {
        let difficulty = Difficulty::new(difficulty).unwrap();
        self.difficulty = difficulty;
        self.send(&SetDifficulty { difficulty }.to_line()).await;
    }

    /// Sends a job, credited at the current difficulty; a clean one voids
    /// every earlier job.
    pub async fn notify(&mut self, notify: &Notify) {
        if notify.clean_jobs {
            for job in self.jobs.values_mut() {
                job.stale = true;
            }
        }
        self.jobs.insert(
            notify.job_id,
            PoolJob {
                job: Job::new(notify.clone()).unwrap(),
                difficulty: self.difficulty,
                stale: false,
            },
        );
        self.notifies_sent += 1;
        self.send(&notify.to_line()).await;
    }

    /// Reads one line and answers it like a pool; returns it.
    pub async fn handle_next(&mut self) -> Option<String> {
        let line = self.next().await;
        match &line {
            Some(line) => self.handle(line).await,
            None => {
                self.unreadable += 1;
                if self.answer_unreadable {
                    let reply = Response::error(
                        Id::Null,
                        stratum::message::ErrorReply::new(ErrorCode::Other, "line too long"),
                    );
                    self.send(&reply.to_line()).await;
                }
            }
        }
        line
    }

    /// Answers one line like a pool.
    pub async fn handle(&mut self, line: &str) {
        let request = match ClientMessage::parse(line.as_bytes()) {
            Ok(ClientMessage::Request(request)) => request,
            Ok(ClientMessage::Response(_)) => return,
            Err(error) => {
                self.unreadable += 1;
                match error.reply() {
                    Some(reply) => self.send(&reply.to_line()).await,
                    None if self.answer_unreadable => {
                        let reply = Response::error(
                            Id::Null,
                            stratum::message::ErrorReply::new(ErrorCode::Other, error.to_string()),
                        );
                        self.send(&reply.to_line()).await;
                    }
                    None => {}
                }
                return;
            }
        };
        let id = request.id.clone();
        match request.method {
            ClientMethod::Configure(configure) => {
                let requested = configure
                    .version_rolling
                    .map(|rolling| rolling.requested_mask());
                self.mask = requested.map_or(VersionMask::NONE, |requested| {
                    VersionMask::negotiate(self.pool_mask, requested)
                });
                let result = ConfigureResult {
                    version_rolling: requested.map(|_| self.mask),
                    ..ConfigureResult::default()
                };
                self.send(&Response::configure(id, &result).to_line()).await;
                if requested.is_some() && self.send_set_version_mask {
                    let set = SetVersionMask { mask: self.mask };
                    self.send(&set.to_line()).await;
                }
            }
            ClientMethod::Subscribe(_) => {
                self.subscribed = true;
                let result = SubscribeResult::new("5ub1d", self.extranonce1, self.extranonce2_size);
                self.send(&Response::subscribe(id, &result).to_line()).await;
            }
            ClientMethod::Authorize(authorize) => {
                self.authorized.insert(authorize.username.to_string());
                self.send(&Response::boolean(id, true).to_line()).await;
            }
            ClientMethod::Submit(submit) => {
                let seen = self.check(line, id.clone(), submit);
                let reply = match seen.verdict {
                    Ok(()) => Response::boolean(id, true),
                    Err(code) => Response::error_code(id, code),
                };
                self.submits.push(seen);
                self.send(&reply.to_line()).await;
            }
            ClientMethod::Pong => {}
            ClientMethod::SuggestDifficulty(_)
            | ClientMethod::SuggestTarget(_)
            | ClientMethod::ExtranonceSubscribe => {
                self.send(&Response::boolean(id, true).to_line()).await;
            }
            ClientMethod::GetTransactions | ClientMethod::Unknown { .. } => {
                if !id.is_null() {
                    self.send(&Response::error_code(id, ErrorCode::Other).to_line())
                        .await;
                }
            }
        }
    }

    /// Verifies a submit the way a pool must, hashing it.
    fn check(&mut self, line: &str, id: Id, submit: Submit) -> SubmitSeen {
        let mut seen = SubmitSeen {
            line: line.to_string(),
            id,
            submit: submit.clone(),
            verdict: Ok(()),
            job_difficulty: 0.0,
            hash_difficulty: None,
            block: false,
            notifies_sent: self.notifies_sent,
        };
        let verdict = (|| {
            if !self.subscribed {
                return Err(ErrorCode::NotSubscribed);
            }
            if !self.authorized.contains(&submit.worker) {
                return Err(ErrorCode::UnauthorizedWorker);
            }
            let job = self
                .jobs
                .get(&submit.job_id)
                .ok_or(ErrorCode::JobNotFound)?;
            seen.job_difficulty = job.difficulty.as_f64();
            if job.stale {
                return Err(ErrorCode::JobNotFound);
            }
            let extranonce2 = submit
                .extranonce2
                .fit(self.extranonce2_size)
                .map_err(|_| ErrorCode::Other)?;
            let share = Share {
                extranonce1: self.extranonce1,
                extranonce2,
                ntime: submit.ntime,
                nonce: submit.nonce,
                version_bits: submit.version_bits,
            };
            let target = Target::from_difficulty(job.difficulty);
            let check = self
                .validator
                .validate(&job.job, &share, self.mask, &target)
                .map_err(|_| ErrorCode::Other)?;
            seen.hash_difficulty = Some(check.difficulty());
            seen.block = check.meets_network_target;
            if !self.seen_hashes.insert(check.hash) {
                return Err(ErrorCode::Duplicate);
            }
            if !check.meets_share_target {
                return Err(ErrorCode::LowDifficulty);
            }
            Ok(())
        })();
        seen.verdict = verdict;
        seen
    }

    /// Answers configure, subscribe and authorize (and whatever else comes
    /// first) until the miner is subscribed and authorized.
    pub async fn handshake(&mut self) {
        while !self.subscribed || self.authorized.is_empty() {
            self.handle_next().await;
        }
    }

    /// Serves like a pool until `done` holds (bounded by `STEP` per line).
    pub async fn serve_until(&mut self, mut done: impl FnMut(&PoolConn) -> bool) {
        let deadline = tokio::time::Instant::now() + STEP;
        while !done(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition not reached in time; {} submits seen",
                self.submits.len()
            );
            self.handle_next().await;
        }
    }

    /// A barrier: once the miner answers this `client.get_version` (every
    /// dialect does), it has handled every line the pool sent before it.
    /// Lines that arrive meanwhile are served (their answers may still be
    /// on their way to the miner).
    pub async fn sync(&mut self) {
        self.sync_serial += 1;
        let id = format!("sync{}", self.sync_serial);
        let request =
            format!("{{\"id\":\"{id}\",\"method\":\"client.get_version\",\"params\":[]}}\n");
        self.send(&request).await;
        let quoted = format!("\"{id}\"");
        self.serve_until(|conn| {
            conn.lines
                .iter()
                .rev()
                .take(50)
                .any(|line| line.contains(&quoted))
        })
        .await;
    }

    pub fn accepted(&self) -> usize {
        self.submits
            .iter()
            .filter(|seen| seen.verdict.is_ok())
            .count()
    }

    pub fn rejected(&self, code: ErrorCode) -> usize {
        self.submits
            .iter()
            .filter(|seen| seen.verdict == Err(code))
            .count()
    }
}

/// The notify of `vectors/worked-share-regtest.json` (a real regtest
/// template: nbits 207fffff makes about every other hash a block), under
/// another job id.
pub fn worked_notify(job_id: u64, clean_jobs: bool) -> Notify {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vectors/worked-share-regtest.json"
    ))
    .expect("the worked share vector");
    let vector: Value = serde_json::from_str(&text).unwrap();
    let line = serde_json::json!({
        "id": null,
        "method": "mining.notify",
        "params": vector["notify_params"],
    })
    .to_string();
    let ServerMessage::Notify(mut notify) = ServerMessage::parse(line.as_bytes()).unwrap() else {
        panic!("the vector's notify parses");
    };
    notify.job_id = JobId(job_id);
    notify.clean_jobs = clean_jobs;
    notify
}

/// A made-up job with any nbits and version.
pub fn synthetic_notify(job_id: u64, nbits: u32, version: u32, clean_jobs: bool) -> Notify {
    Notify {
        job_id: JobId(job_id),
        prevhash: PrevHash([0x42; 32]),
        coinb1: vec![0x01; 42],
        coinb2: vec![0xff; 58],
        merkle_branch: vec![[0x11; 32], [0x22; 32]],
        version: Version(version),
        nbits: NBits(nbits),
        ntime: Ntime(1_750_000_000),
        clean_jobs,
    }
}

/// A well-behaved miner for `pool` that does not reconnect.
pub fn config(pool: &TestPool, dialect: Dialect) -> MinerConfig {
    let mut config = MinerConfig::new(pool.addr(), USER, dialect);
    config.hashrate = 2e6;
    config.reconnect = false;
    config
}

/// A miner running on its own task.
pub struct Running {
    pub stop: watch::Sender<bool>,
    pub task: JoinHandle<MinerReport>,
    pub counters: Arc<MinerCounters>,
}

pub fn start(config: MinerConfig) -> Running {
    let (stop, receiver) = watch::channel(false);
    let miner = Miner::new(config);
    let counters = miner.counters();
    let task = tokio::spawn(miner.run(receiver));
    Running {
        stop,
        task,
        counters,
    }
}

impl Running {
    /// Stops the miner; it must return within a second.
    pub async fn stop(self) -> MinerReport {
        let _ = self.stop.send(true);
        timeout(Duration::from_secs(1), self.task)
            .await
            .expect("the miner stops promptly")
            .expect("the miner task")
    }
}

/// The share difficulty the tests mine at: about 86k hashes per share.
pub const EASY: f64 = 0.00002;
