//! The share ledger against real databases. Every test is written once and
//! runs against SQLite (always) and PostgreSQL (when
//! `POOL_TEST_POSTGRES_URL` names a server; `.ci/run` starts one).

#[path = "support/ledger_backend.rs"]
mod ledger_backend;

use futures::future::join_all;
use ledger_backend::{Backend, TestDb};
use pool::config::PayoutMode;
use pool::ledger::{Ledger, LedgerError, LedgerOptions, NewBlock, NewShare};
use sqlx::Connection;
use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Context;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

ledger_backend::on_both_backends!(
    shares_keep_every_field,
    blocks_keep_every_field_and_take_newer_answers,
    group_commit_batches_concurrent_shares,
    a_lone_share_is_committed_at_once_whatever_the_batch_window,
    shares_sent_during_a_commit_gather_into_the_next_transaction,
    concurrent_commits_count_each_hash_once_whatever_the_order,
    a_failed_commit_fails_only_its_own_callers_while_the_next_batch_gathers,
    full_queue_makes_callers_wait_and_drops_nothing,
    acknowledged_shares_are_seen_by_a_fresh_open,
    killed_writer_process_keeps_every_acknowledged_share,
    unwritable_database_fails_callers_then_recovers,
    two_nodes_write_concurrently_without_collisions,
    close_writes_what_is_queued_then_refuses,
    invalid_share_is_refused_alone,
    a_version_one_ledger_upgrades_keeping_its_rows,
    activity_from_minute_sums_equals_activity_from_the_shares,
);

fn share(node: u8, job_id: u64) -> NewShare {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&job_id.to_le_bytes());
    hash[31] = node;
    NewShare {
        node,
        address: format!("bcrt1qnode{node}address{}", job_id % 7),
        worker: if job_id.is_multiple_of(3) {
            String::new()
        } else {
            format!("rig{}", job_id % 5)
        },
        job_id,
        difficulty: 1024.0 + job_id as f64 / 3.0,
        network_difficulty: 0.001,
        time_ms: 1_700_000_000_000 + job_id as i64,
        is_block: job_id.is_multiple_of(11),
        hash,
        credit_sat: job_id % 1_000,
    }
}

fn block(height: u32, hash_byte: u8, answers: &str) -> NewBlock {
    NewBlock {
        node: 3,
        height,
        hash: format!("{:02x}", hash_byte).repeat(32),
        address: "bcrt1qfinder".to_string(),
        worker: "bitaxe".to_string(),
        coinbase_value_sat: 312_500_000 + u64::from(height),
        time_ms: 1_700_000_000_000 + i64::from(height),
        raw_hex: "00".repeat(100),
        answers: answers.to_string(),
        accepted: true,
        mode: PayoutMode::Pplns,
    }
}

async fn open(db: &TestDb) -> Ledger {
    Ledger::open(&db.url).await.expect("open the ledger")
}

async fn open_with(db: &TestDb, options: LedgerOptions) -> Ledger {
    Ledger::open_with(&db.url, options)
        .await
        .expect("open the ledger")
}

/// Every job id in the ledger.
async fn job_ids(ledger: &Ledger) -> BTreeSet<u64> {
    ledger
        .shares(u64::MAX)
        .await
        .expect("read shares")
        .iter()
        .map(|stored| stored.job_id)
        .collect()
}

async fn shares_keep_every_field(db: TestDb) {
    let ledger = open(&db).await;
    assert_eq!(
        ledger.schema_version(),
        5,
        "shares and blocks, payouts, alerts, share minutes, unique share hashes"
    );
    let mut edge = share(255, u64::MAX);
    edge.address = "tb1q€ünïcode".to_string();
    edge.difficulty = 1.0e-9;
    edge.network_difficulty = 1.234_567_890_123e14;
    edge.hash = [0xff; 32];
    edge.is_block = true;
    let mut originals = vec![share(0, 0), share(1, 1), share(2, 2), edge];
    originals.push(NewShare {
        time_ms: 1_800_000_000_000,
        ..share(7, i64::MAX as u64 + 1)
    });
    for original in &originals {
        ledger
            .record_share(original.clone())
            .await
            .expect("record share");
    }
    assert_eq!(ledger.share_count().await.unwrap(), originals.len() as u64);

    let stored = ledger.shares(100).await.unwrap();
    // Newest first: by time, then by id.
    let mut expected = originals.clone();
    expected.sort_by_key(|share| std::cmp::Reverse(share.time_ms));
    let got: Vec<NewShare> = stored.iter().map(|s| s.share()).collect();
    assert_eq!(got, expected);
    let ids: HashSet<i64> = stored.iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), stored.len(), "ids are unique");

    let newest_two = ledger.shares(2).await.unwrap();
    assert_eq!(newest_two.len(), 2);
    assert_eq!(newest_two[0], stored[0]);
    assert_eq!(ledger.stats().shares_written, originals.len() as u64);
    ledger.close().await;
}

