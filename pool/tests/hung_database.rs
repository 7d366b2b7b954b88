//! A hung database must not stop work. While another process holds the
//! SQLite file locked, or another session holds the PostgreSQL `shares`
//! table locked, miners still get a new block's job at once (it never
//! waits behind their pending share answers); the pending shares are
//! answered 20 "not recorded" after the write timeout, the miners keep
//! their connections, `/health` says why, and once the lock goes every
//! share the pool acknowledged is in the ledger.

#[path = "support/e2e.rs"]
mod e2e;
#[allow(dead_code)] // only its databases are used here
#[path = "support/ledger_backend.rs"]
mod ledger_backend;

use e2e::{accepted, error_code, regtest_address, GroundShare, RawClient, TestPool, STEP};
use ledger_backend::{Backend, TestDb};
use sqlx::{Connection, PgConnection};
use std::collections::HashSet;
use std::process::Stdio;
use stratum::message::{ClientMethod, Id};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const MINERS: u8 = 5;
/// Long enough that every miner's new job arrives while its share still
/// waits, short enough for a test.
const WRITE_TIMEOUT_MS: u64 = 3_000;

ledger_backend::on_both_backends!(
    a_locked_ledger_delays_no_new_block_and_loses_no_acknowledged_share
);

/// Somebody else holding the ledger's write lock.
enum Lock {
    /// A Python process (a fresh machine has Python) in `BEGIN IMMEDIATE`.
    Sqlite(Child),
    /// A session in a transaction holding `LOCK TABLE shares`.
    Postgres(PgConnection),
}

impl Lock {
    async fn take(db: &TestDb) -> Lock {
        match db.backend {
            Backend::Sqlite => {
                let path = db
                    .url
                    .strip_prefix("sqlite://")
                    .expect("a sqlite:// url")
                    .to_string();
                let mut child = Command::new("python3")
                    .args([
                        "-c",
                        "import sqlite3, sys\n\
                         c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n\
                         c.execute('BEGIN IMMEDIATE')\n\
                         print('locked', flush=True)\n\
                         sys.stdin.read()\n\
                         c.execute('ROLLBACK')\n",
                        &path,
                    ])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("python3 runs (a fresh machine has it)");
                let stdout = child.stdout.take().expect("piped");
                let mut line = String::new();
                BufReader::new(stdout)
                    .read_line(&mut line)
                    .await
                    .expect("python says it holds the lock");
                assert_eq!(line.trim(), "locked");
                Lock::Sqlite(child)
            }
            Backend::Postgres => {
                let mut conn = PgConnection::connect(&db.url)
                    .await
                    .expect("a second session");
                sqlx::raw_sql("BEGIN; LOCK TABLE shares IN ACCESS EXCLUSIVE MODE")
                    .execute(&mut conn)
                    .await
                    .expect("lock the shares table");
                Lock::Postgres(conn)
            }
        }
    }

    async fn release(self) {
        match self {
            Lock::Sqlite(mut child) => {
                drop(child.stdin.take());
                let status = child.wait().await.expect("python exits");
                assert!(status.success(), "python released the lock: {status}");
            }
            Lock::Postgres(mut conn) => {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut conn)
                    .await
                    .expect("release the lock");
                let _ = conn.close().await;
            }
        }
    }
}

async fn a_locked_ledger_delays_no_new_block_and_loses_no_acknowledged_share(db: TestDb) {
    let pool = TestPool::start("hung-db", |config| {
        config.database.url = db.url.clone();
        config.database.write_timeout_ms = WRITE_TIMEOUT_MS;
        // A block for the simnet's own miner is ~4 M hashes.
        config.simnet.difficulty = 0.001;
        config.stratum.start_difficulty = 0.0002;
        config.stratum.min_difficulty = 0.0001;
    })
    .await;
    let mut miners = Vec::new();
    for tag in 0..MINERS {
        let user = format!("{}.rig", regtest_address(100 + tag));
        miners.push((RawClient::miner(pool.addr(), &user).await, user));
    }
    // Shares the pool acknowledged, by header hash.
    let mut acknowledged: HashSet<[u8; 32]> = HashSet::new();
    for (miner, user) in &mut miners {
        let share = grind(miner);
        assert!(accepted(&miner.submit(user, &share).await));
        acknowledged.insert(share.hash);
    }

    // Another miner's block, ground now and announced once the shares wait.
    let block = pool.grind_block_elsewhere().await;

    let lock = Lock::take(&db).await;
    let mut waiting: Vec<Id> = Vec::new();
    for (miner, user) in &mut miners {
        let share = grind(miner);
        waiting.push(miner.send_request(share.method(user)).await);
        // Lines are handled in order and this answer needs no database:
        // once it is here, the share is checked and waits for the ledger.
        let handled = miner.request(ClientMethod::ExtranonceSubscribe).await;
        assert!(accepted(&handled));
        assert!(!miner.has_answer(waiting.last().expect("pushed")));
    }
    let new_tip = pool.announce(block).await;
    for ((miner, _), id) in miners.iter_mut().zip(&waiting) {
        let job = miner
            .next_job_within(STEP)
            .await
            .expect("the new block's job, while the ledger is locked");
        assert_eq!(
            job.job.prevhash().0,
            bitcoin::hashes::Hash::to_byte_array(new_tip)
        );
        assert!(job.job.notify().clean_jobs);
        let answered_first = miner.has_answer(id);
        let answer = miner.answer(id).await;
        assert!(
            !answered_first,
            "the new block's job waited behind the share's answer {answer:?}"
        );
        assert_eq!(
            error_code(&answer),
            Some(20),
            "not recorded while locked: {answer:?}"
        );
        let reason = answer.result.unwrap_err().message;
        assert!(reason.contains("not recorded"), "{reason}");
    }
    let (status, body) = pool.get("/health").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("ledger: writes failing"), "{body}");

    lock.release().await;
    // The same connections carry on, on the new block.
    for (miner, user) in &mut miners {
        let share = grind(miner);
        let answer = miner.submit(user, &share).await;
        assert!(accepted(&answer), "after the lock: {answer:?}");
        acknowledged.insert(share.hash);
    }
    let recorded: HashSet<[u8; 32]> = pool.shares().await.iter().map(|s| s.hash).collect();
    assert_eq!(recorded, acknowledged, "exactly the acknowledged shares");
    let (status, body) = pool.get("/health").await;
    assert_eq!(status, 200, "{body}");
    drop(miners);
    pool.shutdown().await;
}

/// A share at the latest job's difficulty that solves no block.
fn grind(miner: &mut RawClient) -> GroundShare {
    let job = miner.latest_job();
    miner.grind(&job.job, None, job.difficulty, None)
}
