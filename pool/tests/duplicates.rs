//! Every share is counted once. A share is the work its header commits
//! to, not the job id it names: the same extranonce2, ntime, nonce and
//! version sent again under any job that carries the same work (a reissue
//! after a suggestion or a vardiff retarget, a second `mining.submit`
//! racing the first, a clean reissue to a resumed connection, another pool
//! node that was given the same extranonce prefix) is answered 22 and the ledger holds
//! one row. A repeated block solution is submitted, recorded and alerted
//! once. Real TCP from a raw client that grinds its own shares, on the
//! simnet; the two-node case on SQLite and on PostgreSQL.

#[path = "support/e2e.rs"]
mod e2e;
#[allow(dead_code)] // only its databases are used here
#[path = "support/ledger_backend.rs"]
mod ledger_backend;

use e2e::{
    accepted, error_code, regtest_address, simnet_config, wait_until, wait_until_async,
    GroundShare, RawClient, Scratch, TestPool,
};
use ledger_backend::{Backend, TestDb};
use pool::app::Pool;
use pool::config::Config;
use pool::template::simnet::SimnetSource;
use pool::template::{SourceStatus, SubmitReport, Template, TemplateSource};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use stratum::message::{ClientMethod, Subscribe, SubscribeResult};
use stratum::{Extranonce1, JobId};
use tokio::sync::watch;

/// Blocks are out of reach at this network difficulty: shares only.
const NO_BLOCKS: f64 = 1.0;
const START_DIFFICULTY: f64 = 0.0004;

fn user(tag: u8) -> String {
    format!("{}.replay", regtest_address(tag))
}

fn shares_only(config: &mut Config) {
    config.simnet.difficulty = NO_BLOCKS;
    config.stratum.start_difficulty = START_DIFFICULTY;
    config.stratum.min_difficulty = 0.0001;
    config.stratum.share_interval_secs = 10.0;
}

/// `shares` again, each under `job`.
fn under(shares: &[GroundShare], job: JobId) -> Vec<GroundShare> {
    shares
        .iter()
        .map(|share| GroundShare {
            job_id: job,
            ..share.clone()
        })
        .collect()
}

/// Submits every share and returns each answer's error code (None: accepted).
async fn submit_all(miner: &mut RawClient, user: &str, shares: &[GroundShare]) -> Vec<Option<i64>> {
    let mut codes = Vec::new();
    for share in shares {
        codes.push(error_code(&miner.submit(user, share).await));
    }
    codes
}

/// The work a job carries: its notify without the id and the flag.
fn work(job: &stratum::Job) -> stratum::message::Notify {
    let mut notify = job.notify().clone();
    notify.job_id = JobId(0);
    notify.clean_jobs = false;
    notify.ntime = stratum::Ntime(0);
    notify
}