async fn blocks_keep_every_field_and_take_newer_answers(db: TestDb) {
    let ledger = open(&db).await;
    let first = block(100, 0xab, r#"{"node0":null}"#);
    let second = NewBlock {
        accepted: false,
        worker: String::new(),
        ..block(101, 0xcd, r#"{"node0":"inconclusive"}"#)
    };
    ledger.record_block(first.clone()).await.unwrap();
    ledger.record_block(second.clone()).await.unwrap();

    let stored = ledger.blocks().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].block(), second, "newest first");
    assert_eq!(stored[1].block(), first);
    assert!(stored
        .iter()
        .all(|b| b.status == pool::ledger::BlockStatus::Submitted));

    // The same block again (a resubmission): one row, the newer answers.
    let again = NewBlock {
        answers: r#"{"node0":null,"node1":"duplicate"}"#.to_string(),
        accepted: true,
        ..second.clone()
    };
    ledger.record_block(again.clone()).await.unwrap();
    let stored = ledger.blocks().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].block(), again);
    assert_eq!(ledger.stats().blocks_written, 3);
    ledger.close().await;
}

async fn group_commit_batches_concurrent_shares(db: TestDb) {
    const SHARES: u64 = 5_000;
    let options = LedgerOptions::default();
    let ledger = open_with(&db, options.clone()).await;
    let started = Instant::now();
    let calls = (0..SHARES).map(|job_id| {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            let call = Instant::now();
            ledger
                .record_share(share(1, job_id))
                .await
                .map(|()| call.elapsed())
        })
    });
    let latencies: Vec<Duration> = join_all(calls)
        .await
        .into_iter()
        .map(|joined| joined.expect("task").expect("record share"))
        .collect();
    let total = started.elapsed();
    let stats = ledger.stats();
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    eprintln!(
        "{:?}: {SHARES} shares in {total:?}, slowest call {slowest:?}, {stats:?}",
        db.backend
    );

    assert_eq!(stats.shares_written, SHARES);
    assert_eq!(stats.write_errors, 0);
    // Far fewer transactions than shares.
    assert!(stats.batches <= SHARES / 50, "{stats:?}");
    assert!(stats.largest_batch <= options.max_batch as u64, "{stats:?}");
    assert_eq!(ledger.share_count().await.unwrap(), SHARES);
    assert_eq!(job_ids(&ledger).await, (0..SHARES).collect());
    // Bounded latency, loosely: no call waited for more than a few dozen
    // commits (a hang or a lost wake-up would).
    assert!(
        slowest < Duration::from_secs(30),
        "slowest call {slowest:?}"
    );
    ledger.close().await;
}

/// `batch_window` is ignored: the writer waits for no window, so a share
/// alone in the queue is committed at once, in a transaction of its own.
/// (With the window honoured, this call would take an hour.)
async fn a_lone_share_is_committed_at_once_whatever_the_batch_window(db: TestDb) {
    #[allow(deprecated)] // set on purpose: code that still sets it must not wait
    let ledger = open_with(
        &db,
        LedgerOptions {
            batch_window: Duration::from_secs(3_600),
            ..LedgerOptions::default()
        },
    )
    .await;
    tokio::time::timeout(HANG, ledger.record_share(share(0, 42)))
        .await
        .expect("the lone share waited for the batch window")
        .expect("record share");
    let stats = ledger.stats();
    assert_eq!(
        (stats.shares_written, stats.batches, stats.largest_batch),
        (1, 1, 1),
        "{stats:?}"
    );

    // With a small max_batch, batches never exceed it.
    let small = open_with(
        &db,
        LedgerOptions {
            max_batch: 100,
            ..LedgerOptions::default()
        },
    )
    .await;
    let calls = (0..1_000).map(|job_id| small.record_share(share(0, 1_000 + job_id)));
    for outcome in join_all(calls).await {
        outcome.expect("record share");
    }
    let stats = small.stats();
    assert_eq!(stats.shares_written, 1_000);
    assert!(stats.largest_batch <= 100, "{stats:?}");
    assert!(stats.batches >= 10, "{stats:?}");
    small.close().await;
    ledger.close().await;
}

/// Longer than any commit of these tests takes; only a hang reaches it.
const HANG: Duration = Duration::from_secs(60);

/// A writer that holds the database this long (a lock) keeps waiting
/// rather than failing, in the pipeline tests.
const PATIENT_WRITES: Duration = Duration::from_secs(120);

