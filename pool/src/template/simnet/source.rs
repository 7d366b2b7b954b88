//! The simnet as a [`TemplateSource`]: the chain behind a mutex (every
//! operation takes microseconds and never spans an await), templates
//! through a watch channel after the same [`TemplateGate`] a node's pass
//! (regtest's rules, the simnet's clock), a background task for fee
//! refreshes.

use super::validate::coinbase_height;
use super::Simnet;
use crate::config::{ChainConfig, SimnetConfig};
use crate::template::check::ChainRules;
use crate::template::{
    NodeAnswer, SourceStatus, SubmitReport, Template, TemplateGate, TemplateRefusals,
    TemplateSource, MAX_TIMER_INTERVAL,
};
use bitcoin::Block;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// The name the simnet answers under in reports.
const NODE: &str = "simnet";

/// A [`Simnet`] serving templates to the pool.
#[derive(Debug)]
pub struct SimnetSource {
    shared: Arc<Shared>,
    /// The refresh task; aborted on drop.
    refresher: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    simnet: Mutex<Simnet>,
    /// Locked only with `simnet` held (one order: no deadlock).
    gate: Mutex<TemplateGate>,
    refusals: Arc<TemplateRefusals>,
    templates: watch::Sender<Option<Arc<Template>>>,
}

impl SimnetSource {
    /// Starts a fresh simnet: the first template is published at once,
    /// then one per new tip and one every `template_refresh_secs` (0: no
    /// refreshes). Call it inside a tokio runtime (the refresh task is
    /// spawned on it).
    pub fn start(config: &SimnetConfig, chain: &ChainConfig) -> SimnetSource {
        let refresh_every = (chain.template_refresh_secs > 0)
            .then(|| Duration::from_secs(chain.template_refresh_secs).min(MAX_TIMER_INTERVAL));
        SimnetSource::from_simnet(Simnet::new(config), refresh_every)
    }

    /// Serves an existing simnet (a prepared chain, another clock).
    pub fn from_simnet(simnet: Simnet, refresh_every: Option<Duration>) -> SimnetSource {
        let (templates, _) = watch::channel(None);
        let gate = TemplateGate::new(ChainRules::regtest());
        let shared = Arc::new(Shared {
            simnet: Mutex::new(simnet),
            refusals: gate.refusals(),
            gate: Mutex::new(gate),
            templates,
        });
        shared.publish(&shared.simnet());
        let refresher =
            refresh_every.and_then(|period| spawn_refresher(Arc::downgrade(&shared), period));
        SimnetSource { shared, refresher }
    }

    /// A fee refresh now, as the periodic task does it.
    pub fn refresh(&self) {
        self.shared.refresh();
    }

    /// Runs `f` on the chain (inspect it, mine a competing block, let
    /// "another miner" find one); a new template is published if the tip
    /// or the mempool changed.
    pub fn with_simnet<R>(&self, f: impl FnOnce(&mut Simnet) -> R) -> R {
        let mut simnet = self.shared.simnet();
        let result = f(&mut simnet);
        self.shared.publish_if_changed(&simnet);
        result
    }

    fn submit(&self, block: &Block) -> SubmitReport {
        let block_hash = block.block_hash();
        let mut simnet = self.shared.simnet();
        let answer = simnet.submit_block(block);
        let height = simnet
            .block_height(&block_hash)
            .or_else(|| {
                simnet
                    .block_height(&block.header.prev_blockhash)
                    .map(|parent| parent + 1)
            })
            .or_else(|| {
                let input = block.txdata.first()?.input.first()?;
                coinbase_height(&input.script_sig)
            })
            .unwrap_or(0);
        let confirmed = simnet.getblockhash(height) == Some(block_hash);
        self.shared.publish_if_changed(&simnet);
        drop(simnet);
        tracing::info!(
            block = %block_hash,
            height,
            outcome = answer.as_deref().unwrap_or("accepted"),
            confirmed,
            "simnet submitblock"
        );
        SubmitReport {
            block_hash,
            height,
            answers: vec![NodeAnswer {
                node: NODE.to_string(),
                result: Ok(answer),
            }],
            confirmed,
        }
    }
}

impl Drop for SimnetSource {
    fn drop(&mut self) {
        if let Some(refresher) = self.refresher.take() {
            refresher.abort();
        }
    }
}

impl TemplateSource for SimnetSource {
    fn templates(&self) -> watch::Receiver<Option<Arc<Template>>> {
        self.shared.templates.subscribe()
    }

    async fn submit_block(&self, block: Block) -> SubmitReport {
        self.submit(&block)
    }

    fn status(&self) -> SourceStatus {
        SourceStatus {
            nodes: vec![(NODE.to_string(), Ok(()))],
            last_template_height: self
                .shared
                .templates
                .borrow()
                .as_ref()
                .map(|template| template.height),
            serving_stale_template: false,
        }
    }

    fn template_refusals(&self) -> Option<Arc<TemplateRefusals>> {
        Some(Arc::clone(&self.shared.refusals))
    }
}

impl Shared {
    fn simnet(&self) -> MutexGuard<'_, Simnet> {
        // The chain stays consistent between calls: a panic elsewhere does
        // not make it unusable.
        self.simnet.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn refresh(&self) {
        let mut simnet = self.simnet();
        simnet.refresh();
        self.publish(&simnet);
    }

    /// Publishes the simnet's template if the gate admits it; a refusal
    /// is counted and logged there, and the last good template stays.
    fn publish(&self, simnet: &Simnet) {
        let mut gate = self.gate.lock().unwrap_or_else(PoisonError::into_inner);
        let gbt = simnet.template();
        let height = gbt.height;
        let template = match Template::from_gbt(gbt) {
            Ok(template) => template,
            Err(error) => return gate.refuse(Some(height), &error),
        };
        if gate.admit(&template, simnet.now()).is_err() {
            return;
        }
        tracing::debug!(
            height = template.height,
            longpollid = %template.longpollid,
            transactions = template.transactions.len(),
            "simnet template"
        );
        self.templates.send_replace(Some(Arc::new(template)));
    }

    fn publish_if_changed(&self, simnet: &Simnet) {
        let longpollid = simnet.longpollid();
        let unchanged = self
            .templates
            .borrow()
            .as_ref()
            .is_some_and(|template| template.longpollid == longpollid);
        if !unchanged {
            self.publish(simnet);
        }
    }
}

fn spawn_refresher(shared: Weak<Shared>, period: Duration) -> Option<JoinHandle<()>> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("simnet started outside a tokio runtime: no template refreshes");
        return None;
    };
    Some(runtime.spawn(async move {
        let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            shared.refresh();
        }
    }))
}
