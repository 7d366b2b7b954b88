//! The JSON API and the pages against a pool on the simnet with simulated
//! miners: the numbers are the ledger's and the live board's, exactly for
//! counts and within tolerance for hashrate; addresses are checked and
//! every text is escaped.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::{regtest_address, wait_for, wait_until, RawClient, Tap, TestPool};
use miner_sim::{Dialect, MinerConfig, ShareOutcome, Swarm};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

const SHARE_DIFFICULTY: f64 = 0.00001;
/// Each simulated miner's hashrate cap (H/s).
const MINER_HASHRATE: f64 = 1.0e6;

async fn pool(label: &str) -> TestPool {
    TestPool::start(label, |config| {
        config.stratum.start_difficulty = SHARE_DIFFICULTY;
        config.stratum.min_difficulty = SHARE_DIFFICULTY;
        config.stratum.max_difficulty = SHARE_DIFFICULTY;
        // Blocks are not the point here: rare, so rounds stay simple.
        config.simnet.difficulty = 1.0;
    })
    .await
}

async fn json(pool: &TestPool, path: &str) -> (u16, Value) {
    let (status, body) = pool.get(path).await;
    let value =
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("{path}: {error}: {body}"));
    (status, value)
}

fn miner(pool: SocketAddr, user: String) -> MinerConfig {
    let mut config = MinerConfig::new(pool, user, Dialect::Cgminer);
    config.hashrate = MINER_HASHRATE;
    config.suggest_difficulty = Some(0.0);
    config.reconnect = false;
    config
}

