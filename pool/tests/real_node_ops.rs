//! Operating against a real Bitcoin Core (`BITCOIND_EXE`; skipped visibly
//! without it): what `pool check` says of a node, good and misconfigured,
//! and two peered nodes where one dies mid-run and comes back.

#[path = "support/mod.rs"]
mod support;

use bitcoincore_rpc::RpcApi;
use miner_sim::{Dialect, MinerConfig, Swarm};
use pool::app::Pool;
use pool::config::Config;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};
use support::core_node::{bitcoind_exe, pool_toml, Chain, CoreNode, NodeOptions, PASSWORD, USER};
use support::{closed_port, TempDir};

const ADDRESS: &str = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9";

/// One node-backed test at a time: they share two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A `pool.toml` for `nodes` (their `[[bitcoind]]` entries, as TOML).
fn config_text(dir: &TempDir, network: &str, nodes: &str, wallet: &str) -> String {
    pool_toml(dir.path(), network, ADDRESS, "/pool/", nodes, wallet)
}

/// `pool check` on `text`: its exit status and its lines.
fn pool_check(dir: &TempDir, name: &str, text: &str) -> (bool, Vec<String>) {
    let path = dir.write(name, text);
    let output = Command::new(env!("CARGO_BIN_EXE_pool"))
        .args(["check", "--config"])
        .arg(&path)
        .env_clear()
        .output()
        .expect("run pool check");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!("--- pool check ({name}):\n{stdout}");
    (
        output.status.success(),
        stdout.lines().map(str::to_string).collect(),
    )
}

/// The one line that starts with `prefix`.
fn line<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    let matching: Vec<&String> = lines
        .iter()
        .filter(|line| line.starts_with(prefix))
        .collect();
    assert_eq!(matching.len(), 1, "one `{prefix}` line in {lines:#?}");
    matching[0]
}

