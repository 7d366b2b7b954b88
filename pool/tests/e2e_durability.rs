//! A share the pool acknowledged survives a kill -9 of the pool: the
//! `pool` binary runs on the simnet as a child process, simulated miners
//! load it, it is killed with SIGKILL after a few hundred acceptances, and
//! the ledger then holds at least every share a miner saw accepted. On
//! SQLite always, on PostgreSQL when `POOL_TEST_POSTGRES_URL` names a server.

#[path = "support/e2e.rs"]
mod e2e;
#[allow(dead_code)] // only its database set-up is used here
#[path = "support/ledger_backend.rs"]
mod ledger_backend;

use e2e::{regtest_address, wait_until, Scratch, POLL};
use ledger_backend::{Backend, POSTGRES_ENV};
use miner_sim::{Dialect, MinerConfig, Swarm};
use pool::ledger::Ledger;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// Acknowledged shares before the kill.
const ACCEPTANCES: u64 = 300;
/// Difficulty of every share: ~23 a second from a 1 MH/s miner.
const SHARE_DIFFICULTY: f64 = 0.00001;
const MINERS: [(Dialect, &str); 4] = [
    (Dialect::Cgminer, "cg"),
    (Dialect::Bitaxe, "axe"),
    (Dialect::Cpuminer, "cpu"),
    (Dialect::Cgminer, "cg2"),
];

/// A port that was free a moment ago (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free port")
        .port()
}

fn config_text(port: u16, scratch: &Path, database_url: &str) -> String {
    format!(
        r#"[pool]
network = "regtest"

[stratum]
listen = "127.0.0.1:{port}"
start_difficulty = {SHARE_DIFFICULTY}
min_difficulty = {SHARE_DIFFICULTY}
max_difficulty = {SHARE_DIFFICULTY}

[chain]
source = "simnet"
blocks_dir = "{blocks}"

[simnet]
difficulty = 0.01

[database]
url = "{database_url}"

[web]
listen = "127.0.0.1:0"
"#,
        blocks = scratch.join("blocks").display(),
    )
}

/// `pool run` on a free port, once it accepts miners. A port taken in the
/// meantime by someone else is retried with another.
async fn start_pool(scratch: &Path, database_url: &str) -> (Child, SocketAddr) {
    for attempt in 1..=5 {
        let port = free_port();
        let config = scratch.join("pool.toml");
        std::fs::write(&config, config_text(port, scratch, database_url))
            .expect("write the config");
        let log_path = scratch.join(format!("pool-{attempt}.log"));
        let log = std::fs::File::create(&log_path).expect("create the log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_pool"));
        command
            .arg("run")
            .arg("--config")
            .arg(&config)
            .current_dir(scratch)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .kill_on_drop(true);
        // Only this test's config: no overrides from the environment.
        for (name, _) in std::env::vars() {
            if name.starts_with("POOL_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("start the pool binary");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("poll the child") {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                if log.contains("cannot listen") {
                    break; // the port was taken: another one
                }
                panic!("the pool exited with {status} before listening:\n{log}");
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return (child, addr);
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("the pool did not listen on {addr} within 30 s:\n{log}");
            }
            tokio::time::sleep(POLL).await;
        }
    }
    panic!("no free port for the pool after 5 attempts");
}

/// Loads the pool with miners, kills it with SIGKILL after
/// [`ACCEPTANCES`] acknowledged shares, then counts the ledger's rows.
async fn acknowledged_shares_survive_kill_9(database_url: &str) {
    let scratch = Scratch::new("durability");
    let (mut child, addr) = start_pool(scratch.path(), database_url).await;
    let address = regtest_address(40);
    let swarm = Swarm::start(
        MINERS
            .iter()
            .map(|(dialect, worker)| {
                let mut config = MinerConfig::new(addr, format!("{address}.{worker}"), *dialect);
                config.hashrate = 1e6;
                config.suggest_difficulty = Some(0.0);
                config.reconnect = false;
                config
            })
            .collect(),
    );
    wait_until(
        "a few hundred acknowledged shares",
        Duration::from_secs(40),
        || swarm.snapshot().accepted >= ACCEPTANCES,
    )
    .await;
    // SIGKILL on Unix: no shutdown, no flush.
    child.kill().await.expect("kill -9 the pool");
    let report = swarm.stop().await;
    let acknowledged = report.total.accepted;
    assert!(acknowledged >= ACCEPTANCES);
    assert_eq!(report.total.unexpected_rejections, 0, "{:?}", report.total);

    let ledger = Ledger::open(database_url)
        .await
        .expect("open the ledger after the kill");
    let rows = ledger.share_count().await.expect("count shares");
    let shares = ledger.shares(u64::MAX >> 1).await.expect("read shares");
    ledger.close().await;
    eprintln!("{acknowledged} shares acknowledged before the kill, {rows} in the ledger");
    assert!(
        rows >= acknowledged,
        "{acknowledged} shares acknowledged, only {rows} in the ledger after kill -9"
    );
    let mut per_worker: HashMap<&str, u64> = HashMap::new();
    for share in &shares {
        *per_worker.entry(share.worker.as_str()).or_default() += 1;
    }
    for ((_, worker), miner) in MINERS.iter().zip(&report.miners) {
        let recorded = per_worker.get(worker).copied().unwrap_or(0);
        assert!(
            recorded >= miner.counters.accepted,
            "{worker}: {} acknowledged, {recorded} in the ledger",
            miner.counters.accepted
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_every_acknowledged_share_through_kill_9() {
    ledger_backend::run(Backend::Sqlite, "e2e_durability_sqlite", |db| async move {
        acknowledged_shares_survive_kill_9(&db.url).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_acknowledged_share_through_kill_9() {
    if std::env::var(POSTGRES_ENV).map_or(true, |url| url.is_empty()) {
        eprintln!("skipping PostgreSQL durability test: {POSTGRES_ENV} is not set");
        return;
    }
    ledger_backend::run(
        Backend::Postgres,
        "e2e_durability_postgres",
        |db| async move {
            acknowledged_shares_survive_kill_9(&db.url).await;
        },
    )
    .await;
}
