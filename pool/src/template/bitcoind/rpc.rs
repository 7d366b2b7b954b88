//! One node's JSON-RPC client: where it is, how to log in, and what each
//! failure means.
//!
//! `bitcoincore-rpc` is blocking, so every call runs on tokio's blocking
//! pool ([`NodeRpc::run`]); the async workers never wait on a socket. Errors
//! are sorted into [`RpcError`] so that a log line or `pool check` can say
//! exactly what is wrong (refused, 401, cookie missing, garbage, ...).

use super::endpoint::{normalise_url, Credentials};
use crate::config::{BitcoindConfig, Network};
use crate::template::rpc_metrics::RpcMetrics;
use crate::template::TemplateError;
use bitcoincore_rpc::jsonrpc;
use bitcoincore_rpc::jsonrpc::simple_http::{self, SimpleHttpTransport};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;

use super::BitcoindError;

/// Polls and templates: long enough for `getblocktemplate` on a full
/// mainnet mempool, short enough that a hung node is noticed.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// `submitblock` validates the whole block before it answers.
pub(crate) const SUBMIT_TIMEOUT: Duration = Duration::from_secs(60);
/// `pool check` should answer quickly.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call to a node failed, worded for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RpcError {
    #[error("unreachable: {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("bad credentials: {url} answered HTTP 401 Unauthorized to {login}")]
    BadCredentials { url: String, login: String },
    #[error("forbidden: {url} answered HTTP 403 (is the pool's address allowed by the node's rpcallowip?)")]
    Forbidden { url: String },
    #[error("{url} answered HTTP {code} to {method}{hint}")]
    HttpStatus {
        url: String,
        method: &'static str,
        code: u16,
        hint: &'static str,
    },
    #[error("cookie file {} is unreadable: {reason} (is bitcoind running with that datadir?)", path.display())]
    CookieUnreadable { path: PathBuf, reason: String },
    #[error("cookie file {} does not hold `user:password`", path.display())]
    CookieMalformed { path: PathBuf },
    #[error("{method} failed: node error {code}: {message}")]
    Node {
        method: &'static str,
        code: i32,
        message: String,
    },
    #[error("{url} answered garbage to {method}: {detail}")]
    Garbage {
        url: String,
        method: &'static str,
        detail: String,
    },
    #[error("{url} gave a template the pool refuses: {error}")]
    BadTemplate {
        url: String,
        /// As the answer gave it, when it did.
        height: Option<u64>,
        error: TemplateError,
    },
    #[error("wrong chain: {url} is on `{node_chain}`, the pool is configured for `{expected}`")]
    WrongChain {
        url: String,
        node_chain: String,
        expected: &'static str,
    },
    #[error("{url}: {method} failed: {detail}")]
    Other {
        url: String,
        method: &'static str,
        detail: String,
    },
}

impl RpcError {
    /// The variant as a metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            RpcError::Unreachable { .. } => "unreachable",
            RpcError::BadCredentials { .. } => "bad_credentials",
            RpcError::Forbidden { .. } => "forbidden",
            RpcError::HttpStatus { .. } => "http_status",
            RpcError::CookieUnreadable { .. } => "cookie_unreadable",
            RpcError::CookieMalformed { .. } => "cookie_malformed",
            RpcError::Node { .. } => "node",
            RpcError::Garbage { .. } => "garbage",
            RpcError::BadTemplate { .. } => "bad_template",
            RpcError::WrongChain { .. } => "wrong_chain",
            RpcError::Other { .. } => "other",
        }
    }

    /// The connection is gone: whatever we knew about the node (its chain)
    /// must be checked again.
    pub(crate) fn lost_connection(&self) -> bool {
        matches!(
            self,
            RpcError::Unreachable { .. }
                | RpcError::BadCredentials { .. }
                | RpcError::Forbidden { .. }
                | RpcError::CookieUnreadable { .. }
                | RpcError::CookieMalformed { .. }
        )
    }
}

/// A client and the `(user, password)` it logs in with.
type CachedClient = ((String, String), Arc<bitcoincore_rpc::Client>);

/// A node's RPC endpoint with its credentials; cheap to share.
pub(crate) struct NodeRpc {
    /// Normalised, without credentials: safe to log.
    pub(crate) url: String,
    credentials: Credentials,
    timeout: Duration,
    /// The client for the credentials it was built with; rebuilt when a
    /// cookie changes. `simple_http` keeps one connection open per client.
    client: Mutex<Option<CachedClient>>,
    /// Where every call is counted (the template source's clients only).
    metrics: Option<Arc<RpcMetrics>>,
}

