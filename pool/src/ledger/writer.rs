//! Group commit, pipelined: one task owns every write. Callers queue a
//! request with a oneshot. While a committer is idle, the writer takes
//! every request already queued (up to `max_batch` shares) and commits it
//! at once, with no wait for more; while the committers are busy, the next
//! batch gathers, and it is committed as soon as one is done. Under load
//! batches grow by themselves (what queued during one commit is the next),
//! and a lone share waits only for its own commit (at a trickle, a
//! transaction and an fsync per share: more syncs, no one waiting).
//!
//! SQLite has one committer: it has one writer anyway. PostgreSQL has
//! [`LedgerOptions::commits_in_flight`]: one transaction inserts while
//! another waits for its WAL flush, where one at a time left the server
//! idle for half of every commit. Two of ours touch shared rows only in a
//! fixed order (shares sorted by hash, then minute rows sorted by key), so
//! they wait for each other but never deadlock, whatever a miner sends. A
//! hash in one batch that a concurrent batch also holds waits for that
//! transaction and is refused by the unique index if it committed, as
//! between any two batches. Each caller is answered only after its
//! transaction commits. A failed commit answers every caller of that batch
//! with the error; the writer carries on with the next batch, so it
//! recovers when the database does.
//!
//! A share whose header hash the ledger already holds (from this batch,
//! an earlier one, or another node) is not inserted and its caller hears
//! [`LedgerError::DuplicateShare`]: the unique index is the last line
//! against counting one piece of work twice.

use super::db::{Backend, Db};
use super::records::{NewBlock, NewShare};
use super::stats::Counters;
use super::{LedgerError, LedgerOptions};
use futures::stream::{FuturesUnordered, StreamExt};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

pub(super) type Reply = oneshot::Sender<Result<(), LedgerError>>;

pub(super) enum Command {
    Share(NewShare, Reply),
    Block(NewBlock, Reply),
    /// Write what is queued, then stop.
    Close,
}

/// While writes fail, repeat the error line at most this often (unless the
/// cause changes).
const OUTAGE_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Starts the writer task; returns its queue and a flag that turns true
/// once it has stopped.
pub(super) fn spawn(
    db: Db,
    options: &LedgerOptions,
    counters: Arc<Counters>,
) -> (mpsc::Sender<Command>, watch::Receiver<bool>) {
    let (queue, commands) = mpsc::channel(options.queue_capacity.max(1));
    let (stopped, stopped_flag) = watch::channel(false);
    let committers = match db.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => options.commits_in_flight.max(1),
    };
    let writer = Writer {
        backend: db.backend(),
        commands,
        received_all: false,
        max_batch: options.max_batch.max(1),
        stopped,
        outage: None,
    };
    let committers = (0..committers)
        .map(|_| Committer {
            db: db.clone(),
            write_timeout: options.write_timeout,
            counters: Arc::clone(&counters),
        })
        .collect();
    tokio::spawn(writer.run(committers));
    (queue, stopped_flag)
}

/// Gathers requests into batches and hands each to an idle [`Committer`].
struct Writer {
    backend: Backend,
    commands: mpsc::Receiver<Command>,
    /// The queue is closed and empty: nothing more will arrive.
    received_all: bool,
    max_batch: usize,
    /// Set to true when the writer has stopped.
    stopped: watch::Sender<bool>,
    /// The run of failed writes going on, if any (all committers').
    outage: Option<Outage>,
}

/// Runs a batch's transactions and answers its callers. The writer holds
/// the idle ones and lends each to one commit at a time, which hands it
/// back when done.
struct Committer {
    db: Db,
    write_timeout: Duration,
    counters: Arc<Counters>,
}

/// How one transaction of a batch went, for the outage log.
enum Written {
    Ok,
    Failed {
        kind: &'static str,
        records: usize,
        cause: String,
    },
}

