//! Many miners at once, and the command-line tool.

mod common;

use common::*;
use miner_sim::{numbered, Dialect, Swarm};
use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;
use stratum::message::{ErrorCode, Id, Response};
use tokio::sync::mpsc;

/// Serves every connection like a pool on its own task; once a connection
/// has `shares` accepted shares (and the miner has seen their answers) it
/// reports its worker and that count, and serves on until the miner goes.
fn serve_all(pool: TestPool, shares: usize) -> mpsc::UnboundedReceiver<(String, usize)> {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let mut conn = pool.accept().await;
            let sender = sender.clone();
            tokio::spawn(async move {
                conn.handshake().await;
                conn.set_difficulty(EASY).await;
                conn.notify(&worked_notify(1, true)).await;
                conn.serve_until(|conn| conn.accepted() >= shares).await;
                let accepted = conn.accepted();
                conn.sync().await;
                let worker = conn.authorized.iter().next().unwrap().clone();
                let _ = sender.send((worker, accepted));
                conn.serve_to_end().await;
            });
        }
    });
    receiver
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_starts_and_stops_together() {
    let pool = TestPool::bind().await;
    let mut base = config(&pool, Dialect::Bitaxe);
    base.username = "bcrt1qexampleworkeraddress".to_string();
    base.hashrate = 500_000.0;
    let mut configs = numbered(&base, 3);
    configs[2].dialect = Dialect::Cgminer;
    configs[2].hashrate = 1e6;
    let mut ready = serve_all(pool, 3);
    let swarm = Swarm::start(configs);
    assert_eq!(swarm.len(), 3);
    let mut workers = HashSet::new();
    let mut answered = 0;
    for _ in 0..3 {
        let (worker, accepted) = tokio::time::timeout(STEP, ready.recv())
            .await
            .expect("every miner mines")
            .unwrap();
        workers.insert(worker);
        answered += accepted as u64;
    }
    let expected: HashSet<String> = (1..=3)
        .map(|index| format!("bcrt1qexampleworkeraddress.w{index}"))
        .collect();
    assert_eq!(workers, expected);
    let live = swarm.snapshot();
    assert!(live.shares_submitted >= 9);
    let report = tokio::time::timeout(Duration::from_secs(2), swarm.stop())
        .await
        .expect("the swarm stops promptly");
    assert_eq!(report.miners.len(), 3);
    assert_eq!(report.total.connections, 3);
    assert_eq!(report.total.unexpected_rejections, 0);
    let accepted: u64 = report
        .miners
        .iter()
        .map(|miner| miner.counters.accepted)
        .sum();
    assert_eq!(report.total.accepted, accepted);
    assert!(report.total.accepted >= answered && answered >= 9);
    assert!(report.hashrate() > 0.0);
}

async fn run_cli(pool: &TestPool, extra: &[&str]) -> (Option<i32>, String) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_miner-sim"))
        .args(["--pool", &pool.addr().to_string(), "--user", USER])
        .args(["--hashrate", "1M", "--status-interval", "0.2"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the miner-sim binary");
    let output = tokio::time::timeout(STEP, child.wait_with_output())
        .await
        .expect("the CLI ends after its duration")
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_mines_and_summarises() {
    let pool = TestPool::bind().await;
    let serving = async {
        let mut conn = pool.accept().await;
        conn.handshake().await;
        conn.set_difficulty(EASY).await;
        conn.notify(&worked_notify(1, true)).await;
        conn.serve_until(|conn| conn.accepted() >= 3).await;
        // Keep answering until the CLI's duration ends it.
        conn.serve_to_end().await;
    };
    let cli = run_cli(&pool, &["--dialect", "cpuminer", "--duration", "1.5"]);
    let ((code, stdout), ()) = tokio::join!(cli, async {
        let _ = tokio::time::timeout(STEP, serving).await;
    });
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("t=0.") || stdout.contains("t=1."),
        "{stdout}"
    );
    assert!(stdout.contains("summary: 1 miner(s)"), "{stdout}");
    assert!(stdout.contains("unexpected rejections: 0"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_fails_when_good_shares_are_rejected() {
    let pool = TestPool::bind().await;
    let serving = async {
        let mut conn = pool.accept().await;
        conn.handshake().await;
        conn.set_difficulty(EASY).await;
        conn.notify(&worked_notify(1, true)).await;
        // Reject every share as low difficulty, though none is.
        while let Some(line) = conn.next_or_end().await {
            let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if value["method"] == "mining.submit" {
                let id = Id::from(value["id"].as_u64().unwrap());
                let reply = Response::error_code(id, ErrorCode::LowDifficulty);
                conn.send(&reply.to_line()).await;
            }
        }
    };
    let cli = run_cli(&pool, &["--dialect", "bitaxe", "--duration", "1"]);
    let ((code, stdout), ()) = tokio::join!(cli, async {
        let _ = tokio::time::timeout(STEP, serving).await;
    });
    assert_eq!(code, Some(1), "{stdout}");
    assert!(!stdout.contains("unexpected rejections: 0"), "{stdout}");
}
