//! Submitting what the hasher finds, and the bad shares derived from it.

use super::*;

impl Session<'_> {
    pub(super) fn submit_params(&self, header: &HeaderWork, nonce: Nonce) -> SubmitParams {
        SubmitParams {
            worker: self.config.username.clone(),
            job_id: header.job.raw_id.clone(),
            extranonce2: header.extranonce2,
            ntime: header.job.job.ntime(),
            nonce,
            version_bits: header.version_bits,
        }
    }

    pub(super) fn submit_id(&mut self) -> u64 {
        match self.dialect.fixed_submit_id() {
            Some(id) => id,
            None => {
                let id = self.next_id;
                self.next_id += 1;
                id
            }
        }
    }

    /// A hash that met the share target: submit it, and derive the bad shares the
    /// misbehaviour asks for from it.
    pub(super) async fn found(
        &mut self,
        header: &Arc<HeaderWork>,
        hit: Hit,
    ) -> Result<(), SessionEnd> {
        let difficulty = self.difficulty_for(&header.job);
        let meets_share = Target::from_difficulty(difficulty).is_met_by(&hit.hash);
        if !meets_share {
            // The difficulty rose while the chunk ran.
            return Ok(());
        }
        let block = header.job.job.network_target().is_met_by(&hit.hash);
        let params = self.submit_params(header, hit.nonce);
        let record = ShareRecord {
            job_id: header.job.raw_id.clone(),
            difficulty: difficulty.as_f64(),
            hash_difficulty: hash_difficulty(&hit.hash),
            block,
            bad: None,
            expected_accept: header.pool_sees_same_version,
            outcome: ShareOutcome::Unanswered,
        };
        if self.hold_for_stale(header) {
            let job_epoch = header.job.epoch;
            self.held.push(Held {
                params,
                record: ShareRecord {
                    bad: Some(BadShare::Stale),
                    expected_accept: false,
                    ..record
                },
                job_epoch,
            });
            return Ok(());
        }
        self.counters
            .share_submitted(difficulty.as_f64(), block && header.pool_sees_same_version);
        self.submit(params.clone(), record.clone(), header.job.epoch)
            .await?;
        self.derive_bad_shares(header, hit, &params, &record).await
    }

    /// Whether to keep this share back to submit it stale later (one per job).
    pub(super) fn hold_for_stale(&mut self, header: &HeaderWork) -> bool {
        let probability = self.config.misbehaviour.stale;
        if probability <= 0.0 {
            return false;
        }
        let key = (header.job.epoch, header.job.raw_id.clone());
        if !self.stale_decided.insert(key) {
            return false;
        }
        self.draw(BadShare::Stale, probability)
    }

    pub(super) async fn submit(
        &mut self,
        params: SubmitParams,
        record: ShareRecord,
        job_epoch: u64,
    ) -> Result<(), SessionEnd> {
        let id = self.submit_id();
        let line = self.dialect.submit_line(id, &params);
        let pending = PendingSubmit {
            record,
            params: Some(params),
            job_epoch,
        };
        self.push_submit(id, pending);
        self.send(&line).await
    }

    pub(super) fn push_submit(&mut self, id: u64, pending: PendingSubmit) {
        if self.pending.len() >= MAX_PENDING_SUBMITS {
            if let Some(oldest) = self
                .pending
                .iter()
                .position(|(_, pending)| matches!(pending, Pending::Submit(_)))
            {
                if let Some((_, Pending::Submit(oldest))) = self.pending.remove(oldest) {
                    self.counters.log_share(oldest.record);
                }
            }
        }
        self.pending
            .push_back((id, Pending::Submit(Box::new(pending))));
    }

    pub(super) async fn submit_bad(
        &mut self,
        params: SubmitParams,
        bad: BadShare,
        record: &ShareRecord,
        job_epoch: u64,
    ) -> Result<(), SessionEnd> {
        MinerCounters::bump(&self.counters.bad_lines_sent);
        let record = ShareRecord {
            bad: Some(bad),
            expected_accept: false,
            block: false,
            ..record.clone()
        };
        self.submit(params, record, job_epoch).await
    }

    pub(super) async fn derive_bad_shares(
        &mut self,
        header: &Arc<HeaderWork>,
        hit: Hit,
        params: &SubmitParams,
        record: &ShareRecord,
    ) -> Result<(), SessionEnd> {
        let misbehaviour = &self.config.misbehaviour;
        let (low, version, worker, malformed) = (
            misbehaviour.low_difficulty,
            misbehaviour.bad_version_bits,
            misbehaviour.unknown_worker,
            misbehaviour.malformed,
        );
        let epoch = header.job.epoch;
        if self.draw(BadShare::LowDifficulty, low) {
            if let Some((nonce, hash)) = self.low_difficulty_nonce(header, hit.nonce) {
                let record = ShareRecord {
                    hash_difficulty: hash_difficulty(&hash),
                    ..record.clone()
                };
                let params = SubmitParams {
                    nonce,
                    ..params.clone()
                };
                self.submit_bad(params, BadShare::LowDifficulty, &record, epoch)
                    .await?;
            }
        }
        if self.draw(BadShare::BadVersionBits, version) {
            let job_version = header.job.job.version().0;
            let outside = !header.mask.0 & !job_version;
            if outside != 0 {
                let lowest = outside & outside.wrapping_neg();
                let bits = params.version_bits.map_or(0, |bits| bits.0) | lowest;
                let params = SubmitParams {
                    version_bits: Some(VersionBits(bits)),
                    ..params.clone()
                };
                self.submit_bad(params, BadShare::BadVersionBits, record, epoch)
                    .await?;
            }
        }
        if self.draw(BadShare::UnknownWorker, worker) {
            let params = SubmitParams {
                worker: UNKNOWN_WORKER.to_string(),
                ..params.clone()
            };
            self.submit_bad(params, BadShare::UnknownWorker, record, epoch)
                .await?;
        }
        let kinds = &self.config.misbehaviour.malformed_kinds;
        if !kinds.is_empty() && self.config.misbehaviour.malformed > 0.0 {
            let sent: u32 = kinds
                .iter()
                .map(|kind| {
                    self.carried
                        .bad_sent
                        .get(&BadShare::Malformed(*kind))
                        .copied()
                        .unwrap_or(0)
                })
                .sum();
            let kind = kinds[sent as usize % kinds.len()];
            if self.draw(BadShare::Malformed(kind), malformed) {
                self.send_malformed(kind, params, record, epoch).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn send_malformed(
        &mut self,
        kind: MalformedKind,
        params: &SubmitParams,
        record: &ShareRecord,
        job_epoch: u64,
    ) -> Result<(), SessionEnd> {
        MinerCounters::bump(&self.counters.bad_lines_sent);
        let record = ShareRecord {
            bad: Some(BadShare::Malformed(kind)),
            expected_accept: false,
            block: false,
            hash_difficulty: 0.0,
            ..record.clone()
        };
        let line = if kind.has_readable_id() {
            let id = self.submit_id();
            let pending = PendingSubmit {
                record,
                params: None,
                job_epoch,
            };
            self.push_submit(id, pending);
            kind.line(self.dialect, id, params)
        } else {
            let id = self.submit_id();
            self.unanswerable += 1;
            self.counters.log_share(ShareRecord {
                outcome: ShareOutcome::NoAnswerExpected,
                ..record
            });
            kind.line(self.dialect, id, params)
        };
        self.send(&line).await
    }

    /// A nonce near `nonce` whose hash misses every target the pool could
    /// hold the share to.
    pub(super) fn low_difficulty_nonce(
        &self,
        header: &HeaderWork,
        nonce: Nonce,
    ) -> Option<(Nonce, [u8; 32])> {
        let easiest = match header.job.difficulty {
            Some(at_job) if at_job.as_f64() < self.difficulty.as_f64() => at_job,
            _ => self.difficulty,
        };
        let share_target = Target::from_difficulty(easiest);
        let network_target = header.job.job.network_target();
        (1..=256u32).find_map(|step| {
            let nonce = Nonce(nonce.0.wrapping_add(step));
            let hash = self
                .engine
                .hash_header(&header.midstate, &header.tail_with(nonce));
            (!share_target.is_met_by(&hash) && !network_target.is_met_by(&hash))
                .then_some((nonce, hash))
        })
    }

    pub(super) async fn submit_before_authorize(&mut self) -> Result<(), SessionEnd> {
        let params = SubmitParams {
            worker: self.config.username.clone(),
            job_id: "0".to_string(),
            extranonce2: Extranonce2::from_bytes(&[0; 4]).expect("4 bytes fit"),
            ntime: now_ntime(),
            nonce: Nonce(0),
            version_bits: None,
        };
        let record = ShareRecord {
            job_id: params.job_id.clone(),
            difficulty: 0.0,
            hash_difficulty: 0.0,
            block: false,
            bad: None,
            expected_accept: false,
            outcome: ShareOutcome::Unanswered,
        };
        self.submit_bad(params, BadShare::BeforeAuthorize, &record, 0)
            .await
    }

    /// Draws a misbehaviour of `kind` with `probability`, within its limit.
    pub(super) fn draw(&mut self, kind: BadShare, probability: f64) -> bool {
        let sent = self.carried.bad_sent.get(&kind).copied().unwrap_or(0);
        if sent >= self.config.misbehaviour.limit || !self.carried.rng.chance(probability) {
            return false;
        }
        self.carried.bad_sent.insert(kind, sent + 1);
        true
    }

    pub(super) fn draw_once(&mut self, kind: BadShare) -> bool {
        self.draw(kind, 1.0)
    }

    /// After a clean notify: submit the held shares whose job it voided.
    pub(super) async fn submit_held_stale(&mut self) -> Result<(), SessionEnd> {
        let epoch = self.epoch;
        let (stale, kept): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|held| held.job_epoch < epoch);
        self.held = kept;
        for held in stale {
            MinerCounters::bump(&self.counters.bad_lines_sent);
            self.submit(held.params, held.record, held.job_epoch)
                .await?;
        }
        Ok(())
    }
}