/// A run of failed writes, for the logs.
struct Outage {
    since: Instant,
    failed_batches: u64,
    last_logged: Instant,
    last_cause: String,
}

#[derive(Default)]
struct Batch {
    shares: Vec<NewShare>,
    share_replies: Vec<Reply>,
    blocks: Vec<NewBlock>,
    block_replies: Vec<Reply>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.shares.is_empty() && self.blocks.is_empty()
    }
}

impl Writer {
    async fn run(mut self, mut idle: Vec<Committer>) {
        let mut committing = FuturesUnordered::new();
        let mut next = Batch::default();
        loop {
            // Commit what is queued right now, while a committer is idle.
            while let Some(committer) = idle.pop() {
                self.take_queued(&mut next);
                if next.is_empty() {
                    idle.push(committer);
                    break;
                }
                committing.push(committer.commit(std::mem::take(&mut next)));
            }
            if committing.is_empty() && self.received_all {
                break;
            }
            // At least one branch is enabled: a commit runs, or a committer
            // is idle with an empty batch and the queue open.
            tokio::select! {
                biased;
                Some((committer, written)) = committing.next(), if !committing.is_empty() => {
                    for written in written {
                        self.log(written);
                    }
                    idle.push(committer);
                }
                command = self.commands.recv(),
                    if !self.received_all && next.shares.len() < self.max_batch =>
                {
                    self.receive(&mut next, command);
                    self.take_queued(&mut next);
                }
            }
        }
        // Every handle dropped, or closed: nothing is left unanswered.
        self.stopped.send_replace(true);
    }

    /// Adds the requests already waiting, up to `max_batch` shares, without
    /// waiting for more.
    fn take_queued(&mut self, batch: &mut Batch) {
        while !self.received_all && batch.shares.len() < self.max_batch {
            match self.commands.try_recv() {
                Ok(command) => self.receive(batch, Some(command)),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => self.received_all = true,
            }
        }
    }

    /// `None`: every handle is dropped, or the queue is closed and empty.
    fn receive(&mut self, batch: &mut Batch, command: Option<Command>) {
        match command {
            Some(Command::Share(share, reply)) => {
                batch.shares.push(share);
                batch.share_replies.push(reply);
            }
            Some(Command::Block(block, reply)) => {
                batch.blocks.push(block);
                batch.block_replies.push(reply);
            }
            // Refuses new requests; those already queued still arrive, and
            // are written, before `None`.
            Some(Command::Close) => self.commands.close(),
            None => self.received_all = true,
        }
    }
}

impl Committer {
    /// Writes the batch (its blocks, then its shares, as one transaction
    /// each), answers its callers, and hands the committer back with how
    /// each transaction went.
    async fn commit(self, batch: Batch) -> (Committer, Vec<Written>) {
        let written = self.write(batch).await;
        (self, written)
    }

    async fn write(&self, batch: Batch) -> Vec<Written> {
        let mut written = Vec::with_capacity(2);
        if !batch.blocks.is_empty() {
            let started = Instant::now();
            let result = self
                .db
                .upsert_blocks(&batch.blocks, self.write_timeout)
                .await;
            self.counters.transaction_took(started.elapsed());
            written.push(match &result {
                Ok(()) => {
                    self.counters.blocks_committed(batch.blocks.len());
                    Written::Ok
                }
                Err(error) => self.failed("blocks", batch.blocks.len(), error),
            });
            answer(batch.block_replies, result);
        }
        if !batch.shares.is_empty() {
            // One row per hash: a later copy in the same batch is a
            // duplicate of the first, whatever the database says of it.
            let mut first_of_hash = FxHashMap::default();
            let mut unique = Vec::with_capacity(batch.shares.len());
            let copy_of: Vec<Option<usize>> = batch
                .shares
                .into_iter()
                .map(|share| match first_of_hash.entry(share.hash) {
                    Entry::Occupied(_) => None,
                    Entry::Vacant(slot) => {
                        slot.insert(unique.len());
                        unique.push(share);
                        Some(unique.len() - 1)
                    }
                })
                .collect();
            let started = Instant::now();
            let result = self.db.insert_shares(&unique, self.write_timeout).await;
            self.counters.transaction_took(started.elapsed());
            written.push(match &result {
                Ok(inserted) => {
                    let inserted = inserted.iter().filter(|inserted| **inserted).count();
                    self.counters.batch_committed(inserted);
                    self.counters
                        .duplicates_refused((copy_of.len() - inserted) as u64);
                    Written::Ok
                }
                Err(error) => self.failed("shares", unique.len(), error),
            });
            answer_shares(batch.share_replies, &copy_of, &unique, result);
        }
        written
    }

