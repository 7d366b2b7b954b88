//! The one task that decides which template is published.
//!
//! Every node has its own poller (and ZMQ subscriber) sending [`Event`]s
//! here, so a hung node never delays the others. The tip is taken from the
//! first node, in configuration order, that answers; a template is fetched
//! from the nodes in that order, and the first good one wins. When every node
//! fails, the last good template stays published and the status says it is
//! stale. Every template passes the [`TemplateGate`] first: a refused one
//! counts as that node failing.

use super::node::Node;
use super::rpc::RpcError;
use crate::clock::unix_millis;
use crate::config::Network;
use crate::template::{SourceStatus, Template, TemplateGate};
use bitcoin::BlockHash;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

/// A node whose last poll is older than this (or four poll intervals) is
/// treated as down.
const SILENT_AFTER: Duration = Duration::from_secs(2);

/// What the coordinator reacts to.
#[derive(Debug)]
pub(crate) enum Event {
    /// A node's `getbestblockhash` poll answered (or failed).
    Tip {
        node: usize,
        result: Result<BlockHash, RpcError>,
    },
    /// A node announced a block over ZMQ.
    ZmqBlock { node: usize },
    /// A block was just submitted: the next template is wanted at once.
    BlockSubmitted,
}

/// Why a template was fetched, for the logs.
#[derive(Debug, Clone, Copy)]
enum Why {
    NewTip,
    ZmqBlock,
    BlockSubmitted,
    Refresh,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Why::NewTip => "new tip",
            Why::ZmqBlock => "zmq hashblock",
            Why::BlockSubmitted => "block submitted",
            Why::Refresh => "fee refresh",
        }
    }
}

/// One node's latest poll answer.
#[derive(Debug, Clone)]
struct Poll {
    result: Result<BlockHash, String>,
    at: Instant,
}

/// What a node's polls say about it now.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Health {
    NotYetAnswered,
    Tip(BlockHash),
    Failing(String),
    /// Its last call has not come back: a hung node looks like this.
    Silent(Duration),
}

pub(crate) struct Coordinator {
    nodes: Arc<[Arc<Node>]>,
    network: Network,
    poll_interval: Duration,
    refresh_interval: Duration,
    templates: watch::Sender<Option<Arc<Template>>>,
    status: watch::Sender<SourceStatus>,
    gate: TemplateGate,
    /// Each node's last poll; `None` before its first answer.
    polls: Vec<Option<Poll>>,
    /// Each node's last template failure, cleared by its next good template.
    template_errors: Vec<Option<String>>,
    /// The published template builds on the tip the nodes report.
    tip_current: bool,
    /// The last attempt to get a template failed on every node.
    fetch_failed: bool,
    /// Tip of the last fetch the polls triggered: one retry per poll
    /// interval, not one per node answer.
    last_attempt: Option<(BlockHash, Instant)>,
}

impl Coordinator {
    pub(crate) fn new(
        nodes: Arc<[Arc<Node>]>,
        network: Network,
        poll_interval: Duration,
        refresh_interval: Duration,
        templates: watch::Sender<Option<Arc<Template>>>,
        status: watch::Sender<SourceStatus>,
        gate: TemplateGate,
    ) -> Coordinator {
        let count = nodes.len();
        Coordinator {
            nodes,
            network,
            poll_interval,
            refresh_interval,
            templates,
            status,
            gate,
            polls: vec![None; count],
            template_errors: vec![None; count],
            tip_current: false,
            fetch_failed: false,
            last_attempt: None,
        }
    }