/// Shares the miner sent whose answer it never read (it stopped first):
/// the pool may or may not have recorded them.
fn unanswered(report: &miner_sim::MinerReport) -> u64 {
    report
        .shares
        .iter()
        .filter(|share| share.bad.is_none() && share.outcome == ShareOutcome::Unanswered)
        .count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_returns_what_the_ledger_and_the_live_state_hold() {
    let pool = pool("web-api").await;
    // Through a tap, which counts the submits the pool was handed.
    let tap = Tap::start(pool.addr()).await;
    let (alice, bob) = (
        regtest_address(71).to_string(),
        regtest_address(72).to_string(),
    );
    let swarm = Swarm::start(vec![
        miner(tap.addr(), format!("{alice}.rig1")),
        miner(tap.addr(), format!("{alice}.rig2")),
        miner(tap.addr(), format!("{bob}.only")),
    ]);
    wait_until("300 shares acknowledged", Duration::from_secs(60), || {
        swarm.snapshot().accepted >= 300
    })
    .await;
    let (status, live) = json(&pool, "/api/pool").await;
    assert_eq!(status, 200);
    assert_eq!(
        (live["miners"].as_u64(), live["workers"].as_u64()),
        (Some(2), Some(3)),
        "{live}"
    );
    let report = swarm.stop().await;
    assert_eq!(report.total.unexpected_rejections, 0, "{:?}", report.total);

    // Settled: the pool closed every connection (so it read every submit
    // line the tap handed it) and has answered each of those submits
    // (counted after its commit). Nothing below is waited for: it must
    // hold at once.
    let submits = wait_for("every submit answered", Duration::from_secs(20), || {
        let stats = pool.stats();
        let answered = stats.shares_accepted + stats.rejected_total();
        (tap.open_connections() == 0 && answered == tap.submits()).then_some(answered)
    })
    .await;
    let shares = pool.shares().await;
    let rows = shares.len() as u64;
    assert_eq!(rows, submits, "every submit is a ledger row: no rejections");
    let (_, view) = json(&pool, "/api/pool").await;
    assert_eq!(view["shares_accepted"].as_u64(), Some(rows), "{view}");
    assert!(
        view["shares_rejected"]
            .as_object()
            .unwrap()
            .values()
            .all(|count| count == 0),
        "{view}"
    );
    assert_eq!(view["network"], "regtest");
    assert_eq!(view["mode"], "pplns");
    assert_eq!(
        (view["miners"].as_u64(), view["workers"].as_u64()),
        (Some(0), Some(0)),
        "all gone"
    );
    assert_eq!(
        view["round"]["shares"].as_u64(),
        Some(rows),
        "no block yet: one round"
    );
    assert!(view["height"].as_u64().unwrap() >= 1);
    assert_eq!(
        view["chart"].as_array().unwrap().len(),
        49,
        "a point per half hour, and now"
    );

    // Hashrate: the ledger's work over the pool's life, against what the
    // miners themselves got accepted over theirs.
    let api_rate = view["hashrate"]["5m"].as_f64().unwrap();
    let measured =
        report.total.accepted_difficulty * 4_294_967_296.0 / report.elapsed.as_secs_f64();
    eprintln!("api 5 min hashrate {api_rate:.0} H/s, miners measured {measured:.0} H/s");
    assert!(
        (api_rate / measured - 1.0).abs() < 0.25,
        "api {api_rate} vs measured {measured}"
    );
    assert!(
        api_rate <= 3.0 * MINER_HASHRATE * 1.25,
        "capped at 3 × {MINER_HASHRATE}"
    );
    assert_eq!(
        view["hashrate"]["1h"], view["hashrate"]["5m"],
        "a young pool: the same span"
    );

    // Per worker: the board's counts and the ledger's 24 h sums equal the
    // ledger's rows exactly.
    let mut rows: BTreeMap<(String, String), u64> = BTreeMap::new();
    for share in &shares {
        *rows
            .entry((share.address.clone(), share.worker.clone()))
            .or_default() += 1;
    }
    let (status, miner_view) = json(&pool, &format!("/api/miner/{alice}")).await;
    assert_eq!(status, 200);
    let workers = miner_view["workers"].as_array().unwrap();
    let names: Vec<&str> = workers
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["rig1", "rig2"]);
    for worker in workers {
        let name = worker["name"].as_str().unwrap().to_string();
        let expected = rows[&(alice.clone(), name.clone())];
        assert_eq!(worker["accepted"].as_u64(), Some(expected), "{name}");
        assert_eq!(worker["shares_24h"].as_u64(), Some(expected), "{name}");
        assert_eq!(worker["online"], false);
        assert_eq!(worker["difficulty"].as_f64(), Some(SHARE_DIFFICULTY));
        assert!(worker["jobs_sent"].as_u64().unwrap() >= 1);
        assert!(worker["best_share_difficulty"].as_f64().unwrap() >= SHARE_DIFFICULTY);
    }
    // Each miner's rows: what it saw accepted, plus those of its shares
    // whose answer it did not stay for that the pool recorded anyway.
    for (miner, (address, worker)) in
        report
            .miners
            .iter()
            .zip([(&alice, "rig1"), (&alice, "rig2"), (&bob, "only")])
    {
        let row = rows[&(address.clone(), worker.to_string())];
        let acknowledged = miner.counters.accepted;
        assert!(
            (acknowledged..=acknowledged + unanswered(miner)).contains(&row),
            "{worker}: {row} rows, {acknowledged} acknowledged, {} unanswered",
            unanswered(miner)
        );
    }
    assert_eq!(miner_view["balance_sat"].as_i64(), Some(0));
    assert_eq!(miner_view["payments"].as_array().unwrap().len(), 0);

    let (status, error) = json(&pool, "/api/miner/bc1qnotanaddress").await;
    assert_eq!(status, 400);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("not a regtest address"),
        "{error}"
    );
    // A mainnet address on a regtest pool is refused too.
    let (status, _) = json(
        &pool,
        "/api/miner/bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    )
    .await;
    assert_eq!(status, 400);
    let (status, blocks) = json(&pool, "/api/blocks").await;
    assert_eq!(status, 200);
    assert!(blocks.as_array().is_some());
    let (status, payouts) = json(&pool, "/api/payouts").await;
    assert_eq!((status, payouts), (200, Value::Array(Vec::new())));
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_the_pool_and_a_miner_and_escape_what_miners_send() {
    let pool = pool("web-pages").await;
    let address = regtest_address(73).to_string();
    // Usernames cannot hold `<`, `>` or `"` (the stratum crate refuses
    // them); `&` and `'` get through and must be escaped.
    let hostile = "rig&'x";
    let mut client = RawClient::miner(pool.addr(), &format!("{address}.{hostile}")).await;
    let job = client.latest_job();
    let share = client.grind(&job.job, None, job.difficulty, None);
    assert!(e2e::accepted(
        &client.submit(&format!("{address}.{hostile}"), &share).await
    ));

    let (status, page) = pool.get("/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<svg") && page.contains("polyline"),
        "the chart"
    );
    assert!(
        page.contains("PPLNS") && page.contains("1&nbsp;% fee"),
        "scheme and fee"
    );
    assert!(page.contains("name=\"address\""), "the search box");
    assert!(page.contains("1 / 1"), "one miner, one worker online");

    let (status, page) = pool.get(&format!("/miner/{address}")).await;
    assert_eq!(status, 200);
    assert!(!page.contains(hostile), "a worker name is never markup");
    assert!(page.contains("rig&amp;&#39;x"), "it is shown, escaped");
    assert!(page.contains("<svg"));

    let (status, _) = pool.get(&format!("/miner?address={address}")).await;
    assert_eq!(status, 303, "the search box redirects to the miner's page");
    let (status, page) = pool.get("/miner?address=%3Cb%3Enope").await;
    assert_eq!(status, 400);
    assert!(page.contains("&lt;b&gt;nope") && !page.contains("<b>nope"));
    let (status, _) = pool.get("/miner/nope").await;
    assert_eq!(status, 400);
    pool.shutdown().await;
}
