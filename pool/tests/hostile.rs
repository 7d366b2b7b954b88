//! Hostile miners cost the pool a bounded amount. `pool run` runs as its
//! own process (its memory is its own), bans off so every attacker stays
//! connected; each attack runs on `ATTACKERS` connections at once while an
//! honest miner on another connection submits real shares:
//!
//! - junk: 10 000 `mining.submit` lines with unknown jobs and bad hex each;
//! - workers: 10 000 `mining.authorize` with new worker names each;
//! - deaf: junk submits from a connection that never reads its answers;
//! - partial: a line just under the limit, never finished;
//! - idle: subscribed and authorized, then quiet: the baseline.
//!
//! For each attack the pool's resident memory grows by at most
//! [`CEILING_BYTES`] per attacking connection (README's "Hostile miners"
//! table has the budget and the numbers this test prints), the attackers
//! get what the protocol says, and the honest miner's shares are all
//! accepted, none answered later than [`HONEST_LIMIT`].

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/pool_process.rs"]
mod pool_process;

use e2e::{accepted, regtest_address, RawClient, Scratch};
use pool_process::PoolProcess;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Attacking connections per attack: enough that the pool's own growth
/// per connection stands out from the allocator's noise.
const ATTACKERS: usize = 32;
/// Lines each attacker sends.
const LINES: usize = 10_000;
/// The documented per-connection ceiling of what a miner can make the pool
/// hold without proof of work (README, "Hostile miners").
const CEILING_BYTES: u64 = 128 * 1024;
/// Allocator and runtime noise that is not any one connection's.
const SLACK_BYTES: u64 = 4 * 1024 * 1024;
/// The slowest answer the honest miner may get during an attack.
const HONEST_LIMIT: Duration = Duration::from_secs(5);
const SHARE_DIFFICULTY: f64 = 0.0002;

fn config(port: u16, web: u16, scratch: &std::path::Path) -> String {
    format!(
        r#"[pool]
network = "regtest"
mode = "pplns"

[stratum]
listen = "127.0.0.1:{port}"
start_difficulty = {SHARE_DIFFICULTY}
min_difficulty = {SHARE_DIFFICULTY}
max_difficulty = {SHARE_DIFFICULTY}
max_connections_per_ip = 0

[bans]
enabled = false

[chain]
source = "simnet"
blocks_dir = "{blocks}"

[simnet]
difficulty = 1.0

[database]
url = "sqlite://{db}"

[web]
listen = "127.0.0.1:{web}"
"#,
        blocks = scratch.join("blocks").display(),
        db = scratch.join("pool.db").display(),
    )
}

/// The pool process's resident memory, from the kernel.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the pool's status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    kib * 1024
}

/// An honest miner submitting real shares until told to stop, on a thread
/// and runtime of its own (the attackers' work must not delay it here);
/// returns every answer's latency.
fn honest_miner(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(honest_work(addr, stop))
    })
}

