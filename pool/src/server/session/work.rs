//! Work for one miner: which job it has, at which difficulty, and what to
//! send when the template or its difficulty changes.

use super::Session;
use crate::config::PayoutMode;
use crate::jobs::PoolJob;
use crate::server::Line;
use crate::template::TemplateSource;
use std::sync::Arc;
use stratum::message::{SetDifficulty, SetVersionMask};
use stratum::{Difficulty, Target, VersionMask};

/// Jobs a miner may still answer; older ones get "job not found".
const MAX_SENT_JOBS: usize = 32;

/// A job as sent to this miner.
pub(super) struct SentJob {
    pub job: Arc<PoolJob>,
    /// The difficulty in force when it was sent: what its shares are credited at.
    pub difficulty: Difficulty,
    pub target: Target,
    /// When a newer job replaced it for this miner.
    pub replaced_at: Option<std::time::Instant>,
}

impl<S: TemplateSource> Session<S> {
    /// The script the coinbase pays: in solo mode the miner's own.
    fn payout(&self) -> Option<bitcoin::ScriptBuf> {
        match self.shared.settings.mode {
            PayoutMode::Solo => self
                .workers
                .first()
                .map(|worker| worker.payout_script.clone()),
            _ => None,
        }
    }

    fn current_job(&self) -> Option<Arc<PoolJob>> {
        if self.shared.settings.mode != PayoutMode::Solo {
            if let Some(job) = &self.shared.generation.borrow().job {
                return Some(Arc::clone(job));
            }
        }
        let payout = self.payout();
        match self.shared.jobs().current_job(payout.as_ref()) {
            Ok(job) => Some(job),
            Err(error) => {
                tracing::debug!(session = self.id, %error, "no job yet");
                None
            }
        }
    }

    /// Jobs this miner can still be answered on.
    pub(crate) fn jobs_remembered(&self) -> usize {
        self.sent.len()
    }

    pub(super) fn handshake_done(&self) -> bool {
        self.extranonce1.is_some() && !self.workers.is_empty()
    }

    fn last_sent(&self) -> Option<&Arc<PoolJob>> {
        self.sent.back().map(|sent| &sent.job)
    }

    /// The notify for `job`, remembered at the current difficulty.
    fn job_line(&mut self, job: Arc<PoolJob>, force_clean: bool) -> Line {
        let line = notify_line(&job, force_clean);
        self.record_job(job);
        line
    }

    /// `job` (after `difficulty`, if it changed) as a batch, recorded.
    fn work(&mut self, difficulty: Option<String>, job: Arc<PoolJob>) -> Work {
        let clean = job.job.notify().clean_jobs;
        self.record_job(Arc::clone(&job));
        Work {
            difficulty,
            job,
            clean,
        }
    }

    /// `job` is this miner's from now on, at the current difficulty.
    fn record_job(&mut self, job: Arc<PoolJob>) {
        if job.job.notify().clean_jobs {
            // Every cached root belongs to a replaced block now.
            self.validator.clear();
        }
        let difficulty = self.vardiff.current();
        for worker in &self.workers {
            worker.live.job_sent(difficulty.as_f64());
        }
        if let Some(previous) = self.sent.back_mut() {
            previous.replaced_at.get_or_insert(self.now);
        }
        self.sent.push_back(SentJob {
            job,
            difficulty,
            target: Target::from_difficulty(difficulty),
            replaced_at: None,
        });
        if self.sent.len() > MAX_SENT_JOBS {
            self.forget_oldest_job();
        }
    }

    fn forget_oldest_job(&mut self) {
        if let Some(oldest) = self.sent.pop_front() {
            self.validator.forget_job(oldest.job.id());
            let sent = &self.sent;
            self.accepted
                .retain(|prevhash| sent.iter().any(|job| job.job.prevhash() == *prevhash));
        }
    }

    /// Forgets the jobs replaced longer than the stale window ago: the job
    /// manager has forgotten them too (it replaced each one no later than
    /// this miner did), so their shares are refused either way. An idle
    /// miner then holds the jobs of the last stale window, not the last
    /// [`MAX_SENT_JOBS`].
    pub(super) fn forget_expired_jobs(&mut self) {
        let window = self.shared.settings.stale_window;
        let mut forgot = false;
        while self.sent.front().is_some_and(|oldest| {
            oldest
                .replaced_at
                .is_some_and(|at| self.now.saturating_duration_since(at) > window)
        }) {
            self.forget_oldest_job();
            forgot = true;
        }
        if forgot && self.sent.capacity() > 2 * self.sent.len().max(2) {
            self.sent.shrink_to_fit();
        }
    }