fn failing(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|line| {
            !line
                .split_once(": ")
                .is_some_and(|(_, rest)| rest.starts_with("ok"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_check_names_the_node_and_each_problem_in_one_line() {
    let Some(exe) = bitcoind_exe() else { return };
    let _serial = ONE_AT_A_TIME.lock().await;
    let node = tokio::task::spawn_blocking(move || {
        let node = CoreNode::start(
            &exe,
            Chain::Regtest,
            NodeOptions {
                zmq: true,
                ..Default::default()
            },
        );
        node.call("createwallet", &[json!("pool")]);
        let funding = node
            .wallet_client("pool")
            .call::<String>("getnewaddress", &[])
            .expect("an address");
        node.call("generatetoaddress", &[json!(101), json!(funding)]);
        node
    })
    .await
    .expect("the node starts");
    let dir = TempDir::new("real-node-check");
    let url = node.url();
    let entry = node.config_toml();

    // All good: version, chain, sync state, ZMQ, wallet and balance.
    let (ok, lines) = pool_check(
        &dir,
        "good.toml",
        &config_text(&dir, "regtest", &entry, "pool"),
    );
    assert!(ok, "{lines:#?}");
    assert!(failing(&lines).is_empty(), "{lines:#?}");
    let rpc = line(&lines, &format!("bitcoind {url} rpc:"));
    assert!(rpc.contains("Bitcoin Core /Satoshi:"), "{rpc}");
    assert!(line(&lines, &format!("bitcoind {url} chain:")).contains("ok (regtest)"));
    let sync = line(&lines, &format!("bitcoind {url} sync:"));
    assert!(sync.contains("height 101"), "{sync}");
    let zmq = line(&lines, &format!("bitcoind {url} zmq:"));
    assert!(
        zmq.contains("pubhashblock") && zmq.contains("connected"),
        "{zmq}"
    );
    let wallet = line(&lines, "wallet:");
    // 101 blocks: the first coinbase is mature (50 BTC).
    assert!(wallet.contains("balance 5000000000 sat"), "{wallet}");

    // Each problem: one failing line that says what is wrong.
    let wrong_password = entry.replace(PASSWORD, "not-the-password");
    let (ok, lines) = pool_check(
        &dir,
        "password.toml",
        &config_text(&dir, "regtest", &wrong_password, "pool"),
    );
    assert!(!ok);
    let rpc = line(&lines, &format!("bitcoind {url} rpc:"));
    assert!(
        rpc.contains("bad credentials") && rpc.contains(&format!("user `{USER}`")),
        "{rpc}"
    );

    // A signet pool (with a signet address) pointed at the regtest node.
    let script = std::str::FromStr::from_str(ADDRESS)
        .map(|address: bitcoin::Address<_>| address.assume_checked().script_pubkey())
        .expect("address");
    let signet_address = bitcoin::Address::from_script(&script, bitcoin::Network::Signet)
        .expect("a standard script")
        .to_string();
    let signet = config_text(&dir, "signet", &entry, "pool").replace(ADDRESS, &signet_address);
    let (ok, lines) = pool_check(&dir, "chain.toml", &signet);
    assert!(!ok);
    let chain = line(&lines, &format!("bitcoind {url} chain:"));
    assert!(
        chain.contains("wrong chain") && chain.contains("`regtest`") && chain.contains("`signet`"),
        "{chain}"
    );

    let (ok, lines) = pool_check(
        &dir,
        "wallet.toml",
        &config_text(&dir, "regtest", &entry, "no-such-wallet"),
    );
    assert!(!ok);
    assert_eq!(failing(&lines).len(), 1, "{lines:#?}");
    let wallet = line(&lines, "wallet:");
    assert!(wallet.contains("no-such-wallet"), "{wallet}");

    let silent = closed_port();
    let wrong_zmq = entry.replace(
        &format!("tcp://127.0.0.1:{}", node.zmq_port.expect("zmq")),
        &format!("tcp://127.0.0.1:{silent}"),
    );
    let (ok, lines) = pool_check(
        &dir,
        "zmq.toml",
        &config_text(&dir, "regtest", &wrong_zmq, "pool"),
    );
    assert!(!ok);
    assert_eq!(failing(&lines).len(), 1, "{lines:#?}");
    let zmq = line(&lines, &format!("bitcoind {url} zmq:"));
    assert!(
        zmq.contains("ZMQ not published") && zmq.contains(&silent.to_string()),
        "{zmq}"
    );
    tokio::task::spawn_blocking(move || drop(node))
        .await
        .expect("the node stops");
}

/// `pool_bitcoind_node_up` for `url` on the pool's /metrics.
async fn node_up(web: std::net::SocketAddr, url: &str) -> Option<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(web).await.ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await.ok()?;
    let sample = format!("pool_bitcoind_node_up{{node=\"{url}\"}} ");
    body.lines()
        .find_map(|line| line.strip_prefix(&sample))
        .and_then(|value| value.trim().parse().ok())
}

/// Waits (polling every 50 ms) until `check` holds or `limit` passes.
async fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two peered nodes; the first is killed mid-run. The pool goes on with
/// the second within its stated time (a refused connection fails the
/// node at once; a hung one within 2 s, see the coordinator), the miner
/// keeps working and blocks keep coming; the first, restarted, catches up
/// from its peer and the pool serves from it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_fails_over_to_its_peer_and_is_picked_up_again() {
    let Some(exe) = bitcoind_exe() else { return };
    let _serial = ONE_AT_A_TIME.lock().await;
    let (first, second) = tokio::task::spawn_blocking(move || {
        let first = CoreNode::start(&exe, Chain::Regtest, NodeOptions::default());
        let second = CoreNode::start(&exe, Chain::Regtest, NodeOptions::default());
        first.connect(&second);
        (first, second)
    })
    .await
    .expect("the nodes start");
    let mut first = Some(first);
    let dir = TempDir::new("real-node-failover");
    let nodes = format!(
        "{}\n{}",
        first.as_ref().unwrap().config_toml(),
        second.config_toml()
    );
    let config = Config::from_toml_str(
        &config_text(&dir, "regtest", &nodes, ""),
        Vec::<(String, String)>::new(),
    )
    .expect("a valid config");
    let pool = Pool::start(&config).await.expect("the pool starts");
    let stats = pool.stats();
    let mut miner = MinerConfig::new(
        pool.stratum_addr(),
        format!("{ADDRESS}.rig"),
        Dialect::Cgminer,
    );
    // A block every few ms is plenty; leave the CPU to the nodes.
    miner.hashrate = 2e6;
    let swarm = Swarm::start(vec![miner]);

    // Blocks go to both nodes.
    eventually("10 blocks on both nodes", Duration::from_secs(60), || {
        first.as_ref().unwrap().height() >= 10 && second.height() >= 10
    })
    .await;

    // The pool itself sent its blocks to both (not only Core's relay);
    // each block's row follows its submission.
    let first_url = first.as_ref().unwrap().url();
    let started = Instant::now();
    loop {
        let blocks = pool.ledger().blocks().await.expect("the ledger's blocks");
        let both = blocks
            .iter()
            .filter(|block| {
                block.answers.contains(&first_url) && block.answers.contains(&second.url())
            })
            .count();
        if both >= 10 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{both} of {} recorded blocks went to both nodes",
            blocks.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut killed = first.take().unwrap();
    killed.kill();
    let at_kill = second.height();
    let killed_at = Instant::now();
    eventually(
        "blocks on the second node after the first died",
        Duration::from_secs(30),
        || second.height() >= at_kill + 5,
    )
    .await;
    let failover = killed_at.elapsed();
    assert!(
        stats.chain().height as u64 >= at_kill + 5,
        "the pool's template follows the second node"
    );
    assert_eq!(node_up(pool.web_addr(), &first_url).await, Some(0));
    assert_eq!(node_up(pool.web_addr(), &second.url()).await, Some(1));

    // The first comes back on its own datadir, catches up from its peer.
    let killed = tokio::task::spawn_blocking(move || {
        killed.launch();
        killed
    })
    .await
    .expect("the node restarts");
    killed.connect(&second);
    eventually(
        "the restarted node caught up",
        Duration::from_secs(60),
        || killed.height() + 2 >= second.height() && killed.height() > at_kill + 5,
    )
    .await;
    let before = killed.height();
    eventually(
        "blocks reach the restarted node again",
        Duration::from_secs(60),
        || killed.height() >= before + 5,
    )
    .await;
    assert_eq!(
        node_up(pool.web_addr(), &first_url).await,
        Some(1),
        "the pool answers from the restarted node again"
    );
    let report = swarm.stop().await;
    eprintln!(
        "failover: 5 blocks on the second node {:.1} s after the first was killed; miner: {} accepted, {} disconnections",
        failover.as_secs_f64(),
        report.total.accepted,
        report.total.disconnections
    );
    assert_eq!(report.total.disconnections, 0, "the miner was dropped");
    assert_eq!(report.total.unexpected_rejections, 0, "{report:?}");
    pool.shutdown().await;
    tokio::task::spawn_blocking(move || {
        drop(killed);
        drop(second);
    })
    .await
    .expect("the nodes stop");
}

/// ZMQ configured but silent (nothing publishes at that address): the
/// `getbestblockhash` poll still finds each new block within its interval
/// (200 ms here) plus a template fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poll_finds_new_blocks_when_zmq_is_silent() {
    let Some(exe) = bitcoind_exe() else { return };
    let _serial = ONE_AT_A_TIME.lock().await;
    let node = tokio::task::spawn_blocking(move || {
        CoreNode::start(&exe, Chain::Regtest, NodeOptions::default())
    })
    .await
    .expect("the node starts");
    let dir = TempDir::new("real-node-poll");
    let entry = format!(
        "{}zmq = \"tcp://127.0.0.1:{}\"\n",
        node.config_toml(),
        closed_port()
    );
    let config = Config::from_toml_str(
        &config_text(&dir, "regtest", &entry, ""),
        Vec::<(String, String)>::new(),
    )
    .expect("a valid config");
    let pool = Pool::start(&config).await.expect("the pool starts");
    let stats = pool.stats();
    eventually("the first template", Duration::from_secs(10), || {
        stats.chain().height == 1
    })
    .await;
    let mut slowest = Duration::ZERO;
    for height in 1..=5u32 {
        // A block found elsewhere: the pool learns of it only by polling.
        node.call("generatetoaddress", &[json!(1), json!(ADDRESS)]);
        let mined = Instant::now();
        eventually(
            "the pool's template on the new tip",
            Duration::from_secs(2),
            || stats.chain().height == height + 1,
        )
        .await;
        slowest = slowest.max(mined.elapsed());
    }
    eprintln!("poll fallback: slowest new template {slowest:?} after a block (interval 200 ms)");
    pool.shutdown().await;
    tokio::task::spawn_blocking(move || drop(node))
        .await
        .expect("the node stops");
}

/// `pool payout` with the pool's config, as cron runs it: its summary.
fn pool_payout(config: &std::path::Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_pool"))
        .args(["payout", "--config"])
        .arg(config)
        .env_clear()
        .output()
        .expect("run pool payout");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "pool payout failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A real reorg: the pool's blocks from height 3 on are invalidated and a
/// shorter rival branch mined; `pool payout` orphans them and reverses
/// their credits. `reconsiderblock` brings the longer branch back and the
/// next run restores them, credits immature again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_reorg_orphans_the_pools_blocks_and_reconsider_brings_them_back() {
    use pool::ledger::accounts::CreditState;
    use pool::ledger::{BlockStatus, Ledger};
    let Some(exe) = bitcoind_exe() else { return };
    let _serial = ONE_AT_A_TIME.lock().await;
    let node = tokio::task::spawn_blocking(move || {
        let node = CoreNode::start(&exe, Chain::Regtest, NodeOptions::default());
        node.call("createwallet", &[json!("pool")]);
        node
    })
    .await
    .expect("the node starts");
    let dir = TempDir::new("real-node-reorg");
    let text = config_text(&dir, "regtest", &node.config_toml(), "pool");
    let path = dir.write("pool.toml", &text);
    let config = Config::from_toml_str(&text, Vec::<(String, String)>::new()).expect("config");
    let pool = Pool::start(&config).await.expect("the pool starts");
    let mut miner = MinerConfig::new(
        pool.stratum_addr(),
        format!("{ADDRESS}.rig"),
        Dialect::Cgminer,
    );
    miner.hashrate = 2e6;
    let swarm = Swarm::start(vec![miner]);
    eventually("six blocks from the pool", Duration::from_secs(60), || {
        node.height() >= 6
    })
    .await;
    swarm.stop().await;
    pool.shutdown().await;
    let ours = node.height();

    let summary = pool_payout(&path);
    assert!(
        summary.contains(&format!("blocks credited {ours}")),
        "{summary}"
    );

    // Invalidate the pool's block at height 3; a rival branch of two.
    let third = node.call("getblockhash", &[json!(3)]);
    node.call("invalidateblock", std::slice::from_ref(&third));
    let rival = node
        .wallet_client("pool")
        .call::<String>("getnewaddress", &[])
        .expect("an address");
    node.call("generatetoaddress", &[json!(2), json!(rival)]);
    assert_eq!(node.height(), 4);
    let orphaned = ours - 2;
    let summary = pool_payout(&path);
    assert!(
        summary.contains(&format!("orphaned {orphaned}")),
        "{summary}"
    );

    let ledger_url = format!("sqlite://{}/pool.db", dir.path().display());
    let states = |ledger: Ledger| async move {
        let mut states = Vec::new();
        for block in ledger.blocks().await.expect("blocks") {
            let credits = ledger.block_credits(block.id).await.expect("credits");
            assert!(!credits.is_empty(), "block {} has credits", block.height);
            let state = credits[0].state;
            assert!(credits.iter().all(|credit| credit.state == state));
            states.push((block.height, block.status, state));
        }
        ledger.close().await;
        states.sort_by_key(|(height, _, _)| *height);
        states
    };
    let after_reorg = states(Ledger::open(&ledger_url).await.expect("ledger")).await;
    for (height, status, credits) in &after_reorg {
        if *height >= 3 {
            assert_eq!(
                (*status, *credits),
                (BlockStatus::Orphaned, CreditState::Reversed)
            );
        } else {
            assert_eq!(
                (*status, *credits),
                (BlockStatus::Submitted, CreditState::Immature)
            );
        }
    }

    // The longer branch comes back: so do the blocks and their credits.
    node.call("reconsiderblock", &[third]);
    assert_eq!(node.height(), ours);
    let summary = pool_payout(&path);
    assert!(
        summary.contains(&format!(
            "orphaned blocks back in the best chain {orphaned}"
        )),
        "{summary}"
    );
    let restored = states(Ledger::open(&ledger_url).await.expect("ledger")).await;
    assert_eq!(restored.len() as u64, ours);
    for (height, status, credits) in &restored {
        assert_eq!(
            (*status, *credits),
            (BlockStatus::Submitted, CreditState::Immature),
            "block {height}"
        );
    }
    // The books still balance after the round trip.
    let audit = Command::new(env!("CARGO_BIN_EXE_pool"))
        .args(["audit", "--config"])
        .arg(&path)
        .env_clear()
        .output()
        .expect("run pool audit");
    assert!(
        audit.status.success(),
        "pool audit: {}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );
    tokio::task::spawn_blocking(move || drop(node))
        .await
        .expect("the node stops");
}
