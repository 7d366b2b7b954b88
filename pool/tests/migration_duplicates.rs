//! Migration 5 on a ledger an older pool left with shares credited twice
//! (a replay under a reissued job id): `pool check` says what it will
//! remove before it runs; the migration keeps the first of each header
//! hash, moves the copies to `duplicate_shares`, takes them out of the
//! per-minute sums, reverses the settled part of their credit, and from
//! then on the unique index refuses any copy. SQLite and PostgreSQL.

#[allow(dead_code)] // its write-blocking helpers are the ledger tests'
#[path = "support/ledger_backend.rs"]
mod ledger_backend;

use ledger_backend::{Backend, TestDb};
use pool::ledger::{Ledger, LedgerError, MinerDuplicates, NewShare, SchemaStatus};
use sqlx::{Connection, PgConnection, Row, SqliteConnection};

const ALICE: &str = "bcrt1qalice";
const BOB: &str = "bcrt1qbob";

ledger_backend::on_both_backends!(
    the_migration_removes_copies_and_reverses_their_settled_credit,
    a_clean_ledger_migrates_without_a_change,
);

/// One share row of an old ledger, written as the old writer did.
struct OldShare {
    address: &'static str,
    worker: &'static str,
    hash: u8,
    time_ms: i64,
    difficulty: f64,
    credit_sat: i64,
    settled: bool,
}

/// A connection of the test's own, beside the ledger's.
enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Runs `$body` with `$conn` bound to whichever connection it is.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

async fn connect(db: &TestDb) -> Conn {
    match db.backend {
        Backend::Sqlite => Conn::Sqlite(
            SqliteConnection::connect(&db.url)
                .await
                .expect("a second connection"),
        ),
        Backend::Postgres => Conn::Postgres(
            PgConnection::connect(&db.url)
                .await
                .expect("a second connection"),
        ),
    }
}

