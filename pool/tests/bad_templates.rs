//! Bad templates never panic and never become work: each is refused at the
//! gate with its reason (counted in `/metrics`), and the last good template
//! stays in force. Variants are derived from Bitcoin Core's own captures in
//! `vectors/`, fed through the JSON decoder, through a fake node, and
//! through a running pool a miner keeps mining on.

mod support;

#[path = "support/e2e.rs"]
mod e2e;

use bitcoin::{Amount, ScriptBuf};
use e2e::{accepted, regtest_address, wait_until_async, RawClient, Scratch};
use pool::app::Pool;
use pool::config::{ChainConfig, Network, PayoutMode};
use pool::jobs::{JobError, JobManager, JobSettings, TemplateChange};
use pool::template::bitcoind::BitcoindSource;
use pool::template::check::{ChainRules, MAX_TRANSACTIONS};
use pool::template::{
    RefusalReason, SourceStatus, Template, TemplateError, TemplateGate, TemplateSource,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fake_bitcoind::FakeBitcoind;
use support::vector;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

fn gbt(name: &str) -> Value {
    serde_json::from_str(&vector(name)).expect("capture is JSON")
}

/// The clock the captures were taken at: their own `curtime`.
fn capture_time(answer: &Value) -> u32 {
    answer["curtime"]
        .as_u64()
        .and_then(|time| u32::try_from(time).ok())
        .expect("curtime")
}

/// Decodes and checks one answer as a source does: a refusal is counted.
fn judge(gate: &mut TemplateGate, answer: Value, now: u32) -> Result<Template, TemplateError> {
    let height = answer.get("height").and_then(Value::as_u64);
    let template = Template::from_gbt_json(answer).inspect_err(|error| {
        gate.refuse(height, error);
    })?;
    gate.admit(&template, now)?;
    Ok(template)
}

/// `count` minimal distinct transactions (1 byte of data each: only the
/// count and the sums matter to the checks they trip).
fn tiny_transactions(count: usize) -> Value {
    Value::Array(
        (0..count)
            .map(|index| {
                let id = format!("{:064x}", index + 1);
                json!({"data": "01", "txid": id, "hash": id, "depends": [], "fee": 0, "sigops": 0, "weight": 4})
            })
            .collect(),
    )
}

/// A hash no capture builds on: a new tip for the fake node.
fn new_tip(tag: u8) -> Value {
    json!(format!("{:02x}", tag).repeat(32))
}

type Mutation = fn(&mut Value);

/// Every way a template is refused: the capture it starts from, what is
/// changed, and the reason it must be refused with.
fn cases() -> Vec<(&'static str, &'static str, Mutation, RefusalReason)> {
    vec![
        (
            "fees above coinbasevalue",
            "gbt-regtest-30tx.json",
            |t| t["coinbasevalue"] = json!(1_000),
            RefusalReason::FeesExceedValue,
        ),
        (
            "fees whose sum overflows a u64",
            "gbt-regtest-30tx.json",
            |t| {
                t["transactions"][0]["fee"] = json!(u64::MAX / 2 + 1);
                t["transactions"][1]["fee"] = json!(u64::MAX / 2 + 1);
                t["coinbasevalue"] = json!(u64::MAX);
            },
            RefusalReason::FeesExceedValue,
        ),
        (
            "coinbasevalue above 21 million BTC",
            "gbt-regtest-empty.json",
            |t| t["coinbasevalue"] = json!(2_100_000_000_000_001u64),
            RefusalReason::CoinbaseValue,
        ),
        (
            "coinbasevalue above subsidy plus fees",
            "gbt-regtest-30tx.json",
            |t| t["coinbasevalue"] = json!(5_000_060_701u64),
            RefusalReason::CoinbaseValue,
        ),
        (
            "nBits zero",
            "gbt-regtest-empty.json",
            |t| t["bits"] = json!("00000000"),
            RefusalReason::BitsZero,
        ),
        (
            "nBits negative zero",
            "gbt-regtest-empty.json",
            |t| t["bits"] = json!("00800000"),
            RefusalReason::BitsNegative,
        ),
        (
            "nBits negative",
            "gbt-regtest-empty.json",
            |t| t["bits"] = json!("04923456"),
            RefusalReason::BitsNegative,
        ),
        (
            "nBits overflowing 256 bits",
            "gbt-regtest-empty.json",
            |t| t["bits"] = json!("ff7fffff"),
            RefusalReason::BitsOverflow,
        ),
        (
            "nBits easier than regtest's limit",
            "gbt-regtest-empty.json",
            |t| t["bits"] = json!("2100ffff"),
            RefusalReason::BitsTooEasy,
        ),
        (
            "nBits of 3 bytes",
            "gbt-regtest-empty.json",
            |t| t["bits"] = json!("7fffff"),
            RefusalReason::Bits,
        ),
        (
            "100 000 transactions",
            "gbt-regtest-empty.json",
            |t| t["transactions"] = tiny_transactions(100_000),
            RefusalReason::Transactions,
        ),
        (
            "transactions heavier than a block",
            "gbt-regtest-30tx.json",
            |t| t["transactions"][3]["weight"] = json!(4_000_000),
            RefusalReason::Weight,
        ),
        (
            "a transaction weighing u64::MAX",
            "gbt-regtest-30tx.json",
            |t| {
                t["transactions"][3]["weight"] = json!(u64::MAX);
                t["transactions"][4]["weight"] = json!(u64::MAX);
            },
            RefusalReason::Weight,
        ),
        (
            "sigops above the block's",
            "gbt-regtest-30tx.json",
            |t| t["transactions"][0]["sigops"] = json!(80_000),
            RefusalReason::Sigops,
        ),
        (
            "a transaction listed twice",
            "gbt-regtest-30tx.json",
            |t| {
                let first = t["transactions"][0].clone();
                t["transactions"][1] = first;
            },
            RefusalReason::Transactions,
        ),
        (
            "a transaction without data",
            "gbt-regtest-30tx.json",
            |t| t["transactions"][2]["data"] = json!(""),
            RefusalReason::Transactions,
        ),
        (
            "witness commitment one byte short",
            "gbt-regtest-6segwit.json",
            |t| {
                let text = t["default_witness_commitment"]
                    .as_str()
                    .unwrap()
                    .to_string();
                t["default_witness_commitment"] = json!(text[..text.len() - 2]);
            },
            RefusalReason::WitnessCommitment,
        ),
        (
            "witness commitment that is not OP_RETURN",
            "gbt-regtest-6segwit.json",
            |t| t["default_witness_commitment"] = json!(format!("0020{}", "11".repeat(32))),
            RefusalReason::WitnessCommitment,
        ),
        (
            "witness commitment to other transactions",
            "gbt-regtest-6segwit.json",
            |t| {
                let text = t["default_witness_commitment"].as_str().unwrap();
                t["default_witness_commitment"] =
                    json!(format!("{}{}", &text[..12], "ab".repeat(32)));
            },
            RefusalReason::WitnessCommitment,
        ),
        (
            "segwit transactions without a commitment",
            "gbt-regtest-6segwit.json",
            |t| {
                t.as_object_mut()
                    .unwrap()
                    .remove("default_witness_commitment");
            },
            RefusalReason::WitnessCommitment,
        ),
        (
            "height 0",
            "gbt-regtest-empty.json",
            |t| t["height"] = json!(0),
            RefusalReason::Height,
        ),
        (
            "height past a u32",
            "gbt-regtest-empty.json",
            |t| t["height"] = json!(1u64 << 40),
            RefusalReason::Height,
        ),
        (
            "curtime three hours ahead",
            "gbt-regtest-empty.json",
            |t| {
                let now = t["curtime"].as_u64().unwrap();
                t["curtime"] = json!(now + 3 * 3600);
            },
            RefusalReason::Time,
        ),
        (
            "curtime before mintime",
            "gbt-regtest-30tx.json",
            |t| t["curtime"] = json!(1_000),
            RefusalReason::Time,
        ),
        (
            "version 1",
            "gbt-regtest-empty.json",
            |t| t["version"] = json!(1),
            RefusalReason::Version,
        ),
        (
            "previous block all zeros",
            "gbt-regtest-empty.json",
            |t| t["previousblockhash"] = json!("00".repeat(32)),
            RefusalReason::PreviousBlock,
        ),
        (
            "a negative fee",
            "gbt-regtest-30tx.json",
            |t| t["transactions"][0]["fee"] = json!(-1),
            RefusalReason::Undecodable,
        ),
        (
            "a height that is text",
            "gbt-regtest-empty.json",
            |t| t["height"] = json!("one hundred and nine"),
            RefusalReason::Undecodable,
        ),
        (
            "transactions that are not a list",
            "gbt-regtest-empty.json",
            |t| t["transactions"] = json!({"0": "nope"}),
            RefusalReason::Undecodable,
        ),
        (
            "bits that are not hex",
            "gbt-regtest-empty.json",
            |t| t["bits"] = json!("zzzzzzzz"),
            RefusalReason::Undecodable,
        ),
    ]
}

#[test]
fn every_bad_template_is_refused_with_its_reason() {
    let mut gate = TemplateGate::new(ChainRules::for_network(Network::Regtest));
    let refusals = gate.refusals();
    // The captures themselves pass.
    for name in [
        "gbt-regtest-empty.json",
        "gbt-regtest-30tx.json",
        "gbt-regtest-6segwit.json",
    ] {
        let answer = gbt(name);
        let now = capture_time(&answer);
        assert!(judge(&mut gate, answer, now).is_ok(), "{name}");
    }
    assert_eq!(refusals.total(), 0);
    for (what, capture, mutate, reason) in cases() {
        let mut answer = gbt(capture);
        let now = capture_time(&answer);
        mutate(&mut answer);
        let before = refusals.count(reason);
        match judge(&mut gate, answer, now) {
            Ok(template) => panic!("{what}: admitted at height {}", template.height),
            Err(error) => assert_eq!(error.reason(), reason, "{what}: {error}"),
        }
        assert_eq!(refusals.count(reason), before + 1, "{what}: counted once");
    }
    assert_eq!(refusals.total(), cases().len() as u64);
}

#[test]
fn the_signet_capture_passes_signet_rules_and_nothing_easier_passes_mainnet() {
    let signet = gbt("gbt-signet51-6tx.json");
    let now = capture_time(&signet);
    let mut gate = TemplateGate::new(ChainRules::for_network(Network::Signet));
    assert!(judge(&mut gate, signet.clone(), now).is_ok());
    // Signet's bits are far easier than mainnet allows.
    let mut mainnet = TemplateGate::new(ChainRules::for_network(Network::Mainnet));
    let error = judge(&mut mainnet, signet, now).unwrap_err();
    assert_eq!(error.reason(), RefusalReason::BitsTooEasy, "{error}");
    // Difficulty 1 is mainnet's limit itself: allowed (and the rest of the
    // capture, 50 BTC at height 109, is right on mainnet too).
    let mut at_limit = gbt("gbt-regtest-empty.json");
    at_limit["bits"] = json!("1d00ffff");
    assert!(judge(&mut mainnet, at_limit, now).is_ok());
}

#[test]
fn the_transaction_count_limit_is_exact() {
    let mut gate = TemplateGate::new(ChainRules::regtest());
    let empty = gbt("gbt-regtest-empty.json");
    let now = capture_time(&empty);
    // As many as fit: the count passes (the capture's commitment, to no
    // transactions, is what trips next).
    let mut full = empty.clone();
    full["transactions"] = tiny_transactions(MAX_TRANSACTIONS);
    let error = judge(&mut gate, full, now).unwrap_err();
    assert_eq!(error.reason(), RefusalReason::WitnessCommitment, "{error}");
    let mut over = empty;
    over["transactions"] = tiny_transactions(MAX_TRANSACTIONS + 1);
    let error = judge(&mut gate, over, now).unwrap_err();
    assert!(
        matches!(error, TemplateError::TooManyTransactions { count, max } if count == max + 1),
        "{error}"
    );
}

#[test]
fn a_known_previous_block_at_another_height_is_refused() {
    let mut gate = TemplateGate::new(ChainRules::regtest());
    let empty = gbt("gbt-regtest-empty.json");
    let now = capture_time(&empty);
    assert!(judge(&mut gate, empty.clone(), now).is_ok());
    for height in [1, 108, 110, 149] {
        let mut moved = empty.clone();
        moved["height"] = json!(height);
        let error = judge(&mut gate, moved, now).unwrap_err();
        assert!(
            matches!(error, TemplateError::HeightNotNext { height: h, expected: 109, .. } if h == height),
            "{error}"
        );
    }
    // Another previous block at another height is a new tip: fine.
    let mut next = empty;
    next["previousblockhash"] = new_tip(0x42);
    next["height"] = json!(110);
    assert!(judge(&mut gate, next, now).is_ok());
}

/// Hostile values in every field of a real template: each is an error or
/// a template the gate judges, never a panic.
#[test]
fn no_value_in_any_field_panics() {
    let hostile = [
        json!(null),
        json!(-1),
        json!(0),
        json!(u64::MAX),
        json!(1e300),
        json!(""),
        json!("zz"),
        json!("00".repeat(100_000)),
        json!([]),
        json!([null, -1, "x"]),
        json!({}),
        json!(true),
    ];
    let capture = gbt("gbt-regtest-30tx.json");
    let now = capture_time(&capture);
    let mut gate = TemplateGate::new(ChainRules::regtest());
    let fields: Vec<String> = capture.as_object().unwrap().keys().cloned().collect();
    let tx_fields: Vec<String> = capture["transactions"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut judged = 0;
    for value in &hostile {
        for field in &fields {
            let mut answer = capture.clone();
            answer[field.as_str()] = value.clone();
            let _ = judge(&mut gate, answer, now);
            judged += 1;
        }
        for field in &tx_fields {
            let mut answer = capture.clone();
            answer["transactions"][5][field.as_str()] = value.clone();
            let _ = judge(&mut gate, answer, now);
            judged += 1;
        }
        let _ = judge(&mut gate, value.clone(), now);
        judged += 1;
    }
    assert_eq!(judged, hostile.len() * (fields.len() + tx_fields.len() + 1));
}

fn settings(mode: PayoutMode) -> JobSettings {
    JobSettings {
        tag: b"/bad-templates/".to_vec(),
        extranonce2_size: 8,
        mode,
        pool_script: ScriptBuf::from_bytes(vec![0x51]),
        fee_basis_points: 100,
        stale_window: Duration::from_secs(120),
        fpps_fee_window: 10,
    }
}

fn decoded(answer: Value) -> Arc<Template> {
    Arc::new(Template::from_gbt_json(answer).expect("decodes"))
}

/// What the gate refuses is refused by the job manager too, if it is handed
/// one directly: an error, and the current work stays.
#[test]
fn the_job_manager_refuses_what_does_not_add_up_and_keeps_its_work() {
    for mode in [
        PayoutMode::Pps,
        PayoutMode::Fpps,
        PayoutMode::Pplns,
        PayoutMode::Solo,
    ] {
        let mut manager = JobManager::new(settings(mode));
        let good = decoded(gbt("gbt-regtest-empty.json"));
        assert_eq!(
            manager.on_template(Arc::clone(&good), Instant::now()),
            Ok(TemplateChange::NewBlock)
        );
        let payout = ScriptBuf::from_bytes(vec![0x52]);
        let job = manager.current_job(Some(&payout)).expect("a job");

        let mut bad = gbt("gbt-regtest-30tx.json");
        bad["coinbasevalue"] = json!(1_000);
        bad["previousblockhash"] = new_tip(7);
        let error = manager
            .on_template(decoded(bad), Instant::now())
            .unwrap_err();
        assert!(
            matches!(
                error,
                JobError::Template {
                    height: 109,
                    source: TemplateError::FeesExceedValue { .. }
                }
            ),
            "{mode:?}: {error}"
        );
        assert_eq!(manager.current_template(), Some(&good), "{mode:?}");
        assert!(
            !manager.is_stale(&job),
            "{mode:?}: its work is still current"
        );
        assert_eq!(
            manager.current_job(Some(&payout)).expect("a job").id(),
            job.id()
        );
    }
}

#[test]
fn fpps_rewards_that_overflow_are_refused() {
    let mut manager = JobManager::new(settings(PayoutMode::Fpps));
    // Fees of u64::MAX on one template, then a subsidy of u64::MAX: the
    // share reward, subsidy plus the average fees, does not fit.
    let mut rich = gbt("gbt-regtest-30tx.json");
    rich["coinbasevalue"] = json!(u64::MAX);
    for (index, tx) in rich["transactions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        tx["fee"] = json!(if index == 0 { u64::MAX } else { 0 });
    }
    assert_eq!(
        manager.on_template(decoded(rich), Instant::now()),
        Ok(TemplateChange::NewBlock)
    );
    let mut subsidy = gbt("gbt-regtest-empty.json");
    subsidy["coinbasevalue"] = json!(u64::MAX);
    subsidy["previousblockhash"] = new_tip(8);
    let error = manager
        .on_template(decoded(subsidy), Instant::now())
        .unwrap_err();
    assert!(
        matches!(error, JobError::RewardOverflow { subsidy, .. } if subsidy == Amount::MAX),
        "{error}"
    );
}

// ---- through a node --------------------------------------------------------

fn chain() -> ChainConfig {
    ChainConfig {
        poll_interval_ms: 50,
        ..ChainConfig::default()
    }
}

async fn status_where(
    source: &BitcoindSource,
    mut wanted: impl FnMut(&SourceStatus) -> bool,
) -> SourceStatus {
    let mut updates = source.status_updates();
    let found = timeout(WAIT, updates.wait_for(|status| wanted(status))).await;
    match found {
        Ok(Ok(status)) => status.clone(),
        _ => panic!(
            "no such status within {WAIT:?}; last: {:?}",
            source.status()
        ),
    }
}

async fn template_where(
    source: &BitcoindSource,
    wanted: impl Fn(&Template) -> bool,
) -> Arc<Template> {
    let mut templates = source.templates();
    let found = timeout(
        WAIT,
        templates.wait_for(|template| template.as_deref().is_some_and(&wanted)),
    )
    .await;
    match found {
        Ok(Ok(template)) => template.clone().expect("checked above"),
        _ => panic!(
            "no such template within {WAIT:?}; status: {:?}",
            source.status()
        ),
    }
}

/// Each bad answer, on a new tip so the node's poll fetches it at once: the
/// node is reported as refusing it, the reason is counted, and the good
/// template stays published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_serving_bad_templates_leaves_the_last_good_one_published() {
    let node = FakeBitcoind::start("gbt-regtest-empty.json").await;
    let source = BitcoindSource::start(vec![node.config("u", "p")], Network::Regtest, &chain())
        .expect("valid configuration");
    let refusals = source.template_refusals().expect("the source has a gate");
    let good = template_where(&source, |template| template.height == 109).await;

    let picked = [
        "fees above coinbasevalue",
        "nBits zero",
        "nBits negative zero",
        "nBits overflowing 256 bits",
        "nBits easier than regtest's limit",
        "100 000 transactions",
        "witness commitment one byte short",
        "curtime three hours ahead",
        "a height that is text",
    ];
    let cases: Vec<_> = cases()
        .into_iter()
        .filter(|(what, ..)| picked.contains(what))
        .collect();
    assert_eq!(cases.len(), picked.len());
    for (tag, (what, capture, mutate, reason)) in cases.into_iter().enumerate() {
        let mut answer = gbt(capture);
        mutate(&mut answer);
        if reason == RefusalReason::Time {
            // Ahead of this machine's clock, which the node source reads.
            answer["curtime"] = json!(unix_now() + 3 * 3600);
        }
        answer["previousblockhash"] = new_tip(0x80 + tag as u8);
        let before = refusals.count(reason);
        node.set_template_json(answer);
        // The gate counts before the status changes to name the refusal.
        let status = status_where(&source, |status| {
            let refused = status.nodes[0]
                .1
                .as_ref()
                .err()
                .is_some_and(|error| error.contains("refuses"));
            refused && refusals.count(reason) > before
        })
        .await;
        assert!(status.serving_stale_template, "{what}: {status:?}");
        assert_eq!(
            source.templates().borrow().as_deref(),
            Some(&*good),
            "{what}: the good template stays"
        );
    }
    for reason in RefusalReason::ALL {
        let expected = [
            RefusalReason::FeesExceedValue,
            RefusalReason::BitsZero,
            RefusalReason::BitsNegative,
            RefusalReason::BitsOverflow,
            RefusalReason::BitsTooEasy,
            RefusalReason::Transactions,
            RefusalReason::WitnessCommitment,
            RefusalReason::Time,
            RefusalReason::Undecodable,
        ]
        .contains(&reason);
        assert_eq!(refusals.count(reason) > 0, expected, "{reason:?}");
    }

    // A good template on a new tip is published again.
    node.set_template("gbt-regtest-6segwit.json");
    template_where(&source, |template| template.height == 112).await;
    status_where(&source, |status| !status.serving_stale_template).await;
}

/// `pool check` says what the running pool's gate would say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_check_names_a_template_the_pool_would_refuse() {
    let node = FakeBitcoind::start("gbt-regtest-30tx.json").await;
    let template_line = |lines: &[pool::template::bitcoind::ProbeLine]| {
        lines
            .iter()
            .find(|line| line.component.ends_with(" template"))
            .cloned()
            .expect("a template line")
    };
    let lines = pool::template::bitcoind::probe(&node.config("u", "p"), Network::Regtest).await;
    assert!(template_line(&lines).is_ok(), "{lines:?}");
    let mut bad = gbt("gbt-regtest-30tx.json");
    bad["coinbasevalue"] = json!(1_000);
    node.set_template_json(bad);
    let lines = pool::template::bitcoind::probe(&node.config("u", "p"), Network::Regtest).await;
    let line = template_line(&lines);
    let reason = line.result.expect_err("refused");
    assert!(
        reason.contains("would refuse") && reason.contains("exceed coinbasevalue"),
        "{reason}"
    );
}

