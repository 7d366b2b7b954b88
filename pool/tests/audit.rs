//! `pool audit` against real databases (SQLite always, PostgreSQL when
//! `POOL_TEST_POSTGRES_URL` is set): ledgers built by a real run (a pool
//! on the simnet, simulated miners, payout runs through a wallet double)
//! balance to the satoshi, and an error planted in them, as a bug or a
//! hand at a SQL prompt would, is reported as exactly one difference
//! naming that miner and that amount. Then the copies migration 5 moves
//! into `duplicate_shares`, and the binary's exit codes.

#[path = "support/audit_ledgers.rs"]
mod audit_ledgers;
#[path = "support/e2e.rs"]
mod e2e;
#[allow(dead_code)] // its write-blocking helpers are the ledger tests'
#[path = "support/ledger_backend.rs"]
mod ledger_backend;

use audit_ledgers::{execute, fetch, now_ms, real_run};
use bitcoin::{Address, Network, ScriptBuf};
use ledger_backend::{Backend, TestDb};
use payout::{Fee, Score};
use pool::audit::{audit, AuditReport, AuditSettings, Check, Difference};
use pool::config::PayoutMode;
use pool::ledger::accounts::CreditState;
use pool::ledger::{BlockStatus, Ledger, NewBlock, NewShare};
use pool::payouts::{credit_block, CreditSettings};
use std::time::Duration;

ledger_backend::on_both_backends!(
    a_real_pplns_run_balances_and_planted_errors_are_found_exactly,
    a_real_pps_run_balances_and_a_duplicated_pps_move_is_found,
    removed_duplicates_balance_against_their_duplicate_share_moves,
    a_pplns_block_credited_over_a_removed_duplicate_is_named,
    a_header_hash_recorded_twice_is_found,
    the_binary_exits_0_balanced_1_unbalanced_2_bad_config,
);

// ---- helpers -------------------------------------------------------------------

fn address(tag: u8) -> String {
    let script = ScriptBuf::from_bytes(vec![0x01, tag, 0x75, 0x51]);
    Address::p2wsh(&script, Network::Regtest).to_string()
}

const T0: i64 = 1_750_000_000_000;

fn settings(mode: PayoutMode) -> AuditSettings {
    AuditSettings {
        mode,
        fee: Fee::from_basis_points(100).unwrap(),
        window: Score::from_blocks(2.0).unwrap(),
        halving_interval: payout::REGTEST_HALVING_INTERVAL,
        page_rows: pool::audit::PAGE_ROWS,
    }
}

async fn audited(db: &TestDb, settings: &AuditSettings) -> AuditReport {
    audit(&db.url, settings)
        .await
        .expect("the audit reads the ledger")
}

/// The report's one difference; fails listing them all otherwise.
fn only(report: &AuditReport) -> &Difference {
    assert_eq!(
        report.differences.len(),
        1,
        "exactly one difference expected: {:#?}",
        report.differences
    );
    &report.differences[0]
}

fn assert_balanced(report: &AuditReport) {
    assert!(
        report.balanced(),
        "{}\n{:#?}",
        report.summary(),
        report.differences
    );
}

/// A share of `difficulty` at network difficulty `network` from
/// `address`, numbered `n` (its hash and time follow from `n`).
fn share(n: u64, address: &str, difficulty: f64, network: f64, credit_sat: u64) -> NewShare {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&n.to_le_bytes());
    hash[31] = 0xaa;
    NewShare {
        node: 1,
        address: address.to_string(),
        worker: "rig".to_string(),
        job_id: n,
        difficulty,
        network_difficulty: network,
        time_ms: T0 + n as i64,
        is_block: false,
        hash,
        credit_sat,
    }
}

/// What PPS pays a share of `difficulty` at `network` on a 50 BTC
/// subsidy at 1 %.
fn pps(difficulty: f64, network: f64) -> u64 {
    payout::pps_credit(
        5_000_000_000,
        difficulty,
        network,
        Fee::from_basis_points(100).unwrap(),
    )
    .unwrap()
}

