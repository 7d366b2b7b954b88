//! `pool check`: ask a node everything the pool needs from it and say,
//! line by line, what works and precisely what does not.

use super::node::{chain_info, check_chain_name, fetch_template};
use super::rpc::{NodeRpc, RpcError, PROBE_TIMEOUT};
use super::zmq;
use crate::clock::unix_millis;
use crate::config::{BitcoindConfig, Network};
use crate::template::check::{check, ChainRules};
use bitcoincore_rpc::json::GetZmqNotificationsResult;
use bitcoincore_rpc::RpcApi;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// One checked aspect: `Ok(detail)` or `Err(reason)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeLine {
    /// e.g. `bitcoind http://127.0.0.1:8332/ chain`.
    pub component: String,
    pub result: Result<String, String>,
}

impl ProbeLine {
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }
}

/// `component: ok (detail)` or `component: reason`, as `pool check` prints.
impl fmt::Display for ProbeLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.result {
            Ok(detail) => write!(f, "{}: ok ({detail})", self.component),
            Err(reason) => write!(f, "{}: {reason}", self.component),
        }
    }
}

/// Every configured node, in order; an error line when there is none.
pub async fn probe_all(nodes: &[BitcoindConfig], network: Network) -> Vec<ProbeLine> {
    if nodes.is_empty() {
        return vec![ProbeLine {
            component: "bitcoind".to_string(),
            result: Err("no [[bitcoind]] node is configured".to_string()),
        }];
    }
    let mut lines = Vec::new();
    for node in nodes {
        lines.extend(probe(node, network).await);
    }
    lines
}

/// Checks one node: RPC login, chain, sync, a template, ZMQ. Stops after
/// the first line when the node cannot be asked at all.
pub async fn probe(node: &BitcoindConfig, network: Network) -> Vec<ProbeLine> {
    let rpc = match NodeRpc::new(node, network, PROBE_TIMEOUT) {
        Ok(rpc) => Arc::new(rpc),
        Err(error) => {
            return vec![ProbeLine {
                component: format!("bitcoind {} config", node.url),
                result: Err(error.to_string()),
            }]
        }
    };
    let line = |aspect: &str, result: Result<String, String>| ProbeLine {
        component: format!("bitcoind {} {aspect}", rpc.url),
        result,
    };
    let mut lines = Vec::new();

    let login = match (&node.cookie, &node.user) {
        (Some(cookie), _) => format!("with the cookie in {}", cookie.display()),
        (None, Some(user)) => format!("as user `{user}`"),
        (None, None) => String::new(),
    };
    let rpc_line = match network_info(&rpc).await {
        Ok(version) => Ok(format!("{version}, logged in {login}")),
        // The node answered with a JSON-RPC error: it is there and took our login.
        Err(RpcError::Node { message, .. }) => {
            Ok(format!("logged in {login}; getnetworkinfo: {message}"))
        }
        Err(error) => Err(error.to_string()),
    };
    let reachable = rpc_line.is_ok();
    lines.push(line("rpc", rpc_line));
    if !reachable {
        return lines;
    }

    match chain_info(&rpc).await {
        Ok(info) => {
            lines.push(line(
                "chain",
                check_chain_name(&rpc.url, &info.chain, network)
                    .map(|()| info.chain.clone())
                    .map_err(|error| error.to_string()),
            ));
            lines.push(line("sync", sync_state(&info, network)));
        }
        Err(error) => lines.push(line("chain", Err(error.to_string()))),
    }

    lines.push(line(
        "template",
        fetch_template(&rpc)
            .await
            .map_err(|error| error.to_string())
            .and_then(|template| {
                // What the running pool's gate would refuse, said now.
                let now = u32::try_from(unix_millis() / 1000).unwrap_or(u32::MAX);
                check(&template, &ChainRules::for_network(network), now)
                    .map_err(|error| format!("the pool would refuse this template: {error}"))?;
                Ok(format!(
                    "height {}, {} transactions, coinbase value {}",
                    template.height,
                    template.transactions.len(),
                    template.coinbase_value
                ))
            }),
    ));

    lines.push(line("zmq", zmq_state(&rpc, node.zmq.as_deref()).await));
    lines
}

async fn network_info(rpc: &Arc<NodeRpc>) -> Result<String, RpcError> {
    let info: Value = rpc
        .run("getnetworkinfo", |client| {
            client.call("getnetworkinfo", &[])
        })
        .await?;
    Ok(match info.get("subversion").and_then(Value::as_str) {
        Some(subversion) => format!("Bitcoin Core {subversion}"),
        None => "answers".to_string(),
    })
}

fn sync_state(info: &super::node::ChainInfo, network: Network) -> Result<String, String> {
    let progress = format!(
        "{} of {} blocks, {:.2}% verified",
        info.blocks,
        info.headers,
        info.verification_progress * 100.0
    );
    if !info.initial_block_download {
        Ok(format!("height {}, synced", info.blocks))
    } else if network == Network::Regtest {
        // A regtest chain whose last block is old says so until the next
        // block; Core mines on it regardless.
        Ok(format!(
            "height {}, initial block download flag set (normal for an idle regtest chain)",
            info.blocks
        ))
    } else {
        Err(format!("still in initial block download: {progress}"))
    }
}

async fn zmq_state(rpc: &Arc<NodeRpc>, zmq: Option<&str>) -> Result<String, String> {
    let Some(zmq) = zmq else {
        return Ok("not configured; new blocks are found by polling getbestblockhash".to_string());
    };
    let published: Vec<GetZmqNotificationsResult> = match rpc
        .run("getzmqnotifications", |client| client.get_zmq_notifications())
        .await
    {
        Ok(published) => published,
        Err(RpcError::Node { code: -32601, .. }) => {
            return Err(format!(
                "ZMQ not published by the node: it was built without ZMQ (no getzmqnotifications); remove zmq = \"{zmq}\" or rebuild bitcoind with ZMQ"
            ))
        }
        Err(error) => return Err(format!("cannot ask the node about ZMQ: {error}")),
    };
    let Some(entry) = published.iter().find(|entry| {
        entry.notification_type == "pubhashblock" && zmq::same_port(&entry.address, zmq)
    }) else {
        let listed: Vec<String> = published
            .iter()
            .map(|entry| format!("{} at {}", entry.notification_type, entry.address))
            .collect();
        return Err(format!(
            "ZMQ not published by the node: getzmqnotifications lists no pubhashblock at {zmq} (it lists {}); start bitcoind with -zmqpubhashblock={zmq}",
            if listed.is_empty() { "nothing".to_string() } else { listed.join(", ") }
        ));
    };
    match zmq::connect(zmq).await {
        Ok(_socket) => Ok(format!(
            "pubhashblock at {zmq} (node: {}), connected",
            entry.address
        )),
        Err(error) => Err(format!(
            "ZMQ silent: the node lists pubhashblock at {} but {zmq} cannot be connected: {error}",
            entry.address
        )),
    }
}