async fn execute(conn: &mut Conn, sql: &str) {
    on_conn!(conn, c => sqlx::raw_sql(sql).execute(c).await.map(|_| ()))
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// Every row of `sql`, each column read as `T`.
async fn rows<T>(conn: &mut Conn, sql: &str, columns: usize) -> Vec<Vec<T>>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>,
{
    on_conn!(conn, c => sqlx::query(sql)
        .fetch_all(c)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .iter()
        .map(|row| (0..columns).map(|column| row.get::<T, _>(column)).collect())
        .collect())
}

async fn close(conn: Conn) {
    on_conn!(conn, c => { let _ = c.close().await; })
}

/// Writes `shares` and the minute sums the old writer kept with them.
async fn write_old(db: &TestDb, shares: &[OldShare]) {
    let mut conn = connect(db).await;
    let boolean = |value: bool| match db.backend {
        Backend::Sqlite => i32::from(value).to_string(),
        Backend::Postgres => value.to_string(),
    };
    for share in shares {
        let hash = format!("{:02x}", share.hash).repeat(32);
        let hash = match db.backend {
            Backend::Sqlite => format!("X'{hash}'"),
            Backend::Postgres => format!("'\\x{hash}'::bytea"),
        };
        let sql = format!(
            "INSERT INTO shares (node, address, worker, job_id, difficulty, network_difficulty, \
             time_ms, is_block, hash, credit_sat, settled) VALUES (0, '{}', '{}', 7, {}, 2.0, {}, \
             {}, {hash}, {}, {})",
            share.address,
            share.worker,
            share.difficulty,
            share.time_ms,
            boolean(false),
            share.credit_sat,
            boolean(share.settled),
        );
        execute(&mut conn, &sql).await;
    }
    // The sums as the old writer left them: over every row, copies too.
    execute(
        &mut conn,
        "INSERT INTO share_minutes (minute, address, worker, shares, difficulty, blocks, last_ms) \
         SELECT time_ms / 60000, address, worker, COUNT(*), SUM(difficulty), \
         SUM(difficulty / network_difficulty), MAX(time_ms) FROM shares \
         GROUP BY time_ms / 60000, address, worker; \
         INSERT INTO pool_minutes (minute, shares, difficulty, blocks) \
         SELECT minute, SUM(shares), SUM(difficulty), SUM(blocks) FROM share_minutes \
         GROUP BY minute",
    )
    .await;
    // A payout run settled the settled ones.
    for address in [ALICE, BOB] {
        let settled: i64 = shares
            .iter()
            .filter(|share| share.address == address && share.settled)
            .map(|share| share.credit_sat)
            .sum();
        if settled > 0 {
            let sql = format!(
                "INSERT INTO balance_moves (address, amount_sat, kind, reference, time_ms) \
                 VALUES ('{address}', {settled}, 'pps', 'run-1', 1)"
            );
            execute(&mut conn, &sql).await;
        }
    }
    close(conn).await;
}

/// Minute sums as the remaining shares give them, against the tables.
async fn minute_sums_match_the_shares(db: &TestDb) {
    let mut conn = connect(db).await;
    let stored_keys: Vec<Vec<String>> = rows(
        &mut conn,
        "SELECT address, worker FROM share_minutes ORDER BY minute, address, worker",
        2,
    )
    .await;
    let expected_keys: Vec<Vec<String>> = rows(
        &mut conn,
        "SELECT address, worker FROM shares GROUP BY time_ms / 60000, address, worker \
         ORDER BY time_ms / 60000, address, worker",
        2,
    )
    .await;
    assert_eq!(stored_keys, expected_keys);
    let stored: Vec<Vec<i64>> = rows(
        &mut conn,
        "SELECT minute, shares, last_ms FROM share_minutes ORDER BY minute, address, worker",
        3,
    )
    .await;
    let expected: Vec<Vec<i64>> = rows(
        &mut conn,
        "SELECT time_ms / 60000, COUNT(*), MAX(time_ms) FROM shares \
         GROUP BY time_ms / 60000, address, worker ORDER BY time_ms / 60000, address, worker",
        3,
    )
    .await;
    assert_eq!(stored, expected);
    let stored: Vec<Vec<f64>> = rows(
        &mut conn,
        "SELECT difficulty FROM share_minutes ORDER BY minute, address, worker",
        1,
    )
    .await;
    let expected: Vec<Vec<f64>> = rows(
        &mut conn,
        "SELECT SUM(difficulty) FROM shares GROUP BY time_ms / 60000, address, worker \
         ORDER BY time_ms / 60000, address, worker",
        1,
    )
    .await;
    assert_eq!(stored, expected);
    let stored: Vec<Vec<i64>> = rows(
        &mut conn,
        "SELECT minute, shares FROM pool_minutes ORDER BY minute",
        2,
    )
    .await;
    let expected: Vec<Vec<i64>> = rows(
        &mut conn,
        "SELECT time_ms / 60000, COUNT(*) FROM shares GROUP BY time_ms / 60000 \
         ORDER BY time_ms / 60000",
        2,
    )
    .await;
    assert_eq!(stored, expected);
    close(conn).await;
}

fn share(hash: u8) -> NewShare {
    let mut full = [0u8; 32];
    full.fill(hash);
    NewShare {
        node: 0,
        address: ALICE.into(),
        worker: "rig".into(),
        job_id: 9,
        difficulty: 1.0,
        network_difficulty: 2.0,
        time_ms: 200_000,
        is_block: false,
        hash: full,
        credit_sat: 0,
    }
}

async fn the_migration_removes_copies_and_reverses_their_settled_credit(db: TestDb) {
    Ledger::create_at_version(&db.url, 4)
        .await
        .expect("an old ledger");
    let old = |address, worker, hash, time_ms, credit_sat, settled| OldShare {
        address,
        worker,
        hash,
        time_ms,
        difficulty: 1.0,
        credit_sat,
        settled,
    };
    write_old(
        &db,
        &[
            // Alice's share 1, replayed twice; the first copy already settled.
            old(ALICE, "rig", 1, 60_000, 100, true),
            old(ALICE, "rig", 2, 61_000, 100, true),
            old(ALICE, "rig", 1, 62_000, 100, true),
            old(ALICE, "rig", 1, 125_000, 100, false),
            // A minute made only of a copy disappears from the sums.
            old(ALICE, "other", 2, 190_000, 100, false),
            old(BOB, "rig", 3, 61_500, 50, true),
            old(BOB, "rig", 4, 62_500, 50, false),
        ],
    )
    .await;

    let SchemaStatus::Present { version, pending } =
        pool::ledger::inspect(&db.url).await.expect("inspect")
    else {
        panic!("the old ledger is there");
    };
    assert_eq!(version, 4);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].version, 5);
    let report = pending[0].duplicates.clone().expect("migration 5 reports");
    assert_eq!(
        report.miners,
        vec![MinerDuplicates {
            address: ALICE.into(),
            rows: 3,
            credit_sat: 300,
            settled_sat: 100,
        }]
    );
    let text = report.to_string();
    assert!(
        text.starts_with("3 duplicate share row(s) of 1 miner(s) to remove (300 sat"),
        "{text}"
    );
    // Inspecting changed nothing.
    assert!(matches!(
        pool::ledger::inspect(&db.url).await.expect("inspect again"),
        SchemaStatus::Present { version: 4, .. }
    ));

    let ledger = Ledger::open(&db.url).await.expect("migrates");
    assert_eq!(ledger.schema_version(), 5);
    assert_eq!(ledger.share_count().await.unwrap(), 4);
    let mut hashes: Vec<u8> = ledger
        .shares(100)
        .await
        .unwrap()
        .iter()
        .map(|share| share.hash[0])
        .collect();
    hashes.sort_unstable();
    assert_eq!(hashes, vec![1, 2, 3, 4]);
    // Settled copies: 100 sat of Alice's balance reversed, Bob untouched.
    assert_eq!(ledger.balance(ALICE).await.unwrap(), 300 - 100);
    assert_eq!(ledger.balance(BOB).await.unwrap(), 50);
    // Unsettled copies no longer count towards the next settlement.
    assert_eq!(ledger.unsettled_credit_of(ALICE).await.unwrap(), 0);
    assert_eq!(ledger.unsettled_credit_of(BOB).await.unwrap(), 50);
    minute_sums_match_the_shares(&db).await;
    let mut conn = connect(&db).await;
    let kept: Vec<Vec<i64>> = rows(
        &mut conn,
        "SELECT id, kept_id FROM duplicate_shares ORDER BY id",
        2,
    )
    .await;
    assert_eq!(kept.len(), 3);
    assert!(kept.iter().all(|row| row[1] < row[0]), "{kept:?}");
    close(conn).await;

    // From now on the index refuses a copy, and new work still goes in.
    match ledger.record_share(share(1)).await {
        Err(LedgerError::DuplicateShare) => {}
        other => panic!("a copy of a recorded share: {other:?}"),
    }
    ledger.record_share(share(9)).await.expect("new work");
    assert_eq!(ledger.share_count().await.unwrap(), 5);
    assert_eq!(ledger.stats().duplicates_refused, 1);
    ledger.close().await;
    minute_sums_match_the_shares(&db).await;
    assert!(matches!(
        pool::ledger::inspect(&db.url).await.expect("inspect"),
        SchemaStatus::Present { version: 5, ref pending } if pending.is_empty()
    ));
}

async fn a_clean_ledger_migrates_without_a_change(db: TestDb) {
    Ledger::create_at_version(&db.url, 4)
        .await
        .expect("an old ledger");
    let old = |hash, time_ms| OldShare {
        address: BOB,
        worker: "rig",
        hash,
        time_ms,
        difficulty: 2.0,
        credit_sat: 0,
        settled: false,
    };
    write_old(&db, &[old(1, 60_000), old(2, 61_000)]).await;
    let SchemaStatus::Present { pending, .. } = pool::ledger::inspect(&db.url).await.unwrap()
    else {
        panic!("the old ledger is there");
    };
    let report = pending[0].duplicates.clone().expect("migration 5 reports");
    assert!(report.miners.is_empty());
    assert_eq!(report.to_string(), "no share is recorded twice");
    let ledger = Ledger::open(&db.url).await.expect("migrates");
    assert_eq!(ledger.share_count().await.unwrap(), 2);
    ledger.close().await;
    minute_sums_match_the_shares(&db).await;
}
