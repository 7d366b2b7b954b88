//! The session state machine fed a miner's bytes, with a fake clock, a
//! simulated chain and a real (SQLite) ledger: what a hostile miner can
//! make of one connection, or of a few in a row.
//!
//! # Input
//!
//! Lines. A line that starts with `!` drives the world instead of being
//! sent by the miner:
//!
//! - `!tick N`: N seconds pass (at most 600), the session's timer firing
//!   every 2 s as the serve loop's does;
//! - `!block` / `!refresh`: the next block on the chain / new fees on the
//!   same block (new work, a clean or a plain notify);
//! - `!easy` / `!hard`: switch to a chain whose difficulty makes half of
//!   all shares blocks / almost none;
//! - `!deaf`: the miner stops (or starts again) reading what it is sent;
//! - `!wait`: every share answer pending in the ledger arrives;
//! - `!conn`: the connection ends and the miner connects again;
//! - `!mode pps|fpps|pplns|solo`, first lines only: the payout scheme.
//!
//! Every other line goes to the session as sent, after these tokens are
//! replaced the way a miner would fill them in from what it was sent:
//! `$J` the newest job id, `$K` the one before, `$T` the newest job's
//! ntime, `$E` the extranonce1 of the previous connection (the session id
//! a reconnecting miner offers). A last line without a newline stays a
//! partial line in the framer.
//!
//! # Oracles
//!
//! Nothing panics and no answer hangs; every line the pool sends is one
//! a miner can parse; every share the ledger committed was answered true,
//! or sent as a notification (null id); on one connection the ledger never
//! sees a share twice (the session refuses it first); the ledger never
//! fails; every block the pool submits passes the simnet's copy of
//! Core's block checks and is submitted once; nothing
//! the session started is still running once its answers are in.

