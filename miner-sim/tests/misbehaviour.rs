//! Each misbehaviour sends the bad line it promises, and a rejection of it
//! is counted as expected, never as a pool fault.

mod common;

use common::*;
use miner_sim::{BadShare, Dialect, MalformedKind, Misbehaviour, ShareOutcome, UNKNOWN_WORKER};
use serde_json::Value;
use std::time::{Duration, Instant};
use stratum::message::{ErrorCode, ShowMessage};
use stratum::JobId;

/// A miner with `misbehaviour`, handshaken, mining the worked job 1.
async fn misbehaving(
    dialect: Dialect,
    misbehaviour: Misbehaviour,
) -> (TestPool, PoolConn, Running) {
    let pool = TestPool::bind().await;
    let mut config = config(&pool, dialect);
    config.misbehaviour = misbehaviour;
    let miner = start(config);
    let mut conn = pool.accept().await;
    conn.handshake().await;
    conn.set_difficulty(EASY).await;
    conn.notify(&worked_notify(1, true)).await;
    (pool, conn, miner)
}

fn once() -> Misbehaviour {
    Misbehaviour {
        limit: 1,
        ..Misbehaviour::default()
    }
}

fn params(line: &str) -> Vec<Value> {
    let value: Value = serde_json::from_str(line).unwrap();
    value["params"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_shares_come_after_clean_jobs() {
    let misbehaviour = Misbehaviour {
        stale: 1.0,
        ..once()
    };
    let (_pool, mut conn, miner) = misbehaving(Dialect::Bitaxe, misbehaviour).await;
    conn.serve_until(|conn| conn.accepted() >= 2).await;
    conn.notify(&worked_notify(2, true)).await;
    conn.serve_until(|conn| {
        conn.submits
            .iter()
            .any(|seen| seen.submit.job_id == JobId(2) && seen.verdict.is_ok())
    })
    .await;
    conn.sync().await;
    let report = miner.stop().await;
    // The held share of job 1 arrives after job 2 voided it.
    let stale = report
        .shares
        .iter()
        .find(|share| share.bad == Some(BadShare::Stale))
        .expect("a stale share was submitted");
    assert_eq!(stale.job_id, "1");
    assert_eq!(
        stale.outcome,
        ShareOutcome::Rejected(ErrorCode::JobNotFound)
    );
    assert!(conn
        .submits
        .iter()
        .any(|seen| seen.submit.job_id == JobId(1)
            && seen.notifies_sent == 2
            && seen.verdict == Err(ErrorCode::JobNotFound)));
    let counters = &report.counters;
    assert_eq!(counters.bad_lines_sent, 1);
    assert!(counters.expected_rejections >= 1);
    assert_eq!(counters.unexpected_rejections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_resubmit_an_accepted_share() {
    for dialect in Dialect::ALL {
        let misbehaviour = Misbehaviour {
            duplicate: 1.0,
            ..once()
        };
        let (_pool, mut conn, miner) = misbehaving(dialect, misbehaviour).await;
        conn.serve_until(|conn| conn.rejected(ErrorCode::Duplicate) == 1 && conn.accepted() >= 2)
            .await;
        conn.sync().await;
        let report = miner.stop().await;
        let duplicate = conn
            .submits
            .iter()
            .find(|seen| seen.verdict == Err(ErrorCode::Duplicate))
            .unwrap();
        let original = conn
            .submits
            .iter()
            .find(|seen| seen.verdict.is_ok() && seen.submit == duplicate.submit);
        assert!(
            original.is_some(),
            "{dialect}: the duplicate repeats an accepted share"
        );
        let counters = &report.counters;
        assert_eq!(counters.rejected.duplicate, 1);
        assert_eq!(counters.expected_rejections, 1, "{dialect}");
        assert_eq!(counters.unexpected_rejections, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lines_of_every_kind() {
    for kind in MalformedKind::ALL {
        let misbehaviour = Misbehaviour {
            malformed: 1.0,
            malformed_kinds: vec![kind],
            ..once()
        };
        let (_pool, mut conn, miner) = misbehaving(Dialect::Cgminer, misbehaviour).await;
        conn.serve_until(|conn| conn.unreadable == 1 && conn.accepted() >= 3)
            .await;
        conn.sync().await;
        let report = miner.stop().await;
        let bad = conn
            .lines
            .iter()
            .find(|line| {
                stratum::message::ClientMessage::parse(line.as_bytes()).is_err()
                    || line.as_str() == "<too long>"
            })
            .expect("the malformed line arrived");
        match kind {
            MalformedKind::BadHex => assert!(bad.contains("\"zz0795a5\""), "{bad}"),
            MalformedKind::WrongTypes => assert!(params(bad)[4].is_number(), "{bad}"),
            MalformedKind::GarbageJson => {
                assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}")
            }
            MalformedKind::OverLong => assert_eq!(bad, "<too long>"),
        }
        let counters = &report.counters;
        assert_eq!(counters.bad_lines_sent, 1, "{kind:?}");
        assert_eq!(counters.expected_rejections, 1, "{kind:?}");
        assert_eq!(counters.unexpected_rejections, 0, "{kind:?}");
        assert!(counters.accepted >= 3, "{kind:?}: it keeps mining");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_difficulty_shares_miss_the_target() {
    let misbehaviour = Misbehaviour {
        low_difficulty: 1.0,
        limit: 2,
        ..Misbehaviour::default()
    };
    let (_pool, mut conn, miner) = misbehaving(Dialect::Bitaxe, misbehaviour).await;
    conn.serve_until(|conn| conn.rejected(ErrorCode::LowDifficulty) == 2)
        .await;
    conn.sync().await;
    let report = miner.stop().await;
    for seen in conn
        .submits
        .iter()
        .filter(|seen| seen.verdict == Err(ErrorCode::LowDifficulty))
    {
        assert!(
            seen.hash_difficulty.unwrap() < EASY,
            "the pool hashed it too"
        );
    }
    assert_eq!(report.counters.expected_rejections, 2);
    assert_eq!(report.counters.unexpected_rejections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_bits_outside_the_mask() {
    for dialect in Dialect::ALL {
        let misbehaviour = Misbehaviour {
            bad_version_bits: 1.0,
            ..once()
        };
        let (_pool, mut conn, miner) = misbehaving(dialect, misbehaviour).await;
        conn.serve_until(|conn| conn.rejected(ErrorCode::Other) == 1)
            .await;
        conn.sync().await;
        let report = miner.stop().await;
        let bad = conn
            .submits
            .iter()
            .find(|seen| seen.verdict == Err(ErrorCode::Other))
            .unwrap();
        let bits = bad.submit.version_bits.expect("6 params").0;
        assert_ne!(
            bits & !conn.mask.0,
            0,
            "{dialect}: {bits:08x} is outside the mask"
        );
        assert_eq!(report.counters.expected_rejections, 1, "{dialect}");
        assert_eq!(report.counters.unexpected_rejections, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_worker_names() {
    let misbehaviour = Misbehaviour {
        unknown_worker: 1.0,
        ..once()
    };
    let (_pool, mut conn, miner) = misbehaving(Dialect::Cpuminer, misbehaviour).await;
    conn.serve_until(|conn| conn.rejected(ErrorCode::UnauthorizedWorker) == 1)
        .await;
    conn.sync().await;
    let report = miner.stop().await;
    let bad = conn
        .submits
        .iter()
        .find(|seen| seen.verdict == Err(ErrorCode::UnauthorizedWorker))
        .unwrap();
    assert_eq!(bad.submit.worker, UNKNOWN_WORKER);
    assert_eq!(report.counters.rejected.unauthorized, 1);
    assert_eq!(report.counters.expected_rejections, 1);
    assert_eq!(report.counters.unexpected_rejections, 0);
}

#[tokio::test]
async fn submits_before_subscribe_and_authorize() {
    for dialect in Dialect::ALL {
        let pool = TestPool::bind().await;
        let mut config = config(&pool, dialect);
        config.misbehaviour.submit_before_auth = true;
        let miner = start(config);
        let mut conn = pool.accept().await;
        let first = conn.line().await;
        assert!(first.contains("mining.submit"), "{dialect}: {first}");
        conn.handle(&first).await;
        assert_eq!(conn.submits[0].verdict, Err(ErrorCode::NotSubscribed));
        conn.handshake().await;
        conn.sync().await;
        let report = miner.stop().await;
        assert_eq!(report.counters.rejected.not_subscribed, 1);
        assert_eq!(report.counters.expected_rejections, 1, "{dialect}");
        assert_eq!(report.counters.unexpected_rejections, 0);
        assert_eq!(report.counters.authorizes_ok, 1, "the handshake goes on");
    }
}

fn show_message(bytes: usize) -> String {
    ShowMessage {
        message: "m".repeat(bytes),
    }
    .to_line()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_reader_lets_the_pools_queue_fill_up() {
    let misbehaviour = Misbehaviour {
        silent_reader: true,
        ..Misbehaviour::default()
    };
    let (_pool, mut conn, miner) = misbehaving(Dialect::Bitaxe, misbehaviour).await;
    // Its first share shows it has the job, so it has stopped reading.
    conn.serve_until(|conn| !conn.submits.is_empty()).await;
    let received = miner.counters.snapshot().lines_received;
    let line = show_message(4000);
    // Kernel buffers hold a few MB; 64 MB would never fit.
    let mut sent = 0;
    let full = loop {
        if !conn.try_send(&line, Duration::from_millis(500)).await {
            break true;
        }
        sent += 1;
        if sent == 16_000 {
            break false;
        }
    };
    assert!(full, "the pool's writes never blocked");
    assert_eq!(miner.counters.snapshot().lines_received, received);
    let report = miner.stop().await;
    assert_eq!(report.counters.lines_received, received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_takes_its_time() {
    let misbehaviour = Misbehaviour {
        slow_reader: Some(Duration::from_millis(5)),
        ..Misbehaviour::default()
    };
    let (_pool, mut conn, miner) = misbehaving(Dialect::Bitaxe, misbehaviour).await;
    conn.serve_until(|conn| conn.accepted() >= 1).await;
    // 16 KiB at 64 bytes per 5 ms takes about 1.3 s to read.
    let started = Instant::now();
    for _ in 0..4 {
        conn.send(&show_message(4096)).await;
    }
    conn.send("{\"id\":77,\"method\":\"mining.ping\",\"params\":[]}\n")
        .await;
    conn.serve_until(|conn| conn.lines.iter().any(|line| line.contains("\"id\":77")))
        .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed > Duration::from_millis(600),
        "read 16 KiB in {elapsed:?}"
    );
    let report = miner.stop().await;
    assert_eq!(report.counters.unexpected_rejections, 0);
    assert!(report.counters.accepted >= 1);
}
