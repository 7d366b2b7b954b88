//! One miner connection: reads lines, answers them, and sends work.
//! Everything protocol-shaped is the `stratum` crate's; this file only
//! moves lines and keeps the session's state.
//!
//! Two kinds of output leave a session. Work (set_difficulty, notify, the
//! version mask) and every answer that needs nothing else go out at once,
//! in the order the session decided them, so a new block's notify never
//! waits for the database. An accepted share's answer waits for the
//! ledger's commit; those wait in submission order in `pending`, and once
//! [`MAX_PENDING_ANSWERS`] wait the session stops reading this miner
//! (back-pressure on its socket, not an unbounded queue in the pool).
//! Work the pool sends on its own goes out once every earlier line is
//! written, or ahead of the next line the session queues; until then
//! newer work replaces it, so on a fast test chain
//! a miner gets the newest job, not a backlog, and only a miner that takes
//! no work for [`WORK_STALL`] is dropped as not keeping up. The session
//! writes its own socket ([`Outbox`]): what one pass decides leaves in one
//! write.
//!
//! Everything a miner can make a session hold without proof of work is
//! bounded: the line framer, the answers pending, the validator's cache,
//! the workers authorized, the jobs remembered. README's "Hostile miners"
//! has the budget.

mod accepted;
mod handshake;
mod submit;
mod work;

use super::outbox::{self, Line, Outbox};
use super::stats::ServerStats;
use super::Shared;
use crate::extranonce::Extranonce1Lease;
use crate::template::TemplateSource;
use crate::vardiff::{Vardiff, VardiffConfig};
use accepted::AcceptedWork;
use futures::future::BoxFuture;
use futures::stream::{FuturesOrdered, StreamExt};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stratum::framer::LineFramer;
use stratum::message::{ClientMessage, ClientMethod, ErrorCode, Response};
use stratum::{Difficulty, Sha256d, ShareValidator, VersionMask};
use tokio::net::TcpStream;
use tokio::sync::watch;
use work::{SentJob, Work};

/// Longest line accepted from a miner (they never need more than a few KiB).
const MAX_LINE: usize = 16 * 1024;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4 * 1024;
/// Malformed lines in a row before the connection is closed.
const MAX_CONSECUTIVE_ERRORS: u32 = 20;
/// How often timeouts and vardiff's silence rule are looked at.
const TICK: Duration = Duration::from_secs(2);
/// Share answers waiting for the ledger before the session stops reading
/// the miner: far above what firmware keeps in flight (cgminer: a few),
/// small enough that a flood costs a bounded amount.
pub(crate) const MAX_PENDING_ANSWERS: usize = 64;
/// Merkle roots the validator caches: a miner answers a few jobs with a
/// few extranonce2 values each; more is a miner making the pool work.
const CACHED_ROOTS: usize = 32;
/// Free places the outgoing queue keeps for what one line can cause (an
/// answer, a difficulty, a job, a mask): below it the session reads no
/// more lines until the miner has read some of its answers, so a miner
/// that pipelines many requests is slowed down, not dropped. Work the pool
/// sends on its own (a new block) never queues behind unwritten lines: it
/// waits, replaced by newer work, for at most [`WORK_STALL`].
pub(crate) const OUT_RESERVE: usize = 8;
/// How long queued lines may take to leave once the session has ended.
const CLOSE_FLUSH: Duration = Duration::from_secs(5);
/// Work the pool sends on its own waits, while earlier lines are not all
/// written, as one batch that newer work replaces. A miner that has not
/// taken its work for this long has stopped reading: it is dropped.
pub(crate) const WORK_STALL: Duration = Duration::from_secs(10);

/// Why a session ends.
#[derive(Debug)]
pub(crate) enum Close {
    Eof,
    ReadError(std::io::Error),
    LineTooLong,
    NotUtf8,
    Garbage,
    SlowReader,
    WriteError(std::io::Error),
    HandshakeTimeout,
    Idle,
    Shutdown,
    /// Mostly invalid shares: the guard banned this connection.
    Banned,
}

/// A worker this connection authorized.
#[derive(Debug, Clone)]
struct Worker {
    /// As sent: `address.worker`.
    username: String,
    address: String,
    worker: String,
    payout_script: bitcoin::ScriptBuf,
    /// Its place on the worker board.
    live: super::workers::WorkerHandle,
}

