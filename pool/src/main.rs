//! The pool binary: a thin shell over the `pool` library.
//!
//! Exit codes: 0 ok, 1 a failure (a `check` line, or `run` stopping on an
//! error), 2 a configuration that does not load or a bad command line.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use pool::app::Pool;
use pool::check::check;
use pool::config::{Config, LogFormat};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
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
    /// Serve miners: follow the template source, run the Stratum server,
    /// the ledger and the web page until Ctrl-C or SIGTERM.
    Run(ConfigFile),
    /// The whole pool with nothing to set up: a simulated chain, the pool,
    /// a few simulated miners and the web page.
    Demo(DemoArgs),
    /// Check the config, the address, every node, the database and both
    /// ports: one line each; exit 1 if any failed, 2 if the config does
    /// not load.
    Check(ConfigFile),
    /// Settle and pay (run it from cron): credit found blocks, follow
    /// them to maturity or orphaning, and pay every balance at or above
    /// payout.threshold_sat in one sendmany from the first node's wallet.
    /// Safe to repeat or kill at any point. Exit 0 done, 1 a failure
    /// (including another run holding the lock), 2 a bad config.
    Payout(PayoutArgs),
    /// Prove the books balance: recompute from shares and blocks what
    /// every miner should have been credited under the configured scheme,
    /// compare it with credits, balance moves and payouts, and print every
    /// difference with its cause. Reads only (safe beside a live pool and
    /// a payout run). Exit 0 balanced to the satoshi, 1 differences (or
    /// an unreadable ledger), 2 a bad config.
    Audit(ConfigFile),
}

#[derive(Args)]
struct PayoutArgs {
    #[command(flatten)]
    file: ConfigFile,
    /// Print what would be credited, confirmed and paid; change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Args)]
struct DemoArgs {
    /// Stop by itself after this many seconds and print a summary line;
    /// exit 0 only if a block was found and no share was wrongly rejected.
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
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
        Command::Demo(args) => demo(&args, cli.log_level.as_deref()).await,
        Command::Check(file) => check_command(&file, cli.log_level.as_deref()).await,
        Command::Payout(args) => payout_command(&args, cli.log_level.as_deref()).await,
        Command::Audit(file) => audit_command(&file, cli.log_level.as_deref()).await,
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

/// Logs to stderr in `format`, filtered by `--log-level`, else `RUST_LOG`,
/// else `info`.
fn init_tracing(log_level: Option<&str>, format: LogFormat) -> Result<(), Failure> {
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        // Fields beside `message` at the top level, as collectors index them.
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|error| Failure::Runtime(anyhow::anyhow!(error)))
}

async fn check_command(file: &ConfigFile, log_level: Option<&str>) -> Result<ExitCode, Failure> {
    let config = load(file)?;
    init_tracing(log_level, config.log.format)?;
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

async fn payout_command(args: &PayoutArgs, log_level: Option<&str>) -> Result<ExitCode, Failure> {
    use pool::payouts::{payout_run, BitcoindChain, BitcoindWallet, CreditSettings, RunSettings};
    let config = load(&args.file)?;
    init_tracing(log_level, config.log.format)?;
    if config.chain.source != pool::config::TemplateSourceKind::Bitcoind {
        return Err(Failure::Usage(anyhow::anyhow!(
            "pool payout follows blocks and pays from a bitcoind wallet: set chain.source = \"bitcoind\" \
             (the simnet lives inside `pool run` and `pool demo` only)"
        )));
    }
    let node = config.bitcoind.first().ok_or_else(|| {
        Failure::Usage(anyhow::anyhow!(
            "pool payout needs a [[bitcoind]] node with the pool's wallet"
        ))
    })?;
    let chain = BitcoindChain::new(node, config.pool.network)
        .map_err(|error| Failure::Usage(anyhow::anyhow!("{error}")))?;
    let wallet = BitcoindWallet::new(node, config.pool.network, &config.payout)
        .map_err(|error| Failure::Usage(anyhow::anyhow!("{error}")))?;
    let ledger = pool::ledger::Ledger::open(&config.database.url)
        .await
        .context("opening the ledger")
        .map_err(Failure::Runtime)?;
    let settings = RunSettings {
        credit: CreditSettings::from_config(&config),
        threshold_sat: config.payout.threshold_sat,
        maturity: config.payout.maturity,
        network: config.pool.network.to_bitcoin(),
        dry_run: args.dry_run,
    };
    let outcome = payout_run(&ledger, &chain, &wallet, &settings).await;
    // PPS and FPPS put the variance on the operator: show where it stands.
    let position = match config.pool.mode {
        pool::config::PayoutMode::Pps | pool::config::PayoutMode::Fpps => {
            ledger.operator_position().await.ok()
        }
        _ => None,
    };
    ledger.close().await;
    if let Some(total) = position.map(|position| position.total) {
        println!(
            "position: credited to miners {} sat, earned from matured blocks {} sat, immature {} sat, net {} sat",
            total.credited_sat,
            total.earned_sat,
            total.immature_sat,
            total.net_sat()
        );
    }
    match outcome {
        Ok(report) => {
            if let Some(batch) = report.batch.as_ref().filter(|_| report.dry_run) {
                for line in &batch.lines {
                    println!("would pay {} {} sat", line.address, line.amount_sat);
                }
            }
            println!("{}", report.summary());
            for (batch, why) in &report.stuck_batches {
                println!("payment {batch} not settling: {why}");
            }
            // Cron mails a failure: a node error or a payment that needs
            // the operator's eye.
            Ok(
                if report.chain_errors.is_empty() && report.stuck_batches.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                },
            )
        }
        Err(error) => {
            println!("payout: failed: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn audit_command(file: &ConfigFile, log_level: Option<&str>) -> Result<ExitCode, Failure> {
    use pool::audit::{audit, AuditSettings};
    let config = load(file)?;
    init_tracing(log_level, config.log.format)?;
    match audit(&config.database.url, &AuditSettings::from_config(&config)).await {
        Ok(report) => {
            for difference in &report.differences {
                println!("difference: {difference}");
            }
            for note in &report.notes {
                println!("note: {note}");
            }
            println!("{}", report.summary());
            Ok(if report.balanced() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Err(error) => {
            println!("audit: failed: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn run(file: &ConfigFile, log_level: Option<&str>) -> Result<ExitCode, Failure> {
    let config = load(file)?;
    init_tracing(log_level, config.log.format)?;
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
    let pool = Pool::start(&config)
        .await
        .context("starting the pool")
        .map_err(Failure::Runtime)?;
    let signal = shutdown_signal().await;
    tracing::info!("shutting down");
    pool.shutdown().await;
    signal
        .context("listening for shutdown signals")
        .map_err(Failure::Runtime)?;
    Ok(ExitCode::SUCCESS)
}

async fn demo(args: &DemoArgs, log_level: Option<&str>) -> Result<ExitCode, Failure> {
    // Quiet by default: the demo prints its own lines.
    init_tracing(Some(log_level.unwrap_or("warn")), LogFormat::Text)?;
    let stop = pool::demo::until(args.duration.map(Duration::from_secs), async {
        let _ = shutdown_signal().await;
    });
    let outcome = pool::demo::run(stop)
        .await
        .context("starting the demo")
        .map_err(Failure::Runtime)?;
    println!("{}", outcome.summary());
    Ok(if args.duration.is_none() || outcome.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