/// Migration 5's table, unless it is there already (the lead's migration
/// creates it): every column of `shares`, plus `kept_id` and `removed_ms`.
async fn ensure_duplicate_shares(db: &TestDb) {
    let sql = match db.backend {
        Backend::Sqlite => {
            "CREATE TABLE IF NOT EXISTS duplicate_shares (id INTEGER PRIMARY KEY, \
             node INTEGER NOT NULL, address TEXT NOT NULL, worker TEXT NOT NULL, \
             job_id INTEGER NOT NULL, difficulty REAL NOT NULL, network_difficulty REAL NOT NULL, \
             time_ms INTEGER NOT NULL, is_block INTEGER NOT NULL, hash BLOB NOT NULL, \
             credit_sat INTEGER NOT NULL, settled INTEGER NOT NULL, kept_id INTEGER NOT NULL, \
             removed_ms INTEGER NOT NULL)"
        }
        Backend::Postgres => {
            "CREATE TABLE IF NOT EXISTS duplicate_shares (id BIGINT PRIMARY KEY, \
             node INTEGER NOT NULL, address TEXT NOT NULL, worker TEXT NOT NULL, \
             job_id BIGINT NOT NULL, difficulty DOUBLE PRECISION NOT NULL, \
             network_difficulty DOUBLE PRECISION NOT NULL, time_ms BIGINT NOT NULL, \
             is_block BOOLEAN NOT NULL, hash BYTEA NOT NULL, credit_sat BIGINT NOT NULL, \
             settled BOOLEAN NOT NULL, kept_id BIGINT NOT NULL, removed_ms BIGINT NOT NULL)"
        }
    };
    execute(db, sql).await;
}

/// What migration 5 does to one repeated share: the row `removed` moves
/// into `duplicate_shares`, carrying the hash of `kept`, which stays.
async fn remove_as_duplicate(db: &TestDb, removed: i64, kept: i64) {
    ensure_duplicate_shares(db).await;
    execute(
        db,
        &format!(
            "INSERT INTO duplicate_shares (id, node, address, worker, job_id, difficulty, \
             network_difficulty, time_ms, is_block, hash, credit_sat, settled, kept_id, removed_ms) \
             SELECT id, node, address, worker, job_id, difficulty, network_difficulty, time_ms, \
             is_block, (SELECT hash FROM shares WHERE id = {kept}), credit_sat, settled, {kept}, {now} \
             FROM shares WHERE id = {removed}; \
             DELETE FROM shares WHERE id = {removed}",
            now = now_ms()
        ),
    )
    .await;
}

/// `(id, address)` of every share, oldest first.
async fn share_ids(ledger: &Ledger) -> Vec<(i64, String)> {
    let mut shares: Vec<(i64, String)> = ledger
        .shares(1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|share| (share.id, share.address))
        .collect();
    shares.sort();
    shares
}

// ---- ledgers built by a real run -----------------------------------------------

