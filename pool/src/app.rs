//! The composition root: a running pool is a template source, the ledger,
//! the Stratum server and the web listener, started in that order and
//! stopped in the reverse. `pool run`, `pool demo` and the end-to-end tests
//! all start pools through here.

use crate::block::BlockStore;
use crate::config::{Config, TemplateSourceKind};
use crate::jobs::JobSettings;
use crate::ledger::{Ledger, LedgerError};
use crate::server::stats::ServerStats;
use crate::server::{Server, ServerSettings};
use crate::template::bitcoind::{BitcoindError, BitcoindSource};
use crate::template::simnet::SimnetSource;
use crate::template::TemplateSource;
use crate::web::health::HealthLimits;
use crate::web::ops::OpsState;
use crate::web::{self, WebState};
use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("starting the bitcoind source: {0}")]
    Bitcoind(#[from] BitcoindError),
    #[error("opening the ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("cannot listen for {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running pool.
pub struct Pool {
    server: Server,
    ledger: Ledger,
    web_addr: SocketAddr,
    web: JoinHandle<std::io::Result<()>>,
    web_shutdown: watch::Sender<bool>,
    /// Keeps the template source (and its background tasks) alive.
    _source: Arc<dyn Any + Send + Sync>,
}

impl Pool {
    /// Starts the source the config names, then everything else.
    pub async fn start(config: &Config) -> Result<Pool, StartError> {
        match config.chain.source {
            TemplateSourceKind::Bitcoind => {
                let source = BitcoindSource::start(
                    config.bitcoind.clone(),
                    config.pool.network,
                    &config.chain,
                )?;
                Pool::start_with_source(config, Arc::new(source)).await
            }
            TemplateSourceKind::Simnet => {
                let source = SimnetSource::start(&config.simnet, &config.chain);
                Pool::start_with_source(config, Arc::new(source)).await
            }
        }
    }

    /// Starts a pool on a source the caller made (and may keep a handle to).
    pub async fn start_with_source<S: TemplateSource>(
        config: &Config,
        source: Arc<S>,
    ) -> Result<Pool, StartError> {
        Pool::start_with_limits(config, source, HealthLimits::default()).await
    }

    /// [`Pool::start_with_source`] with other `/health` limits (tests use
    /// short ones).
    pub async fn start_with_limits<S: TemplateSource>(
        config: &Config,
        source: Arc<S>,
        health: HealthLimits,
    ) -> Result<Pool, StartError> {
        let address = config
            .pool_address()
            .map_err(|problem| StartError::Config(problem.to_string()))?;
        let ledger =
            Ledger::open_with(&config.database.url, config.database.ledger_options()).await?;
        let server = Server::start(
            ServerSettings::from_config(config),
            JobSettings::from_config(config, address.script_pubkey()),
            Arc::clone(&source),
            ledger.clone(),
            BlockStore::new(&config.chain.blocks_dir),
        )
        .await
        .map_err(|source| StartError::Bind {
            what: "miners",
            addr: config.stratum.listen,
            source,
        })?;
        let listener = TcpListener::bind(config.web.listen)
            .await
            .map_err(|source| StartError::Bind {
                what: "the web page",
                addr: config.web.listen,
                source,
            })?;
        let web_addr = listener.local_addr().map_err(|source| StartError::Bind {
            what: "the web page",
            addr: config.web.listen,
            source,
        })?;
        if let Some(alerts) = crate::alerts::Alerts::start(
            &config.alerts,
            ledger.clone(),
            server.workers(),
            server.shutdown_signal(),
        ) {
            server.set_alerts(alerts);
        }
        let stratum_addr = server.local_addr();
        let state = Arc::new(WebState {
            stats: server.stats(),
            workers: server.workers(),
            guard: server.guard(),
            ledger: ledger.clone(),
            started: Instant::now(),
            network: config.pool.network,
            mode: config.pool.mode,
            fee_percent: config.pool.fee_percent,
            stratum_url: format!("stratum+tcp://{stratum_addr}"),
            alerts: config.alerts.clone(),
            // Five tries per address per ten minutes: enough for a miner
            // fumbling with a wallet, too few to grind at signatures.
            settings_limit: crate::web::RateLimit::new(5, std::time::Duration::from_secs(600)),
            ops: OpsState::new(source.rpc_metrics(), health, &server.stats())
                .with_template_refusals(source.template_refusals()),
        });
        let (web_shutdown, web_stop) = watch::channel(false);
        let web = tokio::spawn(web::serve(listener, state, web_stop));
        tracing::info!(%web_addr, "web listening");
        Ok(Pool {
            server,
            ledger,
            web_addr,
            web,
            web_shutdown,
            _source: source,
        })
    }

    pub fn stratum_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn web_addr(&self) -> SocketAddr {
        self.web_addr
    }

    pub fn stats(&self) -> Arc<ServerStats> {
        self.server.stats()
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Stops taking miners and pages, waits for sessions to end, then
    /// flushes and closes the ledger.
    pub async fn shutdown(self) {
        let _ = self.web_shutdown.send(true);
        self.server.shutdown().await;
        let _ = self.web.await;
        self.ledger.close().await;
    }
}
