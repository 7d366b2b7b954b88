//! The job manager: turns templates into Stratum jobs and remembers the
//! jobs miners may still answer.
//!
//! One job per template for pooled modes (the coinbase pays the pool); in
//! solo mode one job per template and payout address, built when a miner
//! first needs it. The merkle branch is computed once per template. A new
//! previous block makes every earlier job stale (`clean_jobs`); stale jobs
//! are kept for the stale window so a share that still solves a block can
//! be turned into one.

pub mod job_ids;

use crate::coinbase::{self, CoinbaseError, CoinbaseSpec};
use crate::config::PayoutMode;
use crate::template::{Template, TemplateError};
use bitcoin::hashes::Hash as _;
use bitcoin::{Amount, BlockHash, ScriptBuf, TxOut};
use rustc_hash::FxHashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use stratum::message::Notify;
use stratum::{Job, JobId, Ntime, PrevHash, Sha256d};
use thiserror::Error;

/// extranonce1 is 4 bytes: a node prefix and a 24-bit connection counter.
pub const EXTRANONCE1_SIZE: usize = 4;

/// What every job of this pool has in common.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub tag: Vec<u8>,
    pub extranonce2_size: usize,
    pub mode: PayoutMode,
    /// The pool's own output script (pooled payouts, the solo fee).
    pub pool_script: ScriptBuf,
    /// Pool fee in basis points; in solo mode paid as a second output.
    pub fee_basis_points: u32,
    pub stale_window: Duration,
    /// FPPS: templates whose transaction fees are averaged.
    pub fpps_fee_window: usize,
}

impl JobSettings {
    /// The pool fee (validated to 0..=9999 basis points by the config).
    pub fn fee(&self) -> payout::Fee {
        payout::Fee::from_basis_points(self.fee_basis_points.min(9_999))
            .expect("fee clamped below 100 %")
    }

    /// The settings a running pool derives from its (validated) config.
    pub fn from_config(config: &crate::config::Config, pool_script: ScriptBuf) -> JobSettings {
        JobSettings {
            tag: config.pool.tag.as_bytes().to_vec(),
            extranonce2_size: config.stratum.extranonce2_size,
            mode: config.pool.mode,
            pool_script,
            fee_basis_points: config.pool.fee_basis_points(),
            stale_window: Duration::from_secs(config.chain.stale_window_secs),
            fpps_fee_window: config.payout.fpps_fee_window,
        }
    }
}

/// A job as the pool keeps it: the Stratum job plus what it was built from.
#[derive(Debug)]
pub struct PoolJob {
    pub job: Job,
    pub template: Arc<Template>,
    /// Who the coinbase pays: the pool, or in solo mode the miner.
    pub payout_script: ScriptBuf,
    pub created: Instant,
    /// PPS and FPPS: the block reward a share of this job is paid a part
    /// of (the subsidy, plus the average fees in FPPS); zero otherwise.
    pub pps_reward: Amount,
    /// The job this one reissues under a new id (its own id if it is an
    /// original): a reissue lives exactly as long as its original.
    pub origin: JobId,
    /// The `mining.notify` line, serialized once and shared by every
    /// session's queue.
    notify_line: OnceLock<Arc<str>>,
    /// The same with `clean_jobs` set (a miner's first job, or one that
    /// replaced a new block's job before the miner took it).
    clean_notify_line: OnceLock<Arc<str>>,
}

impl PoolJob {
    pub fn id(&self) -> JobId {
        self.job.id()
    }

    pub fn height(&self) -> u32 {
        self.template.height
    }

    pub fn prevhash(&self) -> BlockHash {
        self.template.previous_block_hash
    }

    /// The `mining.notify` line as sent (its own `clean_jobs` flag).
    pub fn notify_line(&self) -> &Arc<str> {
        self.notify_line
            .get_or_init(|| Arc::from(self.job.notify().to_line()))
    }

    /// The `mining.notify` line with `clean_jobs` set.
    pub fn clean_notify_line(&self) -> &Arc<str> {
        if self.job.notify().clean_jobs {
            return self.notify_line();
        }
        self.clean_notify_line.get_or_init(|| {
            let mut notify = self.job.notify().clone();
            notify.clean_jobs = true;
            Arc::from(notify.to_line())
        })
    }

    /// Network difficulty of the block this job builds (for the ledger).
    pub fn network_difficulty(&self) -> f64 {
        self.job.network_target().to_difficulty()
    }