async fn a_real_pplns_run_balances_and_planted_errors_are_found_exactly(db: TestDb) {
    let run = real_run(&db.url, PayoutMode::Pplns, "audit-pplns").await;
    let settings = AuditSettings::from_config(&run.config);
    let report = audited(&db, &settings).await;
    assert_balanced(&report);
    eprintln!("{}", report.summary());
    let counts = &report.counts;
    assert!(counts.blocks >= 2, "{}", report.summary());
    assert!(counts.splits_recomputed >= 1, "{}", report.summary());
    assert_eq!(counts.payout_batches, 1);
    assert_eq!(counts.owed_sat, 0, "everything owed was paid");
    assert!(counts.balance_moves >= 4, "{}", report.summary());
    // Reading a row at a time finds the same as reading pages.
    let small_pages = AuditSettings {
        page_rows: 2,
        ..settings.clone()
    };
    assert_eq!(audited(&db, &small_pages).await, report);

    // A matured credit and a paid line to plant errors next to.
    let mut matured = None;
    for block in run.ledger.blocks().await.unwrap() {
        if block.status != BlockStatus::Confirmed {
            continue;
        }
        for credit in run.ledger.block_credits(block.id).await.unwrap() {
            if credit.state == CreditState::Matured && credit.amount_sat > 0 {
                matured = Some(credit);
            }
        }
    }
    let credit = matured.expect("a PPLNS credit matured");
    let batch = run.ledger.batches().await.unwrap().remove(0);
    let line = batch.lines[0].clone();
    let (block_id, miner, amount) = (credit.block_id, credit.address.clone(), credit.amount_sat);
    let now = now_ms();

    // 1. A block move written twice (under another reference: the journal's
    // unique key refuses the same one).
    let planted = format!(
        "INSERT INTO balance_moves (address, amount_sat, kind, reference, time_ms) \
         VALUES ('{miner}', {amount}, 'block', '{block_id}-again', {now})"
    );
    execute(&db, &planted).await;
    let report = audited(&db, &settings).await;
    let found = only(&report);
    assert_eq!(found.check, Check::BlockMove);
    assert_eq!(found.address.as_deref(), Some(miner.as_str()));
    assert_eq!(
        (found.expected_sat, found.recorded_sat),
        (0, i128::from(amount))
    );
    assert!(
        found.cause.contains(&format!("block/{block_id}-again")),
        "{found}"
    );
    execute(
        &db,
        &format!("DELETE FROM balance_moves WHERE reference = '{block_id}-again'"),
    )
    .await;

    // 2. A block credit changed by 7 sat after it matured.
    execute(
        &db,
        &format!(
            "UPDATE block_credits SET amount_sat = amount_sat + 7 \
             WHERE block_id = {block_id} AND address = '{miner}'"
        ),
    )
    .await;
    let report = audited(&db, &settings).await;
    let found = only(&report);
    assert_eq!(found.check, Check::BlockCredit);
    assert_eq!(found.address.as_deref(), Some(miner.as_str()));
    assert_eq!(
        (found.expected_sat, found.recorded_sat),
        (i128::from(amount), i128::from(amount) + 7)
    );
    assert!(found.cause.contains("window recomputed"), "{found}");
    execute(
        &db,
        &format!(
            "UPDATE block_credits SET amount_sat = amount_sat - 7 \
             WHERE block_id = {block_id} AND address = '{miner}'"
        ),
    )
    .await;

    // 3. A payout line whose debit is gone.
    let (batch_id, payee, paid) = (batch.id.clone(), line.address.clone(), line.amount_sat);
    execute(
        &db,
        &format!(
            "DELETE FROM balance_moves WHERE kind = 'payout' AND reference = '{batch_id}' \
             AND address = '{payee}'"
        ),
    )
    .await;
    let report = audited(&db, &settings).await;
    let found = only(&report);
    assert_eq!(found.check, Check::PayoutMove);
    assert_eq!(found.address.as_deref(), Some(payee.as_str()));
    assert_eq!(
        (found.expected_sat, found.recorded_sat),
        (-i128::from(paid), 0)
    );
    assert!(found.cause.contains("no payout move"), "{found}");
    execute(
        &db,
        &format!(
            "INSERT INTO balance_moves (address, amount_sat, kind, reference, time_ms) \
             VALUES ('{payee}', -{paid}, 'payout', '{batch_id}', {now})"
        ),
    )
    .await;

    // 4. A move of a kind the pool never writes.
    execute(
        &db,
        &format!(
            "INSERT INTO balance_moves (address, amount_sat, kind, reference, time_ms) \
             VALUES ('{miner}', 5000, 'bonus', 'xmas', {now})"
        ),
    )
    .await;
    let report = audited(&db, &settings).await;
    let found = only(&report);
    assert_eq!(found.check, Check::UnknownMove);
    assert_eq!(found.address.as_deref(), Some(miner.as_str()));
    assert_eq!((found.expected_sat, found.recorded_sat), (0, 5_000));
    execute(&db, "DELETE FROM balance_moves WHERE kind = 'bonus'").await;

    // Every plant undone: the books balance again.
    assert_balanced(&audited(&db, &settings).await);
    run.ledger.close().await;
}