/// Waits until the writer has taken every queued request: into the commit
/// it starts at once if none runs, else into the batch gathering behind it.
async fn writer_took_everything(ledger: &Ledger) {
    writer_took_all_but(ledger, 0).await;
}

/// Waits until no more than `left` requests wait in the writer's queue.
async fn writer_took_all_but(ledger: &Ledger, left: u64) {
    let deadline = Instant::now() + HANG;
    while ledger.stats().queued > left {
        assert!(
            Instant::now() < deadline,
            "the writer took nothing from its queue: {:?}",
            ledger.stats()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Calls `record_share` for each share and polls each call once, which
/// queues the share with the writer; the calls then wait for their answer.
fn queue_shares(
    ledger: &Ledger,
    shares: impl IntoIterator<Item = NewShare>,
) -> Vec<Pin<Box<impl Future<Output = Result<(), LedgerError>> + '_>>> {
    let mut calls: Vec<_> = shares
        .into_iter()
        .map(|share| Box::pin(ledger.record_share(share)))
        .collect();
    let waker = futures::task::noop_waker();
    let mut context = Context::from_waker(&waker);
    for call in &mut calls {
        assert!(call.as_mut().poll(&mut context).is_pending());
    }
    calls
}

/// The pipeline: while one transaction waits for a lock, the shares sent
/// meanwhile gather, and once the lock goes they are committed together in
/// the very next transaction. A copy of the committing share's hash among
/// them is refused by the database once that share is in.
async fn shares_sent_during_a_commit_gather_into_the_next_transaction(db: TestDb) {
    const GATHERED: u64 = 50;
    let ledger = open_with(
        &db,
        LedgerOptions {
            write_timeout: PATIENT_WRITES,
            // One commit in flight: the batch behind it is all that gathers
            // (two in flight: concurrent_commits_count_each_hash_once_...).
            commits_in_flight: 1,
            ..LedgerOptions::default()
        },
    )
    .await;
    ledger.record_share(share(3, 0)).await.expect("first share");

    let lock = db.hold_writes().await;
    let committing = share(3, 1);
    let first = queue_shares(&ledger, [committing.clone()])
        .pop()
        .expect("one call");
    // Taken at once: the database was idle, so its commit has begun, and
    // waits for the lock.
    writer_took_everything(&ledger).await;
    let copy = NewShare {
        job_id: 999,
        ..committing.clone()
    };
    let gathered = queue_shares(
        &ledger,
        (2..2 + GATHERED)
            .map(|job_id| share(3, job_id))
            .chain([copy]),
    );
    writer_took_everything(&ledger).await;
    let stats = ledger.stats();
    assert_eq!(
        (stats.shares_written, stats.batches),
        (1, 1),
        "nothing more can commit while the lock is held: {stats:?}"
    );

    lock.release().await;
    let (first, mut gathered) =
        tokio::time::timeout(HANG, futures::future::join(first, join_all(gathered)))
            .await
            .expect("every call is answered once the lock goes");
    first.expect("the share whose commit waited");
    let copy_outcome = gathered.pop().expect("the copy's outcome");
    assert!(
        matches!(copy_outcome, Err(LedgerError::DuplicateShare)),
        "{copy_outcome:?}"
    );
    for outcome in gathered {
        outcome.expect("a gathered share");
    }
    let stats = ledger.stats();
    assert_eq!(
        (stats.batches, stats.largest_batch, stats.shares_written),
        (3, GATHERED, 2 + GATHERED),
        "the first share, the one that waited, then one transaction of all the gathered: {stats:?}"
    );
    assert_eq!((stats.duplicates_refused, stats.write_errors), (1, 0));
    assert_eq!(job_ids(&ledger).await, (0..2 + GATHERED).collect());
    ledger.close().await;
}

/// Two batches holding the same hashes in opposite orders, committed at
/// once (PostgreSQL keeps two transactions in flight; SQLite commits one
/// after the other): each hash is recorded once, its other copy refused,
/// and neither transaction fails. Had each inserted in its own order, they
/// would wait for each other's hashes and PostgreSQL would abort one as a
/// deadlock, failing honest shares for a miner that replays its own.
async fn concurrent_commits_count_each_hash_once_whatever_the_order(db: TestDb) {
    // Within tokio's budget of sends one task makes per poll.
    const HASHES: u64 = 60;
    const COPY: u64 = 100_000;
    let options = LedgerOptions {
        write_timeout: PATIENT_WRITES,
        // The batches' edges: the originals are one, the copies the next.
        max_batch: HASHES as usize,
        ..LedgerOptions::default()
    };
    let ledger = open_with(&db, options.clone()).await;
    ledger.record_share(share(5, 0)).await.expect("first share");
    if db.backend == Backend::Postgres {
        // Not a wait for anything: it makes each transaction's inserts last
        // long enough that the two surely overlap, so that inserting in
        // each batch's own order deadlocks every time rather than sometimes.
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(
            "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             PERFORM pg_sleep(0.002); RETURN NEW; END $$; \
             CREATE TRIGGER slow_insert BEFORE INSERT ON shares FOR EACH ROW \
             EXECUTE FUNCTION slow_insert();",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }

    // Every committer busy (a share each, waiting for the lock), so the
    // originals gather into one batch and the copies queue behind it.
    let lock = db.hold_writes().await;
    let committers = match db.backend {
        Backend::Sqlite => 1,
        Backend::Postgres => options.commits_in_flight as u64,
    };
    let mut blockers = Vec::new();
    for blocker in 0..committers {
        blockers.extend(queue_shares(&ledger, [share(5, COPY / 2 + blocker)]));
        writer_took_everything(&ledger).await;
    }
    let originals: Vec<NewShare> = (1..=HASHES).map(|job_id| share(5, job_id)).collect();
    let copies = originals.iter().rev().map(|original| NewShare {
        job_id: COPY + original.job_id,
        ..original.clone()
    });
    let first = queue_shares(&ledger, originals.clone());
    tokio::task::yield_now().await;
    let second = queue_shares(&ledger, copies);
    // The writer holds a batch's worth; the rest waits in its queue.
    writer_took_all_but(&ledger, HASHES).await;
    lock.release().await;

    let (blocked, first, second) = tokio::time::timeout(
        HANG,
        futures::future::join3(join_all(blockers), join_all(first), join_all(second)),
    )
    .await
    .expect("every call is answered once the lock goes");
    let stats = ledger.stats();
    assert_eq!(stats.write_errors, 0, "no transaction failed: {stats:?}");
    for outcome in blocked {
        outcome.expect("a share that waited for the lock");
    }
    for (original, copy) in first.iter().zip(second.iter().rev()) {
        match (original, copy) {
            (Ok(()), Err(LedgerError::DuplicateShare))
            | (Err(LedgerError::DuplicateShare), Ok(())) => {}
            other => panic!("one copy of each hash is recorded: {other:?}"),
        }
    }
    assert_eq!(stats.shares_written, 1 + committers + HASHES, "{stats:?}");
    assert_eq!(stats.duplicates_refused, HASHES, "{stats:?}");
    // Whichever copy went in, its hash is there once.
    let recorded: Vec<u64> = ledger
        .shares(u64::MAX)
        .await
        .expect("read shares")
        .iter()
        .map(|stored| stored.job_id % COPY)
        .filter(|&job_id| job_id <= HASHES)
        .collect();
    let unique: BTreeSet<u64> = recorded.iter().copied().collect();
    assert_eq!(recorded.len(), unique.len(), "a hash recorded twice");
    assert_eq!(unique, (0..=HASHES).collect());
    ledger.close().await;
}

/// The database refuses shares of this job id (a trigger the test adds):
/// a transaction holding one fails, the others are untouched.
const REFUSED_JOB: u64 = 666;

async fn refuse_job_in_database(db: &TestDb) {
    let statements = match db.backend {
        Backend::Sqlite => format!(
            "CREATE TRIGGER refuse_job BEFORE INSERT ON shares WHEN NEW.job_id = {REFUSED_JOB} \
             BEGIN SELECT RAISE(ABORT, 'job refused by the test'); END;"
        ),
        Backend::Postgres => format!(
            "CREATE FUNCTION refuse_job() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.job_id = {REFUSED_JOB} THEN RAISE EXCEPTION 'job refused by the test'; \
             END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_job BEFORE INSERT ON shares FOR EACH ROW \
             EXECUTE FUNCTION refuse_job();"
        ),
    };
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(&statements).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(&statements).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
    }
}

/// A commit that fails while the next batch gathers answers its own
/// callers with the error, and only them; the gathered batch then commits,
/// a copy of the failed share's hash included (the failed share is not in
/// the ledger).
async fn a_failed_commit_fails_only_its_own_callers_while_the_next_batch_gathers(db: TestDb) {
    const GATHERED: u64 = 20;
    let ledger = open_with(
        &db,
        LedgerOptions {
            write_timeout: PATIENT_WRITES,
            // One commit in flight: the batch behind it is all that gathers
            // (two in flight: concurrent_commits_count_each_hash_once_...).
            commits_in_flight: 1,
            ..LedgerOptions::default()
        },
    )
    .await;
    refuse_job_in_database(&db).await;
    ledger.record_share(share(4, 0)).await.expect("first share");

    let lock = db.hold_writes().await;
    let refused = share(4, REFUSED_JOB);
    let failing = queue_shares(&ledger, [refused.clone()])
        .pop()
        .expect("one call");
    writer_took_everything(&ledger).await;
    let copy = NewShare {
        job_id: 1_000,
        ..refused
    };
    let gathered = queue_shares(
        &ledger,
        (1..1 + GATHERED)
            .map(|job_id| share(4, job_id))
            .chain([copy]),
    );
    writer_took_everything(&ledger).await;
    lock.release().await;

    let (failed, gathered) =
        tokio::time::timeout(HANG, futures::future::join(failing, join_all(gathered)))
            .await
            .expect("every call is answered once the lock goes");
    match failed {
        Err(error @ LedgerError::Write { .. }) => assert!(
            error.to_string().contains("job refused by the test"),
            "{error}"
        ),
        other => panic!("expected the trigger's error, got {other:?}"),
    }
    for outcome in gathered {
        outcome.expect("a share of the next batch");
    }
    let stats = ledger.stats();
    assert_eq!(
        (stats.batches, stats.largest_batch, stats.write_errors),
        (2, GATHERED + 1, 1),
        "{stats:?}"
    );
    let mut expected: BTreeSet<u64> = (0..1 + GATHERED).collect();
    expected.insert(1_000);
    assert_eq!(job_ids(&ledger).await, expected);
    ledger.close().await;
}

async fn full_queue_makes_callers_wait_and_drops_nothing(db: TestDb) {
    let ledger = open_with(
        &db,
        LedgerOptions {
            queue_capacity: 4,
            max_batch: 16,
            ..LedgerOptions::default()
        },
    )
    .await;
    let calls = (0..1_000).map(|job_id| {
        let ledger = ledger.clone();
        tokio::spawn(async move { ledger.record_share(share(2, job_id)).await })
    });
    for outcome in join_all(calls).await {
        outcome.expect("task").expect("record share");
    }
    let stats = ledger.stats();
    assert_eq!(stats.shares_written, 1_000);
    assert!(stats.batches >= 1_000 / 16, "{stats:?}");
    assert_eq!(stats.queued, 0);
    assert_eq!(job_ids(&ledger).await, (0..1_000).collect());
    ledger.close().await;
}

async fn acknowledged_shares_are_seen_by_a_fresh_open(db: TestDb) {
    let writer = open(&db).await;
    for job_id in 0..50 {
        writer.record_share(share(4, job_id)).await.unwrap();
    }
    // No close: what was acknowledged is already in the database.
    let reader = open(&db).await;
    assert_eq!(reader.share_count().await.unwrap(), 50);
    assert_eq!(job_ids(&reader).await, (0..50).collect());
    drop(writer);
    reader.close().await;

    let reopened = open(&db).await;
    assert_eq!(reopened.share_count().await.unwrap(), 50);
    assert_eq!(
        reopened.schema_version(),
        5,
        "migrations are not re-applied"
    );
    reopened.close().await;
}

/// Set in the child process of the kill test: the URL to write to.
const CHILD_URL_ENV: &str = "POOL_LEDGER_TEST_CHILD_URL";
/// Acknowledgements the parent waits for before the kill.
const ACKS_BEFORE_KILL: usize = 1_000;

/// Not a test of its own, so ignored (never counted as a pass): the body of
/// the child process that the kill test starts (this test binary again,
/// with `--ignored --exact` and `CHILD_URL_ENV` set). It records shares
/// from 32 tasks and prints `ack <job_id>` after each Ok, until it is
/// killed (bounded in count and time if it is not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of killed_writer_process_keeps_every_acknowledged_share, which runs it"]
async fn ledger_kill_test_child_process() {
    use std::io::Write;
    let url = std::env::var(CHILD_URL_ENV).unwrap_or_else(|_| {
        panic!(
            "not a test of its own: killed_writer_process_keeps_every_acknowledged_share \
             runs it with {CHILD_URL_ENV} set"
        )
    });
    let ledger = Ledger::open(&url).await.expect("child: open the ledger");
    let give_up = Instant::now() + Duration::from_secs(60);
    let writers = (0..32u64).map(|task| {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            for i in 0..5_000 {
                if Instant::now() > give_up {
                    return;
                }
                let job_id = task * 1_000_000 + i;
                ledger
                    .record_share(share(9, job_id))
                    .await
                    .expect("child: record");
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "ack {job_id}");
                let _ = stdout.flush();
            }
        })
    });
    join_all(writers).await;
}

