//! Group commit: one task owns every write. Callers queue a share with a
//! oneshot; the writer gathers shares for at most `batch_window` (or until
//! `max_batch` wait), writes them in one transaction, and only after the
//! commit answers each caller. A failed commit answers every caller of the
//! batch with the error; the writer carries on with the next batch, so it
//! recovers when the database does.
//!
//! A share whose header hash the ledger already holds (from this batch,
//! an earlier one, or another node) is not inserted and its caller hears
//! [`LedgerError::DuplicateShare`]: the unique index is the last line
//! against counting one piece of work twice.

use super::db::Db;
use super::records::{NewBlock, NewShare};
use super::stats::Counters;
use super::{LedgerError, LedgerOptions};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;
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
    let writer = Writer {
        db,
        commands,
        write_timeout: options.write_timeout,
        batch_window: options.batch_window,
        max_batch: options.max_batch.max(1),
        counters,
        stopped,
        outage: None,
    };
    tokio::spawn(writer.run());
    (queue, stopped_flag)
}

struct Writer {
    db: Db,
    commands: mpsc::Receiver<Command>,
    write_timeout: Duration,
    batch_window: Duration,
    max_batch: usize,
    counters: Arc<Counters>,
    /// Set to true when the writer has stopped.
    stopped: watch::Sender<bool>,
    outage: Option<Outage>,
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
    close: bool,
}

impl Batch {
    fn add(&mut self, command: Command) {
        match command {
            Command::Share(share, reply) => {
                self.shares.push(share);
                self.share_replies.push(reply);
            }
            Command::Block(block, reply) => {
                self.blocks.push(block);
                self.block_replies.push(reply);
            }
            Command::Close => self.close = true,
        }
    }

    fn is_empty(&self) -> bool {
        self.shares.is_empty() && self.blocks.is_empty()
    }
}

impl Writer {
    async fn run(mut self) {
        while let Some(first) = self.commands.recv().await {
            let mut batch = Batch::default();
            batch.add(first);
            self.gather(&mut batch).await;
            let close = batch.close;
            self.commit(batch).await;
            if close {
                self.drain().await;
                break;
            }
        }
        // Every handle dropped, or closed: nothing is left unanswered.
        self.stopped.send_replace(true);
    }

    /// Adds what arrives within the batch window, up to `max_batch` shares.
    /// Requests already waiting are taken even once the window has passed.
    async fn gather(&mut self, batch: &mut Batch) {
        let deadline = Instant::now() + self.batch_window;
        while !batch.close && batch.shares.len() < self.max_batch {
            match tokio::time::timeout_at(deadline, self.commands.recv()).await {
                Ok(Some(command)) => batch.add(command),
                Ok(None) | Err(_) => return,
            }
        }
    }

    /// Refuses new requests, then writes everything already queued.
    async fn drain(&mut self) {
        self.commands.close();
        loop {
            let mut batch = Batch::default();
            while batch.shares.len() < self.max_batch {
                match self.commands.recv().await {
                    Some(command) => batch.add(command),
                    None => break,
                }
            }
            if batch.is_empty() {
                return;
            }
            self.commit(batch).await;
        }
    }

    async fn commit(&mut self, batch: Batch) {
        if !batch.blocks.is_empty() {
            let started = Instant::now();
            let result = self
                .db
                .upsert_blocks(&batch.blocks, self.write_timeout)
                .await;
            self.counters.transaction_took(started.elapsed());
            match &result {
                Ok(()) => {
                    self.counters.blocks_committed(batch.blocks.len());
                    self.write_succeeded();
                }
                Err(error) => self.write_failed("blocks", batch.blocks.len(), error),
            }
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
            match &result {
                Ok(inserted) => {
                    let written = inserted.iter().filter(|inserted| **inserted).count();
                    self.counters.batch_committed(written);
                    self.counters
                        .duplicates_refused((copy_of.len() - written) as u64);
                    self.write_succeeded();
                }
                Err(error) => self.write_failed("shares", unique.len(), error),
            }
            answer_shares(batch.share_replies, &copy_of, &unique, result);
        }
    }

    fn write_failed(&mut self, kind: &'static str, records: usize, error: &sqlx::Error) {
        self.counters.write_failed();
        let cause = error.to_string();
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
                backend = self.db.backend().name(),
                kind,
                records,
                failed_batches,
                cause = %cause,
                "ledger write failed: these records are NOT recorded and every caller got the \
                 error; retrying with the next batch"
            );
        }
    }

    fn write_succeeded(&mut self) {
        if let Some(outage) = self.outage.take() {
            tracing::warn!(
                backend = self.db.backend().name(),
                failed_batches = outage.failed_batches,
                outage_ms = outage.since.elapsed().as_millis() as u64,
                "ledger writes recovered"
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