async fn a_real_pps_run_balances_and_a_duplicated_pps_move_is_found(db: TestDb) {
    let run = real_run(&db.url, PayoutMode::Pps, "audit-pps").await;
    let settings = AuditSettings::from_config(&run.config);
    let report = audited(&db, &settings).await;
    assert_balanced(&report);
    eprintln!("{}", report.summary());
    assert!(report.counts.share_credits >= 30, "{}", report.summary());
    assert_eq!(
        report.counts.unsettled_sat, 0,
        "the run settled every credit"
    );
    assert_eq!(report.counts.owed_sat, 0, "everything owed was paid");
    assert!(run.first.settled.total_sat > 0);

    let moves: Vec<(String, i64, String)> = fetch(
        &db,
        "SELECT address, amount_sat, reference FROM balance_moves WHERE kind = 'pps' ORDER BY id",
    )
    .await;
    let (miner, amount, reference) = moves.first().cloned().expect("a pps move");
    execute(
        &db,
        &format!(
            "INSERT INTO balance_moves (address, amount_sat, kind, reference, time_ms) \
             VALUES ('{miner}', {amount}, 'pps', '{reference}-again', {})",
            now_ms()
        ),
    )
    .await;
    let report = audited(&db, &settings).await;
    let found = only(&report);
    assert_eq!(found.check, Check::PpsMove);
    assert_eq!(found.address.as_deref(), Some(miner.as_str()));
    assert_eq!(found.excess_sat(), i128::from(amount));
    assert!(
        found.cause.contains(&format!("pps/{reference}-again")),
        "the duplicate is named: {found}"
    );
    execute(
        &db,
        &format!("DELETE FROM balance_moves WHERE reference = '{reference}-again'"),
    )
    .await;

    // A share credited 3 sat over the PPS rate: the share is off the
    // scheme, and its settlement moved 3 sat less than the shares now say.
    let shares: Vec<(i64, String, i64)> = fetch(
        &db,
        "SELECT id, address, credit_sat FROM shares WHERE credit_sat > 0 ORDER BY id",
    )
    .await;
    let (id, miner, credit) = shares.last().cloned().expect("a credited share");
    execute(
        &db,
        &format!("UPDATE shares SET credit_sat = credit_sat + 3 WHERE id = {id}"),
    )
    .await;
    let report = audited(&db, &settings).await;
    assert_eq!(report.differences.len(), 2, "{:#?}", report.differences);
    let off = &report.differences[0];
    assert_eq!(off.check, Check::ShareCredit);
    assert_eq!(off.address.as_deref(), Some(miner.as_str()));
    assert_eq!(
        (off.expected_sat, off.recorded_sat),
        (i128::from(credit), i128::from(credit) + 3)
    );
    assert!(
        off.cause
            .contains(&format!("share {id} (PPS on a 5,000,000,000 sat subsidy")),
        "{off}"
    );
    let unmoved = &report.differences[1];
    assert_eq!(unmoved.check, Check::PpsMove);
    assert_eq!(unmoved.address.as_deref(), Some(miner.as_str()));
    assert_eq!(unmoved.excess_sat(), -3);
    run.ledger.close().await;
}

// ---- duplicates removed by migration 5 -------------------------------------------

async fn removed_duplicates_balance_against_their_duplicate_share_moves(db: TestDb) {
    let ledger = Ledger::open(&db.url).await.unwrap();
    let (a, b) = (address(1), address(2));
    let credit = pps(0.001, 0.002);
    for (n, miner) in [(1, &a), (2, &a), (3, &b)] {
        ledger
            .record_share(share(n, miner, 0.001, 0.002, credit))
            .await
            .unwrap();
    }
    let settled = ledger.settle_share_credits("run-1").await.unwrap();
    assert_eq!(settled.per_address[&a], 2 * credit);
    let ids = share_ids(&ledger).await;
    let (kept, copy) = (ids[0].0, ids[1].0);
    let settings = settings(PayoutMode::Pps);
    assert_balanced(&audited(&db, &settings).await);

    // Migration 5: the copy leaves `shares`, and a move takes its credit back.
    remove_as_duplicate(&db, copy, kept).await;
    let take_back = format!(
        "INSERT INTO balance_moves (address, amount_sat, kind, reference, time_ms) \
         VALUES ('{a}', -{credit}, 'duplicate_share', 'share:{copy}', {})",
        now_ms()
    );
    execute(&db, &take_back).await;
    let report = audited(&db, &settings).await;
    assert_balanced(&report);
    assert_eq!(report.counts.removed_shares, 1);
    assert_eq!(ledger.balance(&a).await.unwrap(), credit as i64);

    // Without the move, the copy's credit is still in the balance.
    execute(
        &db,
        "DELETE FROM balance_moves WHERE kind = 'duplicate_share'",
    )
    .await;
    let report = audited(&db, &settings).await;
    let found = only(&report);
    assert_eq!(found.check, Check::DuplicateShareMove);
    assert_eq!(found.address.as_deref(), Some(a.as_str()));
    assert_eq!(
        (found.expected_sat, found.recorded_sat),
        (-i128::from(credit), 0)
    );
    assert!(found.cause.contains(&format!("share {copy}")), "{found}");

    // A take-back with no removed share behind it.
    execute(&db, &take_back).await;
    execute(
        &db,
        &format!(
            "INSERT INTO balance_moves (address, amount_sat, kind, reference, time_ms) \
             VALUES ('{b}', -5, 'duplicate_share', 'share:999999', {})",
            now_ms()
        ),
    )
    .await;
    let report = audited(&db, &settings).await;
    let found = only(&report);
    assert_eq!(found.address.as_deref(), Some(b.as_str()));
    assert_eq!((found.expected_sat, found.recorded_sat), (0, -5));
    ledger.close().await;
}