    /// Whether the block needs the witness reserved value in its coinbase.
    pub fn has_witness_commitment(&self) -> bool {
        self.template.witness_commitment.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JobError {
    #[error("no template yet")]
    NoTemplate,
    #[error("coinbase for height {height}: {source}")]
    Coinbase { height: u32, source: CoinbaseError },
    #[error("template for height {height} has invalid bits: {detail}")]
    BadBits { height: u32, detail: String },
    #[error("solo mode needs the miner's payout script")]
    SoloNeedsPayout,
    /// A template the gate should have refused, handed in directly.
    #[error("template for height {height} refused: {source}")]
    Template { height: u32, source: TemplateError },
    #[error("template for height {height}: the share reward {subsidy} plus average fees {average_fees} sat overflows")]
    RewardOverflow {
        height: u32,
        subsidy: Amount,
        average_fees: u64,
    },
}

/// What a new template meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateChange {
    /// A new previous block: every earlier job is stale.
    NewBlock,
    /// Same previous block, new transactions or time.
    Refresh,
    /// Nothing a miner would notice.
    Unchanged,
}

struct Current {
    template: Arc<Template>,
    branch: Vec<[u8; 32]>,
    new_block: bool,
    pps_reward: Amount,
    jobs_by_payout: FxHashMap<ScriptBuf, Arc<PoolJob>>,
}

struct Remembered {
    job: Arc<PoolJob>,
    superseded_at: Option<Instant>,
}

pub struct JobManager {
    settings: JobSettings,
    engine: Sha256d,
    current: Option<Current>,
    recent: FxHashMap<JobId, Remembered>,
    /// Fees of recent templates, for FPPS.
    fees: payout::FeeAverage,
}

impl JobManager {
    pub fn new(settings: JobSettings) -> JobManager {
        let settings_fee_window = settings.fpps_fee_window;
        JobManager {
            settings,
            engine: Sha256d::best_batch(),
            current: None,
            recent: FxHashMap::default(),
            fees: payout::FeeAverage::new(settings_fee_window),
        }
    }

    pub fn settings(&self) -> &JobSettings {
        &self.settings
    }

    /// Takes a new template; jobs for it are built on demand by [`Self::current_job`].
    /// A template whose numbers do not add up (the sources' gate refuses
    /// those) is an error and changes nothing: the current one stays.
    pub fn on_template(
        &mut self,
        template: Arc<Template>,
        now: Instant,
    ) -> Result<TemplateChange, JobError> {
        let change = match &self.current {
            None => TemplateChange::NewBlock,
            Some(current)
                if current.template.previous_block_hash != template.previous_block_hash =>
            {
                TemplateChange::NewBlock
            }
            Some(current) if current.template.same_work(&template) => TemplateChange::Unchanged,
            Some(_) => TemplateChange::Refresh,
        };
        if change == TemplateChange::Unchanged {
            return Ok(change);
        }
        let height = template.height;
        let subsidy = template
            .subsidy()
            .map_err(|source| JobError::Template { height, source })?;
        // subsidy ≤ coinbasevalue, so this cannot fail either.
        let fees = template
            .coinbase_value
            .checked_sub(subsidy)
            .unwrap_or(Amount::ZERO);
        let pps_reward = match self.settings.mode {
            PayoutMode::Pps => subsidy,
            PayoutMode::Fpps => {
                let average_fees = self.fees.average_with(fees.to_sat());
                subsidy.checked_add(Amount::from_sat(average_fees)).ok_or(
                    JobError::RewardOverflow {
                        height,
                        subsidy,
                        average_fees,
                    },
                )?
            }
            PayoutMode::Pplns | PayoutMode::Solo => Amount::ZERO,
        };
        // Nothing fails from here on: the template is taken.
        self.fees.push(fees.to_sat());
        for remembered in self.recent.values_mut() {
            remembered.superseded_at.get_or_insert(now);
        }
        self.expire(now);
        let txids: Vec<[u8; 32]> = template
            .transactions
            .iter()
            .map(|tx| tx.txid.to_byte_array())
            .collect();
        self.current = Some(Current {
            branch: stratum::merkle::coinbase_branch(&self.engine, &txids),
            template,
            new_block: change == TemplateChange::NewBlock,
            pps_reward,
            jobs_by_payout: FxHashMap::default(),
        });
        Ok(change)
    }

    /// The job miners should work on now. Pooled modes ignore `payout`;
    /// solo mode needs the miner's script.
    pub fn current_job(&mut self, payout: Option<&ScriptBuf>) -> Result<Arc<PoolJob>, JobError> {
        let payout = match self.settings.mode {
            PayoutMode::Solo => payout.ok_or(JobError::SoloNeedsPayout)?.clone(),
            _ => self.settings.pool_script.clone(),
        };
        let current = self.current.as_mut().ok_or(JobError::NoTemplate)?;
        if let Some(job) = current.jobs_by_payout.get(&payout) {
            return Ok(Arc::clone(job));
        }
        let job = Arc::new(build_job(&self.settings, current, &payout)?);
        current.jobs_by_payout.insert(payout, Arc::clone(&job));
        self.recent.insert(
            job.id(),
            Remembered {
                job: Arc::clone(&job),
                superseded_at: None,
            },
        );
        Ok(job)
    }

