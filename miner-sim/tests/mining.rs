//! The miner really hashes: every share it submits is valid for the
//! difficulty in force, inside the version mask, on the right job, and it
//! hashes no faster than its cap.

mod common;

use common::*;
use miner_sim::Dialect;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use stratum::message::{ErrorCode, Id, Submit};
use stratum::{Extranonce2, JobId, Nonce, Ntime, VersionBits};

#[tokio::test]
async fn the_scripted_pool_accepts_the_worked_share() {
    // The scripted pool's own check, on the vector's submit.
    let pool = TestPool::bind().await;
    let _client = tokio::net::TcpStream::connect(pool.addr()).await.unwrap();
    let mut conn = pool.accept().await;
    conn.subscribed = true;
    conn.mask = stratum::VersionMask::POOL_DEFAULT;
    conn.authorized.insert("w".into());
    conn.set_difficulty(0.0001).await;
    conn.notify(&worked_notify(0x1a2b3c4d, true)).await;
    let submit = Submit {
        worker: "w".into(),
        job_id: JobId(0x1a2b3c4d),
        extranonce2: Extranonce2::from_wire("0000000000000001").unwrap(),
        ntime: Ntime(0x6b06_0d97),
        nonce: Nonce(0x0007_95a5),
        version_bits: Some(VersionBits(0x2000)),
    };
    let line = r#"{"id":1,"method":"mining.submit","params":["w","1a2b3c4d","0000000000000001","6b060d97","000795a5","00002000"]}"#;
    conn.handle(line).await;
    assert_eq!(conn.submits[0].submit, submit);
    assert_eq!(conn.submits[0].verdict, Ok(()));
    assert!(conn.submits[0].block);
    let wrong_nonce = line.replace("000795a5", "000795a6");
    conn.handle(&wrong_nonce).await;
    assert_eq!(conn.submits[1].verdict, Err(ErrorCode::LowDifficulty));
}