async fn a_pplns_block_credited_over_a_removed_duplicate_is_named(db: TestDb) {
    let ledger = Ledger::open(&db.url).await.unwrap();
    let (a, b) = (address(1), address(2));
    // Network difficulty 8, shares of 4: half a block each, so a 2-block
    // window is the newest four. Oldest first: a, b, b's copy, a, and a's
    // share that found the block.
    for (n, miner) in [(1, &a), (2, &b), (3, &b), (4, &a)] {
        ledger
            .record_share(share(n, miner, 4.0, 8.0, 0))
            .await
            .unwrap();
    }
    let block_hash = "22".repeat(32);
    ledger
        .record_share(NewShare {
            is_block: true,
            hash: [0x22; 32],
            ..share(5, &a, 4.0, 8.0, 0)
        })
        .await
        .unwrap();
    ledger
        .record_block(NewBlock {
            node: 1,
            height: 7,
            hash: block_hash.clone(),
            address: a.clone(),
            worker: "rig".to_string(),
            coinbase_value_sat: 1_000_000,
            time_ms: T0 + 5,
            raw_hex: "00".to_string(),
            answers: "[]".to_string(),
            accepted: true,
            mode: PayoutMode::Pplns,
        })
        .await
        .unwrap();
    let block = ledger.block_by_hash(&block_hash).await.unwrap().unwrap();
    let credit = CreditSettings {
        mode: PayoutMode::Pplns,
        fee: Fee::from_basis_points(100).unwrap(),
        window: Score::from_blocks(2.0).unwrap(),
    };
    assert!(credit_block(&ledger, &block, &credit).await.unwrap());
    assert!(ledger.confirm_block(block.id, 100).await.unwrap());
    let settings = settings(PayoutMode::Pplns);
    assert_balanced(&audited(&db, &settings).await);
    // A config whose fee changed since: still balanced (the block keeps the
    // fee it was credited with), and a note says so.
    let later = AuditSettings {
        fee: Fee::from_basis_points(200).unwrap(),
        ..settings.clone()
    };
    let report = audited(&db, &later).await;
    assert_balanced(&report);
    assert!(
        report.notes.iter().any(|note| note.contains(&format!(
            "block 7 (id {}) (1 % fee, 2.00 blocks window)",
            block.id
        ))),
        "{:#?}",
        report.notes
    );

    // With the copy the window was a, a, b, b: 495,000 sat each of the
    // 990,000 after the 1 % fee. Without it: a, a, b, a, so a 742,500
    // and b 247,500.
    let ids = share_ids(&ledger).await;
    remove_as_duplicate(&db, ids[2].0, ids[1].0).await;
    let report = audited(&db, &settings).await;
    assert_eq!(report.differences.len(), 2, "{:#?}", report.differences);
    let of = |miner: &str| {
        report
            .differences_of(miner)
            .next()
            .unwrap_or_else(|| panic!("a difference for {miner}: {:#?}", report.differences))
            .clone()
    };
    let (for_a, for_b) = (of(&a), of(&b));
    assert_eq!((for_a.expected_sat, for_a.recorded_sat), (742_500, 495_000));
    assert_eq!((for_b.expected_sat, for_b.recorded_sat), (247_500, 495_000));
    for found in [&for_a, &for_b] {
        assert_eq!(found.check, Check::BlockCredit);
        assert!(
            found
                .cause
                .contains("credited with 1 duplicate shares in its window"),
            "{found}"
        );
    }
    ledger.close().await;
}