    fn difficulty_line(&self) -> String {
        SetDifficulty {
            difficulty: self.vardiff.current(),
        }
        .to_line()
    }

    /// The first difficulty and job, once the miner has subscribed and
    /// authorized (in whichever order) and a template exists.
    pub(super) fn start_work(&mut self) -> Vec<Line> {
        if self.work_started || !self.handshake_done() {
            return Vec::new();
        }
        let Some(job) = self.current_job() else {
            return Vec::new();
        };
        self.work_started = true;
        self.vardiff
            .set_network_difficulty(job.network_difficulty());
        let difficulty = self.difficulty_line();
        vec![difficulty.into(), self.job_line(job, true)]
    }

    /// The template changed: the new job (after a lower difficulty if the
    /// network's fell under this miner's), once work has started, as one
    /// batch that newer work can replace before it is queued. Every line
    /// goes out through the session's one ordered queue, so the wire order
    /// is the order in which the session decided (a job never overtakes the
    /// set_difficulty it was recorded under).
    pub(super) fn new_work(&mut self) -> Option<Work> {
        let job = self.current_job()?;
        if self.last_sent().is_some_and(|sent| sent.id() == job.id()) {
            return None;
        }
        let difficulty = self
            .vardiff
            .set_network_difficulty(job.network_difficulty())
            .map(|_| self.difficulty_line());
        Some(self.work(difficulty, job))
    }

    /// A new difficulty applies from the next job on: send it, then a job
    /// the miner has not seen (the current one under a new id if the work
    /// did not change), so shares at the new difficulty are told apart.
    pub(super) fn retarget(&mut self, difficulty: Difficulty) -> Vec<Line> {
        self.retarget_work(difficulty)
            .map(|work| work.lines())
            .unwrap_or_default()
    }

    /// [`Session::retarget`] as one batch.
    pub(super) fn retarget_work(&mut self, difficulty: Difficulty) -> Option<Work> {
        debug_assert_eq!(difficulty, self.vardiff.current());
        if !self.work_started {
            return None;
        }
        let current = self.current_job()?;
        // Never an id the miner has seen: ESP-Miner ignores a repeated one,
        // and its shares must be told apart from those at the old difficulty.
        let job = if self.sent.iter().any(|sent| sent.job.id() == current.id()) {
            self.shared.jobs().reissue(&current)
        } else {
            current
        };
        tracing::debug!(
            session = self.id,
            difficulty = difficulty.as_f64(),
            "new difficulty"
        );
        let difficulty = Some(self.difficulty_line());
        Some(self.work(difficulty, job))
    }

    pub(super) fn version_mask_line(mask: VersionMask) -> String {
        SetVersionMask { mask }.to_line()
    }
}

/// The notify line for `job`, with `clean_jobs` set when `force_clean`:
/// serialized once per job, shared by every session that sends it.
fn notify_line(job: &PoolJob, force_clean: bool) -> Line {
    if force_clean {
        job.clean_notify_line().into()
    } else {
        job.notify_line().into()
    }
}

/// Work the pool sends on its own (a new template, a retarget): a
/// difficulty if it changed, then a job. Until it is queued, a newer batch
/// replaces it ([`Work::then`]): a miner that is slow to take its work gets
/// the newest job, not a backlog of jobs already replaced.
pub(crate) struct Work {
    difficulty: Option<String>,
    job: Arc<PoolJob>,
    /// The miner must drop the jobs it has (a new block).
    clean: bool,
}

impl Work {
    pub(crate) fn lines(&self) -> Vec<Line> {
        let mut lines = Vec::with_capacity(2);
        lines.extend(self.difficulty.iter().cloned().map(Line::from));
        lines.push(notify_line(&self.job, self.clean));
        lines
    }

    /// How many lines [`Work::lines`] makes.
    pub(crate) fn line_count(&self) -> usize {
        usize::from(self.difficulty.is_some()) + 1
    }

    /// `self` then `newer`, as one batch with the same effect on the miner:
    /// the latest difficulty (each is absolute), the newer job, clean if
    /// either was (a replaced block's jobs must still be dropped).
    pub(crate) fn then(self, newer: Work) -> Work {
        Work {
            difficulty: newer.difficulty.or(self.difficulty),
            job: newer.job,
            clean: self.clean || newer.clean,
        }
    }
}
