//! What the pool's calls to bitcoind cost and how they fail, per method,
//! and how each node's latest call went: `/metrics` shows the first two,
//! `/health` reads the last.
//!
//! Calls come a few times a second at most (polls, templates, blocks), so
//! one mutex over small maps is cheaper to read than it would be to avoid.

use crate::latency::{LatencyHistogram, LatencySnapshot};
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a node's latest call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastCall {
    /// The node was configured and not called yet.
    NotYet,
    Succeeded,
    /// With the error's kind (`unreachable`, `bad_credentials`, ...).
    Failed {
        method: &'static str,
        kind: &'static str,
    },
}

/// One node, as its latest call left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCall {
    /// The node's URL, without credentials.
    pub url: String,
    pub last: LastCall,
    /// Unix ms of that call's end (0: never called).
    pub at_ms: u64,
}

/// A copy of the metrics at one moment, sorted by method and node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpcSnapshot {
    /// Every call's latency, failed ones included.
    pub latency: Vec<(&'static str, LatencySnapshot)>,
    /// `(method, kind, count)` of failed calls.
    pub errors: Vec<(&'static str, &'static str, u64)>,
    /// Unix ms of each method's latest successful call, on any node.
    pub last_success_ms: Vec<(&'static str, u64)>,
    pub nodes: Vec<NodeCall>,
}

impl RpcSnapshot {
    /// When `method` last succeeded on any node (unix ms).
    pub fn last_success_ms(&self, method: &str) -> Option<u64> {
        self.last_success_ms
            .iter()
            .find(|(name, _)| *name == method)
            .map(|(_, at_ms)| *at_ms)
    }

    /// True when there are nodes and the latest call of each one failed:
    /// the pool cannot reach bitcoind at all.
    pub fn every_node_failing(&self) -> bool {
        !self.nodes.is_empty()
            && self
                .nodes
                .iter()
                .all(|node| matches!(node.last, LastCall::Failed { .. }))
    }
}

/// Shared by every RPC client of one template source.
#[derive(Debug, Default)]
pub struct RpcMetrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    latency: BTreeMap<&'static str, LatencyHistogram>,
    errors: BTreeMap<(&'static str, &'static str), u64>,
    /// Per method: when it last succeeded, and on which node.
    last_success: BTreeMap<&'static str, (u64, String)>,
    nodes: BTreeMap<String, (LastCall, u64)>,
}

impl RpcMetrics {
    /// Lists a node before its first call, so that a node that never
    /// answers still shows (as not called yet, then as failing).
    pub fn add_node(&self, url: &str) {
        self.inner()
            .nodes
            .entry(url.to_string())
            .or_insert((LastCall::NotYet, 0));
    }

