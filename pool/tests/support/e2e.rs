//! Helpers of the end-to-end tests (`tests/e2e_*.rs`): a pool on the
//! simnet with its own temporary directory, raw Stratum clients that write
//! exact lines, a tap that records what the pool sends a miner, share
//! grinding, and bounded waits. Everything listens and connects on
//! 127.0.0.1 only, on ports the system picks.

#![allow(dead_code)] // each test file uses its own part

use bitcoin::{Address, BlockHash, Network, ScriptBuf};
use pool::app::Pool;
use pool::config::Config;
use pool::ledger::{Ledger, StoredShare};
use pool::server::stats::StatsSnapshot;
use pool::template::simnet::SimnetSource;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stratum::framer::LineFramer;
use stratum::message::{
    Authorize, ClientMessage, ClientMethod, ClientRequest, Configure, Id, Response, ServerMessage,
    Submit, Subscribe, SubscribeResult, SuggestDifficulty, VersionRollingRequest,
};
use stratum::target::hash_difficulty;
use stratum::{
    Difficulty, Extranonce1, Extranonce2, Job, JobId, Nonce, Sha256d, Target, Username, Version,
    VersionBits, VersionMask,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often a wait looks at its condition again.
pub const POLL: Duration = Duration::from_millis(20);
/// The longest one protocol step (an answer, a job) may take.
pub const STEP: Duration = Duration::from_secs(10);
/// Any free port on the loopback interface.
pub const ANY_LOCAL_PORT: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

// ---- scratch directories ---------------------------------------------------

/// A fresh directory under the system temp dir, removed on drop.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    pub fn new(label: &str) -> Scratch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "pool-e2e-{label}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create the scratch directory");
        Scratch { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---- waiting ---------------------------------------------------------------

/// Polls `check` every [`POLL`] until it holds; fails the test after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `observe` every [`POLL`] until it sees what it waits for, and
/// returns what it saw then (assert on that, not on a fresh look); fails
/// the test after `limit`.
pub async fn wait_for<T>(what: &str, limit: Duration, mut observe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(seen) = observe() {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// [`wait_for`] with an observation that has to await (a ledger query).
pub async fn wait_for_async<T, F, Fut>(what: &str, limit: Duration, mut observe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(seen) = observe().await {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// [`wait_until`] with a condition that has to await (a ledger query).
pub async fn wait_until_async<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

// ---- addresses -------------------------------------------------------------

/// A distinct regtest P2WSH address per `tag` (the script `<tag> DROP 1`).
pub fn regtest_address(tag: u8) -> Address {
    let script = ScriptBuf::from_bytes(vec![0x01, tag, 0x75, 0x51]);
    Address::p2wsh(&script, Network::Regtest)
}

// ---- a pool on the simnet ----------------------------------------------------

/// The simnet config of `pool demo` on free loopback ports, with its ledger
/// and blocks directory in `scratch`, and no timed template refreshes (the
/// tests make the notifies they want).
pub fn simnet_config(scratch: &Path) -> Config {
    let any = SocketAddr::from(ANY_LOCAL_PORT);
    let mut config = pool::demo::config(scratch, any, any);
    config.chain.template_refresh_secs = 3600;
    config
}

/// A pool on its own simnet, ledger and blocks directory.
pub struct TestPool {
    pool: Option<Pool>,
    pub source: Arc<SimnetSource>,
    pub config: Config,
    scratch: Scratch,
}

impl TestPool {
    /// Starts a pool on [`simnet_config`] as `adjust` changed it.
    pub async fn start(label: &str, adjust: impl FnOnce(&mut Config)) -> TestPool {
        let scratch = Scratch::new(label);
        let mut config = simnet_config(scratch.path());
        adjust(&mut config);
        config.validate().expect("the test's config is valid");
        let source = Arc::new(SimnetSource::start(&config.simnet, &config.chain));
        let pool = Pool::start_with_source(&config, Arc::clone(&source))
            .await
            .expect("the pool starts");
        TestPool {
            pool: Some(pool),
            source,
            config,
            scratch,
        }
    }

    fn pool(&self) -> &Pool {
        self.pool.as_ref().expect("the pool runs")
    }

    /// Where miners connect (127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.pool().stratum_addr()
    }

    pub fn ledger(&self) -> &Ledger {
        self.pool().ledger()
    }

    /// Where the web pages and the API listen (127.0.0.1).
    pub fn web_addr(&self) -> SocketAddr {
        self.pool().web_addr()
    }

    /// `GET path` on the web listener: the status and the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.web_addr(), path).await
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.pool().stats().snapshot()
    }

    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    pub fn tip(&self) -> BlockHash {
        self.source.with_simnet(|simnet| simnet.best_block_hash())
    }

    /// "Another miner" finds a block on the simnet's tip (off the async
    /// threads: grinding takes a moment).
    pub async fn generate_block(&self) -> BlockHash {
        let source = Arc::clone(&self.source);
        let script = regtest_address(200).script_pubkey();
        tokio::task::spawn_blocking(move || source.with_simnet(|simnet| simnet.generate(&script)))
            .await
            .expect("the simnet's miner does not panic")
            .expect("the simnet accepts its own block")
    }

    /// "Another miner" grinds a block on the simnet's tip but keeps it for
    /// now: [`TestPool::announce`] then changes the tip at once, however
    /// slowly this machine grinds.
    pub async fn grind_block_elsewhere(&self) -> bitcoin::Block {
        let source = Arc::clone(&self.source);
        let script = regtest_address(200).script_pubkey();
        tokio::task::spawn_blocking(move || {
            source.with_simnet(|simnet| {
                simnet.mine_block(&simnet.best_block_hash(), &script, b"elsewhere")
            })
        })
        .await
        .expect("the simnet's miner does not panic")
        .expect("the tip is known")
    }

    /// Submits a block ground by [`TestPool::grind_block_elsewhere`]: the
    /// simnet's new tip, announced to the pool.
    pub async fn announce(&self, block: bitcoin::Block) -> BlockHash {
        let hash = block.block_hash();
        let report = pool::template::TemplateSource::submit_block(&*self.source, block).await;
        assert!(report.confirmed, "the simnet takes the block: {report:?}");
        hash
    }

    /// Every share row, oldest first.
    pub async fn shares(&self) -> Vec<StoredShare> {
        let mut shares = self
            .ledger()
            .shares(u64::MAX >> 1)
            .await
            .expect("read shares");
        shares.reverse();
        shares
    }

    pub async fn shutdown(mut self) {
        if let Some(pool) = self.pool.take() {
            pool.shutdown().await;
        }
    }
}

/// A plain HTTP/1.0 GET on 127.0.0.1: the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to the web listener");
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut answer = Vec::new();
    tokio::time::timeout(STEP, stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    (status, body)
}

// ---- a tap between a miner and the pool --------------------------------------

/// A TCP relay that records every line the pool sends through it, per
/// connection, before the miner gets to read it, and counts the
/// `mining.submit` lines it hands the pool.
pub struct Tap {
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<Vec<String>>>>,
    counts: Arc<RelayCounts>,
    task: JoinHandle<()>,
}

/// What went through a tap, over every connection.
#[derive(Debug, Default)]
struct RelayCounts {
    /// Complete `mining.submit` lines written to the pool.
    submits: AtomicU64,
    /// Connections not yet closed in both directions.
    open: AtomicU64,
}

/// What the pool sent one miner, in order: difficulties and jobs.
#[derive(Debug, Default, Clone)]
pub struct SentWork {
    /// Every `mining.set_difficulty`, in order.
    pub difficulties: Vec<f64>,
    /// Each job id with the difficulty last set before its notify.
    pub job_difficulty: HashMap<u64, f64>,
    pub notifies: usize,
}

impl Tap {
    pub async fn start(upstream: SocketAddr) -> Tap {
        let listener = TcpListener::bind(SocketAddr::from(ANY_LOCAL_PORT))
            .await
            .expect("bind the tap");
        let addr = listener.local_addr().expect("the tap's address");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let counts = Arc::new(RelayCounts::default());
        let (log, relay_counts) = (Arc::clone(&lines), Arc::clone(&counts));
        let task = tokio::spawn(async move {
            // Dropped (and every relay aborted) when the tap's task is.
            let mut relays = tokio::task::JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                relay_counts.open.fetch_add(1, Ordering::SeqCst);
                relays.spawn(relay(
                    client,
                    upstream,
                    Arc::clone(&log),
                    Arc::clone(&relay_counts),
                ));
            }
        });
        Tap {
            addr,
            lines,
            counts,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The pool's lines per connection, in order.
    pub fn lines(&self) -> Vec<Vec<String>> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Complete `mining.submit` lines handed to the pool so far: once
    /// [`Tap::open_connections`] is 0, every submit the pool read.
    pub fn submits(&self) -> u64 {
        self.counts.submits.load(Ordering::SeqCst)
    }

    /// Relayed connections still open in either direction. At 0 the pool
    /// has closed every one (so it read each to its end) after the miners
    /// closed theirs.
    pub fn open_connections(&self) -> u64 {
        self.counts.open.load(Ordering::SeqCst)
    }

    /// The difficulties and jobs the pool sent, over every connection.
    pub fn sent_work(&self) -> SentWork {
        let mut work = SentWork::default();
        for connection in self.lines() {
            let mut difficulty = None;
            for line in connection {
                match ServerMessage::parse(line.as_bytes()) {
                    Ok(ServerMessage::SetDifficulty(set)) => {
                        difficulty = Some(set.difficulty.as_f64());
                        work.difficulties.push(set.difficulty.as_f64());
                    }
                    Ok(ServerMessage::Notify(notify)) => {
                        work.notifies += 1;
                        let difficulty =
                            difficulty.expect("set_difficulty before the first notify");
                        work.job_difficulty.insert(notify.job_id.0, difficulty);
                    }
                    _ => {}
                }
            }
        }
        work
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    log: Arc<Mutex<Vec<Vec<String>>>>,
    counts: Arc<RelayCounts>,
) {
    relay_both_ways(client, upstream, log, &counts).await;
    counts.open.fetch_sub(1, Ordering::SeqCst);
}

async fn relay_both_ways(
    client: TcpStream,
    upstream: SocketAddr,
    log: Arc<Mutex<Vec<Vec<String>>>>,
    counts: &RelayCounts,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let index = {
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        log.push(Vec::new());
        log.len() - 1
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let mut framer = LineFramer::new(1 << 20);
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let count = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(count) => count,
            };
            if server_write.write_all(&buffer[..count]).await.is_err() {
                break;
            }
            // Counted once handed to the pool; a line cut short at the end
            // is not a line the pool reads.
            framer.push(&buffer[..count]);
            while let Some(line) = framer.next_line() {
                let is_submit = line.is_ok_and(|line| {
                    matches!(
                        ClientMessage::parse(line),
                        Ok(ClientMessage::Request(ClientRequest {
                            method: ClientMethod::Submit(_),
                            ..
                        }))
                    )
                });
                if is_submit {
                    counts.submits.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let _ = server_write.shutdown().await;
    };
    let down = async {
        let mut framer = LineFramer::new(1 << 20);
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let count = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(count) => count,
            };
            framer.push(&buffer[..count]);
            while let Some(line) = framer.next_line() {
                if let Ok(line) = line {
                    let line = String::from_utf8_lossy(line).into_owned();
                    log.lock().unwrap_or_else(|e| e.into_inner())[index].push(line);
                }
            }
            if client_write.write_all(&buffer[..count]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}

// ---- a raw Stratum client ----------------------------------------------------

/// How a read ended without a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEnd {
    /// The pool closed the connection (or reset it).
    Closed,
    /// Nothing came within the time allowed.
    TimedOut,
}

/// A job as this client received it.
#[derive(Debug, Clone)]
pub struct ReceivedJob {
    pub job: Job,
    /// The latest `mining.set_difficulty` before the notify.
    pub difficulty: f64,
}

/// A Stratum client that writes exactly the lines it is given and reads the
/// pool's with the stratum crate's parsers, remembering the work it got.
pub struct RawClient {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    framer: LineFramer,
    buffer: Vec<u8>,
    next_id: u64,
    pub extranonce1: Option<Extranonce1>,
    pub extranonce2_size: usize,
    pub version_mask: VersionMask,
    pub difficulty: Option<f64>,
    /// Every job in the order it came.
    pub jobs: Vec<ReceivedJob>,
    /// Every line that was not an answer, in order.
    pub notifications: Vec<ServerMessage>,
    /// Answers read while waiting for another.
    answers: VecDeque<Response>,
    extranonce2_counter: u64,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = tokio::time::timeout(STEP, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect to the pool");
        stream.set_nodelay(true).expect("nodelay");
        let (reader, writer) = stream.into_split();
        RawClient {
            reader,
            writer,
            framer: LineFramer::new(1 << 20),
            buffer: vec![0u8; 16 * 1024],
            next_id: 1,
            extranonce1: None,
            extranonce2_size: 0,
            version_mask: VersionMask::NONE,
            difficulty: None,
            jobs: Vec::new(),
            notifications: Vec::new(),
            answers: VecDeque::new(),
            extranonce2_counter: 0,
        }
    }

    /// Subscribes and authorizes `user`, then waits for the first job.
    pub async fn miner(addr: SocketAddr, user: &str) -> RawClient {
        let mut client = RawClient::connect(addr).await;
        client.subscribe().await;
        client.authorize(user).await;
        client.wait_for_jobs(1).await;
        client
    }

    /// Writes raw bytes (a line, part of one, or garbage).
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes).await
    }

    pub async fn send(&mut self, line: &str) {
        self.write(line.as_bytes())
            .await
            .unwrap_or_else(|error| panic!("cannot send {line:?}: {error}"));
    }

    /// The next line from the pool, within `limit`.
    pub async fn read_line(&mut self, limit: Duration) -> Result<Vec<u8>, ReadEnd> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.framer.next_line() {
                let line = line.expect("the pool's lines are not over-long");
                return Ok(line.to_vec());
            }
            let read = tokio::time::timeout_at(deadline, self.reader.read(&mut self.buffer)).await;
            match read {
                Err(_) => return Err(ReadEnd::TimedOut),
                Ok(Ok(0)) | Ok(Err(_)) => return Err(ReadEnd::Closed),
                Ok(Ok(count)) => self.framer.push(&self.buffer[..count]),
            }
        }
    }

    /// Reads until the pool closes the connection; `false` if it is still
    /// open after `limit` (whatever it sent meanwhile is dropped).
    pub async fn closed_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_line(left).await {
                Ok(_) => continue,
                Err(ReadEnd::Closed) => return true,
                Err(ReadEnd::TimedOut) => return false,
            }
        }
    }

    /// The next message, parsed and remembered; fails the test on EOF, a
    /// timeout or a line that does not parse.
    pub async fn next_message(&mut self) -> ServerMessage {
        let line = self
            .read_line(STEP)
            .await
            .unwrap_or_else(|end| panic!("no line from the pool: {end:?}"));
        self.take(&line)
    }

    /// Parses and remembers one line of the pool's.
    fn take(&mut self, line: &[u8]) -> ServerMessage {
        let message = ServerMessage::parse(line).unwrap_or_else(|error| {
            panic!(
                "the pool sent a line that does not parse ({error}): {}",
                String::from_utf8_lossy(line)
            )
        });
        self.remember(&message);
        message
    }

    /// Reads until a new job arrives, within `limit` (answers that come
    /// first stay available to [`RawClient::answer`]).
    pub async fn next_job_within(&mut self, limit: Duration) -> Result<ReceivedJob, ReadEnd> {
        let deadline = Instant::now() + limit;
        let count = self.jobs.len();
        while self.jobs.len() == count {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.read_line(left).await?;
            if let ServerMessage::Response(response) = self.take(&line) {
                self.answers.push_back(response);
            }
        }
        Ok(self.latest_job())
    }

    fn remember(&mut self, message: &ServerMessage) {
        match message {
            ServerMessage::Response(_) => return,
            ServerMessage::SetDifficulty(set) => self.difficulty = Some(set.difficulty.as_f64()),
            ServerMessage::SetVersionMask(set) => self.version_mask = set.mask,
            ServerMessage::Notify(notify) => {
                let job = Job::new(notify.clone()).expect("the pool's nbits are valid");
                let difficulty = self
                    .difficulty
                    .expect("set_difficulty before the first notify");
                self.jobs.push(ReceivedJob { job, difficulty });
            }
            _ => {}
        }
        self.notifications.push(message.clone());
    }

    /// Reads until the pool says nothing for `quiet` (at most [`STEP`] in
    /// all), remembering everything (answers stay available to
    /// [`RawClient::answer`]); returns what came, in order.
    pub async fn read_until_quiet(&mut self, quiet: Duration) -> Vec<ServerMessage> {
        let deadline = Instant::now() + STEP;
        let mut messages = Vec::new();
        while Instant::now() < deadline {
            let line = match self.read_line(quiet).await {
                Ok(line) => line,
                Err(ReadEnd::TimedOut) => break,
                Err(ReadEnd::Closed) => panic!("the pool closed the connection"),
            };
            let message = self.take(&line);
            if let ServerMessage::Response(response) = &message {
                self.answers.push_back(response.clone());
            }
            messages.push(message);
        }
        messages
    }

    /// The answer to the request `id`; notifications before it are remembered.
    pub async fn answer(&mut self, id: &Id) -> Response {
        if let Some(position) = self.answers.iter().position(|answer| answer.id == *id) {
            return self.answers.remove(position).expect("in range");
        }
        let deadline = Instant::now() + STEP;
        loop {
            assert!(Instant::now() < deadline, "no answer to request {id}");
            if let ServerMessage::Response(response) = self.next_message().await {
                if response.id == *id {
                    return response;
                }
                self.answers.push_back(response);
            }
        }
    }

    /// Whether the answer to `id` has been read already (and not taken).
    pub fn has_answer(&self, id: &Id) -> bool {
        self.answers.iter().any(|answer| answer.id == *id)
    }

    /// Sends `method` under the next id and waits for its answer.
    pub async fn request(&mut self, method: ClientMethod) -> Response {
        let id = self.send_request(method).await;
        self.answer(&id).await
    }

    /// Sends `method` under the next id without waiting; returns the id.
    pub async fn send_request(&mut self, method: ClientMethod) -> Id {
        let id = Id::from(self.next_id);
        self.next_id += 1;
        let line = ClientRequest::new(id.clone(), method).to_line();
        self.send(&line).await;
        id
    }

    pub async fn subscribe(&mut self) {
        let answer = self
            .request(ClientMethod::Subscribe(Subscribe {
                user_agent: Some("e2e-raw/1.0".into()),
                session_id: None,
            }))
            .await;
        let result = answer.result.expect("subscribed");
        let result = SubscribeResult::from_value(&result).expect("a subscribe result");
        self.extranonce1 = Some(result.extranonce1);
        self.extranonce2_size = result.extranonce2_size;
    }

    pub async fn authorize(&mut self, user: &str) {
        let answer = self.request(authorize(user)).await;
        assert_eq!(
            answer.result,
            Ok(serde_json::Value::Bool(true)),
            "authorize {user}"
        );
    }

    /// Asks for version rolling with `mask`; returns the mask granted.
    pub async fn configure(&mut self, mask: VersionMask) -> VersionMask {
        let answer = self
            .request(ClientMethod::Configure(Configure {
                version_rolling: Some(VersionRollingRequest {
                    mask: Some(mask),
                    min_bit_count: None,
                }),
                ..Configure::default()
            }))
            .await;
        let result = answer.result.expect("configured");
        let granted = stratum::message::ConfigureResult::from_value(&result)
            .expect("a configure result")
            .version_rolling
            .expect("version rolling granted");
        self.version_mask = granted;
        granted
    }

    pub async fn suggest_difficulty(&mut self, difficulty: f64) -> Response {
        self.request(ClientMethod::SuggestDifficulty(SuggestDifficulty {
            difficulty: Difficulty::new(difficulty).expect("a valid difficulty"),
        }))
        .await
    }

    /// Reads until at least `count` jobs arrived.
    pub async fn wait_for_jobs(&mut self, count: usize) {
        let deadline = Instant::now() + STEP;
        while self.jobs.len() < count {
            assert!(Instant::now() < deadline, "no job {count} from the pool");
            if let ServerMessage::Response(response) = self.next_message().await {
                self.answers.push_back(response);
            }
        }
    }

    /// Reads until a job that `wanted` accepts arrives (or is the latest).
    pub async fn wait_for_job(&mut self, wanted: impl Fn(&ReceivedJob) -> bool) -> ReceivedJob {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(job) = self.jobs.iter().rev().find(|job| wanted(job)) {
                return job.clone();
            }
            assert!(Instant::now() < deadline, "the awaited job never came");
            if let ServerMessage::Response(response) = self.next_message().await {
                self.answers.push_back(response);
            }
        }
    }

    pub fn latest_job(&self) -> ReceivedJob {
        self.jobs.last().expect("a job arrived").clone()
    }

    /// A fresh extranonce2 of the subscribed size.
    pub fn next_extranonce2(&mut self) -> Extranonce2 {
        self.extranonce2_counter += 1;
        let bytes = self.extranonce2_counter.to_be_bytes();
        let size = self.extranonce2_size.max(1);
        let mut value = vec![0u8; size];
        let take = size.min(8);
        value[size - take..].copy_from_slice(&bytes[8 - take..]);
        Extranonce2::from_bytes(&value).expect("extranonce2 fits")
    }

    /// Grinds a share on `job` whose hash difficulty lies in
    /// `[at_least, below)` and that does not solve a block.
    pub fn grind(
        &mut self,
        job: &Job,
        version_bits: Option<VersionBits>,
        at_least: f64,
        below: Option<f64>,
    ) -> GroundShare {
        let extranonce1 = self.extranonce1.expect("subscribed");
        let extranonce2 = self.next_extranonce2();
        let version = job
            .rolled_version(version_bits, self.version_mask)
            .unwrap_or(job.version());
        let at_least = Target::from_difficulty(Difficulty::new(at_least).expect("difficulty"));
        let below =
            below.map(|below| Target::from_difficulty(Difficulty::new(below).expect("difficulty")));
        let network = *job.network_target();
        let (nonce, hash) = find_nonce(job, &extranonce1, &extranonce2, version, |hash| {
            at_least.is_met_by(hash)
                && !network.is_met_by(hash)
                && below.as_ref().is_none_or(|below| !below.is_met_by(hash))
        });
        GroundShare {
            job_id: job.id(),
            extranonce2,
            ntime: job.ntime(),
            nonce,
            version_bits,
            hash,
        }
    }

    /// Grinds a share on `job` that solves a block.
    pub fn grind_block(&mut self, job: &Job) -> GroundShare {
        let extranonce1 = self.extranonce1.expect("subscribed");
        let extranonce2 = self.next_extranonce2();
        let network = *job.network_target();
        let (nonce, hash) = find_nonce(job, &extranonce1, &extranonce2, job.version(), |hash| {
            network.is_met_by(hash)
        });
        GroundShare {
            job_id: job.id(),
            extranonce2,
            ntime: job.ntime(),
            nonce,
            version_bits: None,
            hash,
        }
    }

    /// Submits `share` as `worker` and waits for the answer.
    pub async fn submit(&mut self, worker: &str, share: &GroundShare) -> Response {
        self.request(share.method(worker)).await
    }
}