async fn honest_work(addr: SocketAddr, stop: Arc<AtomicBool>) -> Vec<Duration> {
    {
        let user = format!("{}.honest", regtest_address(9));
        let mut miner = RawClient::miner(addr, &user).await;
        let mut latencies = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let job = miner.latest_job();
            let share = miner.grind(&job.job, None, job.difficulty, None);
            let sent = Instant::now();
            let answer = miner.submit(&user, &share).await;
            latencies.push(sent.elapsed());
            assert!(accepted(&answer), "an honest share: {answer:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        latencies
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn attacker(tag: usize) -> String {
    format!("{}.attacker{tag}", regtest_address(20))
}

/// Subscribes and authorizes on a raw socket, reading nothing back.
async fn handshake_blind(stream: &mut TcpStream, tag: usize) {
    let user = attacker(tag);
    let lines = format!(
        "{{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"hostile/1.0\"]}}\n\
         {{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"{user}\",\"x\"]}}\n"
    );
    stream.write_all(lines.as_bytes()).await.expect("handshake");
}

/// From an authorized worker: an unknown job, then a bad hex nonce.
fn junk_submit(user: &str, id: usize) -> String {
    if id.is_multiple_of(2) {
        format!(
            "{{\"id\":{id},\"method\":\"mining.submit\",\"params\":[\"{user}\",\"{:x}\",\
             \"0000000000000000\",\"6553f100\",\"00000000\"]}}\n",
            id + 0x1000
        )
    } else {
        format!(
            "{{\"id\":{id},\"method\":\"mining.submit\",\"params\":[\"{user}\",\"1\",\
             \"0000000000000000\",\"6553f100\",\"zz{id}\"]}}\n"
        )
    }
}

/// What one kind of attack does with its connection.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Attack {
    /// Not an attack: subscribed, authorized, then quiet (the baseline).
    Idle,
    Junk,
    Workers,
    Deaf,
    Partial,
}

/// Runs `attack` on one connection; returns the connection, still open
/// where the pool keeps it, and how many answer lines came back.
async fn attack(addr: SocketAddr, attack: Attack, tag: usize) -> (TcpStream, usize) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    handshake_blind(&mut stream, tag).await;
    let mut text = String::new();
    match attack {
        Attack::Junk => {
            for id in 0..LINES {
                text.push_str(&junk_submit(&attacker(tag), id + 10));
            }
        }
        // Ten times as much: more answers than socket buffers hold.
        Attack::Deaf => {
            for id in 0..10 * LINES {
                text.push_str(&junk_submit(&attacker(tag), id + 10));
            }
        }
        Attack::Workers => {
            let address = regtest_address(21);
            for id in 0..LINES {
                text.push_str(&format!(
                    "{{\"id\":{},\"method\":\"mining.authorize\",\"params\":[\"{address}.{}\",\"x\"]}}\n",
                    id + 10,
                    "w".repeat(50) + &id.to_string()
                ));
            }
        }
        Attack::Idle => {}
        Attack::Partial => {
            text = format!(
                "{{\"id\":3,\"method\":\"mining.submit\",\"params\":[\"{}",
                "x".repeat(16_000)
            );
        }
    }
    let (mut reader, mut writer) = stream.into_split();
    let reads = matches!(attack, Attack::Junk | Attack::Workers | Attack::Idle);
    let drain = tokio::spawn(async move {
        // Answers to the attack's own requests (ids from 10 on).
        let mut answers = 0;
        if reads {
            let mut framer = stratum::framer::LineFramer::new(1 << 20);
            let mut buffer = vec![0u8; 64 * 1024];
            while answers < LINES {
                match tokio::time::timeout(Duration::from_secs(30), reader.read(&mut buffer)).await
                {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                    Ok(Ok(count)) => framer.push(&buffer[..count]),
                }
                while let Some(Ok(line)) = framer.next_line() {
                    let value: serde_json::Value =
                        serde_json::from_slice(line).expect("the pool sends JSON");
                    if value["id"].as_u64().is_some_and(|id| id >= 10) {
                        answers += 1;
                    }
                    if attack == Attack::Idle && value["method"] == "mining.notify" {
                        // At work: an idle miner as the pool holds it.
                        return (reader, 0);
                    }
                }
            }
        }
        (reader, answers)
    });
    // A deaf connection's writes stall once the pool stops reading it.
    let _ = tokio::time::timeout(Duration::from_secs(5), writer.write_all(text.as_bytes())).await;
    let (reader, lines) = drain.await.expect("the reader");
    (reader.reunite(writer).expect("one stream"), lines)
}

/// Bytes the pool has not yet read from the connection to `peer`, from
/// the kernel's table of loopback sockets (`None`: no such socket).
fn unread_by_pool(pool: SocketAddr, peer: SocketAddr) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let endpoint = |addr: SocketAddr| format!("0100007F:{:04X}", addr.port());
    let (local, remote) = (endpoint(pool), endpoint(peer));
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let (_, rx_queue) = fields.get(4)?.split_once(':')?;
        u64::from_str_radix(rx_queue, 16).ok()
    })
}

