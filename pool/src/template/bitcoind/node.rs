//! One configured node and the few RPCs the pool asks of it.

use super::rpc::{NodeRpc, RpcError, CALL_TIMEOUT, SUBMIT_TIMEOUT};
use super::BitcoindError;
use crate::config::{BitcoindConfig, Network};
use crate::template::rpc_metrics::RpcMetrics;
use crate::template::Template;
use bitcoin::BlockHash;
use bitcoincore_rpc::RpcApi;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Segwit always; signet is required on signet (error -8 without it, also
/// on private signets whose template lists `!signet`) and harmless elsewhere.
const RULES: [&str; 2] = ["segwit", "signet"];

/// The part of `getblockchaininfo` the pool reads. Decoded by hand rather
/// than with the typed call, which first asks `getnetworkinfo` for the
/// node's version on every call.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ChainInfo {
    pub chain: String,
    pub blocks: u64,
    pub headers: u64,
    #[serde(rename = "initialblockdownload")]
    pub initial_block_download: bool,
    #[serde(rename = "verificationprogress")]
    pub verification_progress: f64,
}

#[derive(Debug)]
pub(crate) struct Node {
    /// Polls and templates.
    pub rpc: Arc<NodeRpc>,
    /// Blocks: its own connection, so a submission never queues behind a
    /// slow `getblocktemplate`, and a longer timeout.
    pub submit: Arc<NodeRpc>,
    /// `tcp://host:port` of the node's `zmqpubhashblock`.
    pub zmq: Option<String>,
    /// `getblockchaininfo.chain` was checked since the last lost connection.
    chain_checked: AtomicBool,
}

impl Node {
    pub(crate) fn new(
        config: &BitcoindConfig,
        network: Network,
        metrics: &Arc<RpcMetrics>,
    ) -> Result<Node, BitcoindError> {
        let rpc = NodeRpc::new(config, network, CALL_TIMEOUT)?.with_metrics(metrics);
        if let Some(zmq) = &config.zmq {
            super::zmq::check_endpoint(zmq).map_err(|reason| BitcoindError::BadZmq {
                url: rpc.url.clone(),
                zmq: zmq.clone(),
                reason,
            })?;
        }
        Ok(Node {
            submit: Arc::new(NodeRpc::new(config, network, SUBMIT_TIMEOUT)?.with_metrics(metrics)),
            rpc: Arc::new(rpc),
            zmq: config.zmq.clone(),
            chain_checked: AtomicBool::new(false),
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.rpc.url
    }

    /// Refuses a node on another chain: its templates would make blocks
    /// nobody on our network accepts.
    async fn check_chain(&self, network: Network) -> Result<(), RpcError> {
        if self.chain_checked.load(Ordering::Relaxed) {
            return Ok(());
        }
        let info = chain_info(&self.rpc).await?;
        check_chain_name(&self.rpc.url, &info.chain, network)?;
        self.chain_checked.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn forget_on_loss<T>(&self, result: Result<T, RpcError>) -> Result<T, RpcError> {
        if let Err(error) = &result {
            if error.lost_connection() {
                self.chain_checked.store(false, Ordering::Relaxed);
            }
        }
        result
    }

    pub(crate) async fn best_block_hash(&self, network: Network) -> Result<BlockHash, RpcError> {
        let result = async {
            self.check_chain(network).await?;
            self.rpc
                .run("getbestblockhash", |client| client.get_best_block_hash())
                .await
        }
        .await;
        self.forget_on_loss(result)
    }

    pub(crate) async fn template(&self, network: Network) -> Result<Template, RpcError> {
        let result = async {
            self.check_chain(network).await?;
            fetch_template(&self.rpc).await
        }
        .await;
        self.forget_on_loss(result)
    }
}

pub(crate) async fn chain_info(rpc: &Arc<NodeRpc>) -> Result<ChainInfo, RpcError> {
    rpc.run("getblockchaininfo", |client| {
        client.call("getblockchaininfo", &[])
    })
    .await
}

pub(crate) fn check_chain_name(
    url: &str,
    node_chain: &str,
    network: Network,
) -> Result<(), RpcError> {
    if node_chain == network.core_chain_name() {
        Ok(())
    } else {
        Err(RpcError::WrongChain {
            url: url.to_string(),
            node_chain: node_chain.to_string(),
            expected: network.core_chain_name(),
        })
    }
}

/// `getblocktemplate` decoded by [`Template::from_gbt_json`]: an answer
/// that is JSON-RPC but not a template is a [`RpcError::BadTemplate`] (a
/// refusal, counted like the gate's), never a panic. Decoded on the
/// blocking pool, with the call: a full template is megabytes of JSON.
pub(crate) async fn fetch_template(rpc: &Arc<NodeRpc>) -> Result<Template, RpcError> {
    let (height, decoded) = rpc
        .run("getblocktemplate", |client| {
            let answer: Value = client.call(
                "getblocktemplate",
                &[json!({ "mode": "template", "rules": RULES, "capabilities": [] })],
            )?;
            let height = answer.get("height").and_then(Value::as_u64);
            Ok((height, Template::from_gbt_json(answer)))
        })
        .await?;
    decoded.map_err(|error| {
        let error = RpcError::BadTemplate {
            url: rpc.url.clone(),
            height,
            error,
        };
        rpc.refused("getblocktemplate", &error);
        error
    })
}