/// Every submit accepted by a pool that hashes it, for every dialect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_are_valid_for_the_difficulty_in_force() {
    for dialect in Dialect::ALL {
        let pool = TestPool::bind().await;
        let miner = start(config(&pool, dialect));
        let mut conn = pool.accept().await;
        conn.handshake().await;
        conn.set_difficulty(EASY).await;
        conn.notify(&worked_notify(0x1a2b3c4d, true)).await;
        conn.serve_until(|conn| conn.submits.len() >= 8).await;
        conn.sync().await;
        let report = miner.stop().await;
        for seen in &conn.submits {
            assert_eq!(seen.verdict, Ok(()), "{dialect}: {}", seen.line);
            assert!(seen.hash_difficulty.unwrap() >= EASY);
            assert!(seen.block, "regtest nbits: every share here is a block");
        }
        let counters = &report.counters;
        assert!(counters.shares_submitted >= 8, "{dialect}");
        assert!(counters.accepted >= 8, "{dialect}");
        assert_eq!(counters.unexpected_rejections, 0);
        assert_eq!(counters.rejected.total(), 0);
        assert_eq!(counters.blocks_found, counters.shares_submitted);
        assert_eq!(counters.jobs, 1);
        assert_eq!(counters.clean_jobs, 1);
        assert_eq!(counters.set_difficulty, 1);
        assert_eq!(counters.latest_difficulty, EASY);
        assert_eq!((counters.subscribes_ok, counters.authorizes_ok), (1, 1));
        assert!(counters.hashes > 0 && counters.lines_sent >= 10);
        let shares = &report.shares;
        assert!(shares
            .iter()
            .all(|share| share.expected_accept && share.difficulty == EASY));
        assert!(shares.iter().all(|share| share.hash_difficulty >= EASY));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_far_from_the_network_target_finds_no_block() {
    let pool = TestPool::bind().await;
    let miner = start(config(&pool, Dialect::Cgminer));
    let mut conn = pool.accept().await;
    conn.handshake().await;
    conn.set_difficulty(EASY).await;
    conn.notify(&synthetic_notify(5, 0x1d00_ffff, 0x2000_0000, true))
        .await;
    conn.serve_until(|conn| conn.accepted() >= 3).await;
    conn.sync().await;
    let report = miner.stop().await;
    assert!(conn
        .submits
        .iter()
        .all(|seen| seen.verdict.is_ok() && !seen.block));
    assert_eq!(report.counters.blocks_found, 0);
    assert!(report.counters.accepted >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_bits_roll_inside_the_negotiated_mask() {
    for dialect in [Dialect::Bitaxe, Dialect::Cgminer] {
        let pool = TestPool::bind().await;
        let mut config = config(&pool, dialect);
        // Roll the version every 4096 nonces so many versions show up.
        config.nonce_range = 4096;
        let miner = start(config);
        let mut conn = pool.accept().await;
        conn.handshake().await;
        conn.set_difficulty(EASY).await;
        conn.notify(&worked_notify(0x1a2b3c4d, true)).await;
        conn.serve_until(|conn| conn.submits.len() >= 6).await;
        let report = miner.stop().await;
        let mut versions = HashSet::new();
        for seen in &conn.submits {
            assert_eq!(seen.verdict, Ok(()), "{dialect}: {}", seen.line);
            let bits = seen.submit.version_bits.expect("6 params").0;
            assert_eq!(
                bits & !0x1fff_e000,
                0,
                "{dialect}: {bits:08x} outside the mask"
            );
            versions.insert(bits);
        }
        assert!(versions.len() >= 3, "{dialect}: {versions:x?}");
        assert_eq!(report.counters.version_mask, Some(0x1fff_e000));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extranonce2_rolls_when_the_nonce_space_is_spent() {
    let pool = TestPool::bind().await;
    let mut config = config(&pool, Dialect::Cpuminer);
    config.nonce_range = 50_000;
    let miner = start(config);
    let mut conn = pool.accept().await;
    conn.handshake().await;
    conn.set_difficulty(EASY).await;
    conn.notify(&worked_notify(3, true)).await;
    conn.serve_until(|conn| conn.submits.len() >= 8).await;
    miner.stop().await;
    let extranonces: HashSet<String> = conn
        .submits
        .iter()
        .map(|seen| seen.submit.extranonce2.to_wire())
        .collect();
    assert!(conn.submits.iter().all(|seen| seen.verdict.is_ok()));
    assert!(extranonces.len() >= 3, "{extranonces:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_miner_follows_a_difficulty_change() {
    let pool = TestPool::bind().await;
    let miner = start(config(&pool, Dialect::Bitaxe));
    let mut conn = pool.accept().await;
    conn.handshake().await;
    conn.set_difficulty(EASY).await;
    conn.notify(&worked_notify(1, true)).await;
    conn.serve_until(|conn| conn.accepted() >= 3).await;
    let harder = EASY * 4.0;
    conn.set_difficulty(harder).await;
    conn.notify(&worked_notify(2, false)).await;
    conn.serve_until(|conn| {
        conn.submits
            .iter()
            .filter(|seen| seen.submit.job_id == JobId(2))
            .count()
            >= 4
    })
    .await;
    conn.sync().await;
    let report = miner.stop().await;
    assert!(conn.submits.iter().all(|seen| seen.verdict.is_ok()));
    let on_new_job = conn
        .submits
        .iter()
        .filter(|seen| seen.submit.job_id == JobId(2));
    for seen in on_new_job {
        assert_eq!(seen.job_difficulty, harder);
        assert!(seen.hash_difficulty.unwrap() >= harder);
    }
    assert_eq!(report.counters.latest_difficulty, harder);
    assert_eq!(report.counters.set_difficulty, 2);
    assert!(report.shares.iter().any(|share| share.difficulty == harder));
    assert_eq!(report.counters.unexpected_rejections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_miner_switches_at_once_on_clean_jobs() {
    for dialect in Dialect::ALL {
        let pool = TestPool::bind().await;
        let miner = start(config(&pool, dialect));
        let mut conn = pool.accept().await;
        conn.handshake().await;
        conn.set_difficulty(EASY).await;
        conn.notify(&worked_notify(1, true)).await;
        conn.serve_until(|conn| conn.accepted() >= 2).await;
        conn.notify(&worked_notify(2, true)).await;
        conn.serve_until(|conn| {
            conn.submits
                .iter()
                .filter(|seen| seen.submit.job_id == JobId(2))
                .count()
                >= 3
        })
        .await;
        conn.sync().await;
        let report = miner.stop().await;
        let first_new = conn
            .submits
            .iter()
            .position(|seen| seen.submit.job_id == JobId(2))
            .unwrap();
        for seen in &conn.submits[first_new..] {
            assert_eq!(
                seen.submit.job_id,
                JobId(2),
                "{dialect}: old job after the switch"
            );
        }
        // Shares on job 1 still in flight when job 2 was sent are stale:
        // rejected, and counted as expected.
        for seen in &conn.submits[..first_new] {
            assert!(seen.verdict.is_ok() || seen.verdict == Err(ErrorCode::JobNotFound));
        }
        assert_eq!(report.counters.unexpected_rejections, 0, "{dialect}");
        assert_eq!(report.counters.clean_jobs, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hashrate_cap_holds() {
    let cap = 400_000.0;
    let pool = TestPool::bind().await;
    let mut config = config(&pool, Dialect::Cgminer);
    config.hashrate = cap;
    let miner = start(config);
    let mut conn = pool.accept().await;
    conn.handshake().await;
    let difficulty = 0.00001; // about 43k hashes per share: ~9 shares/s
    conn.set_difficulty(difficulty).await;
    let started = Instant::now();
    conn.notify(&worked_notify(1, true)).await;
    conn.serve_until(|conn| conn.submits.len() >= 30).await;
    let elapsed = started.elapsed().as_secs_f64();
    let hashes = miner.counters.snapshot().hashes as f64;
    miner.stop().await;
    assert!(conn.submits.iter().all(|seen| seen.verdict.is_ok()));
    // Counted hashes: paced by time; the pacer may start up to 100 ms of
    // debt early, plus one 20 ms chunk.
    assert!(
        hashes <= cap * (elapsed + 0.15),
        "{hashes} hashes in {elapsed:.2}s at a cap of {cap}"
    );
    // The shares say the same within a generous factor (Poisson noise, a busy CPU).
    let implied = conn.submits.len() as f64 * difficulty * 4_294_967_296.0 / elapsed;
    assert!(
        implied < cap * 2.5 && implied > cap / 5.0,
        "shares imply {implied:.0} H/s at a cap of {cap}"
    );
}

#[tokio::test]
async fn stop_ends_the_miner_promptly() {
    // While hashing as fast as it can.
    let pool = TestPool::bind().await;
    let mut config = config(&pool, Dialect::Bitaxe);
    config.hashrate = f64::INFINITY;
    let miner = start(config);
    let mut conn = pool.accept().await;
    conn.handshake().await;
    conn.set_difficulty(1.0).await;
    conn.notify(&worked_notify(1, true)).await;
    // A ping answered means it is past the handshake and mining.
    conn.send("{\"id\":9,\"method\":\"mining.ping\",\"params\":[]}\n")
        .await;
    conn.serve_until(|conn| conn.lines.iter().any(|line| line.contains("pong")))
        .await;
    let started = Instant::now();
    let report = miner.stop().await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(report.counters.disconnections, 0);

    // While waiting for an answer that never comes.
    let pool = TestPool::bind().await;
    let miner = start(common::config(&pool, Dialect::Cgminer));
    let mut conn = pool.accept().await;
    assert!(conn.line().await.contains("mining.configure"));
    miner.stop().await;

    // While connecting is refused and it waits to retry.
    let pool = TestPool::bind().await;
    let addr = pool.addr();
    drop(pool);
    let mut config = miner_sim::MinerConfig::new(addr, USER, Dialect::Cpuminer);
    config.reconnect_delay = Duration::from_secs(3600);
    let miner = start(config);
    let report = miner.stop().await;
    assert_eq!(report.counters.connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_reconnects_when_the_pool_goes_away_or_asks() {
    let pool = TestPool::bind().await;
    let mut config = config(&pool, Dialect::Bitaxe);
    config.reconnect = true;
    config.reconnect_delay = Duration::from_millis(20);
    let miner = start(config);
    let mut conn = pool.accept().await;
    conn.handshake().await;
    drop(conn);
    let mut conn = pool.accept().await;
    conn.handshake().await;
    conn.send("{\"id\":null,\"method\":\"client.reconnect\",\"params\":[]}\n")
        .await;
    let mut conn = pool.accept().await;
    conn.handshake().await;
    conn.set_difficulty(EASY).await;
    conn.notify(&worked_notify(9, true)).await;
    conn.serve_until(|conn| conn.accepted() >= 2).await;
    let report = miner.stop().await;
    assert_eq!(report.counters.connections, 3);
    assert_eq!(report.counters.disconnections, 2);
    assert_eq!(report.counters.unexpected_rejections, 0);
}

#[tokio::test]
async fn a_pool_that_rejects_good_shares_is_caught() {
    let pool = TestPool::bind().await;
    let miner = start(config(&pool, Dialect::Bitaxe));
    let mut conn = pool.accept().await;
    conn.handshake().await;
    conn.set_difficulty(EASY).await;
    conn.notify(&worked_notify(1, true)).await;
    let submit = loop {
        let line = conn.line().await;
        if line.contains("mining.submit") {
            break line;
        }
    };
    let id: serde_json::Value = serde_json::from_str(&submit).unwrap();
    let reply = stratum::message::Response::error_code(
        Id::from(id["id"].as_u64().unwrap()),
        ErrorCode::LowDifficulty,
    );
    conn.send(&reply.to_line()).await;
    conn.sync().await;
    let report = miner.stop().await;
    assert_eq!(report.counters.unexpected_rejections, 1);
    assert_eq!(report.counters.rejected.low_difficulty, 1);
}
