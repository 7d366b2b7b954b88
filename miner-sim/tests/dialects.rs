//! Each dialect's lines, byte for byte, and their order on a real socket.

mod common;

use common::*;
use miner_sim::{Dialect, SubmitParams};
use serde_json::Value;
use std::time::Duration;
use stratum::message::{ErrorCode, Id, Response};
use stratum::{Difficulty, Extranonce2, Nonce, Ntime, VersionBits, VersionMask};

fn vector_lines(file: &str) -> Vec<Value> {
    let path = format!(
        "{}/../vectors/miner-dialects/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path)
        .expect("dialect vector")
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

/// What our dialect writes for the request on a vector line, from the
/// values the vector line carries.
fn render(dialect: Dialect, line: &str) -> String {
    let value: Value = serde_json::from_str(line).unwrap();
    let id = value["id"].as_u64().expect("numeric id");
    let params = value["params"].as_array().cloned().unwrap_or_default();
    let text = |index: usize| params[index].as_str().unwrap().to_string();
    match value["method"].as_str() {
        Some("mining.configure") => {
            let mask = params[1]["version-rolling.mask"].as_str().unwrap();
            dialect.configure_line(id, VersionMask::from_wire(mask).unwrap())
        }
        Some("mining.subscribe") => {
            assert!(params.len() <= 1, "session resume is not simulated");
            if params.len() == 1 {
                assert_eq!(text(0), dialect.user_agent());
            }
            dialect.subscribe_line(id, params.len() == 1)
        }
        Some("mining.authorize") => dialect.authorize_line(id, &text(0), &text(1)),
        Some("mining.suggest_difficulty") => {
            let difficulty = Difficulty::new(params[0].as_f64().unwrap()).unwrap();
            dialect.suggest_difficulty_line(id, difficulty)
        }
        Some("mining.extranonce.subscribe") => dialect.extranonce_subscribe_line(id),
        Some("mining.submit") => dialect.submit_line(
            id,
            &SubmitParams {
                worker: text(0),
                job_id: text(1),
                extranonce2: Extranonce2::from_wire(&text(2)).unwrap(),
                ntime: Ntime::from_wire(&text(3)).unwrap(),
                nonce: Nonce::from_wire(&text(4)).unwrap(),
                version_bits: (params.len() == 6)
                    .then(|| VersionBits::from_wire(&text(5)).unwrap()),
            },
        ),
        Some("pong") => dialect.pong_line(&Id::from(id)).unwrap(),
        Some(other) => panic!("unexpected method {other}"),
        None if value["result"] == "pong" => dialect.pong_line(&Id::from(id)).unwrap(),
        None => dialect.version_answer_line(&Id::from(id)),
    }
}

#[test]
fn every_vector_line_is_rendered_exactly() {
    for (file, dialect) in [
        ("cgminer.jsonl", Dialect::Cgminer),
        ("esp-miner-bitaxe.jsonl", Dialect::Bitaxe),
        ("cpuminer.jsonl", Dialect::Cpuminer),
    ] {
        let mut checked = 0;
        for entry in vector_lines(file) {
            let line = entry["line"].as_str().unwrap();
            let resume = line.contains("deadbeef");
            if entry["dir"] != "client->pool" || resume {
                continue;
            }
            assert_eq!(render(dialect, line), format!("{line}\n"), "{file}");
            checked += 1;
        }
        assert!(checked >= 3, "{file}: {checked} lines checked");
    }
}

fn submit_params(line: &str) -> Vec<Value> {
    let value: Value = serde_json::from_str(line).unwrap();
    value["params"].as_array().unwrap().clone()
}

#[tokio::test]
async fn bitaxe_pipelines_its_handshake_and_answers_ping_with_pong() {
    let pool = TestPool::bind().await;
    let mut config = config(&pool, Dialect::Bitaxe);
    config.extranonce_subscribe = true;
    let miner = start(config);
    let mut conn = pool.accept().await;
    // All three arrive before the pool has answered anything.
    let first = [conn.line().await, conn.line().await, conn.line().await];
    assert_eq!(
        first,
        [
            r#"{"id":1,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"ffffffff"}]}"#.to_string(),
            r#"{"id":2,"method":"mining.subscribe","params":["bitaxe/BM1370/v2.9.0"]}"#.to_string(),
            format!(r#"{{"id":3,"method":"mining.authorize","params":["{USER}","x"]}}"#),
        ]
    );
    for line in &first {
        conn.handle(line).await;
    }
    assert_eq!(
        conn.line().await,
        r#"{"id":4,"method":"mining.suggest_difficulty","params":[1000]}"#
    );
    assert_eq!(
        conn.line().await,
        r#"{"id":5,"method":"mining.extranonce.subscribe","params":[]}"#
    );
    conn.send("{\"id\":9,\"method\":\"mining.ping\",\"params\":[]}\n")
        .await;
    assert_eq!(conn.line().await, r#"{"id":9,"method":"pong","params":[]}"#);
    conn.set_difficulty(EASY).await;
    conn.notify(&worked_notify(0x1a2b3c4d, true)).await;
    conn.serve_until(|conn| conn.accepted() >= 2).await;
    let report = miner.stop().await;
    for seen in &conn.submits {
        assert!(seen.line.starts_with(r#"{"id":"#), "{}", seen.line);
        assert!(!seen.line.contains(' '), "compact: {}", seen.line);
        let params = submit_params(&seen.line);
        assert_eq!(params.len(), 6);
        assert_eq!(params[1], "1a2b3c4d");
        assert_eq!(params[2].as_str().unwrap().len(), 2 * EXTRANONCE2_SIZE);
        for field in &params[3..6] {
            assert_eq!(field.as_str().unwrap().len(), 8, "%08lx");
        }
    }
    assert_eq!(report.counters.pings, 1);
    assert_eq!(report.counters.version_mask, Some(0x1fff_e000));
}

#[tokio::test]
async fn bitaxe_suggests_fractions_and_can_suggest_nothing() {
    for (suggest, expected) in [
        (
            Some(0.001),
            Some(r#"{"id":4,"method":"mining.suggest_difficulty","params":[0.001]}"#),
        ),
        (Some(0.0), None),
    ] {
        let pool = TestPool::bind().await;
        let mut config = config(&pool, Dialect::Bitaxe);
        config.suggest_difficulty = suggest;
        let miner = start(config);
        let mut conn = pool.accept().await;
        conn.handshake().await;
        match expected {
            Some(expected) => assert_eq!(conn.line().await, expected),
            None => assert!(conn.try_next(Duration::from_millis(300)).await.is_err()),
        }
        miner.stop().await;
    }
}

#[tokio::test]
async fn bitaxe_drops_a_repeated_job_id() {
    let pool = TestPool::bind().await;
    let miner = start(config(&pool, Dialect::Bitaxe));
    let mut conn = pool.accept().await;
    conn.handshake().await;
    conn.set_difficulty(EASY).await;
    conn.notify(&worked_notify(7, true)).await;
    conn.notify(&worked_notify(7, false)).await;
    conn.serve_until(|conn| conn.accepted() >= 3).await;
    miner.stop().await;
    // A second notify with the same id would have started a new extranonce2.
    for seen in &conn.submits {
        assert_eq!(seen.submit.extranonce2.to_wire(), "0000000000000001");
    }
}

#[tokio::test]
async fn cgminer_waits_for_each_answer_and_puts_params_first() {
    let pool = TestPool::bind().await;
    let mut config = config(&pool, Dialect::Cgminer);
    config.suggest_difficulty = Some(512.0);
    let miner = start(config);
    let mut conn = pool.accept().await;
    let configure = conn.line().await;
    assert_eq!(
        configure,
        r#"{"id": 0, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": "ffffffff"}]}"#
    );
    assert!(
        conn.try_next(Duration::from_millis(300)).await.is_err(),
        "cgminer sends nothing more before the configure answer"
    );
    conn.handle(&configure).await;
    let subscribe = conn.line().await;
    assert_eq!(
        subscribe,
        r#"{"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.11.1"]}"#
    );
    assert!(conn.try_next(Duration::from_millis(300)).await.is_err());
    conn.handle(&subscribe).await;
    let authorize = conn.line().await;
    assert_eq!(
        authorize,
        format!(r#"{{"id": 2, "method": "mining.authorize", "params": ["{USER}", "x"]}}"#)
    );
    conn.handle(&authorize).await;
    assert_eq!(
        conn.line().await,
        r#"{"id": 3, "method": "mining.suggest_difficulty", "params": [512]}"#
    );
    conn.send("{\"id\":9,\"method\":\"mining.ping\",\"params\":[]}\n")
        .await;
    assert_eq!(
        conn.line().await,
        r#"{"id": 9, "result": "pong", "error": null}"#
    );
    conn.send("{\"id\":10,\"method\":\"client.get_version\",\"params\":[]}\n")
        .await;
    assert_eq!(
        conn.line().await,
        r#"{"id": 10, "result": "cgminer/4.11.1", "error": null}"#
    );
    conn.set_difficulty(EASY).await;
    conn.notify(&worked_notify(0x1a2b3c4d, true)).await;
    conn.serve_until(|conn| conn.accepted() >= 2).await;
    miner.stop().await;
    let mut ids = Vec::new();
    for seen in &conn.submits {
        assert!(seen.line.starts_with(r#"{"params": [""#), "{}", seen.line);
        assert!(
            seen.line.ends_with(r#", "method": "mining.submit"}"#),
            "{}",
            seen.line
        );
        assert_eq!(
            submit_params(&seen.line).len(),
            6,
            "version rolling was granted"
        );
        ids.push(seen.id.clone());
    }
    assert_eq!(ids[0], Id::from(4), "ids count on from the handshake");
    assert_eq!(ids[1], Id::from(5));
}

#[tokio::test]
async fn cgminer_without_version_rolling_submits_five_params() {
    let pool = TestPool::bind().await;
    let miner = start(config(&pool, Dialect::Cgminer));
    let mut conn = pool.accept().await;
    let configure = conn.line().await;
    assert!(configure.contains("mining.configure"));
    let refusal = Response::ok(Id::from(0), serde_json::json!({"version-rolling": false}));
    conn.send(&refusal.to_line()).await;
    conn.handshake().await;
    conn.set_difficulty(EASY).await;
    conn.notify(&worked_notify(1, true)).await;
    conn.serve_until(|conn| conn.accepted() >= 2).await;
    let report = miner.stop().await;
    for seen in &conn.submits {
        assert_eq!(submit_params(&seen.line).len(), 5, "{}", seen.line);
    }
    assert_eq!(report.counters.version_mask, None);
}

#[tokio::test]
async fn cpuminer_submits_five_params_always_with_id_4() {
    let pool = TestPool::bind().await;
    let miner = start(config(&pool, Dialect::Cpuminer));
    let mut conn = pool.accept().await;
    let subscribe = conn.line().await;
    assert_eq!(
        subscribe,
        r#"{"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]}"#
    );
    assert!(conn.try_next(Duration::from_millis(300)).await.is_err());
    conn.handle(&subscribe).await;
    let authorize = conn.line().await;
    assert_eq!(
        authorize,
        format!(r#"{{"id": 2, "method": "mining.authorize", "params": ["{USER}", "x"]}}"#)
    );
    conn.handle(&authorize).await;
    conn.send("{\"id\":\"v\",\"method\":\"client.get_version\",\"params\":[]}\n")
        .await;
    assert_eq!(
        conn.line().await,
        r#"{"id": "v", "result": "cpuminer/2.5.1", "error": null}"#
    );
    conn.set_difficulty(EASY).await;
    conn.notify(&worked_notify(0x1a2b3c4d, true)).await;
    conn.serve_until(|conn| conn.accepted() >= 3).await;
    let answered = conn.submits.len();
    let accepted = conn.accepted();
    conn.sync().await;
    let report = miner.stop().await;
    for seen in &conn.submits {
        assert!(
            seen.line
                .starts_with(r#"{"method": "mining.submit", "params": [""#),
            "{}",
            seen.line
        );
        assert!(seen.line.ends_with(r#"], "id":4}"#), "{}", seen.line);
        assert_eq!(submit_params(&seen.line).len(), 5);
        assert_eq!(seen.id, Id::from(4));
    }
    assert!(!conn.lines.iter().any(|line| line.contains("configure")));
    // Answers to cpuminer's submits all say id 4: matched in order.
    let resolved = report.counters.accepted + report.counters.rejected.total();
    assert!(resolved as usize >= answered);
    assert!(report.counters.accepted as usize >= accepted);
    assert!(report.counters.accepted as usize <= conn.accepted());
    assert_eq!(report.counters.unexpected_rejections, 0);
}

#[tokio::test]
async fn cpuminer_retries_subscribe_without_params() {
    let pool = TestPool::bind().await;
    let miner = start(config(&pool, Dialect::Cpuminer));
    let mut conn = pool.accept().await;
    assert!(conn.line().await.contains("cpuminer/2.5.1"));
    conn.send(&Response::error_code(Id::from(1), ErrorCode::Other).to_line())
        .await;
    let retry = conn.line().await;
    assert_eq!(
        retry,
        r#"{"id": 1, "method": "mining.subscribe", "params": []}"#
    );
    conn.handle(&retry).await;
    assert!(conn.line().await.contains("mining.authorize"));
    let report = miner.stop().await;
    assert_eq!(report.counters.subscribes_failed, 1);
    assert_eq!(report.counters.subscribes_ok, 1);
}
