//! `load`: the load harness's command line (see `benches/src/load/mod.rs`
//! and BENCHMARKS.md for the runs it reproduces).

use anyhow::Context;
use benches::load::{self, Mode, Settings, Trigger};
use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(about = "Stratum load against a running pool on 127.0.0.1")]
struct Cli {
    /// The pool's Stratum address.
    #[arg(long, default_value = "127.0.0.1:3333")]
    pool: SocketAddr,
    /// The pool's process id, for its memory per connection (start a fresh
    /// process: after a run, allocator free lists hide most of it).
    #[arg(long)]
    pid: Option<u32>,
    #[arg(long, value_enum, default_value = "reject")]
    mode: Mode,
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Submits each connection keeps in flight (notify mode: 0 is idle).
    #[arg(long, default_value_t = 16)]
    in_flight: usize,
    /// Seconds the run lasts once every connection is ready.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Notify mode: blocks to trigger.
    #[arg(long, default_value_t = 5)]
    blocks: usize,
    /// Notify mode: a command that mines a block (a real node's
    /// `bitcoin-cli generatetoaddress 1 <address>`); without it one more
    /// connection finds a block on the simnet.
    #[arg(long)]
    trigger: Option<String>,
    /// `address.worker` prefix; connection n authorizes `<username>.<n>`.
    #[arg(long, default_value = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9")]
    username: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Each connection is a file descriptor here too.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let settings = Settings {
        pool: cli.pool,
        pid: cli.pid,
        mode: cli.mode,
        connections: cli.connections,
        in_flight: cli.in_flight,
        duration: Duration::from_secs_f64(cli.duration),
        username: cli.username,
        blocks: cli.blocks,
        trigger: cli.trigger.map_or(Trigger::Finder, Trigger::Command),
    };
    let runtime = tokio::runtime::Runtime::new().context("tokio runtime")?;
    let report = runtime.block_on(load::run(settings))?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}