/// Accepted shares' answers, in submission order, each ready once the
/// ledger has committed (or refused) its share.
pub(crate) type Pending = FuturesOrdered<BoxFuture<'static, String>>;

pub(crate) struct Session<S> {
    id: u64,
    shared: Arc<Shared<S>>,
    out: Outbox,
    /// The time of the event being handled: the serve loop sets it, so
    /// the state machine itself never reads a clock (tests and the fuzzer
    /// drive it with their own).
    now: Instant,
    connected: Instant,
    /// When the last complete line arrived (a trickled byte is not a line).
    last_line: Instant,
    consecutive_errors: u32,
    extranonce1: Option<Extranonce1Lease>,
    workers: Vec<Worker>,
    version_mask: VersionMask,
    vardiff: Vardiff,
    /// A suggestion that came before authorize, applied then.
    early_suggestion: Option<Difficulty>,
    work_started: bool,
    /// Jobs sent to this miner, newest last, with their difficulty.
    sent: std::collections::VecDeque<SentJob>,
    /// Headers credited on this connection: the duplicate key.
    accepted: AcceptedWork,
    validator: ShareValidator,
    /// Set once the guard bans this connection; the session then closes.
    banned: bool,
    /// Work not queued yet because earlier lines are not written yet, and since when.
    deferred: Option<(Work, Instant)>,
    /// The published work this miner was last brought up to: marked seen
    /// whenever its new work is decided, by the serve loop or ahead of an
    /// answer that depends on it.
    generation: watch::Receiver<super::Published>,
}

