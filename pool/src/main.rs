//! The pool binary.

use clap::Parser;

/// A Bitcoin mining pool: Stratum V1 for miners, vardiff, a durable share
/// ledger and PPS, FPPS, PPLNS or SOLO payouts.
#[derive(Parser)]
#[command(name = "pool", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