/// A share ground by [`RawClient::grind`].
#[derive(Debug, Clone)]
pub struct GroundShare {
    pub job_id: JobId,
    pub extranonce2: Extranonce2,
    pub ntime: stratum::Ntime,
    pub nonce: Nonce,
    pub version_bits: Option<VersionBits>,
    /// The header hash, internal byte order.
    pub hash: [u8; 32],
}

impl GroundShare {
    pub fn difficulty(&self) -> f64 {
        hash_difficulty(&self.hash)
    }

    pub fn method(&self, worker: &str) -> ClientMethod {
        ClientMethod::Submit(Submit {
            worker: worker.to_string(),
            job_id: self.job_id,
            extranonce2: self.extranonce2,
            ntime: self.ntime,
            nonce: self.nonce,
            version_bits: self.version_bits,
        })
    }
}

pub fn authorize(user: &str) -> ClientMethod {
    ClientMethod::Authorize(Authorize {
        username: Username::parse(user).expect("a username"),
        password: Some("x".into()),
    })
}

/// The first nonce whose header hash `accept` takes, with the hash.
/// Hashes in batches through the midstate; at most 2^32 nonces.
pub fn find_nonce(
    job: &Job,
    extranonce1: &Extranonce1,
    extranonce2: &Extranonce2,
    version: Version,
    accept: impl Fn(&[u8; 32]) -> bool,
) -> (Nonce, [u8; 32]) {
    const BATCH: u32 = 4096;
    let engine = Sha256d::best_batch();
    let merkle_root = job.merkle_root(&engine, extranonce1, extranonce2);
    let first = stratum::header::first_block(version, job.prevhash(), &merkle_root);
    let midstate = engine.midstate(&first);
    let mut tails = vec![[0u8; 16]; BATCH as usize];
    let mut hashes = vec![[0u8; 32]; BATCH as usize];
    for start in (0..=u32::MAX - (BATCH - 1)).step_by(BATCH as usize) {
        for (offset, tail) in tails.iter_mut().enumerate() {
            *tail = stratum::header::tail(
                &merkle_root,
                job.ntime(),
                job.nbits(),
                Nonce(start + offset as u32),
            );
        }
        engine.hash_header_batch(&midstate, &tails, &mut hashes);
        if let Some(offset) = hashes.iter().position(&accept) {
            return (Nonce(start + offset as u32), hashes[offset]);
        }
    }
    panic!("no nonce of job {} gives a wanted hash", job.id().to_wire());
}

/// The error code of an answer, or `None` for a success.
pub fn error_code(response: &Response) -> Option<i64> {
    response
        .result
        .as_ref()
        .err()
        .map(|error| error.code.code())
}

/// Whether the answer is `true`.
pub fn accepted(response: &Response) -> bool {
    response.result == Ok(serde_json::Value::Bool(true))
}