// ---- through a running pool --------------------------------------------------

async fn metric(web: std::net::SocketAddr, line_start: &str) -> Option<f64> {
    let (status, body) = e2e::http_get(web, "/metrics").await;
    assert_eq!(status, 200);
    body.lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
}

/// A miner on the good template keeps mining on it while the node serves a
/// template whose fees exceed its value: its shares are not stale, the
/// refusal shows in `/metrics`, the height stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miners_keep_working_on_the_last_good_template() {
    let node = FakeBitcoind::start("gbt-regtest-30tx.json").await;
    let source = Arc::new(
        BitcoindSource::start(vec![node.config("u", "p")], Network::Regtest, &chain())
            .expect("valid configuration"),
    );
    let scratch = Scratch::new("bad-templates");
    let config = e2e::simnet_config(scratch.path());
    let pool = Pool::start_with_source(&config, Arc::clone(&source))
        .await
        .expect("the pool starts");
    let user = format!("{}.rig", regtest_address(3));
    let mut miner = RawClient::miner(pool.stratum_addr(), &user).await;
    let job = miner.latest_job();

    let mut bad = gbt("gbt-regtest-30tx.json");
    bad["coinbasevalue"] = json!(1_000);
    bad["previousblockhash"] = new_tip(0x99);
    node.set_template_json(bad);
    let refused = "pool_templates_refused_total{reason=\"fees_exceed_value\"} ";
    let web = pool.web_addr();
    wait_until_async("the refusal in /metrics", WAIT, || async move {
        metric(web, refused).await.is_some_and(|count| count >= 1.0)
    })
    .await;

    assert_eq!(
        metric(web, "pool_template_height ").await,
        Some(109.0),
        "the height of the good template"
    );
    // Regtest: half of all hashes solve a block. A share on a stale job
    // would be answered 21 even so.
    let share = miner.grind_block(&job.job);
    let answer = miner.submit(&user, &share).await;
    assert!(
        accepted(&answer),
        "a share on the good template: {answer:?}"
    );
    pool.shutdown().await;
}
