//! What `/metrics` and `/health` need beyond the pages' state: the
//! template source's RPC metrics, the health limits and the hashrate ring.

use super::hashrate::HashrateWindow;
use super::health::HealthLimits;
use crate::server::stats::ServerStats;
use crate::template::rpc_metrics::RpcMetrics;
use crate::template::TemplateRefusals;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug)]
pub struct OpsState {
    /// `None` for a source without RPC calls (the simnet).
    pub rpc: Option<Arc<RpcMetrics>>,
    /// Templates the source refused; `None` for a source without a gate.
    pub refusals: Option<Arc<TemplateRefusals>>,
    pub limits: HealthLimits,
    pub hashrate: HashrateWindow,
}

impl OpsState {
    /// Starts the hashrate window at `stats`' counter as it is now.
    pub fn new(
        rpc: Option<Arc<RpcMetrics>>,
        limits: HealthLimits,
        stats: &ServerStats,
    ) -> OpsState {
        let accepted = stats.accepted_difficulty.get();
        OpsState {
            rpc,
            refusals: None,
            limits,
            hashrate: HashrateWindow::starting_at(Instant::now(), accepted),
        }
    }

    /// Shows the source's template refusals in `/metrics`.
    pub fn with_template_refusals(mut self, refusals: Option<Arc<TemplateRefusals>>) -> OpsState {
        self.refusals = refusals;
        self
    }
}