use crate::config::PayoutMode;
use crate::extranonce::Extranonce1Allocator;
use crate::jobs::{JobManager, JobSettings};
use crate::ledger::{Ledger, LedgerOptions};
use crate::server::guard::{Admission, BanRules, Guard, GuardSettings};
use crate::server::session::{Pending, Session, MAX_PENDING_ANSWERS, OUT_RESERVE};
use crate::server::stats::ServerStats;
use crate::server::workers::WorkerBoard;
use crate::server::{ServerSettings, Shared};
use crate::template::simnet::validate::{self, HeaderContext};
use crate::template::simnet::Simnet;
use crate::template::{NodeAnswer, SourceStatus, SubmitReport, Template, TemplateSource};
use bitcoin::hashes::Hash as _;
use bitcoin::{Block, BlockHash, ScriptBuf};
use futures::stream::{FuturesOrdered, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use stratum::framer::LineFramer;
use stratum::message::{ClientMessage, ClientMethod, Id, ServerMessage};
use stratum::{Difficulty, VersionMask};
use tokio::sync::watch;

/// The session's timer period (as `session::TICK`).
const TICK: Duration = Duration::from_secs(2);
/// Longest `!tick`.
const MAX_TICK_SECS: u64 = 600;
/// Longest line the framer takes (as the session's).
const MAX_LINE: usize = 16 * 1024;
/// Blocks on each simulated chain the input can move along.
const HEIGHTS: usize = 4;
/// Longest an answer or a task the session started may take: beyond it,
/// something hangs.
const HANG: Duration = Duration::from_secs(10);
/// Network difficulty of the hard chain: a share is a block once in
/// ~43,000 (a fuzzer may find one; seeds do not).
const HARD_DIFFICULTY: f64 = 1e-5;
/// The easy chain's (regtest's own): every share is a block or nothing.
const EASY_DIFFICULTY: f64 = 4.656542373906925e-10;
/// Where the pool's coinbase pays.
const POOL_KEY: u8 = 0x11;

/// What every input shares: built once per process.
struct World {
    runtime: tokio::runtime::Runtime,
    dir: PathBuf,
    /// A migrated, empty ledger each input starts from a copy of.
    empty_ledger: PathBuf,
    /// Per chain (hard, easy), per height: the template and its refresh.
    chains: [Vec<[Arc<Template>; 2]>; 2],
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(World::new)
}

impl World {
    fn new() -> World {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        remove_dead_processes_dirs(&base);
        let dir = base.join(format!("pool-fuzz-session-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the fuzzer's directory");
        let empty_ledger = dir.join("empty.sqlite");
        runtime.block_on(async {
            let ledger = Ledger::open(&sqlite_url(&empty_ledger))
                .await
                .expect("an empty ledger");
            ledger.close().await;
        });
        // Heights 15 to 18 cross from OP_16 to a pushed number; 1 to 4 are
        // OP_1 to OP_4 (BIP 34 as Core writes it).
        let chains = [chain(HARD_DIFFICULTY, 14), chain(EASY_DIFFICULTY, 0)];
        World {
            runtime,
            dir,
            empty_ledger,
            chains,
        }
    }
}

/// Directories an earlier fuzzing or test process left behind.
fn remove_dead_processes_dirs(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix("pool-fuzz-session-"))
        else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

/// `HEIGHTS` templates in a row on a simnet of `difficulty` after `skip`
/// blocks, each with a refresh (one more transaction), on a clock that
/// moves one second per reading so every block is later than the last.
fn chain(difficulty: f64, skip: usize) -> Vec<[Arc<Template>; 2]> {
    let config = crate::config::SimnetConfig {
        difficulty,
        transactions: 3,
    };
    let seconds = std::sync::atomic::AtomicU32::new(1_700_000_000);
    let clock = Box::new(move || seconds.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let mut simnet = Simnet::with_clock(&config, clock);
    let payout = script(0x22);
    for _ in 0..skip {
        simnet
            .generate(&payout)
            .expect("the simnet mines its own block");
    }
    let mut heights = Vec::with_capacity(HEIGHTS);
    for _ in 0..HEIGHTS {
        let base = template(&simnet);
        simnet.refresh();
        let refreshed = template(&simnet);
        heights.push([base, refreshed]);
        simnet
            .generate(&payout)
            .expect("the simnet mines its own block");
    }
    heights
}

fn template(simnet: &Simnet) -> Arc<Template> {
    Arc::new(Template::from_gbt(simnet.template()).expect("the simnet's template decodes"))
}

fn script(byte: u8) -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([byte; 20]))
}

/// Takes the blocks the pool submits and judges them with the simnet's
/// copy of Core's block checks.
struct FuzzSource {
    templates: watch::Sender<Option<Arc<Template>>>,
    /// What a block on each known parent is checked against: its height,
    /// bits and the parent's median time past.
    parents: HashMap<BlockHash, HeaderContext>,
    /// Every block submitted, with what is wrong with it.
    submitted: Mutex<Vec<(BlockHash, Option<String>)>>,
}

impl FuzzSource {
    fn new(world: &World) -> FuzzSource {
        let parents = world
            .chains
            .iter()
            .flatten()
            .map(|[base, _]| {
                let context = HeaderContext {
                    height: base.height,
                    required_bits: bitcoin::CompactTarget::from_consensus(base.nbits.0),
                    // A template's mintime is its parent's median time past + 1.
                    median_time_past: base.mintime.saturating_sub(1),
                    now: 0,
                };
                (base.previous_block_hash, context)
            })
            .collect();
        FuzzSource {
            templates: watch::channel(None).0,
            parents,
            submitted: Mutex::new(Vec::new()),
        }
    }

    /// Why Core would refuse `block` (`CheckBlock`, then the contextual
    /// header and block checks: bits, time, BIP 34 height, witness
    /// commitment, weight, finality); `None`: it would not.
    fn judge(&self, block: &Block) -> Option<String> {
        let Some(&parent) = self.parents.get(&block.header.prev_blockhash) else {
            return Some("builds on an unknown block".into());
        };
        // Core's clock is the wall clock, which the pool's ntime check uses.
        let now = u32::try_from(crate::clock::unix_millis() / 1000).unwrap_or(u32::MAX);
        let context = HeaderContext { now, ..parent };
        validate::check_block(block)
            .and_then(|()| validate::contextual_check_header(&block.header, &context))
            .and_then(|()| {
                validate::contextual_check_block(block, context.height, context.median_time_past)
            })
            .err()
            .map(|reject| reject.to_string())
    }
}

impl TemplateSource for FuzzSource {
    fn templates(&self) -> watch::Receiver<Option<Arc<Template>>> {
        self.templates.subscribe()
    }

    fn submit_block(&self, block: Block) -> impl Future<Output = SubmitReport> + Send {
        let problem = self.judge(&block);
        let block_hash = block.block_hash();
        let height = self
            .parents
            .get(&block.header.prev_blockhash)
            .map_or(0, |parent| parent.height);
        self.submitted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((block_hash, problem.clone()));
        std::future::ready(SubmitReport {
            block_hash,
            height,
            answers: vec![NodeAnswer {
                node: "fuzz".into(),
                result: Ok(problem),
            }],
            confirmed: false,
        })
    }

    fn status(&self) -> SourceStatus {
        SourceStatus {
            nodes: vec![("fuzz".into(), Ok(()))],
            last_template_height: None,
            serving_stale_template: false,
        }
    }
}

/// One connection of the miner.
struct Connection {
    session: Session<FuzzSource>,
    framer: LineFramer,
    /// Kept for its drop: the guard forgets the connection then.
    _admission: Admission,
    /// Job ids and ntimes as notified, newest last.
    jobs: Vec<(String, String)>,
    extranonce1: Option<String>,
}

/// How the shares' answers came out, over every connection.
#[derive(Default)]
struct Tally {
    answered_true: u64,
    answered_other: u64,
    /// Submits with a null id: credited without an answer.
    notifications: u64,
    connections: u64,
    /// Error codes of answers to submits the session refused at once.
    refused: std::collections::BTreeMap<i64, u64>,
    /// Ids of the submits sent, to tell their answers from others'.
    submit_ids: std::collections::HashSet<String>,
    /// Notifies read, over every connection, and those with clean_jobs.
    jobs: u64,
    clean_jobs: u64,
    /// Connections dropped for taking no work.
    slow_dropped: u64,
}

struct Run {
    world: &'static World,
    shared: Arc<Shared<FuzzSource>>,
    shutdown: watch::Sender<bool>,
    files: RunFiles,
    connection: Option<Connection>,
    /// Answers pending in the ledger: they outlive a closed connection (the
    /// shares are committed anyway), so they are counted to the end.
    pending: Pending,
    previous_extranonce1: Option<String>,
    now: Instant,
    since_expiry: Duration,
    chain: usize,
    height: usize,
    refreshed: bool,
    /// The miner reads nothing while set.
    deaf: bool,
    next_connection_id: u64,
    tally: Tally,
}

/// What one input made of the pool, for tests that check a seed reaches
/// the path it was written for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// Share answers `true`, over every connection.
    pub answered_true: u64,
    /// Share answers refusing a share the session had passed to the ledger.
    pub answered_other: u64,
    /// Submits with a null id.
    pub notifications: u64,
    /// Shares and blocks the ledger committed.
    pub shares_written: u64,
    pub blocks_written: u64,
    /// Shares the ledger refused as already recorded.
    pub duplicates_refused: u64,
    /// Blocks the pool submitted (each checked valid and new).
    pub blocks_submitted: u64,
    /// Submits the session refused, by the error code it answered.
    pub refused: std::collections::BTreeMap<i64, u64>,
    pub connections: u64,
    /// Notifies the miner read, and those with clean_jobs.
    pub jobs_read: u64,
    pub clean_jobs_read: u64,
    /// Work replaced by newer work before the miner took it.
    pub work_coalesced: u64,
    /// Connections dropped for taking no work.
    pub slow_dropped: u64,
    /// Jobs the last connection could still be answered on, at the end.
    pub jobs_remembered: usize,
}