/// Only the URL: the credentials stay out of logs.
impl std::fmt::Debug for NodeRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRpc")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl NodeRpc {
    pub(crate) fn new(
        node: &BitcoindConfig,
        network: Network,
        timeout: Duration,
    ) -> Result<NodeRpc, BitcoindError> {
        let url = normalise_url(&node.url, network)?;
        let credentials = Credentials::from_config(node, &url)?;
        Ok(NodeRpc {
            url,
            credentials,
            timeout,
            client: Mutex::new(None),
            metrics: None,
        })
    }

    /// Counts every call of this client in `metrics`.
    pub(crate) fn with_metrics(mut self, metrics: &Arc<RpcMetrics>) -> NodeRpc {
        metrics.add_node(&self.url);
        self.metrics = Some(Arc::clone(metrics));
        self
    }

    /// Counts the call of `method` just made as failed with `error`: it
    /// answered, but the answer was refused.
    pub(crate) fn refused(&self, method: &'static str, error: &RpcError) {
        if let Some(metrics) = &self.metrics {
            metrics.refused(&self.url, method, error.kind());
        }
    }

    /// Runs one blocking call on the blocking pool, bounded in time.
    pub(crate) async fn run<T, F>(
        self: &Arc<Self>,
        method: &'static str,
        call: F,
    ) -> Result<T, RpcError>
    where
        T: Send + 'static,
        F: FnOnce(&bitcoincore_rpc::Client) -> Result<T, bitcoincore_rpc::Error> + Send + 'static,
    {
        let started = Instant::now();
        let node = Arc::clone(self);
        let blocking = tokio::task::spawn_blocking(move || node.run_blocking(method, call));
        // The transport has its own timeout; this one only guards against a
        // call stuck before it (name resolution).
        let result =
            match tokio::time::timeout(self.timeout + Duration::from_secs(2), blocking).await {
                Ok(Ok(result)) => result,
                Ok(Err(join_error)) => Err(RpcError::Other {
                    url: self.url.clone(),
                    method,
                    detail: format!("the RPC task failed: {join_error}"),
                }),
                Err(_) => Err(self.no_answer()),
            };
        if let Some(metrics) = &self.metrics {
            let outcome = result.as_ref().map(|_| ()).map_err(RpcError::kind);
            metrics.record(&self.url, method, started.elapsed(), outcome);
        }
        result
    }

    fn run_blocking<T>(
        &self,
        method: &'static str,
        call: impl FnOnce(&bitcoincore_rpc::Client) -> Result<T, bitcoincore_rpc::Error>,
    ) -> Result<T, RpcError> {
        let login = self.credentials.read()?;
        let client = self.client_for(login)?;
        call(&client).map_err(|error| self.classify(method, error))
    }

    fn client_for(
        &self,
        login: (String, String),
    ) -> Result<Arc<bitcoincore_rpc::Client>, RpcError> {
        let mut cached = self
            .client
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((cached_login, client)) = cached.as_ref() {
            if *cached_login == login {
                return Ok(Arc::clone(client));
            }
        }
        let transport = SimpleHttpTransport::builder()
            .url(&self.url)
            .map_err(|error| RpcError::Unreachable {
                url: self.url.clone(),
                reason: match error {
                    simple_http::Error::SocketError(io) => format!("cannot resolve the host: {io}"),
                    other => other.to_string(),
                },
            })?
            .timeout(self.timeout)
            .auth(login.0.as_str(), Some(login.1.as_str()))
            .build();
        let client = Arc::new(bitcoincore_rpc::Client::from_jsonrpc(
            jsonrpc::Client::with_transport(transport),
        ));
        *cached = Some((login, Arc::clone(&client)));
        Ok(client)
    }

    fn no_answer(&self) -> RpcError {
        RpcError::Unreachable {
            url: self.url.clone(),
            reason: format!("no answer within {} s", self.timeout.as_secs()),
        }
    }

    /// Sorts what `bitcoincore-rpc` reports into what it means.
    fn classify(&self, method: &'static str, error: bitcoincore_rpc::Error) -> RpcError {
        use bitcoincore_rpc::Error as Rpc;
        let url = self.url.clone();
        let garbage = |detail: String| RpcError::Garbage {
            url: self.url.clone(),
            method,
            detail,
        };
        match error {
            Rpc::JsonRpc(jsonrpc::Error::Rpc(error)) => RpcError::Node {
                method,
                code: error.code,
                message: error.message,
            },
            Rpc::JsonRpc(jsonrpc::Error::Transport(transport)) => {
                match transport.downcast::<simple_http::Error>() {
                    Ok(http) => self.classify_http(method, *http),
                    Err(other) => RpcError::Other {
                        url,
                        method,
                        detail: other.to_string(),
                    },
                }
            }
            Rpc::JsonRpc(jsonrpc::Error::Json(error)) | Rpc::Json(error) => {
                garbage(format!("undecodable JSON: {error}"))
            }
            Rpc::JsonRpc(
                error @ (jsonrpc::Error::NonceMismatch | jsonrpc::Error::VersionMismatch),
            ) => garbage(error.to_string()),
            Rpc::UnexpectedStructure | Rpc::Hex(_) | Rpc::BitcoinSerialization(_) => {
                garbage(error.to_string())
            }
            other => RpcError::Other {
                url,
                method,
                detail: other.to_string(),
            },
        }
    }

    fn classify_http(&self, method: &'static str, error: simple_http::Error) -> RpcError {
        let url = self.url.clone();
        match error {
            simple_http::Error::HttpErrorCode(401) => RpcError::BadCredentials {
                url,
                login: self.credentials.login(),
            },
            simple_http::Error::HttpErrorCode(403) => RpcError::Forbidden { url },
            simple_http::Error::HttpErrorCode(code) => RpcError::HttpStatus {
                url,
                method,
                code,
                hint: match code {
                    404 => " (is this the RPC port, with the right path?)",
                    503 => " (the node's RPC work queue is full)",
                    _ => "",
                },
            },
            simple_http::Error::SocketError(io) => RpcError::Unreachable {
                url,
                reason: describe_io(&io, self.timeout),
            },
            simple_http::Error::Json(error) => RpcError::Garbage {
                url,
                method,
                detail: format!("not JSON-RPC: {error}"),
            },
            simple_http::Error::InvalidUrl { reason, .. } => RpcError::Unreachable {
                url,
                reason: reason.to_string(),
            },
            other => RpcError::Garbage {
                url,
                method,
                detail: other.to_string(),
            },
        }
    }
}

fn describe_io(error: &io::Error, timeout: Duration) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!("no answer within {} s", timeout.as_secs())
        }
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => format!("connection closed by the node ({error})"),
        _ => error.to_string(),
    }
}