    pub(crate) async fn run(mut self, mut events: mpsc::Receiver<Event>) {
        let mut refresh = tokio::time::interval_at(
            Instant::now() + self.refresh_interval,
            self.refresh_interval,
        );
        refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let fetched = tokio::select! {
                event = events.recv() => match event {
                    None => return,
                    Some(Event::Tip { node, result }) => self.on_tip(node, result).await,
                    Some(Event::ZmqBlock { node }) => {
                        tracing::debug!(node = %self.nodes[node].url(), "new block announced over ZMQ");
                        self.fetch(Why::ZmqBlock).await
                    }
                    Some(Event::BlockSubmitted) => self.fetch(Why::BlockSubmitted).await,
                },
                _ = refresh.tick() => self.fetch(Why::Refresh).await,
            };
            if fetched {
                // A fresh template was just fetched: the fee refresh can wait.
                refresh.reset();
            }
            self.publish_status();
        }
    }

    /// Returns whether a template was fetched successfully.
    async fn on_tip(&mut self, index: usize, result: Result<BlockHash, RpcError>) -> bool {
        let url = self.nodes[index].url().to_string();
        let result = result.map_err(|error| error.to_string());
        let previous_error = self.polls[index]
            .as_ref()
            .and_then(|old| old.result.as_ref().err());
        match &result {
            Err(error) if previous_error != Some(error) => {
                tracing::warn!(node = %url, %error, "bitcoind poll failed");
            }
            Ok(_) if previous_error.is_some() => {
                tracing::info!(node = %url, "bitcoind answers again");
            }
            _ => {}
        }
        self.polls[index] = Some(Poll {
            result,
            at: Instant::now(),
        });

        let Some(tip) = self.authority_tip() else {
            self.tip_current = false;
            return false;
        };
        let current = self
            .templates
            .borrow()
            .as_ref()
            .map(|t| t.previous_block_hash);
        if current == Some(tip) {
            self.tip_current = true;
            return false;
        }
        self.tip_current = false;
        let recently_tried = matches!(
            self.last_attempt,
            Some((tried, at)) if tried == tip && at.elapsed() < self.poll_interval
        );
        if recently_tried {
            return false;
        }
        self.last_attempt = Some((tip, Instant::now()));
        self.fetch(Why::NewTip).await
    }

    fn health(&self, index: usize) -> Health {
        let Some(poll) = &self.polls[index] else {
            return Health::NotYetAnswered;
        };
        let age = poll.at.elapsed();
        // A poll normally answers in milliseconds; a few missed rounds mean
        // the node hangs, even before its call times out.
        if age > self.poll_interval.saturating_mul(4).max(SILENT_AFTER) {
            return Health::Silent(age);
        }
        match &poll.result {
            Ok(tip) => Health::Tip(*tip),
            Err(error) => Health::Failing(error.clone()),
        }
    }

    /// The tip of the first node (in configuration order) that answers its
    /// polls and gives good templates; failing that, that answers its polls.
    fn authority_tip(&self) -> Option<BlockHash> {
        let answered = |index: usize| match self.health(index) {
            Health::Tip(tip) => Some(tip),
            _ => None,
        };
        (0..self.nodes.len())
            .filter(|&index| self.template_errors[index].is_none())
            .find_map(answered)
            .or_else(|| (0..self.nodes.len()).find_map(answered))
    }

    /// Configuration order, nodes known to fail moved to the back.
    fn fetch_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order.sort_by_key(
            |&index| match (self.health(index), &self.template_errors[index]) {
                (Health::Failing(_) | Health::Silent(_), _) => 2,
                (_, Some(_)) => 1,
                _ => 0,
            },
        );
        order
    }

    /// Asks the nodes in order for a template and publishes the first good
    /// one if it differs; returns whether any node gave one.
    async fn fetch(&mut self, why: Why) -> bool {
        for index in self.fetch_order() {
            let node = Arc::clone(&self.nodes[index]);
            match self.fetch_from(&node).await {
                Ok(template) => {
                    if self.template_errors[index].take().is_some() {
                        tracing::info!(node = %node.url(), "bitcoind gives templates again");
                    }
                    self.fetch_failed = false;
                    self.tip_current = true;
                    self.publish(template, node.url(), why);
                    return true;
                }
                Err(error) => {
                    // The gate logged a refusal already.
                    let refused = matches!(error, RpcError::BadTemplate { .. });
                    let error = error.to_string();
                    if !refused && self.template_errors[index].as_ref() != Some(&error) {
                        tracing::warn!(node = %node.url(), %error, reason = why.as_str(), "getblocktemplate failed; trying the next node");
                    }
                    self.template_errors[index] = Some(error);
                }
            }
        }
        if !self.fetch_failed {
            match self.templates.borrow().as_ref() {
                Some(last) => tracing::error!(
                    height = last.height,
                    "no bitcoind node gave a template; serving the last good one"
                ),
                None => tracing::error!("no bitcoind node gave a template yet"),
            }
        }
        self.fetch_failed = true;
        false
    }

    /// One node's template, through the gate: a template it refuses, or
    /// one that did not decode, is counted there and is this node's error.
    async fn fetch_from(&mut self, node: &Node) -> Result<Template, RpcError> {
        match node.template(self.network).await {
            Ok(template) => match self.gate.admit(&template, unix_seconds()) {
                Ok(()) => Ok(template),
                Err(error) => {
                    let error = RpcError::BadTemplate {
                        url: node.url().to_string(),
                        height: Some(u64::from(template.height)),
                        error,
                    };
                    node.rpc.refused("getblocktemplate", &error);
                    Err(error)
                }
            },
            Err(RpcError::BadTemplate { url, height, error }) => {
                self.gate.refuse(height, &error);
                Err(RpcError::BadTemplate { url, height, error })
            }
            Err(error) => Err(error),
        }
    }

    /// Publishes `template` unless it is the same work as the current one.
    fn publish(&mut self, template: Template, url: &str, why: Why) {
        let unchanged = self
            .templates
            .borrow()
            .as_ref()
            .is_some_and(|current| current.same_work(&template));
        if unchanged {
            tracing::debug!(node = %url, height = template.height, reason = why.as_str(), "template unchanged");
            return;
        }
        tracing::info!(
            node = %url,
            height = template.height,
            previous_block_hash = %template.previous_block_hash,
            transactions = template.transactions.len(),
            fees_sat = template.fees().to_sat(),
            reason = why.as_str(),
            "new template"
        );
        self.templates.send_replace(Some(Arc::new(template)));
    }

    fn publish_status(&self) {
        let current_height = self.templates.borrow().as_ref().map(|t| t.height);
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| {
                let line = match (self.health(index), &self.template_errors[index]) {
                    (Health::Failing(error), _) => Err(error),
                    (Health::Silent(for_how_long), _) => Err(format!(
                        "no answer to getbestblockhash for {} s",
                        for_how_long.as_secs()
                    )),
                    (_, Some(error)) => Err(error.clone()),
                    (Health::NotYetAnswered, None) => Err("no answer yet".to_string()),
                    (Health::Tip(_), None) => Ok(()),
                };
                (node.url().to_string(), line)
            })
            .collect();
        let status = SourceStatus {
            nodes,
            last_template_height: current_height,
            serving_stale_template: current_height.is_some()
                && (!self.tip_current || self.fetch_failed),
        };
        self.status.send_if_modified(|old| {
            let changed = *old != status;
            if changed {
                *old = status;
            }
            changed
        });
    }
}

/// The wall clock in unix seconds, as template times count (saturating:
/// u32 seconds last until 2106).
fn unix_seconds() -> u32 {
    u32::try_from(unix_millis() / 1000).unwrap_or(u32::MAX)
}

/// One node's `getbestblockhash` poll, forever.
pub(crate) async fn poll(
    index: usize,
    node: Arc<Node>,
    network: Network,
    interval: Duration,
    events: mpsc::Sender<Event>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let result = node.best_block_hash(network).await;
        if events
            .send(Event::Tip {
                node: index,
                result,
            })
            .await
            .is_err()
        {
            return;
        }
    }
}
