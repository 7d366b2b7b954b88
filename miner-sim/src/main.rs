//! `miner-sim`: simulated miners against a pool, with a status line every
//! few seconds and a summary at the end. Exits 1 when the pool rejected a
//! share it should have accepted, 2 when it never connected (or on bad
//! arguments).

use clap::Parser;
use miner_sim::{
    format_hashrate, numbered, parse_hashrate, CountersSnapshot, Dialect, MinerConfig, Swarm,
    SwarmReport,
};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "miner-sim",
    version,
    about = "Simulated Stratum V1 miners that really hash"
)]
struct Args {
    /// The pool, host:port.
    #[arg(long, default_value = "127.0.0.1:3333")]
    pool: String,
    /// <payout address>[.<worker>]; with several miners the worker is numbered.
    #[arg(long)]
    user: String,
    #[arg(long, default_value = "x")]
    password: String,
    /// How many miners.
    #[arg(long, default_value_t = 1)]
    miners: usize,
    /// Hash rate cap per miner: 1e6, 2.5M, 10k.
    #[arg(long, default_value = "1M", value_parser = parse_hashrate)]
    hashrate: f64,
    /// cgminer, bitaxe or cpuminer.
    #[arg(long, default_value = "bitaxe")]
    dialect: Dialect,
    /// Difficulty to suggest after authorize (0: none; default: the dialect's).
    #[arg(long)]
    suggest_difficulty: Option<f64>,
    /// Send mining.extranonce.subscribe (bitaxe).
    #[arg(long)]
    extranonce_subscribe: bool,
    /// Stop after this many seconds (default: on Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds between status lines.
    #[arg(long, default_value_t = 5.0)]
    status_interval: f64,
    /// Log filter, e.g. `miner_sim=debug`.
    #[arg(long, default_value = "miner_sim=warn")]
    log: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
        .with_writer(std::io::stderr)
        .init();
    // Unoptimised (`cargo run` without --release), the batch kernel's
    // lanes overflow rayon's default 2 MiB thread stack.
    if let Err(error) = rayon::ThreadPoolBuilder::new()
        .stack_size(16 << 20)
        .build_global()
    {
        return fail(&format!("cannot start the hashing threads: {error}"));
    }
    let pool = match tokio::net::lookup_host(&args.pool).await {
        Ok(mut addresses) => match addresses.next() {
            Some(pool) => pool,
            None => return fail(&format!("{} resolves to no address", args.pool)),
        },
        Err(error) => return fail(&format!("cannot resolve {}: {error}", args.pool)),
    };
    if args.miners == 0 {
        return fail("--miners must be at least 1");
    }
    let mut base = MinerConfig::new(pool, args.user.clone(), args.dialect);
    base.password = args.password.clone();
    base.hashrate = args.hashrate;
    base.suggest_difficulty = args.suggest_difficulty;
    base.extranonce_subscribe = args.extranonce_subscribe;
    base.share_log = 0;
    println!(
        "miner-sim: {} {} miner(s) at {} each -> {pool}",
        args.miners,
        args.dialect,
        format_hashrate(args.hashrate)
    );
    let swarm = Swarm::start(numbered(&base, args.miners));
    let deadline = args.duration.map(Duration::from_secs_f64);
    let interval = Duration::from_secs_f64(args.status_interval.max(0.1));
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    let until_deadline = async {
        match deadline {
            Some(deadline) => tokio::time::sleep(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until_deadline);
    loop {
        tokio::select! {
            _ = &mut until_deadline => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = ticker.tick() => {
                println!("{}", status(&swarm.snapshot(), swarm.elapsed()));
            }
        }
    }
    let report = swarm.stop().await;
    println!("{}", summary(&report));
    if report.total.unexpected_rejections > 0 {
        ExitCode::FAILURE
    } else if report.total.connections == 0 {
        eprintln!("miner-sim: never connected to {pool}");
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("miner-sim: {message}");
    ExitCode::from(2)
}

fn status(total: &CountersSnapshot, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    format!(
        "t={:.1}s hashing {} shares {} accepted {} rejected {} (unexpected {}) blocks {} diff {} jobs {} disconnects {}",
        secs,
        format_hashrate(total.hashes as f64 / secs),
        total.shares_submitted,
        total.accepted,
        total.rejected.total(),
        total.unexpected_rejections,
        total.blocks_found,
        total.latest_difficulty,
        total.jobs,
        total.disconnections,
    )
}

fn summary(report: &SwarmReport) -> String {
    let total = &report.total;
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let rejected = &total.rejected;
    format!(
        "summary: {} miner(s), {:.1}s, {} hashed ({}), share rate {}\n\
         shares: {} submitted, {} accepted (difficulty {:.6}), {} rejected \
         [20:{} 21:{} 22:{} 23:{} 24:{} 25:{} other:{}], {} blocks\n\
         bad lines sent: {}, expected rejections: {}, unexpected rejections: {}, \
         unexpected acceptances: {}\n\
         connections: {}, failed connects: {}, disconnections: {}, protocol errors: {}",
        report.miners.len(),
        secs,
        total.hashes,
        format_hashrate(total.hashes as f64 / secs),
        format_hashrate(total.submitted_difficulty * 4_294_967_296.0 / secs),
        total.shares_submitted,
        total.accepted,
        total.accepted_difficulty,
        rejected.total(),
        rejected.other,
        rejected.job_not_found,
        rejected.duplicate,
        rejected.low_difficulty,
        rejected.unauthorized,
        rejected.not_subscribed,
        rejected.unlisted,
        total.blocks_found,
        total.bad_lines_sent,
        total.expected_rejections,
        total.unexpected_rejections,
        total.unexpected_acceptances,
        total.connections,
        total.connect_failures,
        total.disconnections,
        total.protocol_errors,
    )
}
