//! `/metrics`: the pool's counters in Prometheus' text format. Every name
//! starts with `pool_` and ends with its unit; counters end in `_total`.

use super::health::{unix_ms, work_confirmed_ms};
use super::prometheus::{Exposition, Kind, CONTENT_TYPE};
use super::WebState;
use crate::ledger::{BlockStatus, LedgerStats};
use crate::server::guard::GuardSnapshot;
use crate::server::stats::{ChainSnapshot, StatsSnapshot};
use crate::template::rpc_metrics::{LastCall, RpcSnapshot};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The database's answers (a ping, the block counts): a scrape does not
/// wait longer for them (the rest of the page is in memory).
const LEDGER_QUERY_TIMEOUT: Duration = Duration::from_secs(1);

pub async fn metrics(State(state): State<Arc<WebState>>) -> impl IntoResponse {
    let stats = state.stats.snapshot();
    let hashrate = state
        .ops
        .hashrate
        .rate(Instant::now(), stats.accepted_difficulty);
    let (ping, blocks) = tokio::join!(
        state.ledger.ping(LEDGER_QUERY_TIMEOUT),
        tokio::time::timeout(LEDGER_QUERY_TIMEOUT, state.ledger.block_counts()),
    );
    let blocks = match blocks {
        Ok(Ok(counts)) => Some(counts),
        Ok(Err(error)) => {
            tracing::debug!(%error, "block counts for /metrics failed");
            None
        }
        Err(_) => None,
    };
    let rpc = state.ops.rpc.as_ref().map(|rpc| rpc.snapshot());
    let now_ms = unix_ms();
    let refusals = state
        .ops
        .refusals
        .as_ref()
        .map(|refusals| refusals.snapshot());
    let text = render(&Scrape {
        uptime_secs: state.started.elapsed().as_secs_f64(),
        guard: state.guard.snapshot(now_ms as i64),
        stats,
        hashrate,
        chain: state.stats.chain(),
        now_ms,
        rpc: rpc.as_ref(),
        template_refusals: refusals.as_deref(),
        ledger: state.ledger.stats(),
        database_up: ping.is_ok(),
        blocks,
    });
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text)
}

/// Everything one scrape shows, read beforehand.
pub struct Scrape<'a> {
    pub uptime_secs: f64,
    pub stats: StatsSnapshot,
    /// Bans and refused connections.
    pub guard: GuardSnapshot,
    /// Hashes per second over the last minutes.
    pub hashrate: f64,
    pub chain: ChainSnapshot,
    pub now_ms: u64,
    pub rpc: Option<&'a RpcSnapshot>,
    /// Templates refused by reason; `None` for a source without a gate.
    pub template_refusals: Option<&'a [(&'static str, u64)]>,
    pub ledger: LedgerStats,
    /// The database answered `/health`'s query in time.
    pub database_up: bool,
    /// `None` when the database did not answer in time.
    pub blocks: Option<Vec<(BlockStatus, u64)>>,
}

pub fn render(scrape: &Scrape<'_>) -> String {
    let mut out = Exposition::default();
    out.family(
        "pool_uptime_seconds",
        Kind::Gauge,
        "Seconds since the pool started.",
    )
    .sample("pool_uptime_seconds", &[], scrape.uptime_secs);
    shares(&mut out, &scrape.stats, scrape.hashrate);
    connections(&mut out, &scrape.stats, &scrape.guard);
    bans(&mut out, &scrape.guard);
    blocks(&mut out, &scrape.stats, scrape.blocks.as_deref());
    chain(&mut out, scrape);
    if let Some(refusals) = scrape.template_refusals {
        template_refusals(&mut out, refusals);
    }
    if let Some(rpc) = scrape.rpc {
        bitcoind(&mut out, rpc);
    }
    ledger(&mut out, &scrape.ledger, scrape.database_up);
    out.finish()
}

fn shares(out: &mut Exposition, stats: &StatsSnapshot, hashrate: f64) {
    out.family(
        "pool_shares_total",
        Kind::Counter,
        "Shares submitted, by outcome: accepted, or the reason they were rejected.",
    )
    .sample(
        "pool_shares_total",
        &[("outcome", "accepted")],
        stats.shares_accepted,
    );
    for (reason, count) in &stats.rejected {
        out.sample("pool_shares_total", &[("outcome", *reason)], *count);
    }
    out.family(
        "pool_accepted_difficulty_total",
        Kind::Counter,
        "Sum of the difficulty of accepted shares (each is difficulty x 2^32 expected hashes).",
    )
    .sample(
        "pool_accepted_difficulty_total",
        &[],
        stats.accepted_difficulty,
    );
    out.family(
        "pool_hashrate_hashes_per_second",
        Kind::Gauge,
        "The pool's hashrate from accepted shares over the last 5 minutes (since the start before that).",
    )
    .sample("pool_hashrate_hashes_per_second", &[], hashrate);
}