pub(super) async fn run<S: TemplateSource>(
    shared: Arc<Shared<S>>,
    mut stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    initial: Vec<u8>,
) {
    let stats: Arc<ServerStats> = Arc::clone(&shared.stats);
    stats.connections_total.fetch_add(1, Ordering::Relaxed);
    stats.connections_open.fetch_add(1, Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
    let mut session = Session::new(shared, id, Instant::now());
    tracing::debug!(session = id, %peer, "connected");
    let close = session.serve(&stream, initial).await;
    match &close {
        Close::Eof | Close::Shutdown => tracing::debug!(session = id, %peer, ?close, "closed"),
        Close::ReadError(error) => tracing::info!(session = id, %peer, %error, "read failed"),
        Close::WriteError(error) => tracing::debug!(session = id, %peer, %error, "write failed"),
        Close::SlowReader => {
            stats.slow_miners_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(session = id, %peer, "miner cannot keep up with its work; dropped")
        }
        _ => tracing::info!(session = id, %peer, ?close, "connection closed"),
    }
    session.end();
    // What was queued (an error that explains the close, or answers at
    // shutdown) still goes out, for a bounded time; not to a miner whose
    // socket already stopped taking lines.
    if !matches!(close, Close::SlowReader | Close::WriteError(_)) {
        let _ = tokio::time::timeout(CLOSE_FLUSH, session.write_all_queued(&stream)).await;
    }
    drop(session);
    let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
    stats.connections_open.fetch_sub(1, Ordering::Relaxed);
}

impl<S: TemplateSource> Session<S> {
    /// A session connected at `now`.
    pub(crate) fn new(shared: Arc<Shared<S>>, id: u64, now: Instant) -> Session<S> {
        let settings = &shared.settings;
        let vardiff = Vardiff::new(
            VardiffConfig {
                share_interval: settings.share_interval,
                min: settings.min_difficulty,
                max: settings.max_difficulty,
                start: settings.start_difficulty,
            },
            now,
        );
        Session {
            id,
            out: Outbox::new(),
            now,
            connected: now,
            last_line: now,
            consecutive_errors: 0,
            extranonce1: None,
            workers: Vec::new(),
            version_mask: VersionMask::NONE,
            vardiff,
            early_suggestion: None,
            work_started: false,
            sent: Default::default(),
            accepted: AcceptedWork::new(),
            validator: ShareValidator::new(Sha256d::best(), CACHED_ROOTS),
            banned: false,
            deferred: None,
            generation: shared.generation.subscribe(),
            shared,
        }
    }

    /// The time of the next event (the serve loop's clock, or a test's).
    pub(crate) fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// The connection is gone: its workers go offline on the board.
    pub(crate) fn end(&self) {
        let now_ms = super::unix_millis();
        for worker in &self.workers {
            worker.live.disconnected(now_ms);
        }
    }

    /// `initial`: bytes the miner sent before the session began (what
    /// followed a PROXY protocol header), framed before the socket's.
    async fn serve(&mut self, stream: &TcpStream, initial: Vec<u8>) -> Close {
        let mut framer = LineFramer::new(MAX_LINE);
        framer.push(&initial);
        drop(initial);
        let mut pending: Pending = FuturesOrdered::new();
        let mut shutdown = self.shared.shutdown.clone();
        let mut tick = tokio::time::interval(TICK);
        loop {
            self.now = Instant::now();
            // New work before lines already read: a share on the replaced
            // block is then answered stale after the miner's clean job, not
            // before it.
            if let Err(close) = self.catch_up_work() {
                return close;
            }
            // Lines already framed go first, as far as the bounds let.
            if let Err(close) = self.on_framed_lines(&mut framer, &mut pending) {
                return close;
            }
            // Everything this pass decided leaves in one write, if the
            // socket takes it now.
            if let Err(close) = self.write_queued(stream) {
                return close;
            }
            let writing = !self.out.is_empty();
            let backed_up = self.out.room() < OUT_RESERVE;
            let reading = pending.len() < MAX_PENDING_ANSWERS && !backed_up;
            // An answer queued now takes the waiting work with it, first.
            let room_for_answer = self.out.room() > self.deferred_lines();
            tokio::select! {
                // The socket takes more: the queue (then any waiting work)
                // goes out, and a backed-up miner is read again.
                ready = stream.writable(), if writing => {
                    if let Err(error) = ready {
                        return Close::WriteError(error);
                    }
                }
                // Readiness, then a read into a buffer on this thread's
                // stack: an idle miner's session holds no read buffer.
                ready = stream.readable(), if reading => {
                    if let Err(error) = ready {
                        return Close::ReadError(error);
                    }
                    let mut chunk = [0u8; READ_CHUNK];
                    match stream.try_read(&mut chunk) {
                        Ok(0) => return Close::Eof,
                        Ok(read) => framer.push(&chunk[..read]),
                        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(error) => return Close::ReadError(error),
                    }
                }
                // An answer waits for room rather than drop its miner.
                Some(line) = pending.next(), if !pending.is_empty() && room_for_answer => {
                    if let Err(close) = self.send(line) {
                        return close;
                    }
                }
                changed = self.generation.changed() => {
                    if changed.is_err() {
                        return Close::Shutdown;
                    }
                    self.now = Instant::now();
                    if let Err(close) = self.push_new_work() {
                        return close;
                    }
                }
                _ = tick.tick() => {
                    self.now = Instant::now();
                    if let Err(close) = self.push_tick() {
                        return close;
                    }
                    framer.release_spare();
                    self.out.release_spare();
                }
                _ = shutdown.changed() => return Close::Shutdown,
            }
        }
    }

    /// Writes what the socket takes now; once every queued line is out,
    /// work that waited goes too.
    fn write_queued(&mut self, stream: &TcpStream) -> Result<(), Close> {
        loop {
            let now = self.now;
            let emptied = self
                .out
                .write_with(now, |slices| stream.try_write_vectored(slices))
                .map_err(Close::WriteError)?;
            if !emptied || self.deferred.is_none() {
                return Ok(());
            }
            self.flush_work()?;
        }
    }

    /// Every queued line written, waiting on the socket as long as it
    /// takes (the caller bounds it).
    async fn write_all_queued(&mut self, stream: &TcpStream) {
        self.now = Instant::now();
        while self.write_queued(stream).is_ok() && !self.out.is_empty() {
            if stream.writable().await.is_err() {
                return;
            }
            self.now = Instant::now();
        }
    }

    /// Handles the complete lines `framer` holds while fewer than
    /// [`MAX_PENDING_ANSWERS`] answers wait for the ledger and the outgoing
    /// queue has [`OUT_RESERVE`] free places.
    pub(crate) fn on_framed_lines(
        &mut self,
        framer: &mut LineFramer,
        pending: &mut Pending,
    ) -> Result<(), Close> {
        while pending.len() < MAX_PENDING_ANSWERS && self.out.room() >= OUT_RESERVE {
            match framer.next_line() {
                None => return Ok(()),
                Some(Err(_)) => return Err(Close::LineTooLong),
                Some(Ok(line)) => self.on_line(line, pending)?,
            }
        }
        Ok(())
    }

    /// Queues a line, after any work that waits (decided earlier, so it
    /// goes first: nothing overtakes it, and a miner kept busy by its own
    /// answers gets its work with them). A full queue means the miner
    /// stopped reading.
    fn send(&mut self, line: impl Into<Line>) -> Result<(), Close> {
        if let Some((work, _)) = self.deferred.take() {
            work.lines()
                .into_iter()
                .try_for_each(|line| self.queue(line))?;
        }
        self.queue(line.into())
    }

    /// Lines that can still be queued for the miner.
    pub(crate) fn out_room(&self) -> usize {
        self.out.room()
    }

    /// Every queued line, as if the socket took it (the fuzzer's miner
    /// reads them; the serve loop writes them).
    pub(crate) fn take_queued(&mut self) -> Vec<Line> {
        self.out.take_all()
    }

    pub(crate) fn queue(&mut self, line: Line) -> Result<(), Close> {
        self.out.push(line).map_err(|_| Close::SlowReader)
    }

    fn send_all(&mut self, lines: Vec<Line>) -> Result<(), Close> {
        lines.into_iter().try_for_each(|line| self.send(line))
    }

    /// Lines of the work that waits (0 when none).
    fn deferred_lines(&self) -> usize {
        self.deferred
            .as_ref()
            .map_or(0, |(work, _)| work.line_count())
    }

    /// The template changed: the miner's new work goes out (or waits, see
    /// [`Session::send_work`]).
    pub(crate) fn push_new_work(&mut self) -> Result<(), Close> {
        // Seen before the job is read, so a newer one wakes the loop again.
        self.generation.mark_unchanged();
        if !self.work_started {
            let lines = self.start_work();
            return self.send_all(lines);
        }
        match self.new_work() {
            Some(work) => self.send_work(work),
            None => Ok(()),
        }
    }

    /// New work published since this miner's last goes out now, ahead of
    /// an answer that may depend on it (a share on the replaced block is
    /// answered stale after the clean job, never before).
    pub(crate) fn catch_up_work(&mut self) -> Result<(), Close> {
        if !self.generation.has_changed().unwrap_or(false) {
            return Ok(());
        }
        self.push_new_work()
    }

    /// The timer fired: [`Session::on_tick`], and what it sends.
    pub(crate) fn push_tick(&mut self) -> Result<(), Close> {
        match self.on_tick()? {
            Some(work) => self.send_work(work),
            None => Ok(()),
        }
    }

    /// Queues work the pool sends on its own once the socket has taken
    /// every earlier line (or with the next line the session queues);
    /// until then it waits, replaced by newer work, so a burst of new
    /// blocks reaches a miner that is slow to read as its newest job, not
    /// as a backlog that fills its queue.
    pub(crate) fn send_work(&mut self, work: Work) -> Result<(), Close> {
        let (work, since) = match self.deferred.take() {
            Some((older, since)) => {
                self.shared
                    .stats
                    .work_coalesced
                    .fetch_add(1, Ordering::Relaxed);
                (older.then(work), since)
            }
            None => (work, self.now),
        };
        self.deferred = Some((work, since));
        self.flush_work()
    }

    /// Queues the waiting work if every earlier line is written.
    pub(crate) fn flush_work(&mut self) -> Result<(), Close> {
        if !self.out.is_empty() {
            return Ok(());
        }
        match self.deferred.take() {
            Some((work, _)) => self.send_all(work.lines()),
            None => Ok(()),
        }
    }

    pub(crate) fn on_line(&mut self, line: &[u8], pending: &mut Pending) -> Result<(), Close> {
        self.last_line = self.now;
        let message = match ClientMessage::parse(line) {
            Ok(message) => message,
            Err(error) => {
                self.shared
                    .stats
                    .protocol_errors
                    .fetch_add(1, Ordering::Relaxed);
                if error.method.as_deref() == Some("mining.submit")
                    && self.judge(super::guard::Judged::Invalid, "")
                {
                    return Err(Close::Banned);
                }
                if matches!(error.kind, stratum::message::ErrorKind::InvalidUtf8 { .. }) {
                    return Err(Close::NotUtf8);
                }
                self.consecutive_errors += 1;
                if self.consecutive_errors > MAX_CONSECUTIVE_ERRORS {
                    return Err(Close::Garbage);
                }
                tracing::debug!(session = self.id, %error, "malformed line");
                return match error.reply() {
                    Some(reply) => self.send(reply.to_line()),
                    None => Ok(()),
                };
            }
        };
        self.consecutive_errors = 0;
        let ClientMessage::Request(request) = message else {
            // An answer to a request of ours (we send none that need one).
            return Ok(());
        };
        let id = request.id;
        let silent = id.is_null();
        let lines = match request.method {
            ClientMethod::Subscribe(subscribe) => self.on_subscribe(id, subscribe),
            ClientMethod::Authorize(authorize) => self.on_authorize(id, authorize),
            ClientMethod::Configure(configure) => self.on_configure(id, configure),
            ClientMethod::SuggestDifficulty(suggestion) => {
                self.on_suggest(id, suggestion.difficulty)
            }
            ClientMethod::SuggestTarget(suggestion) => {
                let difficulty = Difficulty::new(suggestion.target.to_difficulty())
                    .unwrap_or(self.shared.settings.min_difficulty);
                self.on_suggest(id, difficulty)
            }
            ClientMethod::ExtranonceSubscribe => vec![Response::boolean(id, true).to_line().into()],
            ClientMethod::GetTransactions => {
                vec![Response::ok(id, serde_json::Value::Array(Vec::new()))
                    .to_line()
                    .into()]
            }
            // ESP-Miner's answer to a ping: nothing to say back.
            ClientMethod::Pong => return Ok(()),
            ClientMethod::Submit(submit) => {
                let answer = self.on_submit(id, submit)?;
                if self.banned {
                    return Err(Close::Banned);
                }
                return match answer {
                    // A notification's share is handled all the same;
                    // only its answer is not sent.
                    _ if silent => Ok(()),
                    submit::Answer::Now(line) => self.send(line),
                    submit::Answer::Later(answer) => {
                        pending.push_back(answer);
                        Ok(())
                    }
                };
            }
            ClientMethod::Unknown { method, .. } => {
                tracing::debug!(session = self.id, %method, "unknown method");
                vec![Response::error(
                    id,
                    stratum::message::ErrorReply::new(
                        ErrorCode::Other,
                        format!("unknown method {method}"),
                    ),
                )
                .to_line()
                .into()]
            }
        };
        if silent {
            // A notification (null id): act on it, answer nothing, but still
            // send what it caused (work after an authorize, say).
            self.send_all(lines.into_iter().skip(1).collect())
        } else {
            self.send_all(lines)
        }
    }

    /// Timeouts, a miner that stopped taking its work, and vardiff's rule
    /// for silent miners.
    pub(crate) fn on_tick(&mut self) -> Result<Option<Work>, Close> {
        let now = self.now;
        if let Some((_, since)) = &self.deferred {
            if now.duration_since(*since) > WORK_STALL {
                return Err(Close::SlowReader);
            }
        }
        if self.out.stalled_for(now) > outbox::WRITE_STALL {
            return Err(Close::SlowReader);
        }
        self.forget_expired_jobs();
        let settings = &self.shared.settings;
        if !self.work_started && now.duration_since(self.connected) > settings.handshake_timeout {
            return Err(Close::HandshakeTimeout);
        }
        if now.duration_since(self.last_line) > settings.idle_timeout {
            return Err(Close::Idle);
        }
        if self.work_started {
            if let Some(difficulty) = self.vardiff.on_tick(now) {
                return Ok(self.retarget_work(difficulty));
            }
        }
        Ok(None)
    }
}

impl<S: TemplateSource> Session<S> {
    /// Tells the guard how a share of `worker` turned out (empty: the
    /// first authorized worker); true once this connection is banned.
    fn judge(&mut self, share: super::guard::Judged, worker: &str) -> bool {
        let worker = match (worker, self.workers.first()) {
            ("", Some(first)) => first.username.as_str(),
            _ => worker,
        };
        let verdict = self
            .shared
            .guard
            .judge(self.id, share, worker, super::unix_millis());
        self.banned |= verdict == super::guard::Verdict::Close;
        self.banned
    }
}
