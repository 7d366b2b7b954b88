//! Connections through a TCP load balancer (`stratum.proxy_protocol`):
//! the PROXY header is read in the connection's own task, and only then
//! does the guard see the miner's address it names, as it would a direct
//! connection's. The parser is [`super::proxy_protocol`].

use super::guard::IpRange;
use super::proxy_protocol::read::{read_header, HeaderFailure};
use super::stats::ProxyRefusal;
use super::{log_refusal, session, unix_millis, Shared};
use crate::template::TemplateSource;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Longest wait for a PROXY header (the handshake timeout if shorter): a
/// balancer sends it at once; the spec asks for at least 3 s, for a TCP
/// retransmit.
pub const PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Who may send a PROXY protocol header, and how long it may take.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxySettings {
    /// The load balancers: connections from anywhere else are closed.
    pub trusted: Vec<IpRange>,
    pub header_timeout: Duration,
}

impl ProxySettings {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|range| range.contains(ip))
    }
}

/// A connection through a load balancer (`balancer`): its PROXY header
/// names the miner, whose address the guard then admits or refuses as it
/// would a direct connection's, and the session serves.
pub(super) async fn serve_proxied<S: TemplateSource>(
    shared: Arc<Shared<S>>,
    mut stream: TcpStream,
    balancer: SocketAddr,
    id: u64,
) {
    let Some(proxy) = shared.settings.proxy_protocol.as_ref() else {
        return;
    };
    if !proxy.trusts(balancer.ip()) {
        refuse_proxied(&shared, balancer, ProxyRefusal::UntrustedPeer, None);
        return;
    }
    let received = match read_header(&mut stream, proxy.header_timeout).await {
        Ok(received) => received,
        Err(failure) => {
            let reason = match &failure {
                HeaderFailure::Malformed(_) => Some(ProxyRefusal::Malformed),
                HeaderFailure::TimedOut { .. } => Some(ProxyRefusal::Timeout),
                // Closed unread: a balancer's plain TCP health check.
                HeaderFailure::Closed { received: 0 } | HeaderFailure::Io { received: 0, .. } => {
                    None
                }
                HeaderFailure::Closed { .. } | HeaderFailure::Io { .. } => {
                    Some(ProxyRefusal::Truncated)
                }
            };
            match reason {
                Some(reason) => refuse_proxied(&shared, balancer, reason, Some(&failure)),
                None => tracing::debug!(%balancer, %failure, "closed before a PROXY header"),
            }
            return;
        }
    };
    // LOCAL and UNKNOWN: the balancer's own connection.
    let peer = received.header.source.unwrap_or(balancer);
    let admission = match shared.guard.admit(peer.ip(), id, unix_millis()) {
        Ok(admission) => admission,
        Err(refusal) => {
            log_refusal(peer, refusal);
            return;
        }
    };
    tracing::debug!(
        session = id,
        %peer,
        %balancer,
        version = received.header.version.name(),
        "proxied connection"
    );
    session::run(shared, stream, peer, id, received.rest).await;
    drop(admission);
}

/// Counts a connection closed for its PROXY header, and logs it as the
/// guard's log gate lets through.
fn refuse_proxied<S>(
    shared: &Shared<S>,
    balancer: SocketAddr,
    reason: ProxyRefusal,
    failure: Option<&HeaderFailure>,
) {
    shared.stats.refuse_proxy_header(reason);
    let Some(unlogged) = shared.guard.refused_proxy_header(unix_millis()) else {
        return;
    };
    let reason = reason.name();
    match failure {
        None => tracing::info!(
            peer = %balancer,
            reason,
            unlogged,
            "connection refused: not a trusted load balancer (stratum.proxy_trusted)"
        ),
        Some(failure) => tracing::info!(
            peer = %balancer,
            reason,
            %failure,
            unlogged,
            "connection refused: no valid PROXY protocol header"
        ),
    }
}
