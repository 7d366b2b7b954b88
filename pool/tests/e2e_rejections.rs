//! Shares the pool must refuse, refused with the right Stratum error, over
//! real TCP from a raw client that writes exact lines and grinds its own
//! shares: stale (21) after a new block, yet still submitted as a block
//! when it solves one; duplicate (22), low difficulty (23), unauthorized
//! worker (24), not subscribed (25), version bits outside the mask (20);
//! and shares on a job sent before a retarget credited at that job's
//! difficulty.

#[path = "support/e2e.rs"]
mod e2e;

use bitcoin::hashes::Hash;
use bitcoin::BlockHash;
use e2e::{
    accepted, error_code, regtest_address, wait_until, wait_until_async, RawClient, ReceivedJob,
    TestPool,
};
use pool::server::stats::Reject;
use sqlx::Connection;
use std::time::Duration;
use stratum::message::{ClientMethod, ServerMessage, Submit, SuggestDifficulty};
use stratum::{Difficulty, JobId, VersionBits, VersionMask};

/// Network difficulty: a block is ~4 M hashes, a fraction of a second.
const NETWORK_DIFFICULTY: f64 = 0.001;
const START_DIFFICULTY: f64 = 0.0002;

async fn start_pool(label: &str) -> TestPool {
    TestPool::start(label, |config| {
        config.simnet.difficulty = NETWORK_DIFFICULTY;
        config.stratum.start_difficulty = START_DIFFICULTY;
        config.stratum.min_difficulty = 0.0001;
        config.stratum.share_interval_secs = 10.0;
    })
    .await
}

