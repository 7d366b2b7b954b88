//! A solved block goes to every node at once, and no single answer is
//! trusted: `submitblock` everywhere, `preciousblock` where the node holds
//! the block, then `getblockhash(height)` decides whether it is the tip.

use super::node::Node;
use super::rpc::RpcError;
use crate::template::{NodeAnswer, SubmitReport};
use bitcoin::{Block, BlockHash};
use bitcoincore_rpc::RpcApi;
use futures::future::join_all;
use serde_json::Value;
use std::sync::Arc;

/// The height a block's coinbase starts with, read as Core writes it:
/// heights 1 to 16 are `OP_1`..`OP_16`, which rust-bitcoin's
/// `Block::bip34_block_height` does not read.
fn block_height(block: &Block) -> Option<u32> {
    let coinbase = block.txdata.first()?;
    crate::coinbase::coinbase_height(&coinbase.input.first()?.script_sig)
}

pub(crate) async fn submit_everywhere(nodes: &[Arc<Node>], block: &Block) -> SubmitReport {
    let block_hash = block.block_hash();
    let height = match block_height(block) {
        Some(height) => height,
        None => {
            tracing::error!(%block_hash, "block without a BIP 34 height; it cannot be confirmed by height");
            0
        }
    };
    let hex: Arc<str> = bitcoin::consensus::encode::serialize_hex(block).into();
    tracing::info!(%block_hash, height, nodes = nodes.len(), "submitting block");

    let answers: Vec<NodeAnswer> = join_all(nodes.iter().map(|node| {
        let hex = Arc::clone(&hex);
        async move {
            let result = node
                .submit
                .run("submitblock", move |client| {
                    client.call::<Value>("submitblock", &[Value::from(&*hex)])
                })
                .await;
            let result = submit_answer(result);
            match &result {
                Ok(None) => tracing::info!(node = %node.url(), %block_hash, height, "submitblock accepted"),
                Ok(Some(reason)) => tracing::warn!(node = %node.url(), %block_hash, height, %reason, "submitblock rejected"),
                Err(error) => tracing::error!(node = %node.url(), %block_hash, height, %error, "submitblock failed"),
            }
            NodeAnswer {
                node: node.url().to_string(),
                result,
            }
        }
    }))
    .await;

    let holders = nodes
        .iter()
        .zip(&answers)
        .filter(|(_, answer)| answer.holds_block())
        .map(|(node, _)| node);
    join_all(holders.map(|node| precious(node, block_hash))).await;

    let confirmed = height > 0 && confirm(nodes, block_hash, height).await;
    if confirmed {
        tracing::info!(%block_hash, height, "block confirmed at its height");
    } else {
        tracing::error!(%block_hash, height, "no node has the block at its height");
    }
    SubmitReport {
        block_hash,
        height,
        answers,
        confirmed,
    }
}

/// Core answers `null` when it takes a block and a reason string when not.
fn submit_answer(result: Result<Value, RpcError>) -> Result<Option<String>, String> {
    match result {
        Ok(Value::Null) => Ok(None),
        Ok(Value::String(reason)) => Ok(Some(reason)),
        Ok(other) => Ok(Some(other.to_string())),
        // An error object (e.g. -22 "Block decode failed") is a rejection too.
        Err(RpcError::Node { code, message, .. }) => Ok(Some(format!("error {code}: {message}"))),
        Err(error) => Err(error.to_string()),
    }
}

/// Asks the node to prefer our block over a competitor at the same height.
async fn precious(node: &Arc<Node>, block_hash: BlockHash) {
    let result = node
        .submit
        .run("preciousblock", move |client| {
            client.call::<Value>("preciousblock", &[Value::from(block_hash.to_string())])
        })
        .await;
    match result {
        Ok(_) => tracing::debug!(node = %node.url(), %block_hash, "preciousblock done"),
        Err(error) => {
            tracing::warn!(node = %node.url(), %block_hash, %error, "preciousblock failed")
        }
    }
}

/// True when any node has `block_hash` at `height` in its main chain.
async fn confirm(nodes: &[Arc<Node>], block_hash: BlockHash, height: u32) -> bool {
    let hashes = join_all(nodes.iter().map(|node| async move {
        let result = node
            .submit
            .run("getblockhash", move |client| client.get_block_hash(u64::from(height)))
            .await;
        match &result {
            Ok(at_height) if *at_height == block_hash => {}
            Ok(at_height) => tracing::warn!(node = %node.url(), height, %at_height, %block_hash, "another block is at our height"),
            Err(error) => tracing::warn!(node = %node.url(), height, %error, "getblockhash failed"),
        }
        result
    }))
    .await;
    hashes.iter().any(|hash| hash.as_ref() == Ok(&block_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_with_script_sig(script_sig: Vec<u8>) -> Block {
        let mut block = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
        block.txdata[0].input[0].script_sig = bitcoin::ScriptBuf::from_bytes(script_sig);
        block
    }

    /// Issue 11: blocks at heights 1 to 16 (OP_N) were logged as without a
    /// height and never confirmed by height.
    #[test]
    fn heights_are_read_as_core_writes_them_op_n_included() {
        for height in [1u32, 2, 16, 17, 127, 128, 32_768, 900_000] {
            let mut script_sig = crate::coinbase::bip34_prefix(height).into_bytes();
            script_sig.extend_from_slice(b"\x06/pool/");
            let block = block_with_script_sig(script_sig);
            assert_eq!(block_height(&block), Some(height), "height {height}");
        }
        // Nothing, or a non-minimal push of 1, is no height.
        assert_eq!(block_height(&block_with_script_sig(Vec::new())), None);
        assert_eq!(block_height(&block_with_script_sig(vec![0x01, 0x01])), None);
        let mut empty = block_with_script_sig(Vec::new());
        empty.txdata.clear();
        assert_eq!(block_height(&empty), None);
    }

    #[test]
    fn core_answers_are_sorted() {
        assert_eq!(submit_answer(Ok(Value::Null)), Ok(None));
        assert_eq!(
            submit_answer(Ok(Value::from("duplicate"))),
            Ok(Some("duplicate".to_string()))
        );
        let decode = RpcError::Node {
            method: "submitblock",
            code: -22,
            message: "Block decode failed".into(),
        };
        assert_eq!(
            submit_answer(Err(decode)),
            Ok(Some("error -22: Block decode failed".to_string()))
        );
        assert!(submit_answer(Err(RpcError::Unreachable {
            url: "http://127.0.0.1:1/".into(),
            reason: "connection refused".into()
        }))
        .is_err());
        let answer = |result| NodeAnswer {
            node: "n".into(),
            result,
        };
        assert!(answer(Ok(None)).holds_block());
        assert!(answer(Ok(Some("inconclusive".into()))).holds_block());
        assert!(answer(Ok(Some("duplicate".into()))).holds_block());
        assert!(!answer(Ok(Some("high-hash".into()))).holds_block());
        assert!(!answer(Err("timeout".into())).holds_block());
    }
}
