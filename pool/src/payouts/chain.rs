//! How deep a found block is in the best chain: what the block lifecycle
//! asks of a node.

use crate::config::{BitcoindConfig, Network};
use crate::template::bitcoind::{NodeRpc, RpcError};
use crate::template::simnet::SimnetSource;
use bitcoin::BlockHash;
use futures::future::BoxFuture;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Where a block stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// In the best chain with this many confirmations (1 at the tip).
    InBestChain(i64),
    /// Known but on a side branch: orphaned.
    NotInBestChain,
    /// The node has never seen it.
    Unknown,
}

#[derive(Debug, Error)]
pub enum ChainError {
    #[error("{0}")]
    Rpc(#[from] RpcError),
    #[error("block hash {0:?} is not 64 hex digits")]
    BadHash(String),
    #[error("{0}")]
    Config(String),
}

pub trait ChainView: Send + Sync {
    /// Where the block with this display-hex hash stands now.
    fn depth<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<Depth, ChainError>>;
}

/// A Bitcoin Core node, through `getblockheader`.
#[derive(Debug)]
pub struct BitcoindChain {
    rpc: Arc<NodeRpc>,
}

/// Bitcoin Core's RPC_INVALID_ADDRESS_OR_KEY: "Block not found".
const BLOCK_NOT_FOUND: i32 = -5;

impl BitcoindChain {
    pub fn new(node: &BitcoindConfig, network: Network) -> Result<BitcoindChain, ChainError> {
        let rpc = NodeRpc::new(node, network, Duration::from_secs(30))
            .map_err(|error| ChainError::Config(error.to_string()))?;
        Ok(BitcoindChain { rpc: Arc::new(rpc) })
    }
}

impl ChainView for BitcoindChain {
    fn depth<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<Depth, ChainError>> {
        Box::pin(async move {
            let hash = BlockHash::from_str(hash).map_err(|_| ChainError::BadHash(hash.into()))?;
            let answer = self
                .rpc
                .run("getblockheader", move |client| {
                    bitcoincore_rpc::RpcApi::get_block_header_info(client, &hash)
                })
                .await;
            match answer {
                Ok(header) if header.confirmations >= 0 => {
                    Ok(Depth::InBestChain(i64::from(header.confirmations)))
                }
                Ok(_) => Ok(Depth::NotInBestChain),
                Err(RpcError::Node {
                    code: BLOCK_NOT_FOUND,
                    ..
                }) => Ok(Depth::Unknown),
                Err(error) => Err(error.into()),
            }
        })
    }
}

/// The simulated chain of `pool demo` and the tests.
#[derive(Debug, Clone)]
pub struct SimnetChain {
    source: Arc<SimnetSource>,
}

impl SimnetChain {
    pub fn new(source: Arc<SimnetSource>) -> SimnetChain {
        SimnetChain { source }
    }
}

impl ChainView for SimnetChain {
    fn depth<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Result<Depth, ChainError>> {
        Box::pin(async move {
            let hash = BlockHash::from_str(hash).map_err(|_| ChainError::BadHash(hash.into()))?;
            Ok(self
                .source
                .with_simnet(|simnet| match simnet.block_height(&hash) {
                    Some(height) if simnet.getblockhash(height) == Some(hash) => {
                        Depth::InBestChain(i64::from(simnet.tip_height()) - i64::from(height) + 1)
                    }
                    Some(_) => Depth::NotInBestChain,
                    None => Depth::Unknown,
                }))
        })
    }
}