    /// Records one finished call: `Err` holds the error's kind.
    pub fn record(
        &self,
        url: &str,
        method: &'static str,
        elapsed: Duration,
        outcome: Result<(), &'static str>,
    ) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            // Milliseconds since 1970 fit a u64 for 584 million years.
            .map_or(0, |since| since.as_millis() as u64);
        let mut inner = self.inner();
        inner.latency.entry(method).or_default().observe(elapsed);
        let last = match outcome {
            Ok(()) => {
                inner.last_success.insert(method, (now_ms, url.to_string()));
                LastCall::Succeeded
            }
            Err(kind) => {
                count_error(&mut inner, method, kind);
                LastCall::Failed { method, kind }
            }
        };
        inner.nodes.insert(url.to_string(), (last, now_ms));
    }

    /// Turns the call just recorded as a success into a failure of `kind`:
    /// the node answered, but with something the pool cannot use (a
    /// template it refuses). Its success no longer counts.
    pub fn refused(&self, url: &str, method: &'static str, kind: &'static str) {
        let mut inner = self.inner();
        count_error(&mut inner, method, kind);
        if inner
            .last_success
            .get(method)
            .is_some_and(|(_, by)| by == url)
        {
            inner.last_success.remove(method);
        }
        if let Some((last, _)) = inner.nodes.get_mut(url) {
            *last = LastCall::Failed { method, kind };
        }
    }

    pub fn snapshot(&self) -> RpcSnapshot {
        let inner = self.inner();
        RpcSnapshot {
            latency: inner
                .latency
                .iter()
                .map(|(method, histogram)| (*method, histogram.snapshot()))
                .collect(),
            errors: inner
                .errors
                .iter()
                .map(|((method, kind), count)| (*method, *kind, *count))
                .collect(),
            last_success_ms: inner
                .last_success
                .iter()
                .map(|(method, (at_ms, _))| (*method, *at_ms))
                .collect(),
            nodes: inner
                .nodes
                .iter()
                .map(|(url, (last, at_ms))| NodeCall {
                    url: url.clone(),
                    last: last.clone(),
                    at_ms: *at_ms,
                })
                .collect(),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Counters stay usable after a panic elsewhere.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One more failed call (saturating: a counter that wrapped would read as
/// a reset to Prometheus).
fn count_error(inner: &mut Inner, method: &'static str, kind: &'static str) {
    let count = inner.errors.entry((method, kind)).or_default();
    *count = count.saturating_add(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "http://127.0.0.1:18443/";
    const B: &str = "http://127.0.0.1:28443/";

    #[test]
    fn counts_calls_and_errors_per_method() {
        let metrics = RpcMetrics::default();
        let ms = Duration::from_millis;
        metrics.record(A, "getbestblockhash", ms(2), Ok(()));
        metrics.record(A, "getbestblockhash", ms(3), Err("unreachable"));
        metrics.record(A, "getblocktemplate", ms(40), Err("unreachable"));
        metrics.record(A, "getblocktemplate", ms(40), Err("node"));
        let snapshot = metrics.snapshot();
        let calls: Vec<(&str, u64)> = snapshot
            .latency
            .iter()
            .map(|(method, latency)| (*method, latency.count))
            .collect();
        assert_eq!(calls, [("getbestblockhash", 2), ("getblocktemplate", 2)]);
        assert_eq!(
            snapshot.errors,
            [
                ("getbestblockhash", "unreachable", 1),
                ("getblocktemplate", "node", 1),
                ("getblocktemplate", "unreachable", 1),
            ]
        );
        assert!(snapshot.last_success_ms("getbestblockhash").is_some());
        assert_eq!(snapshot.last_success_ms("getblocktemplate"), None);
    }

    #[test]
    fn a_refused_answer_is_a_failure() {
        let metrics = RpcMetrics::default();
        metrics.add_node(A);
        metrics.record(A, "getblocktemplate", Duration::ZERO, Ok(()));
        assert!(metrics
            .snapshot()
            .last_success_ms("getblocktemplate")
            .is_some());
        metrics.refused(A, "getblocktemplate", "bad_template");
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.last_success_ms("getblocktemplate"), None);
        assert_eq!(snapshot.errors, [("getblocktemplate", "bad_template", 1)]);
        assert!(snapshot.every_node_failing());
    }

    #[test]
    fn every_node_failing_needs_every_latest_call_failed() {
        let metrics = RpcMetrics::default();
        assert!(!metrics.snapshot().every_node_failing(), "no nodes");
        metrics.add_node(A);
        metrics.add_node(B);
        metrics.record(A, "getbestblockhash", Duration::ZERO, Err("unreachable"));
        assert!(!metrics.snapshot().every_node_failing(), "B not called yet");
        metrics.record(B, "getbestblockhash", Duration::ZERO, Err("forbidden"));
        assert!(metrics.snapshot().every_node_failing());
        metrics.record(A, "getbestblockhash", Duration::ZERO, Ok(()));
        let snapshot = metrics.snapshot();
        assert!(!snapshot.every_node_failing());
        assert_eq!(snapshot.nodes[0].last, LastCall::Succeeded);
        assert!(snapshot.nodes[0].at_ms > 0);
    }
}
