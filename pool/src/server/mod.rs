//! The Stratum V1 server: accepts miners, runs one session per connection,
//! and turns new templates into work for all of them.
//!
//! The network shell is thin: [`session`] moves lines between the socket
//! and the sans-io `stratum` crate, the job manager, vardiff, the share
//! validator and the ledger. New work reaches sessions through a watch
//! channel, so a slow miner never holds up the others: each session reads
//! the latest generation when it gets to it, and its outgoing queue is
//! bounded (a miner that cannot keep up is dropped).

mod fdlimit;
pub mod guard;
mod outbox;
mod proxied;
pub mod proxy_protocol;
pub(crate) mod session;
pub mod solutions;
pub mod stats;
pub(crate) mod submitter;
pub mod workers;

pub(crate) use outbox::Line;

use crate::alerts::Alerts;
use crate::block::BlockStore;
pub(crate) use crate::clock::unix_millis;
use crate::config::{Config, PayoutMode};
use crate::extranonce::Extranonce1Allocator;
use crate::jobs::{JobManager, JobSettings, TemplateChange};
use crate::ledger::Ledger;
use crate::template::TemplateSource;
use guard::{BanRules, Guard, GuardSettings, Refusal, RefusalReason};
pub use proxied::{ProxySettings, PROXY_HEADER_TIMEOUT};
use stats::ServerStats;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stratum::{Difficulty, VersionMask};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use workers::WorkerBoard;

/// What the server needs from the configuration, already checked.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub network: bitcoin::Network,
    pub mode: PayoutMode,
    pub node_prefix: u8,
    pub extranonce2_size: usize,
    pub version_mask: VersionMask,
    pub start_difficulty: Difficulty,
    pub min_difficulty: Difficulty,
    pub max_difficulty: Option<Difficulty>,
    pub share_interval: Duration,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    /// How long a replaced job stays answerable (`chain.stale_window_secs`):
    /// a session forgets the jobs it replaced longer ago, as the job
    /// manager does.
    pub stale_window: Duration,
    /// Workers one connection may authorize.
    pub max_workers_per_connection: usize,
    /// 0: derive from the file-descriptor limit.
    pub max_connections: usize,
    /// Per-address limits and bans.
    pub guard: GuardSettings,
    /// How shares and blocks are credited.
    pub credit: crate::payouts::CreditSettings,
    /// `Some`: every connection comes through a load balancer and begins
    /// with a PROXY protocol header.
    pub proxy_protocol: Option<ProxySettings>,
}