async fn a_header_hash_recorded_twice_is_found(db: TestDb) {
    let ledger = Ledger::open(&db.url).await.unwrap();
    let a = address(1);
    let credit = pps(0.001, 0.002);
    ledger
        .record_share(share(1, &a, 0.001, 0.002, credit))
        .await
        .unwrap();
    // A ledger from before migration 5 made the hash unique (which the
    // audit tells by the index).
    execute(&db, "DROP INDEX IF EXISTS shares_hash").await;
    // Written behind the pool's back: its writer may refuse a repeat.
    execute(
        &db,
        "INSERT INTO shares (node, address, worker, job_id, difficulty, network_difficulty, \
         time_ms, is_block, hash, credit_sat) SELECT node, address, worker, job_id, difficulty, \
         network_difficulty, time_ms + 1, is_block, hash, credit_sat FROM shares",
    )
    .await;
    let ids = share_ids(&ledger).await;
    assert_eq!(ids.len(), 2);
    let report = audited(&db, &settings(PayoutMode::Pps)).await;
    let found = only(&report);
    assert_eq!(found.check, Check::RepeatedShare);
    assert_eq!(found.address.as_deref(), Some(a.as_str()));
    assert_eq!(
        (found.expected_sat, found.recorded_sat),
        (0, i128::from(credit))
    );
    assert!(
        found
            .cause
            .contains(&format!("share {} repeats share {}", ids[1].0, ids[0].0)),
        "{found}"
    );
    ledger.close().await;
}

// ---- the binary ------------------------------------------------------------------

async fn pool_audit(config: &std::path::Path) -> (Option<i32>, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pool"));
    command
        .arg("audit")
        .arg("--config")
        .arg(config)
        .current_dir(config.parent().expect("config in a directory"))
        .kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("POOL_") {
            command.env_remove(name);
        }
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("pool audit finishes within 60 s")
        .expect("the pool binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

fn config_text(database: &str, fee_percent: &str) -> String {
    format!(
        "[pool]\nnetwork = \"regtest\"\nmode = \"pps\"\nfee_percent = {fee_percent}\n\n\
         [chain]\nsource = \"simnet\"\n\n[database]\nurl = \"{database}\"\n"
    )
}

async fn the_binary_exits_0_balanced_1_unbalanced_2_bad_config(db: TestDb) {
    let dir = e2e::Scratch::new("audit-cli");
    let ledger = Ledger::open(&db.url).await.unwrap();
    let a = address(3);
    let credit = pps(0.001, 0.002);
    for n in 1..=3 {
        ledger
            .record_share(share(n, &a, 0.001, 0.002, credit))
            .await
            .unwrap();
    }
    ledger.settle_share_credits("run-1").await.unwrap();
    ledger.close().await;
    let config = dir.path().join("pool.toml");
    std::fs::write(&config, config_text(&db.url, "1.0")).unwrap();

    let (code, text) = pool_audit(&config).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("audit: balanced to the satoshi; "), "{text}");

    execute(
        &db,
        &format!(
            "INSERT INTO balance_moves (address, amount_sat, kind, reference, time_ms) \
             VALUES ('{a}', {}, 'pps', 'run-1-again', {})",
            3 * credit,
            now_ms()
        ),
    )
    .await;
    let (code, text) = pool_audit(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "difference: {a}: expected {} sat, recorded {} sat (+{}): ",
            pool::audit::sats((3 * credit).into()),
            pool::audit::sats((6 * credit).into()),
            pool::audit::sats((3 * credit).into()),
        )),
        "{text}"
    );
    assert!(text.contains("pps/run-1-again"), "{text}");
    assert!(text.contains("audit: 1 difference; "), "{text}");

    std::fs::write(&config, config_text(&db.url, "150")).unwrap();
    let (code, text) = pool_audit(&config).await;
    assert_eq!(code, Some(2), "a fee of 150 % does not load: {text}");

    // A ledger that is not there is an error, and the audit does not create it.
    let missing = dir.path().join("nowhere.db");
    let url = format!("sqlite://{}", missing.display());
    std::fs::write(&config, config_text(&url, "1.0")).unwrap();
    let (code, text) = pool_audit(&config).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("audit: failed"), "{text}");
    assert!(!missing.exists(), "the audit created {}", missing.display());
}