async fn ledger_rows_and_hashes(pool: &TestPool) -> (usize, usize) {
    let shares = pool.shares().await;
    let hashes: HashSet<[u8; 32]> = shares.iter().map(|share| share.hash).collect();
    (shares.len(), hashes.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_work_under_a_reissued_job_is_a_duplicate() {
    let pool = TestPool::start("dup-suggest", shares_only).await;
    let user = user(1);
    let mut miner = RawClient::miner(pool.addr(), &user).await;
    let first = miner.latest_job();
    assert_eq!(first.difficulty, START_DIFFICULTY);
    let shares: Vec<GroundShare> = (0..9)
        .map(|_| miner.grind(&first.job, None, START_DIFFICULTY, Some(0.5)))
        .collect();
    assert_eq!(submit_all(&mut miner, &user, &shares).await, vec![None; 9]);

    // A lower suggestion: the same work comes back under a new id.
    assert!(accepted(&miner.suggest_difficulty(0.0002).await));
    let reissued = miner.wait_for_job(|job| job.difficulty == 0.0002).await;
    assert_ne!(reissued.job.id(), first.job.id());
    assert!(!reissued.job.notify().clean_jobs);
    assert_eq!(work(&reissued.job), work(&first.job), "the same work");

    let replays = under(&shares, reissued.job.id());
    assert_eq!(
        submit_all(&mut miner, &user, &replays).await,
        vec![Some(22); 9],
        "every replay under the reissued job is a duplicate"
    );
    // And under the first job again, and the same share twice at once.
    assert_eq!(
        submit_all(&mut miner, &user, &shares[..2]).await,
        vec![Some(22); 2]
    );
    let fresh = miner.grind(&reissued.job, None, 0.0002, Some(0.5));
    let racing = [
        miner.send_request(fresh.method(&user)).await,
        miner.send_request(fresh.method(&user)).await,
    ];
    let answers = [
        miner.answer(&racing[0]).await,
        miner.answer(&racing[1]).await,
    ];
    assert!(accepted(&answers[0]), "{answers:?}");
    assert_eq!(error_code(&answers[1]), Some(22), "{answers:?}");

    wait_until(
        "every accepted share counted",
        Duration::from_secs(5),
        || pool.stats().shares_accepted == 10,
    )
    .await;
    assert_eq!(ledger_rows_and_hashes(&pool).await, (10, 10));
    let stats = pool.stats();
    assert_eq!(
        stats.rejected(pool::server::stats::Reject::Duplicate),
        12,
        "{stats:?}"
    );
    // The connection knew its own work: no copy reached the database.
    assert_eq!(pool.ledger().stats().duplicates_refused, 0);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_work_after_a_vardiff_retarget_is_a_duplicate() {
    let pool = TestPool::start("dup-retarget", shares_only).await;
    let user = user(2);
    let mut miner = RawClient::miner(pool.addr(), &user).await;
    let first = miner.latest_job();
    // Vardiff's fast start: shares far faster than one in 10 s raise the
    // difficulty after 16, with a reissue of the same work.
    let mut shares = Vec::new();
    while miner.jobs.len() == 1 {
        assert!(
            shares.len() < 64,
            "no retarget after {} shares",
            shares.len()
        );
        let share = miner.grind(&first.job, None, START_DIFFICULTY, Some(0.5));
        let answer = miner.submit(&user, &share).await;
        assert!(accepted(&answer), "{answer:?}");
        shares.push(share);
        miner.read_until_quiet(Duration::from_millis(5)).await;
    }
    let raised = miner.latest_job();
    assert!(
        raised.difficulty > first.difficulty,
        "{}",
        raised.difficulty
    );
    assert_eq!(work(&raised.job), work(&first.job), "the same work");
    let count = shares.len();

    let codes = submit_all(&mut miner, &user, &under(&shares, raised.job.id())).await;
    assert_eq!(
        codes,
        vec![Some(22); count],
        "duplicates, not low difficulty"
    );
    wait_until(
        "every accepted share counted",
        Duration::from_secs(5),
        || pool.stats().shares_accepted == count as u64,
    )
    .await;
    assert_eq!(ledger_rows_and_hashes(&pool).await, (count, count));
    assert_eq!(pool.ledger().stats().duplicates_refused, 0);
    pool.shutdown().await;
}

/// Subscribes asking for `session` (an extranonce1 in hex); returns the
/// extranonce1 granted.
async fn subscribe_resuming(miner: &mut RawClient, session: &str) -> Extranonce1 {
    let answer = miner
        .request(ClientMethod::Subscribe(Subscribe {
            user_agent: Some("e2e-raw/1.0".into()),
            session_id: Some(session.to_string()),
        }))
        .await;
    let result = SubscribeResult::from_value(&answer.result.expect("subscribed"))
        .expect("a subscribe result");
    miner.extranonce1 = Some(result.extranonce1);
    miner.extranonce2_size = result.extranonce2_size;
    result.extranonce1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_connection_cannot_credit_the_same_work_again() {
    let pool = TestPool::start("dup-resume", shares_only).await;
    let user = user(3);
    let mut first = RawClient::miner(pool.addr(), &user).await;
    let extranonce1 = first.extranonce1.expect("subscribed");
    let job = first.latest_job();
    let shares: Vec<GroundShare> = (0..5)
        .map(|_| first.grind(&job.job, None, START_DIFFICULTY, Some(0.5)))
        .collect();
    assert_eq!(submit_all(&mut first, &user, &shares).await, vec![None; 5]);
    drop(first);

    // The extranonce1 is free once the first connection is gone.
    let mut second = RawClient::connect(pool.addr()).await;
    let granted = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let granted = subscribe_resuming(&mut second, &extranonce1.to_wire()).await;
            if granted == extranonce1 {
                return granted;
            }
            // Still held by the closing connection: try on a new one.
            second = RawClient::connect(pool.addr()).await;
        }
    })
    .await
    .expect("the old extranonce1 is resumed");
    assert_eq!(granted, extranonce1);
    second.authorize(&user).await;
    second.wait_for_jobs(1).await;
    let resumed_job = second.latest_job();
    // A clean reissue: the same work under a new id with clean_jobs set.
    assert!(resumed_job.job.notify().clean_jobs);
    assert_eq!(work(&resumed_job.job), work(&job.job), "the same work");

    // This connection never saw these shares: the ledger refuses them.
    let codes = submit_all(&mut second, &user, &under(&shares, resumed_job.job.id())).await;
    assert_eq!(codes, vec![Some(22); 5]);
    assert_eq!(ledger_rows_and_hashes(&pool).await, (5, 5));
    assert_eq!(pool.ledger().stats().duplicates_refused, 5);
    // New work on the resumed connection is credited as usual (past the
    // extranonce2 values the first connection used: the same ones would
    // grind the same headers again).
    for _ in 0..shares.len() {
        second.next_extranonce2();
    }
    let fresh = second.grind(&resumed_job.job, None, START_DIFFICULTY, Some(0.5));
    assert!(accepted(&second.submit(&user, &fresh).await));
    pool.shutdown().await;
}

/// Two pool nodes on one simulated chain and one database, given the same
/// extranonce prefix by mistake: the same miner can get the same work
/// from both, and the ledger's unique index is what refuses the copy.
async fn two_nodes_with_one_prefix(db: TestDb) {
    let scratch = Scratch::new("dup-nodes");
    let mut config = simnet_config(scratch.path());
    shares_only(&mut config);
    config.database.url = db.url.clone();
    config.validate().expect("a valid config");
    let source = Arc::new(SimnetSource::start(&config.simnet, &config.chain));
    let first_node = Pool::start_with_source(&config, Arc::clone(&source))
        .await
        .expect("node 1 starts");
    let second_node = Pool::start_with_source(&config, Arc::clone(&source))
        .await
        .expect("node 2 starts");

    let user = user(4);
    let mut miner = RawClient::miner(first_node.stratum_addr(), &user).await;
    let extranonce1 = miner.extranonce1.expect("subscribed");
    let job = miner.latest_job();
    let shares: Vec<GroundShare> = (0..4)
        .map(|_| miner.grind(&job.job, None, START_DIFFICULTY, Some(0.5)))
        .collect();
    assert_eq!(submit_all(&mut miner, &user, &shares).await, vec![None; 4]);

    let mut other = RawClient::connect(second_node.stratum_addr()).await;
    assert_eq!(
        subscribe_resuming(&mut other, &extranonce1.to_wire()).await,
        extranonce1,
        "node 2 hands out the same extranonce1"
    );
    other.authorize(&user).await;
    other.wait_for_jobs(1).await;
    let copy = other.latest_job();
    assert_ne!(copy.job.id(), job.job.id());
    assert_eq!(
        work(&copy.job),
        work(&job.job),
        "both nodes give the same work"
    );
    let codes = submit_all(&mut other, &user, &under(&shares, copy.job.id())).await;
    assert_eq!(codes, vec![Some(22); 4], "node 2 refuses node 1's shares");

    let rows = first_node
        .ledger()
        .shares(1000)
        .await
        .expect("read the shared ledger");
    assert_eq!(rows.len(), 4);
    assert_eq!(second_node.ledger().stats().duplicates_refused, 4);
    drop((miner, other));
    first_node.shutdown().await;
    second_node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_one_sqlite_ledger() {
    ledger_backend::run(
        Backend::Sqlite,
        "two_nodes_one_sqlite_ledger",
        two_nodes_with_one_prefix,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_one_postgres_ledger() {
    ledger_backend::run(
        Backend::Postgres,
        "two_nodes_one_postgres_ledger",
        two_nodes_with_one_prefix,
    )
    .await;
}

/// The simnet, counting the blocks the pool submits.
struct CountingSource {
    simnet: Arc<SimnetSource>,
    submitted: AtomicU64,
}

impl TemplateSource for CountingSource {
    fn templates(&self) -> watch::Receiver<Option<Arc<Template>>> {
        self.simnet.templates()
    }

    fn submit_block(
        &self,
        block: bitcoin::Block,
    ) -> impl std::future::Future<Output = SubmitReport> + Send {
        self.submitted.fetch_add(1, Ordering::SeqCst);
        self.simnet.submit_block(block)
    }

    fn status(&self) -> SourceStatus {
        self.simnet.status()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_block_solution_is_sent_recorded_and_alerted_once() {
    let scratch = Scratch::new("dup-block");
    let mut config = simnet_config(scratch.path());
    // A block is ~4 M hashes: a fraction of a second to grind.
    config.simnet.difficulty = 0.001;
    config.stratum.start_difficulty = 0.0002;
    config.stratum.min_difficulty = 0.0001;
    // Recorded in the ledger whether or not the receiver answers.
    config.alerts.webhooks = vec!["http://127.0.0.1:9/hook".into()];
    config.validate().expect("a valid config");
    let source = Arc::new(CountingSource {
        simnet: Arc::new(SimnetSource::start(&config.simnet, &config.chain)),
        submitted: AtomicU64::new(0),
    });
    let pool = Pool::start_with_source(&config, Arc::clone(&source))
        .await
        .expect("the pool starts");
    let user = user(5);
    let mut miner = RawClient::miner(pool.stratum_addr(), &user).await;
    let job = miner.latest_job();
    let solution = miner.grind_block(&job.job);

    // Twice at once, then again once the block has replaced the job.
    let racing = [
        miner.send_request(solution.method(&user)).await,
        miner.send_request(solution.method(&user)).await,
    ];
    let answers = [
        miner.answer(&racing[0]).await,
        miner.answer(&racing[1]).await,
    ];
    assert!(accepted(&answers[0]), "{answers:?}");
    assert_eq!(error_code(&answers[1]), Some(22), "{answers:?}");
    // The block's hash is the share's: the next job builds on it.
    let on_new_tip = miner
        .wait_for_job(|next| next.job.prevhash().0 == solution.hash)
        .await;
    assert!(on_new_tip.job.notify().clean_jobs);
    let late = miner.submit(&user, &solution).await;
    assert_eq!(
        error_code(&late),
        Some(22),
        "not stale: the same share {late:?}"
    );

    let ledger = pool.ledger().clone();
    wait_until_async("the block row", Duration::from_secs(10), || {
        let ledger = ledger.clone();
        async move { ledger.blocks().await.map(|b| b.len()).unwrap_or(0) == 1 }
    })
    .await;
    wait_until_async("the block alert", Duration::from_secs(10), || {
        let ledger = ledger.clone();
        async move { block_alerts(&ledger).await == 1 }
    })
    .await;
    let stats = pool.stats().snapshot();
    assert_eq!(
        source.submitted.load(Ordering::SeqCst),
        1,
        "one submitblock"
    );
    assert_eq!(stats.blocks_found, 1, "{stats:?}");
    assert_eq!(ledger.blocks().await.expect("blocks").len(), 1);
    assert_eq!(block_alerts(&ledger).await, 1);
    let rows = ledger.shares(100).await.expect("shares");
    assert_eq!(rows.iter().filter(|share| share.is_block).count(), 1);
    assert_eq!(rows.len(), 1);
    drop(miner);
    pool.shutdown().await;
}

async fn block_alerts(ledger: &pool::ledger::Ledger) -> usize {
    ledger
        .alerts(100)
        .await
        .expect("alerts")
        .iter()
        .filter(|alert| alert.kind == "block_found")
        .count()
}