async fn killed_writer_process_keeps_every_acknowledged_share(db: TestDb) {
    // Create the schema first, so the child only writes.
    open(&db).await.close().await;
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "ledger_kill_test_child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL_ENV, &db.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the child");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut acknowledged = BTreeSet::new();
    let mut killed = false;
    // After the kill, the pipe still holds acknowledgements printed before
    // it: read them all, to the end.
    while let Some(line) = lines.next_line().await.expect("read the child") {
        if let Some(job_id) = line.strip_prefix("ack ") {
            acknowledged.insert(job_id.parse::<u64>().expect("job id"));
        }
        if !killed && acknowledged.len() >= ACKS_BEFORE_KILL {
            child.start_kill().expect("kill -9 the child");
            killed = true;
        }
    }
    let status = child.wait().await.expect("reap the child");
    assert!(
        killed,
        "the child stopped before {ACKS_BEFORE_KILL} acks: {status}"
    );
    assert!(!status.success(), "the child was killed, not finished");

    let ledger = open(&db).await;
    let stored = job_ids(&ledger).await;
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged shares lost, e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(5)]
    );
    eprintln!(
        "{:?}: {} acknowledged, {} stored after kill -9",
        db.backend,
        acknowledged.len(),
        stored.len()
    );
    ledger.close().await;
}