/// Waits until the pool has read every byte `streams` sent it.
async fn pool_read_everything(pool: SocketAddr, streams: &[TcpStream]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for stream in streams {
        let peer = stream.local_addr().expect("a connected socket");
        while unread_by_pool(pool, peer).is_some_and(|unread| unread > 0) {
            assert!(Instant::now() < deadline, "the pool stopped reading {peer}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

struct Outcome {
    attack: Attack,
    per_connection: u64,
    answers: usize,
    honest: Vec<Duration>,
    took: Duration,
}

async fn run_attack(pool: &PoolProcess, pid: u32, kind: Attack) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let honest = honest_miner(pool.stratum, Arc::clone(&stop));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_bytes(pid);
    let started = Instant::now();
    let attacks: Vec<_> = (0..ATTACKERS)
        .map(|tag| tokio::spawn(attack(pool.stratum, kind, tag)))
        .collect();
    let mut streams = Vec::new();
    let mut answers = 0;
    for handle in attacks {
        let (stream, lines) = handle.await.expect("an attacker");
        answers += lines;
        streams.push(stream);
    }
    if matches!(kind, Attack::Partial | Attack::Idle) {
        pool_read_everything(pool.stratum, &streams).await;
    }
    let took = started.elapsed();
    let peak = rss_bytes(pid);
    stop.store(true, Ordering::Relaxed);
    let mut honest = honest.join().expect("the honest miner");
    drop(streams);
    honest.sort_unstable();
    let grown = peak.saturating_sub(before);
    assert!(
        grown <= ATTACKERS as u64 * CEILING_BYTES + SLACK_BYTES,
        "{kind:?}: the pool grew by {grown} bytes for {ATTACKERS} connections"
    );
    assert!(!honest.is_empty(), "{kind:?}: the honest miner got answers");
    let slowest = *honest.last().expect("answers");
    assert!(
        slowest <= HONEST_LIMIT,
        "{kind:?}: an honest answer took {slowest:?}"
    );
    Outcome {
        attack: kind,
        per_connection: grown / ATTACKERS as u64,
        answers,
        honest,
        took,
    }
}

/// A fresh pool process for each attack: memory the allocator kept from
/// an earlier attack would hide a later one's.
async fn attack_a_fresh_pool(kind: Attack) -> Outcome {
    let scratch = Scratch::new("hostile");
    let pool = PoolProcess::start(scratch.path(), "hostile", |port, web| {
        config(port, web, scratch.path())
    })
    .await;
    let pid = pool.child.id().expect("the pool runs");
    let outcome = run_attack(&pool, pid, kind).await;
    // Honest work was recorded throughout, and nothing else.
    let stats = pool.get_json("/api/stats").await;
    assert_eq!(
        stats["shares_accepted"].as_u64(),
        Some(outcome.honest.len() as u64),
        "{stats}"
    );
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_connections_cost_a_bounded_amount_and_honest_miners_keep_their_latency() {
    let mut outcomes = Vec::new();
    for kind in [
        Attack::Idle,
        Attack::Junk,
        Attack::Workers,
        Attack::Deaf,
        Attack::Partial,
    ] {
        outcomes.push(attack_a_fresh_pool(kind).await);
    }
    eprintln!("attack   | per connection | answers | attack took | honest p50 / p99 / max (n)");
    for outcome in &outcomes {
        let honest = &outcome.honest;
        eprintln!(
            "{:8} | {:>9.1} KiB | {:>7} | {:>9.2?} | {:.1?} / {:.1?} / {:.1?} ({})",
            format!("{:?}", outcome.attack),
            outcome.per_connection as f64 / 1024.0,
            outcome.answers,
            outcome.took,
            percentile(honest, 0.5),
            percentile(honest, 0.99),
            honest.last().copied().unwrap_or_default(),
            honest.len()
        );
    }
    let by = |kind: Attack| {
        outcomes
            .iter()
            .find(|outcome| outcome.attack == kind)
            .expect("ran")
    };
    // Every junk line and every authorize is answered.
    assert_eq!(by(Attack::Junk).answers, ATTACKERS * LINES);
    assert_eq!(by(Attack::Workers).answers, ATTACKERS * LINES);
}