fn connections(out: &mut Exposition, stats: &StatsSnapshot, guard: &GuardSnapshot) {
    out.family(
        "pool_connections_open",
        Kind::Gauge,
        "Miner connections open now.",
    )
    .sample("pool_connections_open", &[], stats.connections_open);
    out.family(
        "pool_connections_total",
        Kind::Counter,
        "Miner connections accepted.",
    )
    .sample("pool_connections_total", &[], stats.connections_total);
    out.family(
        "pool_connections_refused_total",
        Kind::Counter,
        "Miner connections refused, by reason: max_connections (the pool was full), per_ip_limit (stratum.max_connections_per_ip), banned.",
    );
    for (reason, count) in [
        ("max_connections", stats.connections_refused),
        ("per_ip_limit", guard.refused_per_ip),
        ("banned", guard.refused_banned),
    ] {
        out.sample(
            "pool_connections_refused_total",
            &[("reason", reason)],
            count,
        );
    }
    out.family(
        "pool_proxy_header_refused_total",
        Kind::Counter,
        "Connections closed before their session for their PROXY protocol header (stratum.proxy_protocol), by reason: untrusted_peer (not in stratum.proxy_trusted), malformed, timeout, truncated.",
    );
    for (reason, count) in &stats.proxy_header_refused {
        out.sample(
            "pool_proxy_header_refused_total",
            &[("reason", *reason)],
            *count,
        );
    }
    out.family(
        "pool_slow_miners_dropped_total",
        Kind::Counter,
        "Miners disconnected for not reading what the pool sent them.",
    )
    .sample(
        "pool_slow_miners_dropped_total",
        &[],
        stats.slow_miners_dropped,
    );
    out.family(
        "pool_work_coalesced_total",
        Kind::Counter,
        "New work that replaced work a miner had not taken yet (it gets the newest job, not a backlog).",
    )
    .sample("pool_work_coalesced_total", &[], stats.work_coalesced);
    out.family(
        "pool_shares_awaiting_ledger",
        Kind::Gauge,
        "Accepted shares whose ledger commit has not finished (their answers wait for it).",
    )
    .sample(
        "pool_shares_awaiting_ledger",
        &[],
        stats.shares_awaiting_ledger,
    );
    out.family(
        "pool_protocol_errors_total",
        Kind::Counter,
        "Connections closed for bytes that are not Stratum.",
    )
    .sample("pool_protocol_errors_total", &[], stats.protocol_errors);
}

fn bans(out: &mut Exposition, guard: &GuardSnapshot) {
    out.family(
        "pool_bans_total",
        Kind::Counter,
        "Connections closed for mostly invalid shares, by scope: ip (the address refused for bans.ban_secs), connection (an allow-listed address: only the connection closed).",
    )
    .sample("pool_bans_total", &[("scope", "ip")], guard.bans_total)
    .sample(
        "pool_bans_total",
        &[("scope", "connection")],
        guard.allowlisted_closed_total,
    );
    out.family(
        "pool_bans_active",
        Kind::Gauge,
        "Addresses (IPv4, or IPv6 /64) banned now.",
    )
    .sample("pool_bans_active", &[], guard.bans_active);
}

fn blocks(out: &mut Exposition, stats: &StatsSnapshot, ledger: Option<&[(BlockStatus, u64)]>) {
    out.family(
        "pool_blocks_found_total",
        Kind::Counter,
        "Block solutions found by miners since the start.",
    )
    .sample("pool_blocks_found_total", &[], stats.blocks_found);
    out.family(
        "pool_blocks_accepted_total",
        Kind::Counter,
        "Block solutions a node accepted since the start.",
    )
    .sample("pool_blocks_accepted_total", &[], stats.blocks_accepted);
    out.family(
        "pool_block_siblings_total",
        Kind::Counter,
        "Block solutions on a parent that already had a block of ours a node held: recorded, not submitted.",
    )
    .sample("pool_block_siblings_total", &[], stats.block_siblings);
    out.family(
        "pool_blocks_unsubmitted_total",
        Kind::Counter,
        "Block solutions not submitted because the submission queue was full.",
    )
    .sample(
        "pool_blocks_unsubmitted_total",
        &[],
        stats.blocks_unsubmitted,
    );
    out.family(
        "pool_block_submissions_queued",
        Kind::Gauge,
        "Block solutions waiting to be submitted.",
    )
    .sample(
        "pool_block_submissions_queued",
        &[],
        stats.block_submissions_queued,
    );
    out.family(
        "pool_ledger_blocks",
        Kind::Gauge,
        "Blocks in the ledger by status (submitted, confirmed, orphaned), from every pool node.",
    );
    for (status, count) in ledger.unwrap_or_default() {
        out.sample("pool_ledger_blocks", &[("status", status.name())], *count);
    }
}