    fn failed(&self, kind: &'static str, records: usize, error: &sqlx::Error) -> Written {
        self.counters.write_failed();
        Written::Failed {
            kind,
            records,
            cause: error.to_string(),
        }
    }
}

impl Writer {
    /// Logs the start and the end of an outage, and while it lasts an
    /// error line at most every [`OUTAGE_LOG_INTERVAL`] (or when the cause
    /// changes).
    fn log(&mut self, written: Written) {
        let Written::Failed {
            kind,
            records,
            cause,
        } = written
        else {
            if let Some(outage) = self.outage.take() {
                tracing::warn!(
                    backend = self.backend.name(),
                    failed_batches = outage.failed_batches,
                    outage_ms = outage.since.elapsed().as_millis() as u64,
                    "ledger writes recovered"
                );
            }
            return;
        };
        let now = Instant::now();
        let log = match &mut self.outage {
            None => {
                self.outage = Some(Outage {
                    since: now,
                    failed_batches: 1,
                    last_logged: now,
                    last_cause: cause.clone(),
                });
                true
            }
            Some(outage) => {
                outage.failed_batches += 1;
                let log = outage.last_cause != cause
                    || now.duration_since(outage.last_logged) >= OUTAGE_LOG_INTERVAL;
                if log {
                    outage.last_logged = now;
                    outage.last_cause.clone_from(&cause);
                }
                log
            }
        };
        if log {
            let failed_batches = self.outage.as_ref().map_or(1, |o| o.failed_batches);
            tracing::error!(
                backend = self.backend.name(),
                kind,
                records,
                failed_batches,
                cause = %cause,
                "ledger write failed: these records are NOT recorded and every caller got the \
                 error; retrying with the next batch"
            );
        }
    }
}

/// Completes every share's caller: recorded, already recorded, or the
/// transaction's error.
fn answer_shares(
    replies: Vec<Reply>,
    copy_of: &[Option<usize>],
    unique: &[NewShare],
    result: Result<Vec<bool>, sqlx::Error>,
) {
    let records = unique.len();
    let result = result.map_err(Arc::new);
    for (reply, slot) in replies.into_iter().zip(copy_of) {
        let outcome = match (&result, slot) {
            (Err(source), _) => Err(LedgerError::Write {
                records,
                source: Arc::clone(source),
            }),
            (Ok(inserted), Some(index)) if inserted.get(*index) == Some(&true) => Ok(()),
            // A copy within the batch, or a hash an earlier commit holds.
            (Ok(_), _) => Err(LedgerError::DuplicateShare),
        };
        // A caller that gave up waiting no longer needs the answer.
        let _ = reply.send(outcome);
    }
}

/// Completes every caller of one transaction with its outcome.
fn answer(replies: Vec<Reply>, result: Result<(), sqlx::Error>) {
    let records = replies.len();
    let result = result.map_err(Arc::new);
    for reply in replies {
        let outcome = match &result {
            Ok(()) => Ok(()),
            Err(source) => Err(LedgerError::Write {
                records,
                source: Arc::clone(source),
            }),
        };
        // A caller that gave up waiting no longer needs the answer.
        let _ = reply.send(outcome);
    }
}