fn user(tag: u8) -> String {
    format!("{}.raw", regtest_address(tag))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_block_voids_old_jobs_but_a_stale_block_solution_is_still_submitted() {
    let pool = start_pool("stale").await;
    let user = user(1);
    let mut miner = RawClient::miner(pool.addr(), &user).await;
    let old = miner.latest_job();
    assert_eq!(old.difficulty, START_DIFFICULTY);
    // Ground before the new block: the job's data does not change.
    let stale_share = miner.grind(&old.job, None, START_DIFFICULTY, None);
    let stale_block = miner.grind_block(&old.job);
    let old_tip = pool.tip();

    let new_tip = pool.generate_block().await;
    let fresh = miner
        .wait_for_job(|job| job.job.prevhash().0 == new_tip.to_byte_array())
        .await;
    assert!(
        fresh.job.notify().clean_jobs,
        "the first job on a new block must carry clean_jobs = true"
    );
    assert_ne!(old.job.prevhash().0, fresh.job.prevhash().0);

    let answer = miner.submit(&user, &stale_share).await;
    assert_eq!(error_code(&answer), Some(21), "stale share: {answer:?}");
    let reason = answer.result.clone().unwrap_err().message;
    assert!(reason.contains("stale"), "the reason says why: {reason:?}");

    let found_before = pool.stats().blocks_found;
    let answer = miner.submit(&user, &stale_block).await;
    assert_eq!(
        error_code(&answer),
        Some(21),
        "stale block solution: {answer:?}"
    );
    wait_until(
        "the stale block counted as found",
        Duration::from_secs(5),
        || pool.stats().blocks_found == found_before + 1,
    )
    .await;
    let stale_hash = BlockHash::from_byte_array(stale_block.hash);
    wait_until_async(
        "the stale block in the ledger",
        Duration::from_secs(5),
        || async {
            let blocks = pool.ledger().blocks().await.expect("read blocks");
            blocks
                .iter()
                .any(|block| block.hash == stale_hash.to_string())
        },
    )
    .await;
    let blocks = pool.ledger().blocks().await.expect("read blocks");
    let recorded = blocks
        .iter()
        .find(|block| block.hash == stale_hash.to_string())
        .expect("recorded");
    assert!(
        recorded.answers.contains("inconclusive"),
        "simnet keeps a side-branch block of equal work: {}",
        recorded.answers
    );
    assert!(!recorded.accepted);
    pool.source.with_simnet(|simnet| {
        let block = simnet
            .block(&stale_hash)
            .expect("the simnet got the stale block");
        assert_eq!(block.header.prev_blockhash, old_tip);
        assert_eq!(simnet.best_block_hash(), new_tip, "the tip stays");
    });
    assert_eq!(pool.stats().rejected(Reject::Stale), 2);
    assert_eq!(
        pool.stats().block_siblings,
        0,
        "racing a foreign block is not a sibling of ours"
    );
    assert_eq!(pool.shares().await.len(), 0, "nothing stale is credited");

    // Work on the new block is credited as usual.
    let share = miner.grind(&fresh.job, None, fresh.difficulty, None);
    assert!(accepted(&miner.submit(&user, &share).await));
    pool.shutdown().await;
}

/// Issue 11: on a test chain every share can be a block, and submitting
/// each solution on a parent the pool had already won once made tens of
/// thousands of `submitblock`s for one height. A second solution on the
/// same parent is a sibling of the pool's own block: counted, never
/// submitted, never recorded as a block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_solution_on_a_won_parent_is_a_sibling_not_a_submission() {
    let pool = start_pool("sibling").await;
    let user = user(3);
    let mut miner = RawClient::miner(pool.addr(), &user).await;
    let job = miner.latest_job();
    let parent = pool.tip();
    let first = miner.grind_block(&job.job);
    let second = miner.grind_block(&job.job);
    assert_ne!(first.hash, second.hash);

    assert!(accepted(&miner.submit(&user, &first).await));
    let first_hash = BlockHash::from_byte_array(first.hash);
    wait_until("our block is the tip", Duration::from_secs(10), || {
        pool.tip() == first_hash
    })
    .await;
    wait_until("the node's answer is in", Duration::from_secs(10), || {
        pool.stats().blocks_accepted == 1
    })
    .await;

    let answer = miner.submit(&user, &second).await;
    assert_eq!(error_code(&answer), Some(21), "stale: {answer:?}");
    wait_until("the sibling counted", Duration::from_secs(5), || {
        pool.stats().block_siblings == 1
    })
    .await;
    let stats = pool.stats();
    assert_eq!(stats.blocks_found, 2);
    assert_eq!(stats.blocks_accepted, 1);
    let second_hash = BlockHash::from_byte_array(second.hash);
    pool.source.with_simnet(|simnet| {
        assert!(
            simnet.block(&second_hash).is_none(),
            "the sibling reached the node"
        );
        assert_eq!(simnet.best_block_hash(), first_hash);
        let ours = simnet.block(&first_hash).expect("our block");
        assert_eq!(ours.header.prev_blockhash, parent);
    });
    // The row is written after the node's answer is counted.
    wait_until("our block recorded", Duration::from_secs(10), || {
        pool.ledger().stats().blocks_written >= 1
    })
    .await;
    let blocks = pool.ledger().blocks().await.expect("read blocks");
    assert_eq!(blocks.len(), 1, "only our block is a ledger row");
    assert_eq!(blocks[0].hash, first_hash.to_string());
    let persisted: Vec<String> = std::fs::read_dir(&pool.config.chain.blocks_dir)
        .expect("the blocks dir")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(
        persisted
            .iter()
            .any(|name| name.contains(&first_hash.to_string())),
        "{persisted:?}"
    );
    assert!(
        !persisted
            .iter()
            .any(|name| name.contains(&second_hash.to_string())),
        "the sibling was persisted for submission: {persisted:?}"
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_shares_get_their_error_codes() {
    let pool = start_pool("codes").await;
    let user = user(2);

    // 25: a submit before subscribing, on a fresh connection.
    let mut stranger = RawClient::connect(pool.addr()).await;
    let answer = stranger
        .request(ClientMethod::Submit(Submit {
            worker: user.clone(),
            job_id: JobId(1),
            extranonce2: stratum::Extranonce2::from_bytes(&[0; 8]).unwrap(),
            ntime: stratum::Ntime(1_700_000_000),
            nonce: stratum::Nonce(0),
            version_bits: None,
        }))
        .await;
    assert_eq!(error_code(&answer), Some(25), "{answer:?}");
    // 24: subscribed, never authorized.
    stranger.subscribe().await;
    let answer = stranger
        .request(ClientMethod::Submit(Submit {
            worker: user.clone(),
            job_id: JobId(1),
            extranonce2: stratum::Extranonce2::from_bytes(&[0; 8]).unwrap(),
            ntime: stratum::Ntime(1_700_000_000),
            nonce: stratum::Nonce(0),
            version_bits: None,
        }))
        .await;
    assert_eq!(error_code(&answer), Some(24), "{answer:?}");

    let mut miner = RawClient::connect(pool.addr()).await;
    let mask = miner.configure(VersionMask(0xffff_ffff)).await;
    assert_eq!(mask, VersionMask(0x1fff_e000), "pool mask & requested");
    miner.subscribe().await;
    miner.authorize(&user).await;
    miner.wait_for_jobs(1).await;
    let job = miner.latest_job();

    let share = miner.grind(&job.job, None, job.difficulty, None);
    assert!(
        accepted(&miner.submit(&user, &share).await),
        "a valid share"
    );
    // 22: the same share again.
    let answer = miner.submit(&user, &share).await;
    assert_eq!(error_code(&answer), Some(22), "{answer:?}");
    // 23: a hash that misses the share target.
    let low = miner.grind(&job.job, None, 1e-12, Some(job.difficulty));
    let answer = miner.submit(&user, &low).await;
    assert_eq!(error_code(&answer), Some(23), "{answer:?}");
    // 24: a worker of another address this connection never authorized.
    let other = format!("{}.x", regtest_address(3));
    let share = miner.grind(&job.job, None, job.difficulty, None);
    let answer = miner.submit(&other, &share).await;
    assert_eq!(error_code(&answer), Some(24), "{answer:?}");
    // 20: version bits outside the negotiated mask.
    let outside = miner.grind(
        &job.job,
        Some(VersionBits(0x0000_0001)),
        job.difficulty,
        None,
    );
    let answer = miner.submit(&user, &outside).await;
    assert_eq!(error_code(&answer), Some(20), "{answer:?}");
    // Bits inside the mask are fine.
    let rolled = miner.grind(
        &job.job,
        Some(VersionBits(0x0000_6000)),
        job.difficulty,
        None,
    );
    assert!(
        accepted(&miner.submit(&user, &rolled).await),
        "rolled version"
    );
    // 21: a job id the pool never sent.
    let mut unknown = miner.grind(&job.job, None, job.difficulty, None);
    unknown.job_id = JobId(0xdead_beef);
    let answer = miner.submit(&user, &unknown).await;
    assert_eq!(error_code(&answer), Some(21), "{answer:?}");
    // The connection is still served after every refusal.
    let share = miner.grind(&job.job, None, job.difficulty, None);
    assert!(accepted(&miner.submit(&user, &share).await));

    let stats = pool.stats();
    assert_eq!(stats.shares_accepted, 3);
    assert_eq!(stats.rejected(Reject::NotSubscribed), 1);
    assert_eq!(stats.rejected(Reject::Unauthorized), 2);
    assert_eq!(stats.rejected(Reject::Duplicate), 1);
    assert_eq!(stats.rejected(Reject::LowDifficulty), 1);
    assert_eq!(stats.rejected(Reject::Invalid), 1);
    assert_eq!(stats.rejected(Reject::UnknownJob), 1);
    assert_eq!(pool.shares().await.len(), 3);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_on_a_job_sent_before_a_retarget_are_credited_at_its_difficulty() {
    let pool = start_pool("retarget").await;
    let user = user(4);
    let mut miner = RawClient::miner(pool.addr(), &user).await;
    let before = miner.latest_job();
    assert_eq!(before.difficulty, START_DIFFICULTY);

    let raised = 0.0008;
    assert!(accepted(&miner.suggest_difficulty(raised).await));
    let after = miner.wait_for_job(|job| job.difficulty == raised).await;
    assert_ne!(
        after.job.id(),
        before.job.id(),
        "a new difficulty comes with a new job"
    );

    // Easier than the new difficulty, on the job sent before it: accepted.
    let old_share = miner.grind(&before.job, None, START_DIFFICULTY, Some(raised));
    let answer = miner.submit(&user, &old_share).await;
    assert!(accepted(&answer), "a share on the earlier job: {answer:?}");
    // The same difficulty on the new job is too low.
    let low = miner.grind(&after.job, None, START_DIFFICULTY, Some(raised));
    let answer = miner.submit(&user, &low).await;
    assert_eq!(error_code(&answer), Some(23), "{answer:?}");
    let new_share = miner.grind(&after.job, None, raised, None);
    assert!(accepted(&miner.submit(&user, &new_share).await));

    let shares = pool.shares().await;
    assert_eq!(shares.len(), 2);
    let credited = |job: JobId| {
        shares
            .iter()
            .find(|share| share.job_id == job.0)
            .map(|share| share.difficulty)
    };
    assert_eq!(credited(before.job.id()), Some(START_DIFFICULTY));
    assert_eq!(credited(after.job.id()), Some(raised));
    pool.shutdown().await;
}

/// A retarget and a new block while a share waits for the ledger: neither
/// waits behind that share's answer (a new block's job must never wait
/// for the database), and the miner is never left with a job the pool
/// credits at another difficulty than the one it sent before that job, or
/// with a job on the replaced block as its newest work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retarget_queued_behind_a_share_is_not_overtaken_by_a_new_block() {
    let pool = start_pool("retarget-order").await;
    let user = user(5);
    let mut miner = RawClient::miner(pool.addr(), &user).await;
    let before = miner.latest_job();
    let share = miner.grind(&before.job, None, before.difficulty, None);
    let block = pool.grind_block_elsewhere().await;

    // Hold SQLite's write lock so the share's answer waits for the ledger
    // (its busy timeout is 5 s; the lock is released well before).
    let url = pool.config.database.url.clone();
    let mut lock = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("open the ledger file");
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .expect("take the write lock");
    let submit = miner.send_request(share.method(&user)).await;
    let raised = 0.0008;
    let suggest = miner
        .send_request(ClientMethod::SuggestDifficulty(SuggestDifficulty {
            difficulty: Difficulty::new(raised).unwrap(),
        }))
        .await;
    // The suggestion is answered at once, after the share was checked.
    assert!(accepted(&miner.answer(&suggest).await));
    let new_tip = pool.announce(block).await;
    let early = miner.read_until_quiet(Duration::from_millis(500)).await;
    let waiting = !miner.has_answer(&submit);
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut lock)
        .await
        .expect("release the write lock");
    let _ = lock.close().await;
    assert!(
        waiting,
        "the share was answered while its ledger write waited: {early:?}"
    );
    assert!(
        early.iter().any(|message| matches!(
            message,
            ServerMessage::Notify(notify) if notify.prevhash.0 == new_tip.to_byte_array()
        )),
        "the new block's job came while the share waited: {early:?}"
    );
    assert!(accepted(&miner.answer(&submit).await));
    miner.wait_for_job(|job| job.difficulty == raised).await;
    miner.read_until_quiet(Duration::from_millis(300)).await;

    let on_new_tip = |job: &ReceivedJob| job.job.prevhash().0 == new_tip.to_byte_array();
    let sent: Vec<String> = miner
        .jobs
        .iter()
        .map(|job| {
            format!(
                "job {} at difficulty {} on the {} block",
                job.job.id().to_wire(),
                job.difficulty,
                if on_new_tip(job) { "new" } else { "replaced" }
            )
        })
        .collect();
    // Every job on the new block, at the difficulty the wire gave it.
    let jobs: Vec<ReceivedJob> = miner
        .jobs
        .iter()
        .filter(|job| on_new_tip(job))
        .cloned()
        .collect();
    assert!(!jobs.is_empty(), "a job on the new block: {sent:#?}");
    let mut refused = Vec::new();
    for job in &jobs {
        let share = miner.grind(&job.job, None, job.difficulty, Some(job.difficulty * 1.5));
        let answer = miner.submit(&user, &share).await;
        if !accepted(&answer) {
            refused.push(format!(
                "job {} (sent at difficulty {}): {answer:?}",
                job.job.id().to_wire(),
                job.difficulty
            ));
        }
    }
    let newest = miner.latest_job();
    let shares = pool.shares().await;
    let miscredited: Vec<String> = jobs
        .iter()
        .filter_map(|job| {
            let row = shares.iter().find(|share| share.job_id == job.job.id().0)?;
            (row.difficulty != job.difficulty).then(|| {
                format!(
                    "job {} sent at {} credited at {}",
                    job.job.id().to_wire(),
                    job.difficulty,
                    row.difficulty
                )
            })
        })
        .collect();
    assert!(
        refused.is_empty() && miscredited.is_empty() && on_new_tip(&newest),
        "the miner saw, in order: {sent:#?}\nshares meeting the sent difficulty refused: \
         {refused:#?}\ncredited at another difficulty: {miscredited:#?}\nnewest job on the new \
         block: {}",
        on_new_tip(&newest)
    );
    pool.shutdown().await;
}
