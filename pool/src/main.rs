//! The pool binary: a thin shell over the `pool` library.
//!
//! Exit codes: 0 ok, 1 a failure (a `check` line, or `run` stopping on an
//! error), 2 a configuration that does not load or a bad command line.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use pool::check::check;
use pool::config::{Config, PayoutMode, TemplateSourceKind};
use pool::jobs::{JobManager, JobSettings, TemplateChange};
use pool::template::{Template, TemplateSource};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

/// A Bitcoin mining pool: Stratum V1 for miners, vardiff, a durable share
/// ledger and PPS, FPPS, PPLNS or SOLO payouts.
#[derive(Parser)]
#[command(name = "pool", version, about)]
struct Cli {
    /// Log filter, like `info` or `pool=debug,warn`; overrides RUST_LOG
    /// (default: RUST_LOG, else `info`).
    #[arg(long, global = true, value_name = "FILTER")]
    log_level: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Mine: follow the template source and log every new template until
    /// Ctrl-C.
    Run(ConfigFile),
    /// Check the config, the address, every node, the database and both
    /// ports: one line each; exit 1 if any failed, 2 if the config does
    /// not load.
    Check(ConfigFile),
}

#[derive(Args)]
struct ConfigFile {
    /// The TOML config (see pool.example.toml); without it every key takes
    /// its default. POOL_<SECTION>_<KEY> variables override either.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Why the binary stops: the exit code says which kind.
enum Failure {
    /// The config or the command line: exit 2.
    Usage(anyhow::Error),
    /// Anything else: exit 1.
    Runtime(anyhow::Error),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(file) => run(&file, cli.log_level.as_deref()).await,
        Command::Check(file) => check_command(&file, cli.log_level.as_deref()).await,
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The config with this process's `POOL_*` variables applied, validated.
fn load(file: &ConfigFile) -> Result<Config, Failure> {
    Config::load_with_process_env(file.config.as_deref())
        .map_err(|error| Failure::Usage(error.into()))
}

/// Logs to stderr, filtered by `--log-level`, else `RUST_LOG`, else `info`.
fn init_tracing(log_level: Option<&str>) -> Result<(), Failure> {
    // The filter's parse error repeats its cause: shown as text, not a chain.
    let parse = |directives: &str, origin: String| {
        EnvFilter::try_new(directives)
            .map_err(|error| Failure::Usage(anyhow::anyhow!("{origin}: {error}")))
    };
    let filter = match log_level {
        Some(directives) => parse(directives, format!("--log-level {directives:?}"))?,
        None => match std::env::var("RUST_LOG") {
            Ok(directives) => parse(&directives, format!("RUST_LOG={directives:?}"))?,
            Err(_) => EnvFilter::new("info"),
        },
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|error| Failure::Runtime(anyhow::anyhow!(error)))
}

async fn check_command(file: &ConfigFile, log_level: Option<&str>) -> Result<ExitCode, Failure> {
    let config = load(file)?;
    init_tracing(log_level)?;
    let lines = check(&config).await;
    for line in &lines {
        println!("{line}");
    }
    Ok(if lines.iter().any(|line| line.failed()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn run(file: &ConfigFile, log_level: Option<&str>) -> Result<ExitCode, Failure> {
    let config = load(file)?;
    init_tracing(log_level)?;
    let address = config
        .pool_address()
        .map_err(|problem| Failure::Usage(anyhow::anyhow!("{problem}")))?;
    tracing::info!(
        network = %config.pool.network,
        source = ?config.chain.source,
        %address,
        mode = ?config.pool.mode,
        fee_basis_points = config.pool.fee_basis_points(),
        "starting"
    );
    let jobs = JobManager::new(JobSettings::from_config(&config, address.script_pubkey()));
    let result = match config.chain.source {
        TemplateSourceKind::Bitcoind => {
            let source = pool::template::bitcoind::BitcoindSource::start(
                config.bitcoind.clone(),
                config.pool.network,
                &config.chain,
            )
            .context("starting the bitcoind template source")
            .map_err(Failure::Runtime)?;
            follow_templates(source.templates(), jobs).await
        }
        TemplateSourceKind::Simnet => {
            let source = pool::template::simnet::SimnetSource::start(&config.simnet, &config.chain);
            follow_templates(source.templates(), jobs).await
        }
    };
    result.map_err(Failure::Runtime)?;
    Ok(ExitCode::SUCCESS)
}

/// Turns every new template into jobs and logs them until Ctrl-C or
/// SIGTERM (issue 4 hands the jobs to Stratum sessions).
async fn follow_templates(
    mut templates: watch::Receiver<Option<Arc<Template>>>,
    mut jobs: JobManager,
) -> anyhow::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        if let Some(template) = templates.borrow_and_update().clone() {
            let change = jobs.on_template(Arc::clone(&template), Instant::now());
            tracing::info!(
                height = template.height,
                transactions = template.transactions.len(),
                fees_sat = template.fees().to_sat(),
                coinbase_value_sat = template.coinbase_value.to_sat(),
                ?change,
                "new template"
            );
            if change != TemplateChange::Unchanged && jobs.settings().mode != PayoutMode::Solo {
                match jobs.current_job(None) {
                    Ok(job) => tracing::info!(
                        job_id = %job.id(),
                        height = job.height(),
                        clean_jobs = job.job.notify().clean_jobs,
                        coinbase_bytes = job.job.notify().coinb1.len()
                            + job.job.notify().coinb2.len()
                            + pool::jobs::EXTRANONCE1_SIZE
                            + jobs.settings().extranonce2_size,
                        "new job"
                    ),
                    Err(error) => tracing::error!(%error, "cannot build a job from this template"),
                }
            }
        }
        tokio::select! {
            changed = templates.changed() => {
                changed.context("the template source stopped")?;
            }
            signal = &mut shutdown => {
                signal.context("listening for shutdown signals")?;
                tracing::info!("shutting down");
                return Ok(());
            }
        }
    }
}

/// Ctrl-C, or SIGTERM as systemd and container runtimes send it.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            signal = tokio::signal::ctrl_c() => signal,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