fn chain(out: &mut Exposition, scrape: &Scrape<'_>) {
    let age_secs = work_confirmed_ms(&scrape.chain, scrape.rpc).map_or(f64::INFINITY, |at| {
        scrape.now_ms.saturating_sub(at) as f64 / 1000.0
    });
    out.family(
        "pool_template_age_seconds",
        Kind::Gauge,
        "Seconds since the template source last gave or confirmed the current work (+Inf before the first template).",
    )
    .sample("pool_template_age_seconds", &[], age_secs);
    if scrape.chain.template_received_ms.is_some() {
        out.family(
            "pool_template_height",
            Kind::Gauge,
            "Height of the block the current template builds.",
        )
        .sample("pool_template_height", &[], u64::from(scrape.chain.height));
        out.family(
            "pool_network_difficulty",
            Kind::Gauge,
            "Network difficulty of the current template.",
        )
        .sample(
            "pool_network_difficulty",
            &[],
            scrape.chain.network_difficulty,
        );
    }
}

fn template_refusals(out: &mut Exposition, refusals: &[(&'static str, u64)]) {
    out.family(
        "pool_templates_refused_total",
        Kind::Counter,
        "Templates refused before any job was built on them, by reason (the last good template stayed in force).",
    );
    for (reason, count) in refusals {
        out.sample(
            "pool_templates_refused_total",
            &[("reason", *reason)],
            *count,
        );
    }
}

fn bitcoind(out: &mut Exposition, rpc: &RpcSnapshot) {
    out.family(
        "pool_bitcoind_rpc_duration_seconds",
        Kind::Histogram,
        "Time of each bitcoind RPC call by method, failed calls included.",
    );
    for (method, latency) in &rpc.latency {
        out.histogram(
            "pool_bitcoind_rpc_duration_seconds",
            &[("method", *method)],
            latency,
        );
    }
    out.family(
        "pool_bitcoind_rpc_errors_total",
        Kind::Counter,
        "Failed bitcoind RPC calls by method and kind (unreachable, bad_credentials, node, bad_template, ...).",
    );
    for (method, kind, count) in &rpc.errors {
        out.sample(
            "pool_bitcoind_rpc_errors_total",
            &[("method", *method), ("kind", *kind)],
            *count,
        );
    }
    out.family(
        "pool_bitcoind_node_up",
        Kind::Gauge,
        "1 when the node's latest RPC call succeeded (or none was made yet), 0 when it failed.",
    );
    for node in &rpc.nodes {
        let up = u64::from(!matches!(node.last, LastCall::Failed { .. }));
        out.sample("pool_bitcoind_node_up", &[("node", &node.url)], up);
    }
}

fn ledger(out: &mut Exposition, ledger: &LedgerStats, database_answered: bool) {
    out.family(
        "pool_ledger_commit_duration_seconds",
        Kind::Histogram,
        "Time of each ledger write transaction (a batch of shares, or blocks), failed ones included.",
    )
    .histogram(
        "pool_ledger_commit_duration_seconds",
        &[],
        &ledger.commit_latency,
    );
    out.family(
        "pool_ledger_queue_depth",
        Kind::Gauge,
        "Writes waiting for the ledger's writer.",
    )
    .sample("pool_ledger_queue_depth", &[], ledger.queued);
    out.family(
        "pool_ledger_shares_written_total",
        Kind::Counter,
        "Shares committed to the ledger.",
    )
    .sample(
        "pool_ledger_shares_written_total",
        &[],
        ledger.shares_written,
    );
    out.family(
        "pool_ledger_write_failures_total",
        Kind::Counter,
        "Ledger transactions that failed; their shares were rejected as not recorded.",
    )
    .sample("pool_ledger_write_failures_total", &[], ledger.write_errors);
    out.family(
        "pool_ledger_failing_writes",
        Kind::Gauge,
        "Ledger transactions failed in a row since the last one that committed (0: writing fine).",
    )
    .sample("pool_ledger_failing_writes", &[], ledger.failing_writes);
    out.family(
        "pool_database_up",
        Kind::Gauge,
        "1 when the database answered /health's query during this scrape, else 0.",
    )
    .sample("pool_database_up", &[], u64::from(database_answered));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::stats::{ProxyRefusal, Reject, ServerStats};

    #[test]
    fn every_reject_is_an_outcome_and_missing_data_leaves_families_empty() {
        let stats = ServerStats::default();
        stats.accept(2.5);
        stats.reject(Reject::Stale);
        stats.refuse_proxy_header(ProxyRefusal::Malformed);
        let guard = GuardSnapshot {
            bans_total: 3,
            bans_active: 2,
            refused_banned: 7,
            refused_per_ip: 5,
            ..GuardSnapshot::default()
        };
        let text = render(&Scrape {
            uptime_secs: 1.0,
            stats: stats.snapshot(),
            guard,
            hashrate: 0.0,
            chain: ChainSnapshot::default(),
            now_ms: 1,
            rpc: None,
            template_refusals: None,
            ledger: LedgerStats::default(),
            database_up: false,
            blocks: None,
        });
        assert!(text.contains("pool_shares_total{outcome=\"accepted\"} 1\n"));
        for reject in Reject::ALL {
            let expected = u64::from(reject == Reject::Stale);
            let line = format!(
                "pool_shares_total{{outcome=\"{}\"}} {expected}\n",
                reject.name()
            );
            assert!(text.contains(&line), "{line}");
        }
        assert!(text.contains("pool_accepted_difficulty_total 2.5\n"));
        assert!(text.contains("pool_template_age_seconds +Inf\n"));
        assert!(!text.contains("pool_template_height"), "no template yet");
        assert!(!text.contains("pool_bitcoind"), "no RPC on this source");
        assert!(
            !text.contains("pool_templates_refused"),
            "no gate on this source"
        );
        assert!(text.contains("# TYPE pool_ledger_blocks gauge\n# HELP pool_template_age_seconds"));
        assert!(text.contains("pool_database_up 0\n"));
        for line in [
            "pool_connections_refused_total{reason=\"max_connections\"} 0\n",
            "pool_connections_refused_total{reason=\"per_ip_limit\"} 5\n",
            "pool_connections_refused_total{reason=\"banned\"} 7\n",
            "pool_bans_total{scope=\"ip\"} 3\n",
            "pool_bans_total{scope=\"connection\"} 0\n",
            "pool_bans_active 2\n",
            "pool_proxy_header_refused_total{reason=\"untrusted_peer\"} 0\n",
            "pool_proxy_header_refused_total{reason=\"malformed\"} 1\n",
            "pool_proxy_header_refused_total{reason=\"timeout\"} 0\n",
            "pool_proxy_header_refused_total{reason=\"truncated\"} 0\n",
        ] {
            assert!(text.contains(line), "{line}");
        }
    }

    #[test]
    fn template_refusals_are_counted_by_reason_zeros_included() {
        use crate::template::{RefusalReason, TemplateRefusals};
        let refusals = TemplateRefusals::default();
        refusals.record(RefusalReason::FeesExceedValue);
        refusals.record(RefusalReason::FeesExceedValue);
        refusals.record(RefusalReason::BitsZero);
        let snapshot = refusals.snapshot();
        let text = render(&Scrape {
            uptime_secs: 1.0,
            guard: GuardSnapshot::default(),
            stats: ServerStats::default().snapshot(),
            hashrate: 0.0,
            chain: ChainSnapshot::default(),
            now_ms: 1,
            rpc: None,
            template_refusals: Some(&snapshot),
            ledger: LedgerStats::default(),
            database_up: true,
            blocks: None,
        });
        assert!(text.contains("# TYPE pool_templates_refused_total counter\n"));
        for reason in RefusalReason::ALL {
            let expected = match reason {
                RefusalReason::FeesExceedValue => 2,
                RefusalReason::BitsZero => 1,
                _ => 0,
            };
            let line = format!(
                "pool_templates_refused_total{{reason=\"{}\"}} {expected}\n",
                reason.name()
            );
            assert!(text.contains(&line), "{line}");
        }
    }
}
