//! One miner connection: reads lines, answers them in order, and sends
//! work. Everything protocol-shaped is the `stratum` crate's; this file
//! only moves lines and keeps the session's state.

mod handshake;
mod submit;
mod work;

use super::stats::ServerStats;
use super::writer;
use super::Shared;
use crate::extranonce::Extranonce1Lease;
use crate::template::TemplateSource;
use crate::vardiff::{Vardiff, VardiffConfig};
use futures::future::BoxFuture;
use futures::stream::{FuturesOrdered, StreamExt};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stratum::framer::LineFramer;
use stratum::message::{ClientMessage, ClientMethod, ErrorCode, Response};
use stratum::{Difficulty, ShareValidator, VersionMask};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use work::SentJob;

/// Longest line accepted from a miner (they never need more than a few KiB).
const MAX_LINE: usize = 16 * 1024;
/// Malformed lines in a row before the connection is closed.
const MAX_CONSECUTIVE_ERRORS: u32 = 20;
/// How often timeouts and vardiff's silence rule are looked at.
const TICK: Duration = Duration::from_secs(2);

/// Why a session ends.
#[derive(Debug)]
enum Close {
    Eof,
    ReadError(std::io::Error),
    LineTooLong,
    NotUtf8,
    Garbage,
    SlowReader,
    WriterGone,
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
}

/// Everything this session sends, in the order it decided to send it: an
/// answer that waits for the ledger holds back what was decided after it.
type Pending = FuturesOrdered<BoxFuture<'static, Vec<String>>>;

struct Session<S> {
    id: u64,
    shared: Arc<Shared<S>>,
    out: mpsc::Sender<String>,
    connected: Instant,
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
    validator: ShareValidator,
    /// Set once the guard bans this connection; the session then closes.
    banned: bool,
}

pub(super) async fn run<S: TemplateSource>(
    shared: Arc<Shared<S>>,
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
) {
    let stats: Arc<ServerStats> = Arc::clone(&shared.stats);
    stats.connections_total.fetch_add(1, Ordering::Relaxed);
    stats.connections_open.fetch_add(1, Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
    let (mut reader, write_half) = stream.into_split();
    let (out, queue) = mpsc::channel(writer::QUEUE);
    let writer = tokio::spawn(writer::write_lines(write_half, queue));
    let now = Instant::now();
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
    let mut session = Session {
        id,
        out,
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
        validator: ShareValidator::default(),
        banned: false,
        shared,
    };
    tracing::debug!(session = id, %peer, "connected");
    let close = session.serve(&mut reader).await;
    match &close {
        Close::Eof | Close::Shutdown => tracing::debug!(session = id, %peer, ?close, "closed"),
        Close::ReadError(error) => tracing::info!(session = id, %peer, %error, "read failed"),
        Close::SlowReader => {
            stats.slow_miners_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(session = id, %peer, "miner cannot keep up with its work; dropped")
        }
        _ => tracing::info!(session = id, %peer, ?close, "connection closed"),
    }
    let now_ms = super::unix_millis();
    for worker in &session.workers {
        session
            .shared
            .workers
            .disconnected(&worker.address, &worker.worker, now_ms);
    }
    drop(session);
    if matches!(close, Close::SlowReader) {
        // Its socket is full: flushing the queue would hold the connection
        // (and its file descriptor) for the whole write timeout.
        writer.abort();
    }
    let _ = writer.await;
    stats.connections_open.fetch_sub(1, Ordering::Relaxed);
}

impl<S: TemplateSource> Session<S> {
    async fn serve(&mut self, reader: &mut tokio::net::tcp::OwnedReadHalf) -> Close {
        let mut framer = LineFramer::new(MAX_LINE);
        let mut buffer = vec![0u8; 8192];
        let mut pending: Pending = FuturesOrdered::new();
        let mut generation = self.shared.generation.subscribe();
        generation.mark_unchanged();
        let mut shutdown = self.shared.shutdown.clone();
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                read = reader.read(&mut buffer) => {
                    let count = match read {
                        Ok(0) => return Close::Eof,
                        Ok(count) => count,
                        Err(error) => return Close::ReadError(error),
                    };
                    self.last_line = Instant::now();
                    framer.push(&buffer[..count]);
                    while let Some(line) = framer.next_line() {
                        let Ok(line) = line else {
                            return Close::LineTooLong;
                        };
                        let line = line.to_vec();
                        if let Err(close) = self.on_line(&line, &mut pending) {
                            return close;
                        }
                    }
                }
                Some(lines) = pending.next(), if !pending.is_empty() => {
                    for line in lines {
                        if let Err(close) = self.send(line) {
                            return close;
                        }
                    }
                }
                changed = generation.changed() => {
                    if changed.is_err() {
                        return Close::Shutdown;
                    }
                    let lines = self.on_new_work();
                    answer(&mut pending, lines);
                }
                _ = tick.tick() => {
                    match self.on_tick() {
                        Ok(lines) => answer(&mut pending, lines),
                        Err(close) => return close,
                    }
                }
                _ = shutdown.changed() => return Close::Shutdown,
            }
        }
    }

    /// Queues a line; a full queue means the miner stopped reading.
    fn send(&self, line: String) -> Result<(), Close> {
        self.out.try_send(line).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => Close::SlowReader,
            mpsc::error::TrySendError::Closed(_) => Close::WriterGone,
        })
    }

    fn on_line(&mut self, line: &[u8], pending: &mut Pending) -> Result<(), Close> {
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
                if let Some(reply) = error.reply() {
                    answer(pending, vec![reply.to_line()]);
                }
                return Ok(());
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
            ClientMethod::ExtranonceSubscribe => vec![Response::boolean(id, true).to_line()],
            ClientMethod::GetTransactions => {
                vec![Response::ok(id, serde_json::Value::Array(Vec::new())).to_line()]
            }
            // ESP-Miner's answer to a ping: nothing to say back.
            ClientMethod::Pong => return Ok(()),
            ClientMethod::Submit(submit) => {
                pending.push_back(self.on_submit(id, submit));
                return if self.banned {
                    Err(Close::Banned)
                } else {
                    Ok(())
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
                .to_line()]
            }
        };
        if silent {
            // A notification (null id): act on it, answer nothing, but still
            // send what it caused (work after an authorize, say).
            answer(pending, lines.into_iter().skip(1).collect());
        } else {
            answer(pending, lines);
        }
        Ok(())
    }

    /// Timeouts, and vardiff's rule for silent miners.
    fn on_tick(&mut self) -> Result<Vec<String>, Close> {
        let now = Instant::now();
        let settings = &self.shared.settings;
        if !self.work_started && now.duration_since(self.connected) > settings.handshake_timeout {
            return Err(Close::HandshakeTimeout);
        }
        if now.duration_since(self.last_line) > settings.idle_timeout {
            return Err(Close::Idle);
        }
        if self.work_started {
            if let Some(difficulty) = self.vardiff.on_tick(now) {
                return Ok(self.retarget(difficulty));
            }
        }
        Ok(Vec::new())
    }
}

/// Queues lines that are ready now, behind any answer still pending.
fn answer(pending: &mut Pending, lines: Vec<String>) {
    if !lines.is_empty() {
        pending.push_back(Box::pin(std::future::ready(lines)));
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
