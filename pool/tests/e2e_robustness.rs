//! The pool against what real and broken clients send, over real TCP:
//! every request line of the miner dialect vectors gets its exact answer
//! (result or error code) on a connection that stays open; an over-long
//! line, invalid UTF-8 and a flood of garbage close only the connection
//! that sent them; a miner that stops reading is dropped without holding
//! up the others.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::{accepted, regtest_address, wait_until, RawClient, ReadEnd, TestPool, POLL};
use miner_sim::{Dialect, MinerConfig, Misbehaviour, Swarm};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::Duration;
use stratum::message::{
    ClientMessage, ClientMethod, ConfigureResult, ErrorCode, Response, ServerMessage,
    SubscribeResult,
};
use stratum::VersionMask;
use tokio::time::Instant;

/// How long an answer or a notify may take while others misbehave (on a
/// loopback they take microseconds; the margin is for a busy machine).
const PROMPT: Duration = Duration::from_secs(2);

async fn start_pool(label: &str) -> TestPool {
    TestPool::start(label, |config| {
        config.simnet.difficulty = 1.0;
        config.stratum.start_difficulty = 0.00001;
        config.stratum.min_difficulty = 0.00001;
        config.stratum.max_difficulty = 0.00001;
    })
    .await
}

/// The client->pool lines of one vectors file, with whether each expects
/// an answer (`"answer": false` marks the client's own answers).
fn dialect_lines(file: &str) -> Vec<(String, bool)> {
    let path = format!(
        "{}/../vectors/miner-dialects/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str::<Value>(line).expect("a vector is JSON"))
        .filter(|vector| vector["dir"] == "client->pool")
        .map(|vector| {
            let line = vector["line"].as_str().expect("a line").to_string();
            (line, vector["answer"] != Value::Bool(false))
        })
        .collect()
}

/// The line with the payout address of its username (authorize, submit)
/// replaced by `address`, leaving every other byte as the firmware wrote it.
fn with_address(line: &str, address: &str) -> String {
    let value: Value = serde_json::from_str(line).expect("JSON");
    let method = value["method"].as_str().unwrap_or_default();
    if !matches!(method, "mining.authorize" | "mining.submit") {
        return line.to_string();
    }
    let user = value["params"][0].as_str().expect("a username");
    let original = user.split('.').next().expect("an address part");
    line.replace(original, address)
}

/// What the pool must answer a request of the vectors: its exact result,
/// or its exact error code.
#[derive(Debug, Clone, PartialEq)]
enum Expected {
    True,
    Subscribed,
    /// Version rolling granted with this mask.
    Configured(VersionMask),
    Error(ErrorCode),
}

/// The answer a request must get on this pool, whose address network is
/// regtest: `address_valid` says whether the vector's usernames carry an
/// address of it. The vectors subscribe before they submit, and their job
/// id was never sent by this pool.
fn expected(method: &ClientMethod, address_valid: bool) -> Expected {
    match method {
        ClientMethod::Subscribe(_) => Expected::Subscribed,
        ClientMethod::Authorize(_) if address_valid => Expected::True,
        ClientMethod::Authorize(_) => Expected::Error(ErrorCode::UnauthorizedWorker),
        ClientMethod::Configure(configure) => {
            let requested = configure
                .version_rolling
                .as_ref()
                .expect("the vectors ask for version rolling")
                .requested_mask();
            // The pool's default mask, as far as the miner asks.
            Expected::Configured(VersionMask(0x1fff_e000 & requested.0))
        }
        ClientMethod::SuggestDifficulty(_) | ClientMethod::ExtranonceSubscribe => Expected::True,
        ClientMethod::Submit(_) if address_valid => Expected::Error(ErrorCode::JobNotFound),
        ClientMethod::Submit(_) => Expected::Error(ErrorCode::UnauthorizedWorker),
        other => panic!("no expected answer for {other:?}"),
    }
}

/// What the pool did answer, in the terms of [`Expected`].
fn answered_as(answer: &Response) -> Expected {
    match &answer.result {
        Err(error) => Expected::Error(error.code),
        Ok(Value::Bool(true)) => Expected::True,
        Ok(result) => {
            if SubscribeResult::from_value(result).is_ok() {
                Expected::Subscribed
            } else if let Ok(configured) = ConfigureResult::from_value(result) {
                Expected::Configured(
                    configured
                        .version_rolling
                        .unwrap_or_else(|| panic!("no version rolling granted: {result}")),
                )
            } else {
                panic!("an answer of no kind the vectors ask for: {result}")
            }
        }
    }
}

/// Sends every line; each request with an id must be answered, by id,
/// exactly as [`expected`] says, with a line the stratum crate parses;
/// then the connection still answers. Returns the client, connected.
async fn replay(
    pool: &TestPool,
    file: &str,
    lines: &[(String, bool)],
    address_valid: bool,
) -> RawClient {
    let mut client = RawClient::connect(pool.addr()).await;
    let mut answered = 0;
    for (line, expects_answer) in lines {
        client.send(&format!("{line}\n")).await;
        let parsed = ClientMessage::parse(line.as_bytes())
            .unwrap_or_else(|error| panic!("{file}: the vector {line} parses: {error}"));
        let ClientMessage::Request(request) = parsed else {
            assert!(!expects_answer, "{file}: {line}");
            continue;
        };
        let wants_answer = !request.id.is_null() && !matches!(request.method, ClientMethod::Pong);
        assert_eq!(wants_answer, *expects_answer, "{file}: {line}");
        if !wants_answer {
            continue;
        }
        let answer = client.answer(&request.id).await;
        assert_eq!(
            answered_as(&answer),
            expected(&request.method, address_valid),
            "{file}: {line} answered {answer:?}"
        );
        // The answer went out as one line the miner's parser reads back.
        assert_eq!(
            ServerMessage::parse(answer.to_line().trim_end().as_bytes()),
            Ok(ServerMessage::Response(answer.clone()))
        );
        answered += 1;
    }
    let expecting = lines.iter().filter(|(_, answer)| *answer).count();
    assert_eq!(answered, expecting, "{file}: every request answered");
    let later = client.request(ClientMethod::ExtranonceSubscribe).await;
    assert!(
        accepted(&later),
        "{file}: the connection still answers: {later:?}"
    );
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dialect_line_is_answered_and_the_connection_stays_open() {
    let pool = start_pool("dialects").await;
    let address = regtest_address(30).to_string();
    let mut clients = Vec::new();
    for file in ["cgminer.jsonl", "cpuminer.jsonl", "esp-miner-bitaxe.jsonl"] {
        let lines = dialect_lines(file);
        assert!(lines.len() >= 4, "{file}");
        // As written (example addresses of other networks: refused, answered).
        clients.push(replay(&pool, file, &lines, false).await);
        // With an address of this network: the handshake succeeds, work
        // arrives in between, the example job id is unknown.
        let lines: Vec<(String, bool)> = lines
            .iter()
            .map(|(line, answer)| (with_address(line, &address), *answer))
            .collect();
        let client = replay(&pool, file, &lines, true).await;
        assert!(!client.jobs.is_empty(), "{file}: authorized, so work came");
        clients.push(client);
    }
    assert_eq!(pool.stats().connections_total, 6);
    assert_eq!(pool.stats().connections_open, 6, "no connection was closed");
    // Each one still answers, after the others' lines.
    for client in &mut clients {
        assert!(accepted(
            &client.request(ClientMethod::ExtranonceSubscribe).await
        ));
    }
    pool.shutdown().await;
}

/// Writes `bytes` (the pool may close the connection midway) and expects
/// the pool to close it.
async fn abuse(pool: std::net::SocketAddr, what: &'static str, bytes: Vec<u8>) {
    let mut client = RawClient::connect(pool).await;
    for chunk in bytes.chunks(64 * 1024) {
        if client.write(chunk).await.is_err() {
            break; // closed already
        }
    }
    assert!(
        client.closed_within(Duration::from_secs(5)).await,
        "the pool keeps the connection that sent {what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bytes_close_only_the_connection_that_sent_them() {
    let pool = start_pool("bad-bytes").await;
    let mut config = MinerConfig::new(
        pool.addr(),
        format!("{}.steady", regtest_address(31)),
        Dialect::Cgminer,
    );
    config.hashrate = 200e3; // ~5 shares a second at difficulty 0.00001
    config.reconnect = false;
    let swarm = Swarm::start(vec![config]);
    let steady = &swarm.counters()[0];
    wait_until("the steady miner's shares", Duration::from_secs(10), || {
        steady.accepted.load(Ordering::Relaxed) >= 3
    })
    .await;
    let mut watcher =
        RawClient::miner(pool.addr(), &format!("{}.watch", regtest_address(32))).await;

    let mut long_line = vec![b'a'; 1 << 20];
    long_line.push(b'\n');
    let mut not_utf8 = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"".to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    not_utf8.extend_from_slice(b"\"]}\n");
    let garbage: Vec<u8> = (0..20_000u32)
        .flat_map(|index| format!("%% garbage {index} }}{{ ]\n").into_bytes())
        .collect();
    let abusers = [
        tokio::spawn(abuse(pool.addr(), "a 1 MiB line", long_line)),
        tokio::spawn(abuse(pool.addr(), "invalid UTF-8", not_utf8)),
        tokio::spawn(abuse(pool.addr(), "a flood of garbage", garbage)),
    ];
    // Meanwhile the watcher keeps asking and getting answers.
    let mut slowest = Duration::ZERO;
    let mut asked = 0;
    while !abusers.iter().all(|abuser| abuser.is_finished()) && asked < 500 {
        let started = Instant::now();
        let answer = watcher.request(ClientMethod::ExtranonceSubscribe).await;
        assert!(accepted(&answer));
        slowest = slowest.max(started.elapsed());
        asked += 1;
        tokio::time::sleep(POLL).await;
    }
    for abuser in abusers {
        abuser.await.expect("every abuser was disconnected");
    }
    assert!(asked >= 1);
    assert!(
        slowest < PROMPT,
        "the watcher waited {slowest:?} for an answer"
    );

    // After: the others are still served, and their shares accepted.
    let answer = watcher.request(ClientMethod::ExtranonceSubscribe).await;
    assert!(accepted(&answer));
    let accepted_after_abuse = steady.accepted.load(Ordering::Relaxed);
    wait_until(
        "more shares from the steady miner",
        Duration::from_secs(10),
        || steady.accepted.load(Ordering::Relaxed) >= accepted_after_abuse + 3,
    )
    .await;
    wait_until(
        "only the abusers' connections closed",
        Duration::from_secs(5),
        || pool.stats().connections_open == 2,
    )
    .await;
    let stats = pool.stats();
    assert_eq!(stats.connections_total, 5);
    // Lines that did not parse: the invalid UTF-8 one (closed at once) and
    // the garbage up to the pool's limit of 20 in a row (closed at the
    // 21st). The over-long line closes before it is parsed; the miners'
    // lines all parse.
    assert_eq!(stats.protocol_errors, 1 + 21, "{stats:?}");
    let report = swarm.stop().await;
    assert_eq!(
        report.total.disconnections, 0,
        "the steady miner stayed connected"
    );
    assert_eq!(report.total.unexpected_rejections, 0);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miner_that_stops_reading_is_dropped_without_delaying_the_others() {
    let pool = start_pool("silent").await;
    let mut config = MinerConfig::new(
        pool.addr(),
        format!("{}.silent", regtest_address(33)),
        Dialect::Bitaxe,
    );
    config.suggest_difficulty = Some(0.0);
    config.hashrate = 1e6;
    config.reconnect = false;
    config.misbehaviour = Misbehaviour {
        silent_reader: true,
        ..Misbehaviour::default()
    };
    let swarm = Swarm::start(vec![config]);
    let silent = &swarm.counters()[0];
    wait_until("the silent miner at work", Duration::from_secs(10), || {
        silent.shares_submitted.load(Ordering::Relaxed) >= 1
    })
    .await;
    let mut watcher =
        RawClient::miner(pool.addr(), &format!("{}.watch", regtest_address(34))).await;

    // New work, over and over: every notify goes to both miners.
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut rounds = 0;
    while pool.stats().slow_miners_dropped == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(40) && rounds < 1_000_000,
            "the silent miner is still connected after {rounds} new jobs: {:?}",
            pool.stats()
        );
        let sent = Instant::now();
        pool.source.refresh();
        match watcher.next_job_within(PROMPT).await {
            Ok(_) => {}
            Err(ReadEnd::TimedOut) => panic!("no notify within {PROMPT:?} after new work"),
            Err(ReadEnd::Closed) => panic!("the pool closed the watcher"),
        }
        slowest = slowest.max(sent.elapsed());
        rounds += 1;
    }
    eprintln!(
        "silent miner dropped after {rounds} new jobs in {:?}; slowest notify {slowest:?}",
        started.elapsed()
    );
    // The watcher is still served: answers and new work.
    let answer = watcher.request(ClientMethod::ExtranonceSubscribe).await;
    assert!(accepted(&answer));
    pool.source.refresh();
    watcher
        .next_job_within(PROMPT)
        .await
        .expect("new work after the drop");
    wait_until(
        "the silent miner's connection closed",
        Duration::from_secs(40),
        || pool.stats().connections_open == 1,
    )
    .await;
    swarm.stop().await;
    pool.shutdown().await;
}