    /// The same work under a new id and without `clean_jobs`: what a session
    /// sends after a difficulty change, so the new difficulty applies from
    /// a job the miner has not seen (ESP-Miner ignores a repeated id).
    ///
    /// Only the session that asked holds it: the manager remembers the
    /// original, so however often miners retarget or suggest, the jobs it
    /// keeps grow with templates, not with miners' requests.
    pub fn reissue(&self, job: &PoolJob) -> Arc<PoolJob> {
        Arc::new(PoolJob {
            job: job.job.reissued(job_ids::next_job_id()),
            template: Arc::clone(&job.template),
            payout_script: job.payout_script.clone(),
            created: Instant::now(),
            pps_reward: job.pps_reward,
            origin: job.origin,
            notify_line: OnceLock::new(),
            clean_notify_line: OnceLock::new(),
        })
    }

    /// Whether shares on `job` (an original or a reissue) may still be
    /// checked: its original is current or within the stale window.
    pub fn is_live(&self, job: &PoolJob) -> bool {
        self.recent.contains_key(&job.origin)
    }

    /// A job a miner may still submit to (current or within the stale window).
    pub fn job(&self, id: JobId) -> Option<Arc<PoolJob>> {
        self.recent
            .get(&id)
            .map(|remembered| Arc::clone(&remembered.job))
    }

    /// Whether shares on `job` are stale: it builds on a block that is no
    /// longer the tip.
    pub fn is_stale(&self, job: &PoolJob) -> bool {
        self.tip() != Some(job.prevhash())
    }

    /// The previous block hash of the current template.
    pub fn tip(&self) -> Option<BlockHash> {
        self.current
            .as_ref()
            .map(|current| current.template.previous_block_hash)
    }

    pub fn current_template(&self) -> Option<&Arc<Template>> {
        self.current.as_ref().map(|current| &current.template)
    }

    /// Forgets jobs superseded longer ago than the stale window.
    pub fn expire(&mut self, now: Instant) {
        let window = self.settings.stale_window;
        self.recent
            .retain(|_, remembered| match remembered.superseded_at {
                Some(at) => now.saturating_duration_since(at) <= window,
                None => true,
            });
    }

    /// Jobs remembered (current and stale).
    pub fn remembered_jobs(&self) -> usize {
        self.recent.len()
    }
}

fn payouts(settings: &JobSettings, template: &Template, payout: &ScriptBuf) -> Vec<TxOut> {
    let total = template.coinbase_value;
    match settings.mode {
        PayoutMode::Solo => {
            // finder + pool_fee == total exactly, neither above it.
            let split = payout::solo_split(total.to_sat(), settings.fee());
            if split.pool_fee == 0 || *payout == settings.pool_script {
                return vec![TxOut {
                    value: total,
                    script_pubkey: payout.clone(),
                }];
            }
            vec![
                TxOut {
                    value: Amount::from_sat(split.finder),
                    script_pubkey: payout.clone(),
                },
                TxOut {
                    value: Amount::from_sat(split.pool_fee),
                    script_pubkey: settings.pool_script.clone(),
                },
            ]
        }
        // Pooled: the whole reward to the pool, which pays miners from it.
        PayoutMode::Pps | PayoutMode::Fpps | PayoutMode::Pplns => vec![TxOut {
            value: total,
            script_pubkey: settings.pool_script.clone(),
        }],
    }
}

fn build_job(
    settings: &JobSettings,
    current: &Current,
    payout: &ScriptBuf,
) -> Result<PoolJob, JobError> {
    let template = &current.template;
    let parts = coinbase::build(&CoinbaseSpec {
        height: template.height,
        tag: &settings.tag,
        extranonce_len: EXTRANONCE1_SIZE + settings.extranonce2_size,
        payouts: payouts(settings, template, payout),
        witness_commitment: template.witness_commitment.as_ref(),
        coinbase_value: template.coinbase_value,
    })
    .map_err(|source| JobError::Coinbase {
        height: template.height,
        source,
    })?;
    let notify = Notify {
        job_id: job_ids::next_job_id(),
        prevhash: PrevHash(template.previous_block_hash.to_byte_array()),
        coinb1: parts.coinb1,
        coinb2: parts.coinb2,
        merkle_branch: current.branch.clone(),
        version: template.version,
        nbits: template.nbits,
        ntime: Ntime(template.curtime),
        clean_jobs: current.new_block,
    };
    let job = Job::new(notify).map_err(|error| JobError::BadBits {
        height: template.height,
        detail: error.to_string(),
    })?;
    let origin = job.id();
    Ok(PoolJob {
        job,
        template: Arc::clone(template),
        payout_script: payout.clone(),
        created: Instant::now(),
        pps_reward: current.pps_reward,
        origin,
        notify_line: OnceLock::new(),
        clean_notify_line: OnceLock::new(),
    })
}