/// What the ledger logs, from the first call on (a global subscriber: the
/// writer task runs on any worker thread).
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    Arc::clone(LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || LogSink(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        logs
    }))
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn unwritable_database_fails_callers_then_recovers(db: TestDb) {
    let logs = captured_logs();
    let ledger = open_with(
        &db,
        LedgerOptions {
            write_timeout: Duration::from_millis(200),
            ..LedgerOptions::default()
        },
    )
    .await;
    ledger.record_share(share(5, 1)).await.unwrap();

    let block = db.block_writes().await;
    let attempts = (2..12).map(|job_id| ledger.record_share(share(5, job_id)));
    let outcomes = tokio::time::timeout(Duration::from_secs(60), join_all(attempts))
        .await
        .expect("record_share must fail, not hang, while the database is unwritable");
    for outcome in &outcomes {
        match outcome {
            Err(LedgerError::Write { .. }) => {}
            other => panic!("expected a write error, got {other:?}"),
        }
    }
    let error = outcomes[0].as_ref().unwrap_err().to_string();
    eprintln!("{:?}: {error}", db.backend);
    assert!(ledger.stats().write_errors >= 1);
    // One clear error line naming the cause.
    let cause = match db.backend {
        Backend::Sqlite => "database is locked",
        Backend::Postgres => "does not exist",
    };
    assert!(error.contains(cause), "{error}");
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        logged.lines().any(|line| line.contains("ERROR")
            && line.contains("ledger write failed")
            && line.contains(cause)),
        "no error line naming {cause:?} in:\n{logged}"
    );

    block.release().await;
    ledger
        .record_share(share(5, 100))
        .await
        .expect("the writer recovers");
    assert_eq!(job_ids(&ledger).await, BTreeSet::from([1, 100]));
    ledger.close().await;
}

