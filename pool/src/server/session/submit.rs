//! The share path: cheap rejections first, then one hash through the
//! cached validator, then the ledger. A share is answered `true` only
//! once the ledger has made it durable; a block goes to the nodes at once,
//! stale or not.

use super::super::stats::Reject;
use super::super::submitter::{self, FoundBlock};
use super::super::workers::ShareOutcome;
use super::{Close, Session, Worker};
use crate::block::Solution;
use crate::clock::unix_millis;
use crate::jobs::PoolJob;
use crate::ledger::{LedgerError, NewShare};
use crate::template::TemplateSource;
use bitcoin::hashes::Hash as _;
use bitcoin::BlockHash;
use futures::future::BoxFuture;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use stratum::message::{ErrorCode, ErrorReply, Id, Response, Submit};
use stratum::share::Share;
use stratum::ShareCheck;

impl Reject {
    /// How the worker board counts it.
    fn outcome(self) -> ShareOutcome {
        match self {
            Reject::Stale => ShareOutcome::Stale,
            Reject::Duplicate => ShareOutcome::Duplicate,
            Reject::LowDifficulty => ShareOutcome::LowDifficulty,
            _ => ShareOutcome::Rejected,
        }
    }

    fn code(self) -> ErrorCode {
        match self {
            Reject::NotSubscribed => ErrorCode::NotSubscribed,
            Reject::Unauthorized => ErrorCode::UnauthorizedWorker,
            Reject::UnknownJob | Reject::Stale => ErrorCode::JobNotFound,
            Reject::Invalid | Reject::NotRecorded => ErrorCode::Other,
            Reject::Duplicate => ErrorCode::Duplicate,
            Reject::LowDifficulty => ErrorCode::LowDifficulty,
        }
    }
}

/// How a submit is answered.
pub(super) enum Answer {
    /// Refused: the answer is ready.
    Now(String),
    /// Accepted: the answer is ready once the ledger has the share.
    Later(BoxFuture<'static, String>),
}

impl<S: TemplateSource> Session<S> {
    /// Checks a share. A retarget it causes is sent at once; its own answer
    /// is ready now (refused) or when the ledger is (accepted).
    pub(super) fn on_submit(&mut self, id: Id, submit: Submit) -> Result<Answer, Close> {
        let stats = Arc::clone(&self.shared.stats);
        // Looked up once: the check, the count and the record use it.
        let worker_at = self.worker_index(&submit.worker);
        let (share, difficulty, at) = match self.check(&submit, worker_at) {
            Ok(accepted) => accepted,
            Err((reject, message)) => {
                stats.reject(reject);
                self.judge(crate::server::guard::Judged::of(reject), &submit.worker);
                if let Some(at) = worker_at {
                    self.workers[at]
                        .live
                        .share(reject.outcome(), 0.0, 0.0, unix_millis());
                }
                tracing::debug!(session = self.id, reason = reject.name(), %message, "share rejected");
                let line = Response::error(id, ErrorReply::new(reject.code(), message)).to_line();
                // Only these answers depend on which work the miner has.
                if matches!(reject, Reject::Stale | Reject::UnknownJob) {
                    self.catch_up_work()?;
                }
                return Ok(Answer::Now(line));
            }
        };
        self.judge(crate::server::guard::Judged::Valid, &submit.worker);
        // Vardiff counts the share now; its new difficulty and job go out
        // at once (from the next job on, as every change does).
        if let Some(new) = self.vardiff.on_share(difficulty, self.now) {
            let lines = self.retarget(new);
            self.send_all(lines)?;
        }
        let ledger = self.shared.ledger.clone();
        let live = self.workers[at].live.clone();
        let session = self.id;
        stats.shares_awaiting_ledger.fetch_add(1, Ordering::Relaxed);
        // Recorded and counted in a task of its own: a miner that hangs up
        // while its share is being committed does not stop the share (the
        // writer commits it anyway) nor, then, its count, so the pool's
        // counters always equal the ledger's rows.
        let recorded = tokio::spawn(async move {
            let credited = share.difficulty;
            let reached = stratum::target::hash_difficulty(&share.hash);
            let result = ledger.record_share(share).await;
            let outcome = match &result {
                Ok(()) => {
                    stats.accept(credited);
                    ShareOutcome::Accepted
                }
                Err(LedgerError::DuplicateShare) => {
                    stats.reject(Reject::Duplicate);
                    ShareOutcome::Duplicate
                }
                Err(_) => {
                    stats.reject(Reject::NotRecorded);
                    ShareOutcome::Rejected
                }
            };
            live.share(outcome, credited, reached, unix_millis());
            stats.shares_awaiting_ledger.fetch_sub(1, Ordering::Relaxed);
            result
        });
        Ok(Answer::Later(Box::pin(async move {
            let result = recorded.await.unwrap_or(Err(LedgerError::Closed));
            let answer = match result {
                Ok(()) => Response::boolean(id, true),
                Err(LedgerError::DuplicateShare) => {
                    tracing::debug!(session, "share already in the ledger");
                    Response::error(id, ErrorReply::new(ErrorCode::Duplicate, "duplicate share"))
                }
                Err(error) => {
                    tracing::error!(session, %error, "share not recorded; told the miner");
                    Response::error(
                        id,
                        ErrorReply::new(
                            ErrorCode::Other,
                            "share not recorded: the pool's database is unavailable",
                        ),
                    )
                }
            };
            answer.to_line()
        })))
    }

