//! Bitcoin Core nodes as a template source.
//!
//! - [`BitcoindSource`] follows one or more `[[bitcoind]]` nodes: a ZMQ
//!   `hashblock` subscription where configured plus a `getbestblockhash`
//!   poll always, a fee refresh every `template_refresh_secs`, fail-over in
//!   configuration order, and every solved block sent to every node.
//! - [`probe`] is what `pool check` asks of each node.
//!
//! Files: `endpoint` (URL, login), `rpc` (client, error wording), `node`
//! (the RPCs used), `coordinator` (what gets published), `zmq`, `submit`,
//! `probe`, `source`.

mod coordinator;
mod endpoint;
mod node;
mod probe;
mod rpc;
mod source;
mod submit;
mod zmq;

pub use probe::{probe, probe_all, ProbeLine};
pub(crate) use rpc::NodeRpc;
pub use rpc::RpcError;
pub use source::BitcoindSource;

use thiserror::Error;

/// A `[[bitcoind]]` configuration the source cannot start with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BitcoindError {
    #[error("no [[bitcoind]] node is configured")]
    NoNodes,
    #[error("bitcoind url `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("bitcoind {url}: {reason}")]
    Credentials { url: String, reason: String },
    #[error("bitcoind {url}: zmq `{zmq}`: {reason}")]
    BadZmq {
        url: String,
        zmq: String,
        reason: String,
    },
    #[error("the bitcoind source must be started inside a tokio runtime")]
    NoRuntime,
}