/// Feeds one input to a fresh pool; see the module's documentation.
pub fn session(data: &[u8]) {
    session_report(data);
}

/// [`session`], saying what happened.
pub fn session_report(data: &[u8]) -> SessionReport {
    let world = world();
    let _runtime = world.runtime.enter();
    let mut lines = data.split_inclusive(|&byte| byte == b'\n').peekable();
    let mut mode = PayoutMode::Pplns;
    while let Some(line) = lines.peek() {
        let Some(name) = trim(line).strip_prefix(b"!mode ") else {
            break;
        };
        mode = match name {
            b"pps" => PayoutMode::Pps,
            b"fpps" => PayoutMode::Fpps,
            b"solo" => PayoutMode::Solo,
            _ => PayoutMode::Pplns,
        };
        lines.next();
    }
    let mut run = Run::new(world, mode);
    for line in lines {
        run.event(line);
    }
    run.finish()
}

fn trim(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

impl Run {
    fn new(world: &'static World, mode: PayoutMode) -> Run {
        let files = RunFiles::new(world);
        let ledger = world.runtime.block_on(fresh_ledger(world, &files.ledger));
        let mut config = crate::config::Config::default();
        config.pool.mode = mode;
        let settings = ServerSettings {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            network: bitcoin::Network::Regtest,
            mode,
            node_prefix: 7,
            extranonce2_size: 8,
            version_mask: VersionMask::POOL_DEFAULT,
            // Below what any hash can miss: whether a share counts is the
            // input's doing (its difficulty suggestions, vardiff's moves
            // under its clock), never chance.
            start_difficulty: Difficulty::new(1e-12).expect("positive"),
            min_difficulty: Difficulty::new(1e-12).expect("positive"),
            max_difficulty: None,
            share_interval: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            stale_window: Duration::from_secs(120),
            max_workers_per_connection: 8,
            max_connections: 16,
            guard: GuardSettings {
                max_connections_per_ip: 0,
                allowlist: Vec::new(),
                bans: Some(BanRules {
                    window_ms: 60_000,
                    invalid_percent: 90.0,
                    min_shares: 50,
                    ban_ms: 60_000,
                }),
            },
            credit: crate::payouts::CreditSettings::from_config(&config),
            proxy_protocol: None,
        };
        let jobs = JobManager::new(JobSettings {
            tag: b"/fuzz/".to_vec(),
            extranonce2_size: settings.extranonce2_size,
            mode,
            pool_script: script(POOL_KEY),
            fee_basis_points: 100,
            stale_window: Duration::from_secs(120),
            fpps_fee_window: 10,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (blocks, solutions) = crate::server::submitter::queue();
        let shared = Arc::new(Shared {
            settings: settings.clone(),
            source: Arc::new(FuzzSource::new(world)),
            jobs: Mutex::new(jobs),
            generation: watch::channel(Default::default()).0,
            ledger,
            store: crate::block::BlockStore::new(&files.blocks),
            solutions: Default::default(),
            blocks,
            held: Default::default(),
            allocator: Extranonce1Allocator::new(settings.node_prefix, 0),
            stats: Arc::new(ServerStats::default()),
            workers: Arc::new(WorkerBoard::default()),
            alerts: Arc::new(OnceLock::new()),
            guard: Arc::new(Guard::new(settings.guard.clone())),
            shutdown: shutdown_rx,
        });
        world.runtime.spawn(crate::server::submitter::run(
            Arc::clone(&shared),
            solutions,
        ));
        let mut run = Run {
            world,
            shared,
            shutdown,
            files,
            connection: None,
            pending: FuturesOrdered::new(),
            previous_extranonce1: None,
            now: Instant::now(),
            since_expiry: Duration::ZERO,
            chain: 0,
            height: 0,
            refreshed: false,
            deaf: false,
            next_connection_id: 0,
            tally: Tally::default(),
        };
        run.publish();
        run.connect();
        run
    }

    fn current_template(&self) -> Arc<Template> {
        Arc::clone(&self.world.chains[self.chain][self.height][usize::from(self.refreshed)])
    }

    /// The current template goes to the job manager; the miner gets what
    /// it changed.
    fn publish(&mut self) {
        let template = self.current_template();
        let changed = self
            .shared
            .jobs()
            .on_template(template, self.now)
            .expect("the simnet's templates make jobs");
        if changed == crate::jobs::TemplateChange::Unchanged {
            return;
        }
        let Some(connection) = self.connection.as_mut() else {
            return;
        };
        connection.session.set_now(self.now);
        // As the serve loop: the session queues it, or holds it while
        // earlier lines wait (a deaf miner), replaced by newer work.
        if connection.session.push_new_work().is_err() {
            self.disconnect();
            return;
        }
        self.read_output();
    }

    fn connect(&mut self) {
        let id = self.next_connection_id;
        self.next_connection_id += 1;
        let admission = self
            .shared
            .guard
            .admit(IpAddr::V4(Ipv4Addr::LOCALHOST), id, 0)
            .unwrap_or_else(|refusal| panic!("no per-address limit, yet refused: {refusal:?}"));
        self.connection = Some(Connection {
            session: Session::new(Arc::clone(&self.shared), id, self.now),
            framer: LineFramer::new(MAX_LINE),
            _admission: admission,
            jobs: Vec::new(),
            extranonce1: None,
        });
        self.tally.connections += 1;
    }

    /// The connection ends; its pending answers still arrive, as the
    /// ledger commits their shares anyway.
    fn disconnect(&mut self) {
        if let Some(mut connection) = self.connection.take() {
            connection.session.end();
            // What was queued still reaches the miner; the session (and
            // its extranonce1) goes with the connection below.
            connection.read_queued(&mut self.tally);
            if connection.extranonce1.is_some() {
                self.previous_extranonce1 = connection.extranonce1;
            }
        }
        while !self.pending.is_empty() {
            self.answer_one();
        }
    }

    fn event(&mut self, line: &[u8]) {
        if let Some(control) = trim(line).strip_prefix(b"!") {
            self.control(control);
        } else if let Some(connection) = self.connection.as_mut() {
            let line = substitute(line, connection, self.previous_extranonce1.as_deref());
            if let Ok(ClientMessage::Request(request)) = ClientMessage::parse(trim(&line)) {
                if matches!(request.method, ClientMethod::Submit(_)) {
                    if request.id == Id::Null {
                        self.tally.notifications += 1;
                    } else {
                        self.tally.submit_ids.insert(request.id.to_string());
                    }
                }
            }
            connection.framer.push(&line);
        }
        self.pump();
    }

    fn control(&mut self, control: &[u8]) {
        let (word, argument) = match control.iter().position(|&byte| byte == b' ') {
            Some(space) => (&control[..space], &control[space + 1..]),
            None => (control, &b""[..]),
        };
        match word {
            b"tick" => {
                let seconds = std::str::from_utf8(argument)
                    .ok()
                    .and_then(|text| text.parse::<u64>().ok())
                    .unwrap_or(TICK.as_secs())
                    .min(MAX_TICK_SECS);
                self.tick(Duration::from_secs(seconds));
            }
            b"block" if self.height + 1 < HEIGHTS => {
                self.height += 1;
                self.refreshed = false;
                self.publish();
            }
            b"refresh" => {
                self.refreshed = !self.refreshed;
                self.publish();
            }
            b"easy" | b"hard" => {
                self.chain = usize::from(word == b"easy");
                self.publish();
            }
            b"deaf" => {
                self.deaf = !self.deaf;
                self.read_output();
            }
            b"wait" => {
                // As the serve loop: an answer waits for room in the queue.
                while !self.pending.is_empty()
                    && self
                        .connection
                        .as_ref()
                        .is_none_or(|connection| connection.session.out_room() > 0)
                {
                    self.answer_one();
                }
            }
            b"conn" => {
                self.disconnect();
                self.connect();
            }
            _ => {}
        }
    }

    /// `elapsed` passes, the session's timer firing every [`TICK`].
    fn tick(&mut self, elapsed: Duration) {
        let mut left = elapsed;
        while !left.is_zero() {
            let step = left.min(TICK);
            left -= step;
            self.now += step;
            self.since_expiry += step;
            if self.since_expiry >= Duration::from_secs(10) {
                self.since_expiry = Duration::ZERO;
                self.shared.jobs().expire(self.now);
            }
            let Some(connection) = self.connection.as_mut() else {
                continue;
            };
            connection.session.set_now(self.now);
            match connection.session.push_tick() {
                Ok(()) => self.read_output(),
                Err(close) => {
                    if matches!(close, crate::server::session::Close::SlowReader) {
                        self.tally.slow_dropped += 1;
                    }
                    self.disconnect();
                }
            }
            if let Some(connection) = self.connection.as_mut() {
                connection.framer.release_spare();
            }
            self.pump();
        }
    }

    /// What the serve loop does between reads: lines framed go to the
    /// session as far as its bounds let, the miner reads (unless deaf),
    /// answers come back from the ledger when they must.
    fn pump(&mut self) {
        loop {
            let Some(connection) = self.connection.as_mut() else {
                return;
            };
            connection.session.set_now(self.now);
            let handled = connection
                .session
                .on_framed_lines(&mut connection.framer, &mut self.pending);
            if handled.is_err() {
                self.disconnect();
                return;
            }
            self.read_output();
            let Some(connection) = self.connection.as_ref() else {
                return;
            };
            let room = connection.session.out_room();
            if self.pending.len() >= MAX_PENDING_ANSWERS && room > 0 {
                self.answer_one();
                continue;
            }
            if room < OUT_RESERVE && !self.deaf {
                continue;
            }
            return;
        }
    }

    /// The oldest pending answer arrives; it goes to the miner if the
    /// connection is still there.
    fn answer_one(&mut self) {
        let answer = self
            .world
            .runtime
            .block_on(tokio::time::timeout(HANG, self.pending.next()));
        let line = match answer {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(_) => panic!("a share's answer did not come within {HANG:?}"),
        };
        match ServerMessage::parse(trim(line.as_bytes())) {
            Ok(ServerMessage::Response(response))
                if response.result == Ok(serde_json::Value::Bool(true)) =>
            {
                self.tally.answered_true += 1
            }
            Ok(ServerMessage::Response(_)) => self.tally.answered_other += 1,
            other => panic!("a share's answer {line:?} reads as {other:?}"),
        }
        if let Some(connection) = self.connection.as_mut() {
            // Callers make room first, as the serve loop does.
            if connection.session.queue(line.into()).is_err() {
                panic!("the harness sent an answer to a full queue");
            }
        }
        self.read_output();
    }

    /// The miner reads what it was sent (unless deaf).
    fn read_output(&mut self) {
        if self.deaf {
            return;
        }
        let Some(connection) = self.connection.as_mut() else {
            return;
        };
        connection.read_queued(&mut self.tally);
        // The queue is empty: work that waited goes out (as the serve
        // loop's write does), and is read at once.
        if connection.session.flush_work().is_err() {
            self.disconnect();
            return;
        }
        if let Some(connection) = self.connection.as_mut() {
            connection.read_queued(&mut self.tally);
        }
    }

    /// Every answer arrives, every task ends; then the oracles.
    fn finish(mut self) -> SessionReport {
        let jobs_remembered = self
            .connection
            .as_ref()
            .map_or(0, |connection| connection.session.jobs_remembered());
        self.disconnect();
        while !self.pending.is_empty() {
            self.answer_one();
        }
        let _ = self.shutdown.send(true);
        let world = self.world;
        // Shares a notification sent (no answer to wait for) and found
        // blocks (persisted, submitted, then recorded; or siblings of one
        // already taken, never submitted) finish on their own.
        let stats = &self.shared.stats;
        let handled = |shared: &Shared<FuzzSource>| {
            shared.ledger.stats().blocks_written
                + stats.block_siblings.load(Ordering::Relaxed)
                + stats.blocks_unsubmitted.load(Ordering::Relaxed)
        };
        let started = Instant::now();
        while stats.shares_awaiting_ledger.load(Ordering::Relaxed) > 0
            || handled(&self.shared) < stats.blocks_found.load(Ordering::Relaxed)
        {
            assert!(
                started.elapsed() < HANG,
                "after {HANG:?}, {} shares still wait for the ledger; {} of {} blocks found are recorded or siblings",
                stats.shares_awaiting_ledger.load(Ordering::Relaxed),
                handled(&self.shared),
                stats.blocks_found.load(Ordering::Relaxed),
            );
            world
                .runtime
                .block_on(tokio::time::sleep(Duration::from_millis(1)));
        }
        assert_eq!(
            stats.blocks_unsubmitted.load(Ordering::Relaxed),
            0,
            "a block solution found the submission queue full"
        );
        let ledger = self.shared.ledger.stats();
        let tally = &self.tally;
        assert_eq!(ledger.write_errors, 0, "a healthy ledger failed a write");
        assert!(
            ledger.shares_written >= tally.answered_true
                && ledger.shares_written <= tally.answered_true + tally.notifications,
            "{} shares committed, {} answered true ({} otherwise), {} sent without an id",
            ledger.shares_written,
            tally.answered_true,
            tally.answered_other,
            tally.notifications
        );
        if tally.connections == 1 {
            assert_eq!(
                ledger.duplicates_refused, 0,
                "one connection's repeated share reached the ledger"
            );
        }
        let submitted = self
            .shared
            .source
            .submitted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut seen = std::collections::HashSet::new();
        for (hash, problem) in &submitted {
            assert!(problem.is_none(), "block {hash} is invalid: {problem:?}");
            assert!(seen.insert(*hash), "block {hash} submitted twice");
        }
        assert_eq!(
            ledger.blocks_written,
            submitted.len() as u64,
            "blocks submitted and recorded differ"
        );
        let work_coalesced = stats.work_coalesced.load(Ordering::Relaxed);
        let shared = self.shared;
        world.runtime.block_on(async move {
            let ledger = shared.ledger.clone();
            drop(shared);
            ledger.close().await;
        });
        self.files.remove();
        SessionReport {
            answered_true: self.tally.answered_true,
            answered_other: self.tally.answered_other,
            notifications: self.tally.notifications,
            shares_written: ledger.shares_written,
            blocks_written: ledger.blocks_written,
            duplicates_refused: ledger.duplicates_refused,
            blocks_submitted: submitted.len() as u64,
            refused: self.tally.refused,
            connections: self.tally.connections,
            jobs_read: self.tally.jobs,
            clean_jobs_read: self.tally.clean_jobs,
            work_coalesced,
            slow_dropped: self.tally.slow_dropped,
            jobs_remembered,
        }
    }
}

/// The files of one run (runs may overlap: tests run in threads).
struct RunFiles {
    ledger: PathBuf,
    blocks: PathBuf,
}

impl RunFiles {
    fn new(world: &World) -> RunFiles {
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        RunFiles {
            ledger: world.dir.join(format!("run-{run}.sqlite")),
            blocks: world.dir.join(format!("blocks-{run}")),
        }
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = self.ledger.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
        let _ = std::fs::remove_dir_all(&self.blocks);
    }
}

impl Connection {
    /// The miner reads every line queued for it.
    fn read_queued(&mut self, tally: &mut Tally) {
        for line in self.session.take_queued() {
            read_line(line.as_str(), &mut self.jobs, &mut self.extranonce1, tally);
        }
    }
}

/// A copy of the empty ledger at `path`, opened.
async fn fresh_ledger(world: &World, path: &std::path::Path) -> Ledger {
    std::fs::copy(&world.empty_ledger, path).expect("a copy of the empty ledger");
    let options = LedgerOptions {
        max_connections: 2,
        ..LedgerOptions::default()
    };
    Ledger::open_with(&sqlite_url(path), options)
        .await
        .expect("the ledger opens")
}

/// `$J`, `$K`, `$T` and `$E` filled in from what the miner was sent.
fn substitute(line: &[u8], connection: &Connection, previous: Option<&str>) -> Vec<u8> {
    if !line.contains(&b'$') {
        return line.to_vec();
    }
    let newest = connection.jobs.last();
    let before = connection
        .jobs
        .len()
        .checked_sub(2)
        .map(|at| &connection.jobs[at]);
    let mut filled = Vec::with_capacity(line.len() + 32);
    let mut bytes = line.iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        let value = match (byte, bytes.peek()) {
            (b'$', Some(b'J')) => newest.map(|(id, _)| id.as_str()),
            (b'$', Some(b'K')) => before.map(|(id, _)| id.as_str()),
            (b'$', Some(b'T')) => newest.map(|(_, ntime)| ntime.as_str()),
            (b'$', Some(b'E')) => previous,
            _ => {
                filled.push(byte);
                continue;
            }
        };
        bytes.next();
        filled.extend_from_slice(value.unwrap_or("").as_bytes());
    }
    filled
}

/// A line the pool sent, read as a miner reads it: every one must parse.
fn read_line(
    line: &str,
    jobs: &mut Vec<(String, String)>,
    extranonce1: &mut Option<String>,
    tally: &mut Tally,
) {
    let body = line
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("the pool sent {line:?} without its newline"));
    match ServerMessage::parse(body.as_bytes()) {
        Ok(ServerMessage::Notify(notify)) => {
            let read = serde_json::from_str::<serde_json::Value>(body).expect("parsed above");
            let id = read["params"][0].as_str().unwrap_or_default().to_string();
            let ntime = read["params"][7].as_str().unwrap_or_default().to_string();
            assert_eq!(id, notify.job_id.to_string(), "{body}");
            jobs.push((id, ntime));
            tally.jobs += 1;
            tally.clean_jobs += u64::from(notify.clean_jobs);
        }
        Ok(ServerMessage::Response(response)) => {
            if let Err(error) = &response.result {
                if tally.submit_ids.contains(&response.id.to_string()) {
                    *tally.refused.entry(error.code.code()).or_default() += 1;
                }
            }
            // A subscribe's answer: [[subscriptions], extranonce1, size].
            if let Ok(serde_json::Value::Array(result)) = &response.result {
                if let (Some(serde_json::Value::Array(_)), Some(value)) = (
                    result.first(),
                    result.get(1).and_then(|value| value.as_str()),
                ) {
                    *extranonce1 = Some(value.to_string());
                }
            }
        }
        Ok(_) => {}
        Err(error) => panic!("the pool sent {body:?}, which a miner cannot parse: {error}"),
    }
}