    /// Everything but the ledger: the share to record, the difficulty it
    /// is credited at and its worker's place, or why it is refused.
    /// `worker_at`: the submit's worker ([`Session::worker_index`]).
    fn check(
        &mut self,
        submit: &Submit,
        worker_at: Option<usize>,
    ) -> Result<(NewShare, stratum::Difficulty, usize), (Reject, String)> {
        let Some(extranonce1) = self.extranonce1.as_ref().map(|lease| lease.value()) else {
            return Err((Reject::NotSubscribed, "not subscribed".into()));
        };
        let Some(worker_at) = worker_at else {
            return Err((
                Reject::Unauthorized,
                format!("unauthorized worker {}", submit.worker),
            ));
        };
        let Some(index) = self
            .sent
            .iter()
            .rposition(|sent| sent.job.id() == submit.job_id)
        else {
            return Err((
                Reject::UnknownJob,
                format!("job {} not found", submit.job_id),
            ));
        };
        let job = Arc::clone(&self.sent[index].job);
        let (remembered, stale) = {
            let jobs = self.shared.jobs();
            (jobs.is_live(&job), jobs.is_stale(&job))
        };
        if !remembered {
            return Err((Reject::UnknownJob, format!("job {} expired", submit.job_id)));
        }
        let now_secs = (unix_millis() / 1000) as u64;
        if let Err(error) = submit.ntime.check_window(job.job.ntime(), now_secs) {
            return Err((Reject::Invalid, error.to_string()));
        }
        let extranonce2 = submit
            .extranonce2
            .fit(self.shared.settings.extranonce2_size)
            .map_err(|error| (Reject::Invalid, error.to_string()))?;
        let share = Share {
            extranonce1,
            extranonce2,
            ntime: submit.ntime,
            nonce: submit.nonce,
            version_bits: submit.version_bits,
        };
        let target = self.sent[index].target;
        let check = self
            .validator
            .validate(&job.job, &share, self.version_mask, &target)
            .map_err(|error| (Reject::Invalid, error.to_string()))?;
        // The same header under any job that carries the same work (a
        // reissue, a repeat) is the same share: refused before the block
        // path, so a repeated solution is never built or sent again.
        if self.accepted.contains(&check.hash) {
            return Err((Reject::Duplicate, "duplicate share".into()));
        }
        if check.meets_network_target {
            if !self.shared.solutions.first_time(&check.hash) {
                return Err((
                    Reject::Duplicate,
                    "duplicate share: its block was already submitted".into(),
                ));
            }
            self.found_block(&job, &share, &check, &self.workers[worker_at]);
        }
        if stale {
            return Err((
                Reject::Stale,
                format!("stale: job {} builds on a replaced block", submit.job_id),
            ));
        }
        let difficulty = self.sent[index].difficulty;
        if !check.meets_share_target {
            return Err((
                Reject::LowDifficulty,
                format!(
                    "low difficulty share ({:.6} < {difficulty})",
                    check.difficulty(),
                ),
            ));
        }
        self.accepted.insert(job.prevhash(), &check.hash);
        let worker = &self.workers[worker_at];
        let credit_sat = self.shared.settings.credit.share_credit(
            job.pps_reward.to_sat(),
            difficulty.as_f64(),
            job.network_difficulty(),
        );
        Ok((
            NewShare {
                node: self.shared.settings.node_prefix,
                address: worker.address.clone(),
                worker: worker.worker.clone(),
                job_id: job.id().0,
                difficulty: difficulty.as_f64(),
                network_difficulty: job.network_difficulty(),
                time_ms: unix_millis(),
                is_block: check.meets_network_target,
                hash: check.hash,
                credit_sat,
            },
            difficulty,
            worker_at,
        ))
    }

    /// The authorized worker a submit names: the exact username, or one
    /// with the same address (firmware sometimes changes the worker part).
    fn worker_index(&self, name: &str) -> Option<usize> {
        let address = name.split('.').next().unwrap_or(name);
        self.workers
            .iter()
            .position(|worker| worker.username == name)
            .or_else(|| {
                self.workers
                    .iter()
                    .position(|worker| worker.address == address)
            })
    }

    /// Hands the block to the submitter: the miner's answer does not wait
    /// for the nodes.
    fn found_block(&self, job: &Arc<PoolJob>, share: &Share, check: &ShareCheck, worker: &Worker) {
        let solution = Solution {
            extranonce1: share.extranonce1,
            extranonce2: share.extranonce2,
            ntime: share.ntime,
            nonce: share.nonce,
            version: check.version,
        };
        self.shared
            .stats
            .blocks_found
            .fetch_add(1, Ordering::Relaxed);
        let block_hash = BlockHash::from_byte_array(check.hash);
        tracing::info!(
            height = job.height(),
            %block_hash,
            address = %worker.address,
            worker = %worker.worker,
            "share solves a block"
        );
        submitter::enqueue(
            &self.shared,
            FoundBlock {
                job: Arc::clone(job),
                solution,
                block_hash,
                address: worker.address.clone(),
                worker: worker.worker.clone(),
            },
        );
    }
}