impl ServerSettings {
    /// From a validated config (the checks already ran, so no errors here).
    pub fn from_config(config: &Config) -> ServerSettings {
        let bounds = config
            .stratum
            .difficulty_bounds()
            .expect("validated difficulty bounds");
        ServerSettings {
            listen: config.stratum.listen,
            network: config.pool.network.to_bitcoin(),
            mode: config.pool.mode,
            node_prefix: config.stratum.node_prefix,
            extranonce2_size: config.stratum.extranonce2_size,
            version_mask: config
                .stratum
                .parsed_version_mask()
                .expect("validated version mask"),
            start_difficulty: bounds.start,
            min_difficulty: bounds.min,
            max_difficulty: bounds.max,
            share_interval: Duration::from_secs_f64(config.stratum.share_interval_secs),
            handshake_timeout: Duration::from_secs(config.stratum.handshake_timeout_secs),
            idle_timeout: Duration::from_secs(config.stratum.idle_timeout_secs),
            stale_window: Duration::from_secs(config.chain.stale_window_secs),
            max_workers_per_connection: config.stratum.max_workers_per_connection,
            max_connections: config.stratum.max_connections,
            guard: GuardSettings {
                max_connections_per_ip: config.stratum.max_connections_per_ip,
                allowlist: config
                    .stratum
                    .parsed_allowlist()
                    .expect("validated allow-list"),
                bans: config.bans.enabled.then(|| BanRules {
                    window_ms: secs_to_ms(config.bans.window_secs),
                    invalid_percent: config.bans.invalid_percent,
                    min_shares: config.bans.min_shares,
                    ban_ms: secs_to_ms(config.bans.ban_secs),
                }),
            },
            credit: crate::payouts::CreditSettings::from_config(config),
            proxy_protocol: config.stratum.proxy_protocol.then(|| ProxySettings {
                trusted: config
                    .stratum
                    .parsed_proxy_trusted()
                    .expect("validated proxy_trusted"),
                header_timeout: PROXY_HEADER_TIMEOUT
                    .min(Duration::from_secs(config.stratum.handshake_timeout_secs)),
            }),
        }
    }
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// What every session shares.
pub(crate) struct Shared<S> {
    pub settings: ServerSettings,
    pub source: Arc<S>,
    pub jobs: Mutex<JobManager>,
    /// Bumped on every change of work; sessions fetch their job when it moves.
    pub generation: watch::Sender<Published>,
    pub ledger: Ledger,
    pub store: BlockStore,
    /// Block solutions already handled: each is built and sent once.
    pub solutions: solutions::Solutions,
    /// Solutions on their way to the nodes, one at a time.
    pub blocks: submitter::Queue,
    /// Parents that already have a block of ours: a solution on one is a
    /// sibling, never submitted.
    pub held: submitter::Held,
    pub allocator: Extranonce1Allocator,
    pub stats: Arc<ServerStats>,
    pub workers: Arc<WorkerBoard>,
    /// Set once alerts are configured and started.
    pub alerts: Arc<OnceLock<Alerts>>,
    /// Connections per address, bans, and each connection's recent shares.
    pub guard: Arc<Guard>,
    pub shutdown: watch::Receiver<bool>,
}

impl<S> Shared<S> {
    /// The job manager; a poisoned lock (a panic elsewhere) still holds
    /// consistent data, so it is used rather than taking the pool down.
    pub fn jobs(&self) -> std::sync::MutexGuard<'_, JobManager> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a change of work publishes to every session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Published {
    /// Counts changes; sessions wake when it moves.
    pub generation: u64,
    /// The job every miner gets (not in solo mode, where each coinbase pays
    /// its own miner): read through the channel, so a new block costs no
    /// lock of the job manager per session.
    pub job: Option<Arc<crate::jobs::PoolJob>>,
}

/// A running server.
pub struct Server {
    local_addr: SocketAddr,
    stats: Arc<ServerStats>,
    workers: Arc<WorkerBoard>,
    alerts: Arc<OnceLock<Alerts>>,
    guard: Arc<Guard>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Binds the listener and starts accepting miners and following templates.
    pub async fn start<S: TemplateSource>(
        settings: ServerSettings,
        jobs: JobSettings,
        source: Arc<S>,
        ledger: Ledger,
        store: BlockStore,
    ) -> std::io::Result<Server> {
        let listener = listen(settings.listen)?;
        let local_addr = listener.local_addr()?;
        let max_connections = match settings.max_connections {
            0 => fdlimit::connection_limit(),
            configured => configured,
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let stats = Arc::new(ServerStats::default());
        let workers = Arc::new(WorkerBoard::default());
        let alerts = Arc::new(OnceLock::new());
        let guard = Arc::new(Guard::new(settings.guard.clone()));
        // Restarts begin elsewhere in the extranonce space, so a miner that
        // reconnects at once does not get the value it just had.
        let start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as u32)
            .unwrap_or(0);
        let (blocks, solutions) = submitter::queue();
        let shared = Arc::new(Shared {
            allocator: Extranonce1Allocator::new(
                settings.node_prefix,
                start.wrapping_mul(2654435761),
            ),
            settings,
            source,
            jobs: Mutex::new(JobManager::new(jobs)),
            generation: watch::channel(Published::default()).0,
            ledger,
            store,
            solutions: Default::default(),
            blocks,
            held: Default::default(),
            stats: Arc::clone(&stats),
            workers: Arc::clone(&workers),
            alerts: Arc::clone(&alerts),
            guard: Arc::clone(&guard),
            shutdown: shutdown_rx,
        });
        tracing::info!(%local_addr, max_connections, "stratum listening");
        let tasks = vec![
            tokio::spawn(submitter::run(Arc::clone(&shared), solutions)),
            tokio::spawn(follow_templates(Arc::clone(&shared))),
            tokio::spawn(accept(listener, shared, max_connections)),
        ];
        Ok(Server {
            local_addr,
            stats,
            workers,
            alerts,
            guard,
            shutdown,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn stats(&self) -> Arc<ServerStats> {
        Arc::clone(&self.stats)
    }

    /// Where found blocks are announced (once, after start).
    pub fn set_alerts(&self, alerts: Alerts) {
        let _ = self.alerts.set(alerts);
    }

    /// A receiver that turns true when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// The live board of workers.
    pub fn workers(&self) -> Arc<WorkerBoard> {
        Arc::clone(&self.workers)
    }

    /// Per-address limits and bans.
    pub fn guard(&self) -> Arc<Guard> {
        Arc::clone(&self.guard)
    }

    /// Stops accepting, closes every session and waits for the tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Connections the kernel may hold for the accept loop. After a restart or
/// a network blip every miner reconnects at once: the usual 128 overflows,
/// and the overflow waits seconds for SYN retries (or, with SYN cookies,
/// is connected on the miner's side only until it sends). The kernel caps
/// it at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the Stratum listener with [`LISTEN_BACKLOG`].
fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restarted pool rebinds at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// How long an offline worker stays on the board (a day: its page still
/// shows what it did).
const WORKER_MEMORY_MS: i64 = 86_400_000;

/// Feeds templates to the job manager and tells sessions when work changed.
async fn follow_templates<S: TemplateSource>(shared: Arc<Shared<S>>) {
    let mut templates = shared.source.templates();
    let mut shutdown = shared.shutdown.clone();
    let mut expiry = tokio::time::interval(Duration::from_secs(10));
    loop {
        if let Some(template) = templates.borrow_and_update().clone() {
            let height = template.height;
            let network_difficulty = template.nbits.difficulty().unwrap_or(0.0);
            shared
                .stats
                .template_seen(height, network_difficulty, unix_millis() as u64);
            {
                let mut jobs = shared.jobs();
                let change = jobs
                    .on_template(template, Instant::now())
                    .unwrap_or_else(|error| {
                        // The source's gate refuses such templates; the
                        // current work stays either way.
                        tracing::warn!(%error, height, "template refused by the job manager");
                        TemplateChange::Unchanged
                    });
                let mut job = None;
                if change != TemplateChange::Unchanged && shared.settings.mode != PayoutMode::Solo {
                    match jobs.current_job(None) {
                        Ok(built) => job = Some(built),
                        Err(error) => {
                            tracing::error!(%error, height, "cannot build a job from this template")
                        }
                    }
                }
                if change != TemplateChange::Unchanged {
                    tracing::debug!(height, ?change, "new work");
                    // Under the job manager's lock: a session that finds
                    // a job replaced also finds the new generation, and
                    // sends the new work before its answer.
                    shared.generation.send_modify(|published| {
                        published.generation += 1;
                        published.job = job;
                    });
                }
            };
        }
        tokio::select! {
            changed = templates.changed() => {
                if changed.is_err() {
                    tracing::error!("the template source stopped");
                    return;
                }
            }
            _ = expiry.tick() => {
                shared.jobs().expire(Instant::now());
                shared.workers.prune(unix_millis() - WORKER_MEMORY_MS);
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn accept<S: TemplateSource>(listener: TcpListener, shared: Arc<Shared<S>>, max: usize) {
    let permits = Arc::new(Semaphore::new(max.max(1)));
    let mut shutdown = shared.shutdown.clone();
    let mut sessions = tokio::task::JoinSet::new();
    let mut next_session = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        next_session += 1;
        let id = next_session;
        // Refused connections are dropped here, which closes them.
        let now_ms = unix_millis();
        if shared.settings.proxy_protocol.is_some() {
            // The miner's address comes with the header, read in the
            // connection's own task (a slow sender holds up no one else),
            // which holds its place under max_connections meanwhile.
            let Some(permit) = place(&permits, &shared, peer, max, now_ms) else {
                continue;
            };
            let shared = Arc::clone(&shared);
            sessions.spawn(async move {
                proxied::serve_proxied(shared, stream, peer, id).await;
                drop(permit);
            });
            continue;
        }
        let admission = match shared.guard.admit(peer.ip(), id, now_ms) {
            Ok(admission) => admission,
            Err(refusal) => {
                log_refusal(peer, refusal);
                continue;
            }
        };
        let Some(permit) = place(&permits, &shared, peer, max, now_ms) else {
            continue;
        };
        let shared = Arc::clone(&shared);
        sessions.spawn(async move {
            session::run(shared, stream, peer, id, Vec::new()).await;
            drop(permit);
            drop(admission);
        });
    }
    sessions.shutdown().await;
}

/// A place under `stratum.max_connections`, or the refusal counted and
/// logged.
fn place<S>(
    permits: &Arc<Semaphore>,
    shared: &Shared<S>,
    peer: SocketAddr,
    max: usize,
    now_ms: i64,
) -> Option<OwnedSemaphorePermit> {
    let Ok(permit) = Arc::clone(permits).try_acquire_owned() else {
        shared
            .stats
            .connections_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let refusal = Refusal {
            reason: RefusalReason::MaxConnections { limit: max },
            log: shared.guard.refused_at_capacity(now_ms),
        };
        log_refusal(peer, refusal);
        return None;
    };
    Some(permit)
}

/// One line per refusal, as many as the guard's log gate lets through
/// (`unlogged`: refusals since the previous line that were not logged).
fn log_refusal(peer: SocketAddr, refusal: Refusal) {
    let Some(unlogged) = refusal.log else {
        return;
    };
    let reason = refusal.reason.name();
    match refusal.reason {
        RefusalReason::Banned { until_ms } => tracing::info!(
            %peer,
            reason,
            until_ms,
            unlogged,
            "connection refused: the address is banned"
        ),
        RefusalReason::PerIpLimit { limit } => tracing::info!(
            %peer,
            reason,
            limit,
            unlogged,
            "connection refused: too many connections from this address (stratum.max_connections_per_ip)"
        ),
        RefusalReason::MaxConnections { limit } => tracing::warn!(
            %peer,
            reason,
            limit,
            unlogged,
            "connection refused: the pool is at its connection limit"
        ),
    }
}