async fn two_nodes_write_concurrently_without_collisions(db: TestDb) {
    const PER_NODE: u64 = 1_000;
    // Opened together: the migration runs once (advisory lock / write lock).
    let (node_a, node_b) = tokio::join!(open(&db), open(&db));
    let calls = (0..PER_NODE).flat_map(|job_id| {
        [(node_a.clone(), 1u8), (node_b.clone(), 2u8)].map(|(ledger, node)| {
            tokio::spawn(async move { ledger.record_share(share(node, job_id)).await })
        })
    });
    for outcome in join_all(calls).await {
        outcome.expect("task").expect("record share");
    }
    let stored = node_a.shares(u64::MAX).await.unwrap();
    assert_eq!(stored.len() as u64, 2 * PER_NODE);
    let ids: HashSet<i64> = stored.iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), stored.len(), "every id is unique");
    for node in [1u8, 2] {
        let of_node: BTreeSet<u64> = stored
            .iter()
            .filter(|s| s.node == node)
            .map(|s| s.job_id)
            .collect();
        assert_eq!(of_node, (0..PER_NODE).collect(), "node {node}");
    }
    assert_eq!(node_b.share_count().await.unwrap(), 2 * PER_NODE);
    node_a.close().await;
    node_b.close().await;
}

async fn close_writes_what_is_queued_then_refuses(db: TestDb) {
    let ledger = open(&db).await;
    let other_handle = ledger.clone();
    let mut pending: Vec<_> = (0..100)
        .map(|job_id| Box::pin(ledger.record_share(share(6, job_id))))
        .collect();
    // One poll each queues every share with the writer.
    for call in &mut pending {
        assert!(futures::poll!(call.as_mut()).is_pending());
    }
    let closing = ledger.clone().close();
    let (outcomes, ()) = tokio::time::timeout(
        Duration::from_secs(60),
        futures::future::join(join_all(pending), closing),
    )
    .await
    .expect("close flushes at once");
    assert!(outcomes.iter().all(Result::is_ok));
    assert!(matches!(
        other_handle.record_share(share(6, 1_000)).await,
        Err(LedgerError::Closed)
    ));
    drop((ledger, other_handle));

    let reopened = open(&db).await;
    assert_eq!(job_ids(&reopened).await, (0..100).collect());
    reopened.close().await;
}

