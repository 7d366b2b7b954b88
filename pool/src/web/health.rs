//! `/health`: `200 ok` while the pool can serve miners; `503` with one
//! reason per line when it cannot (for Nagios' check_http, Kubernetes
//! probes and load balancers, which read the status code).

use super::WebState;
use crate::ledger::{LedgerStats, PingError};
use crate::server::stats::ChainSnapshot;
use crate::template::rpc_metrics::{LastCall, RpcSnapshot};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Work older than this is stale: bitcoind gives a template on every block
/// and confirms it at every fee refresh (`chain.template_refresh_secs`, 30 s
/// by default), so two minutes without either means the source is stuck.
pub const TEMPLATE_MAX_AGE: Duration = Duration::from_secs(120);

/// A database that takes longer than this for one row is not serving the
/// share path either (probes time out at a few seconds).
pub const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// The method whose answers confirm that the current work is still current.
const TEMPLATE_METHOD: &str = "getblocktemplate";

/// What `/health` tolerates; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthLimits {
    pub template_max_age: Duration,
    pub database_timeout: Duration,
}

impl Default for HealthLimits {
    fn default() -> Self {
        HealthLimits {
            template_max_age: TEMPLATE_MAX_AGE,
            database_timeout: DATABASE_TIMEOUT,
        }
    }
}

pub async fn health(State(state): State<Arc<WebState>>) -> impl IntoResponse {
    let limits = state.ops.limits;
    let database = state.ledger.ping(limits.database_timeout).await;
    let rpc = state.ops.rpc.as_ref().map(|rpc| rpc.snapshot());
    let problems = problems(&Inputs {
        chain: state.stats.chain(),
        rpc: rpc.as_ref(),
        now_ms: unix_ms(),
        limits,
        database: database.as_ref().err(),
        ledger: state.ledger.stats(),
    });
    let headers = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    if problems.is_empty() {
        (StatusCode::OK, headers, "ok\n".to_string())
    } else {
        tracing::debug!(problems = ?problems, "health check failed");
        let mut body = problems.join("\n");
        body.push('\n');
        (StatusCode::SERVICE_UNAVAILABLE, headers, body)
    }
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// When the pool last knew its work was current (unix ms): a new template,
/// or a `getblocktemplate` answer that changed nothing (the source does not
/// republish those). `None` before the first template.
pub fn work_confirmed_ms(chain: &ChainSnapshot, rpc: Option<&RpcSnapshot>) -> Option<u64> {
    let received = chain.template_received_ms?;
    let confirmed = rpc.and_then(|rpc| rpc.last_success_ms(TEMPLATE_METHOD));
    Some(received.max(confirmed.unwrap_or(0)))
}

/// Everything one check looks at, read beforehand.
pub struct Inputs<'a> {
    pub chain: ChainSnapshot,
    pub rpc: Option<&'a RpcSnapshot>,
    pub now_ms: u64,
    pub limits: HealthLimits,
    pub database: Option<&'a PingError>,
    pub ledger: LedgerStats,
}

/// Why the pool cannot serve, one line each; empty when it can.
pub fn problems(inputs: &Inputs<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let limit_secs = inputs.limits.template_max_age.as_secs_f64();
    match work_confirmed_ms(&inputs.chain, inputs.rpc) {
        None => problems.push("template: none received yet".to_string()),
        Some(confirmed) => {
            let age_ms = inputs.now_ms.saturating_sub(confirmed);
            if u128::from(age_ms) > inputs.limits.template_max_age.as_millis() {
                problems.push(format!(
                    "template: the newest is {:.0} s old (limit {limit_secs:.0} s), height {}",
                    age_ms as f64 / 1000.0,
                    inputs.chain.height
                ));
            }
        }
    }
    if let Some(rpc) = inputs.rpc.filter(|rpc| rpc.every_node_failing()) {
        let nodes: Vec<String> = rpc
            .nodes
            .iter()
            .map(|node| match &node.last {
                LastCall::Failed { method, kind } => format!("{} {method} {kind}", node.url),
                _ => node.url.clone(),
            })
            .collect();
        problems.push(format!(
            "bitcoind: the latest call to every node failed ({})",
            nodes.join(", ")
        ));
    }
    if let Some(error) = inputs.database {
        problems.push(format!("database: not answering: {error}"));
    }
    if inputs.ledger.failing_writes > 0 {
        problems.push(format!(
            "ledger: writes failing, the last {} transaction(s) were not recorded",
            inputs.ledger.failing_writes
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::rpc_metrics::RpcMetrics;

    const NOW: u64 = 1_700_000_000_000;

    fn inputs<'a>() -> Inputs<'a> {
        Inputs {
            chain: ChainSnapshot {
                template_received_ms: Some(NOW - 1_000),
                height: 812,
                network_difficulty: 1.0,
            },
            rpc: None,
            now_ms: NOW,
            limits: HealthLimits::default(),
            database: None,
            ledger: LedgerStats::default(),
        }
    }

    #[test]
    fn a_fresh_template_and_a_database_are_healthy() {
        assert_eq!(problems(&inputs()), Vec::<String>::new());
    }

    #[test]
    fn no_template_or_an_old_one_is_a_problem() {
        let mut none = inputs();
        none.chain.template_received_ms = None;
        assert_eq!(problems(&none), ["template: none received yet"]);
        let mut old = inputs();
        old.chain.template_received_ms = Some(NOW - 121_000);
        assert_eq!(
            problems(&old),
            ["template: the newest is 121 s old (limit 120 s), height 812"]
        );
        old.chain.template_received_ms = Some(NOW - 120_000);
        assert!(problems(&old).is_empty(), "the limit itself is fine");
    }

    #[test]
    fn an_unchanged_template_that_bitcoind_confirmed_is_fresh() {
        let rpc = RpcMetrics::default();
        rpc.record("http://a/", "getblocktemplate", Duration::ZERO, Ok(()));
        let snapshot = rpc.snapshot();
        let mut old = inputs();
        old.chain.template_received_ms = Some(NOW - 600_000);
        // The recorded call happened at the real clock's now.
        old.now_ms = unix_ms();
        old.rpc = Some(&snapshot);
        assert!(problems(&old).is_empty(), "{:?}", problems(&old));
    }

    #[test]
    fn every_node_failing_is_named() {
        let rpc = RpcMetrics::default();
        rpc.add_node("http://a/");
        rpc.add_node("http://b/");
        rpc.record(
            "http://a/",
            "getbestblockhash",
            Duration::ZERO,
            Err("unreachable"),
        );
        rpc.record(
            "http://b/",
            "getblocktemplate",
            Duration::ZERO,
            Err("forbidden"),
        );
        let snapshot = rpc.snapshot();
        let mut failing = inputs();
        failing.rpc = Some(&snapshot);
        assert_eq!(
            problems(&failing),
            ["bitcoind: the latest call to every node failed \
              (http://a/ getbestblockhash unreachable, http://b/ getblocktemplate forbidden)"]
        );
    }

    #[test]
    fn database_and_writer_failures_are_named() {
        let timeout = PingError::Timeout(Duration::from_secs(2));
        let mut down = inputs();
        down.database = Some(&timeout);
        down.ledger.failing_writes = 3;
        assert_eq!(
            problems(&down),
            [
                "database: not answering: no answer within 2000 ms",
                "ledger: writes failing, the last 3 transaction(s) were not recorded"
            ]
        );
    }
}
