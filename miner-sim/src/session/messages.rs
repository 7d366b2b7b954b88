//! What the pool sends: answers, jobs, difficulty, masks, pings.

use super::*;

impl Session<'_> {
    pub(super) async fn handle_line(&mut self, line: &[u8]) -> Result<(), SessionEnd> {
        let message = match ServerMessage::parse(line) {
            Ok(message) => message,
            Err(error) => {
                MinerCounters::bump(&self.counters.protocol_errors);
                tracing::debug!(%error, "unreadable line from the pool");
                return Ok(());
            }
        };
        match message {
            ServerMessage::Response(response) => self.on_response(response).await?,
            ServerMessage::Notify(notify) => self.on_notify(notify, line).await?,
            ServerMessage::SetDifficulty(set) => {
                self.difficulty = set.difficulty;
                self.difficulty_set = true;
                MinerCounters::bump(&self.counters.set_difficulty);
                self.counters.set_latest_difficulty(set.difficulty.as_f64());
            }
            ServerMessage::SetVersionMask(set) => {
                if self.dialect.version_bits_form().is_some() {
                    self.set_mask(set.mask);
                }
            }
            ServerMessage::SetExtranonce(set) => {
                if self.dialect.handles_set_extranonce() {
                    self.generation.fetch_add(1, Ordering::Relaxed);
                    self.work
                        .set_extranonce(set.extranonce1, set.extranonce2_size);
                }
            }
            ServerMessage::Reconnect(reconnect) => {
                return Err(SessionEnd::Reconnect {
                    host: reconnect.host,
                    port: reconnect.port,
                    wait: reconnect
                        .wait_secs
                        .map(|secs| Duration::from_secs(secs.into())),
                })
            }
            ServerMessage::ShowMessage(show) => {
                tracing::info!(worker = %self.config.username, message = %show.message, "pool message");
            }
            ServerMessage::Ping { id } => {
                MinerCounters::bump(&self.counters.pings);
                if let Some(line) = self.dialect.pong_line(&id) {
                    self.send(&line).await?;
                }
            }
            ServerMessage::GetVersion { id } => {
                let line = self.dialect.version_answer_line(&id);
                self.send(&line).await?;
            }
            ServerMessage::Unknown { method, .. } => {
                tracing::debug!(%method, "unknown method from the pool");
            }
        }
        Ok(())
    }

    pub(super) fn set_mask(&mut self, mask: VersionMask) {
        self.counters.version_rolling.store(true, Ordering::Relaxed);
        self.counters.version_mask.store(mask.0, Ordering::Relaxed);
        if mask != self.work.mask() {
            // Headers in flight may carry bits outside the new mask.
            self.generation.fetch_add(1, Ordering::Relaxed);
            self.work.set_mask(mask);
        }
    }

    pub(super) async fn on_notify(
        &mut self,
        notify: Notify,
        line: &[u8],
    ) -> Result<(), SessionEnd> {
        MinerCounters::bump(&self.counters.jobs);
        if notify.clean_jobs {
            MinerCounters::bump(&self.counters.clean_jobs);
        }
        let raw_id = raw_job_id(line).unwrap_or_else(|| notify.job_id.to_wire());
        if self.dialect.drops_repeated_job_ids() {
            if self.seen_job_ids.contains(&raw_id) {
                tracing::debug!(job_id = %raw_id, "ignoring duplicate notify");
                return Ok(());
            }
            if self.seen_job_ids.len() == SEEN_JOB_IDS {
                self.seen_job_ids.pop_front();
            }
            self.seen_job_ids.push_back(raw_id.clone());
        }
        let clean = notify.clean_jobs;
        let job = match Job::new(notify) {
            Ok(job) => job,
            Err(error) => {
                MinerCounters::bump(&self.counters.protocol_errors);
                tracing::debug!(%error, "job with bad nbits");
                return Ok(());
            }
        };
        if clean {
            self.epoch += 1;
            // Drop the chunk in flight: its shares are stale now.
            self.generation.fetch_add(1, Ordering::Relaxed);
            let epoch = self.epoch;
            self.stale_decided
                .retain(|(job_epoch, _)| *job_epoch == epoch);
        }
        self.work.set_job(Arc::new(JobWork {
            job,
            raw_id,
            difficulty: self.difficulty_set.then_some(self.difficulty),
            epoch: self.epoch,
        }));
        if clean && !self.held.is_empty() {
            self.submit_held_stale().await?;
        }
        Ok(())
    }

    pub(super) async fn on_response(&mut self, response: Response) -> Result<(), SessionEnd> {
        let id = match &response.id {
            Id::Number(number) => number.as_u64(),
            _ => None,
        };
        let position =
            id.and_then(|id| self.pending.iter().position(|(pending, _)| *pending == id));
        let Some(position) = position else {
            if response.id.is_null() && response.result.is_err() && self.unanswerable > 0 {
                // The pool answered an unreadable line as best it could.
                self.unanswerable -= 1;
                MinerCounters::bump(&self.counters.expected_rejections);
            } else {
                tracing::debug!(id = %response.id, "answer to no request of ours");
            }
            return Ok(());
        };
        let (_, pending) = self.pending.remove(position).expect("position is in range");
        match pending {
            Pending::Configure => {
                let granted = response
                    .result
                    .ok()
                    .and_then(|result| ConfigureResult::from_value(&result).ok())
                    .and_then(|result| result.version_rolling);
                if let Some(mask) = granted {
                    self.set_mask(mask);
                }
            }
            Pending::Subscribe { with_agent } => {
                let result = response
                    .result
                    .ok()
                    .and_then(|result| SubscribeResult::from_value(&result).ok());
                match result {
                    Some(result) => {
                        self.subscribed = true;
                        MinerCounters::bump(&self.counters.subscribes_ok);
                        self.work
                            .set_extranonce(result.extranonce1, result.extranonce2_size);
                    }
                    None => {
                        MinerCounters::bump(&self.counters.subscribes_failed);
                        tracing::debug!(with_agent, "subscription refused");
                    }
                }
            }
            Pending::Authorize => {
                let ok = response.result == Ok(Value::Bool(true));
                self.authorized = Some(ok);
                let counter = if ok {
                    &self.counters.authorizes_ok
                } else {
                    &self.counters.authorizes_failed
                };
                MinerCounters::bump(counter);
            }
            Pending::Other => {}
            Pending::Submit(submit) => self.on_submit_answer(*submit, response.result).await?,
        }
        Ok(())
    }

    pub(super) async fn on_submit_answer(
        &mut self,
        submit: PendingSubmit,
        result: Result<Value, ErrorReply>,
    ) -> Result<(), SessionEnd> {
        let PendingSubmit {
            mut record,
            params,
            job_epoch,
        } = submit;
        let counters = self.counters;
        record.outcome = match &result {
            Ok(Value::Bool(true)) => ShareOutcome::Accepted,
            Ok(_) => ShareOutcome::RejectedWithoutCode,
            Err(error) => ShareOutcome::Rejected(error.code),
        };
        let mut duplicate = None;
        if record.outcome == ShareOutcome::Accepted {
            if record.bad.is_some() {
                MinerCounters::bump(&counters.accepted);
                MinerCounters::bump(&counters.unexpected_acceptances);
                tracing::warn!(worker = %self.config.username, job_id = %record.job_id, bad = ?record.bad, "pool accepted a bad share");
            } else {
                counters.share_accepted(record.difficulty);
                if self.draw(BadShare::Duplicate, self.config.misbehaviour.duplicate) {
                    duplicate = params;
                }
            }
        } else {
            let code = match &result {
                Err(error) => Some(error.code),
                Ok(_) => None,
            };
            counters.share_rejected(code);
            let stale_in_flight = code == Some(ErrorCode::JobNotFound) && job_epoch < self.epoch;
            if !record.expected_accept || stale_in_flight {
                MinerCounters::bump(&counters.expected_rejections);
            } else {
                MinerCounters::bump(&counters.unexpected_rejections);
                tracing::warn!(
                    worker = %self.config.username,
                    job_id = %record.job_id,
                    error = ?result.err(),
                    "pool rejected a good share"
                );
            }
        }
        let duplicate_record = record.clone();
        counters.log_share(record);
        if let Some(params) = duplicate {
            self.submit_bad(params, BadShare::Duplicate, &duplicate_record, job_epoch)
                .await?;
        }
        Ok(())
    }
}