async fn invalid_share_is_refused_alone(db: TestDb) {
    let ledger = open(&db).await;
    let bad = NewShare {
        difficulty: f64::NAN,
        ..share(8, 1)
    };
    let nul = NewShare {
        worker: "rig\0".to_string(),
        ..share(8, 2)
    };
    let (bad, good, nul) = tokio::join!(
        ledger.record_share(bad),
        ledger.record_share(share(8, 3)),
        ledger.record_share(nul),
    );
    assert!(matches!(bad, Err(LedgerError::Invalid { .. })), "{bad:?}");
    assert!(matches!(nul, Err(LedgerError::Invalid { .. })), "{nul:?}");
    good.expect("a good share beside bad ones is recorded");
    assert_eq!(job_ids(&ledger).await, BTreeSet::from([3]));
    ledger.close().await;
}

#[tokio::test]
async fn unknown_url_schemes_are_refused() {
    for url in ["mysql://localhost/pool", "pool.db", ""] {
        match Ledger::open(url).await {
            Err(LedgerError::UnsupportedUrl { .. }) => {}
            other => panic!("{url:?}: {other:?}"),
        }
    }
}

/// A database the previous release (schema version 1) wrote: opening it
/// applies the payouts migration and keeps every row, with the new
/// columns at their defaults.
async fn a_version_one_ledger_upgrades_keeping_its_rows(db: TestDb) {
    let setup = [
        "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (1, 'shares_and_blocks', 0)",
        "INSERT INTO shares (node, address, worker, job_id, difficulty, network_difficulty, \
         time_ms, is_block, hash) VALUES (1, 'bcrt1qold', 'rig', 7, 2.0, 1.0, 5, FALSE, \
         X'0000000000000000000000000000000000000000000000000000000000000007')",
        "INSERT INTO blocks (node, height, hash, address, worker, coinbase_value_sat, time_ms, \
         raw_hex, answers, accepted) VALUES (1, 9, 'ab', 'bcrt1qold', 'rig', 5000, 6, '00', '[]', TRUE)",
    ];
    let create_migrations = "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, \
         name TEXT NOT NULL, applied_ms BIGINT NOT NULL)";
    match db.backend {
        Backend::Sqlite => {
            let path = db.url.trim_start_matches("sqlite://");
            std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
            let mut connection = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", db.url))
                .await
                .unwrap();
            sqlx::raw_sql(include_str!(
                "../migrations/sqlite/0001_shares_and_blocks.sql"
            ))
            .execute(&mut connection)
            .await
            .unwrap();
            sqlx::raw_sql(create_migrations)
                .execute(&mut connection)
                .await
                .unwrap();
            for statement in setup {
                sqlx::raw_sql(statement)
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
            connection.close().await.unwrap();
        }
        Backend::Postgres => {
            let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(include_str!(
                "../migrations/postgres/0001_shares_and_blocks.sql"
            ))
            .execute(&mut connection)
            .await
            .unwrap();
            sqlx::raw_sql(create_migrations)
                .execute(&mut connection)
                .await
                .unwrap();
            for statement in setup {
                sqlx::raw_sql(&statement.replace("X'", "'\\x"))
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
            connection.close().await.unwrap();
        }
    }
    let ledger = open(&db).await;
    assert_eq!(ledger.schema_version(), 5);
    // The old share was summed into its minute by the upgrade: a span of
    // whole minutes is read from those sums alone.
    let work = ledger.work(0, 60_000, None).await.unwrap();
    assert_eq!((work.shares, work.difficulty), (1, 2.0));
    let shares = ledger.shares(10).await.unwrap();
    assert_eq!(shares.len(), 1);
    assert_eq!(
        (shares[0].job_id, shares[0].credit_sat, shares[0].settled),
        (7, 0, false)
    );
    let blocks = ledger.blocks().await.unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].status, pool::ledger::BlockStatus::Submitted);
    assert_eq!(blocks[0].mode, PayoutMode::Pplns);
    assert!(!blocks[0].credited);
    ledger.close().await;
}

