//! [`BitcoindSource`]: the handle the pool holds; the work happens in
//! background tasks that stop when it is dropped.

use super::coordinator::{self, Coordinator, Event};
use super::node::Node;
use super::{submit, zmq, BitcoindError};
use crate::config::{BitcoindConfig, ChainConfig, Network};
use crate::template::check::ChainRules;
use crate::template::rpc_metrics::RpcMetrics;
use crate::template::MAX_TIMER_INTERVAL;
use crate::template::{
    SourceStatus, SubmitReport, Template, TemplateGate, TemplateRefusals, TemplateSource,
};
use bitcoin::Block;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

/// Polling faster than this only loads the node.
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);
const EVENT_QUEUE: usize = 64;

/// Templates from one or more Bitcoin Core nodes (fail-over in configuration
/// order) and blocks to all of them.
#[derive(Debug)]
pub struct BitcoindSource {
    nodes: Arc<[Arc<Node>]>,
    templates: watch::Receiver<Option<Arc<Template>>>,
    status: watch::Receiver<SourceStatus>,
    events: mpsc::Sender<Event>,
    tasks: Vec<AbortHandle>,
    rpc_metrics: Arc<RpcMetrics>,
    refusals: Arc<TemplateRefusals>,
}

impl BitcoindSource {
    /// Starts following the nodes. Fails only on configuration mistakes; a
    /// node that is down now is retried until it answers. Must be called
    /// inside a tokio runtime.
    pub fn start(
        nodes: Vec<BitcoindConfig>,
        network: Network,
        chain: &ChainConfig,
    ) -> Result<BitcoindSource, BitcoindError> {
        if nodes.is_empty() {
            return Err(BitcoindError::NoNodes);
        }
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| BitcoindError::NoRuntime)?;
        let rpc_metrics = Arc::new(RpcMetrics::default());
        let nodes: Arc<[Arc<Node>]> = nodes
            .iter()
            .map(|config| Node::new(config, network, &rpc_metrics).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?
            .into();
        let poll_interval = Duration::from_millis(chain.poll_interval_ms)
            .clamp(MIN_POLL_INTERVAL, MAX_TIMER_INTERVAL);
        let refresh_interval = Duration::from_secs(chain.template_refresh_secs)
            .clamp(Duration::from_secs(1), MAX_TIMER_INTERVAL);

        let (template_sender, templates) = watch::channel(None);
        let (status_sender, status) = watch::channel(SourceStatus {
            nodes: nodes
                .iter()
                .map(|node| (node.url().to_string(), Err("no answer yet".to_string())))
                .collect(),
            last_template_height: None,
            serving_stale_template: false,
        });
        let (events, event_receiver) = mpsc::channel(EVENT_QUEUE);

        let gate = TemplateGate::new(ChainRules::for_network(network));
        let refusals = gate.refusals();
        let coordinator = Coordinator::new(
            Arc::clone(&nodes),
            network,
            poll_interval,
            refresh_interval,
            template_sender,
            status_sender,
            gate,
        );
        let mut tasks = vec![runtime
            .spawn(coordinator.run(event_receiver))
            .abort_handle()];
        for (index, node) in nodes.iter().enumerate() {
            let poller = coordinator::poll(
                index,
                Arc::clone(node),
                network,
                poll_interval,
                events.clone(),
            );
            tasks.push(runtime.spawn(poller).abort_handle());
            if let Some(address) = &node.zmq {
                let subscriber = zmq::subscribe(
                    index,
                    node.url().to_string(),
                    address.clone(),
                    events.clone(),
                );
                tasks.push(runtime.spawn(subscriber).abort_handle());
            }
        }
        tracing::info!(
            nodes = ?nodes.iter().map(|node| node.url()).collect::<Vec<_>>(),
            chain = network.core_chain_name(),
            poll_interval_ms = u64::try_from(poll_interval.as_millis()).unwrap_or(u64::MAX),
            refresh_secs = refresh_interval.as_secs(),
            "bitcoind template source started"
        );
        Ok(BitcoindSource {
            nodes,
            templates,
            status,
            events,
            tasks,
            rpc_metrics,
            refusals,
        })
    }

    /// The status as it changes (each node's health, staleness).
    pub fn status_updates(&self) -> watch::Receiver<SourceStatus> {
        self.status.clone()
    }
}

impl TemplateSource for BitcoindSource {
    fn templates(&self) -> watch::Receiver<Option<Arc<Template>>> {
        self.templates.clone()
    }

    fn submit_block(&self, block: Block) -> impl Future<Output = SubmitReport> + Send {
        let nodes = Arc::clone(&self.nodes);
        let events = self.events.clone();
        async move {
            let report = submit::submit_everywhere(&nodes, &block).await;
            // Whatever happened, the tip probably moved: fetch now, not at
            // the next poll. A full queue already has a fetch coming.
            let _ = events.try_send(Event::BlockSubmitted);
            report
        }
    }

    fn status(&self) -> SourceStatus {
        self.status.borrow().clone()
    }

    fn rpc_metrics(&self) -> Option<Arc<RpcMetrics>> {
        Some(Arc::clone(&self.rpc_metrics))
    }

    fn template_refusals(&self) -> Option<Arc<TemplateRefusals>> {
        Some(Arc::clone(&self.refusals))
    }
}

impl Drop for BitcoindSource {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