/// Pages read whole minutes from the per-minute sums and the edges from the
/// shares: every span, bucket and worker total must be what the shares
/// alone give.
async fn activity_from_minute_sums_equals_activity_from_the_shares(db: TestDb) {
    let ledger = open(&db).await;
    let base = 1_700_000_040_000_i64; // 40 s into a minute
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let mut shares = Vec::new();
    for n in 0..900_u64 {
        let mut share = share(1 + (n % 2) as u8, n);
        share.address = format!("bcrt1qaddr{}", next(3));
        share.worker = format!("rig{}", next(2));
        // Ten minutes, shares on and beside minute boundaries.
        share.time_ms = match next(4) {
            0 => base + 20_000 + 60_000 * next(10) as i64,
            1 => base + 19_999 + 60_000 * next(10) as i64,
            _ => base + next(600_000) as i64,
        };
        share.difficulty = [0.00001, 1.0, 2048.5, 1e6][next(4) as usize];
        share.network_difficulty = [1.0, 3.0e12][next(2) as usize];
        shares.push(share);
    }
    for group in shares.chunks(150) {
        for written in join_all(group.iter().map(|share| ledger.record_share(share.clone()))).await
        {
            written.unwrap();
        }
    }
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300);
    let naive = |from: i64, to: i64, address: Option<&str>| {
        let picked: Vec<&NewShare> = shares
            .iter()
            .filter(|s| s.time_ms >= from && s.time_ms < to)
            .filter(|s| address.is_none_or(|a| s.address == a))
            .collect();
        (
            picked.len() as u64,
            picked.iter().map(|s| s.difficulty).sum::<f64>(),
            picked
                .iter()
                .map(|s| s.difficulty / s.network_difficulty)
                .sum::<f64>(),
        )
    };
    let mut spans = vec![(i64::MIN, i64::MAX), (base - 1, base + 600_001)];
    for _ in 0..40 {
        let from = base - 30_000 + next(660_000) as i64;
        spans.push((from, from + next(400_000) as i64));
    }
    spans.push((base + 20_000, base + 140_000)); // whole minutes exactly
    spans.push((base + 20_001, base + 20_002)); // inside one minute
    for (from, to) in spans {
        for address in [None, Some("bcrt1qaddr1")] {
            let work = ledger.work(from, to, address).await.unwrap();
            let (count, difficulty, blocks) = naive(from, to, address);
            assert_eq!(work.shares, count, "{from}..{to} {address:?}");
            assert!(
                close(work.difficulty, difficulty),
                "{from}..{to}: {} vs {difficulty}",
                work.difficulty
            );
            assert!(
                close(work.blocks, blocks),
                "{from}..{to}: {} vs {blocks}",
                work.blocks
            );
        }
    }
    // Buckets of whole minutes (from the sums) and of 45 s (from the
    // shares), from a time inside a minute.
    for bucket_ms in [120_000_i64, 45_000] {
        let from = base + 70_123;
        let buckets = ledger.work_by_bucket(from, bucket_ms, None).await.unwrap();
        let mut expected = std::collections::BTreeMap::<i64, (u64, f64)>::new();
        for share in shares.iter().filter(|s| s.time_ms >= from) {
            let entry = expected
                .entry(share.time_ms / bucket_ms * bucket_ms)
                .or_default();
            entry.0 += 1;
            entry.1 += share.difficulty;
        }
        assert_eq!(buckets.len(), expected.len(), "{bucket_ms} ms buckets");
        for ((start, work), (want_start, (count, difficulty))) in buckets.iter().zip(&expected) {
            assert_eq!((start, work.shares), (want_start, *count), "{bucket_ms} ms");
            assert!(
                close(work.difficulty, *difficulty),
                "{bucket_ms} ms bucket {start}"
            );
        }
    }
    // Per worker, with the newest share of each.
    let from = base + 100_000;
    let workers = ledger.work_by_worker("bcrt1qaddr2", from).await.unwrap();
    let names: Vec<&str> = workers.iter().map(|w| w.worker.as_str()).collect();
    assert_eq!(names, ["rig0", "rig1"]);
    for worker in &workers {
        let mine: Vec<&NewShare> = shares
            .iter()
            .filter(|s| {
                s.address == "bcrt1qaddr2" && s.worker == worker.worker && s.time_ms >= from
            })
            .collect();
        assert_eq!(worker.work.shares, mine.len() as u64);
        assert_eq!(
            worker.last_share_ms,
            mine.iter().map(|s| s.time_ms).max().unwrap()
        );
        let difficulty: f64 = mine.iter().map(|s| s.difficulty).sum();
        assert!(close(worker.work.difficulty, difficulty));
    }
    ledger.close().await;
}
