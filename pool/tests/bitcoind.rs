//! The bitcoind template source and `pool check`'s probe against fake nodes
//! on 127.0.0.1 that answer with replies captured from Bitcoin Core.

mod support;

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::hashes::Hash;
use bitcoin::Block;
use bitcoincore_rpc::json::GetBlockTemplateResult;
use pool::config::{BitcoindConfig, ChainConfig, Network};
use pool::template::bitcoind::{probe, BitcoindError, BitcoindSource, ProbeLine};
use pool::template::{NodeAnswer, SourceStatus, Template, TemplateSource};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fake_bitcoind::{FakeBitcoind, Login};
use support::{closed_port, vector, vectors_dir, TempDir};
use tokio::time::timeout;
use zeromq::{Socket, SocketSend, ZmqMessage};

const WAIT: Duration = Duration::from_secs(5);

fn chain(poll_interval_ms: u64) -> ChainConfig {
    ChainConfig {
        poll_interval_ms,
        ..ChainConfig::default()
    }
}

fn decoded(gbt: &str) -> Template {
    let gbt: GetBlockTemplateResult = serde_json::from_str(&vector(gbt)).unwrap();
    Template::from_gbt(gbt).unwrap()
}

fn start(nodes: Vec<BitcoindConfig>, network: Network, chain: &ChainConfig) -> BitcoindSource {
    BitcoindSource::start(nodes, network, chain).expect("valid configuration")
}

/// Waits until the published template satisfies `wanted`.
async fn template_where(
    source: &BitcoindSource,
    within: Duration,
    mut wanted: impl FnMut(&Template) -> bool,
) -> Arc<Template> {
    let mut templates = source.templates();
    let found = timeout(
        within,
        templates.wait_for(|template| template.as_deref().is_some_and(&mut wanted)),
    )
    .await;
    match found {
        Ok(Ok(template)) => template.clone().expect("checked above"),
        _ => panic!(
            "no such template within {within:?}; status: {:?}",
            source.status()
        ),
    }
}

/// Waits until the status satisfies `wanted`.
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

fn node_error(status: &SourceStatus, index: usize) -> Option<&str> {
    status.nodes[index].1.as_ref().err().map(String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_login_publishes_the_template() {
    let node = FakeBitcoind::start("gbt-regtest-30tx.json").await;
    let source = start(vec![node.config("u", "p")], Network::Regtest, &chain(500));
    let template = template_where(&source, WAIT, |_| true).await;
    assert_eq!(*template, decoded("gbt-regtest-30tx.json"));
    let status = status_where(&source, |status| status.nodes[0].1.is_ok()).await;
    assert_eq!(status.last_template_height, Some(109));
    assert!(!status.serving_stale_template);
    // Segwit and signet rules, always.
    let params = node.calls("getblocktemplate");
    assert_eq!(params[0][0]["rules"], json!(["segwit", "signet"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_login_works_and_follows_a_new_cookie() {
    let dir = TempDir::new("cookie");
    let node = FakeBitcoind::start_with(
        "gbt-regtest-empty.json",
        Login::Cookie {
            secret: "first".into(),
        },
    )
    .await;
    let cookie = dir.write(".cookie", "__cookie__:first");
    let source = start(
        vec![node.cookie_config(&cookie)],
        Network::Regtest,
        &chain(500),
    );
    template_where(&source, WAIT, |template| template.height == 109).await;

    // bitcoind restarted: a new cookie, and a new tip.
    node.set_login(Login::Cookie {
        secret: "second".into(),
    });
    dir.write(".cookie", "__cookie__:second");
    node.set_template("gbt-regtest-6segwit.json");
    template_where(&source, WAIT, |template| template.height == 112).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_precisely() {
    let node = FakeBitcoind::start("gbt-regtest-empty.json").await;
    let source = start(
        vec![node.config("u", "wrong")],
        Network::Regtest,
        &chain(500),
    );
    let status = status_where(&source, |status| {
        node_error(status, 0).is_some_and(|error| error.contains("401"))
    })
    .await;
    let error = node_error(&status, 0).unwrap();
    assert!(error.starts_with("bad credentials"), "{error}");
    assert!(
        error.contains("user `u`") && error.contains(&node.url()),
        "{error}"
    );
    assert!(source.templates().borrow().is_none());

    // A cookie file that does not exist is named.
    let dir = TempDir::new("nocookie");
    let missing = dir.path().join(".cookie");
    let source = start(
        vec![node.cookie_config(&missing)],
        Network::Regtest,
        &chain(500),
    );
    let status = status_where(&source, |status| {
        node_error(status, 0).is_some_and(|error| error.contains("cookie"))
    })
    .await;
    let error = node_error(&status, 0).unwrap();
    assert!(error.contains(&missing.display().to_string()), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_mistakes_are_refused_at_start() {
    let chain = chain(500);
    assert_eq!(
        BitcoindSource::start(Vec::new(), Network::Regtest, &chain).unwrap_err(),
        BitcoindError::NoNodes
    );
    let node = |value: Value| -> BitcoindConfig { serde_json::from_value(value).unwrap() };
    for bad in [
        node(json!({"url": "https://127.0.0.1:8332", "user": "u", "password": "p"})),
        node(json!({"url": "http://127.0.0.1:port", "user": "u", "password": "p"})),
        node(json!({"url": "http://127.0.0.1:8332"})),
        node(json!({"url": "http://127.0.0.1:8332", "user": "u"})),
        node(
            json!({"url": "http://127.0.0.1:8332", "user": "u", "password": "p", "zmq": "127.0.0.1:28332"}),
        ),
    ] {
        assert!(
            BitcoindSource::start(vec![bad.clone()], Network::Regtest, &chain).is_err(),
            "{bad:?}"
        );
    }
    // A node that is down is not a configuration mistake.
    let down = node(
        json!({"url": format!("http://127.0.0.1:{}", closed_port()), "user": "u", "password": "p"}),
    );
    let source = start(vec![down], Network::Regtest, &chain);
    let status = status_where(&source, |status| {
        node_error(status, 0).is_some_and(|error| error.contains("connection refused"))
    })
    .await;
    assert_eq!(status.last_template_height, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_when_the_first_node_dies() {
    let first = FakeBitcoind::start("gbt-regtest-empty.json").await;
    let second = FakeBitcoind::start("gbt-regtest-6segwit.json").await;
    let source = start(
        vec![first.config("u", "p"), second.config("u", "p")],
        Network::Regtest,
        &chain(500),
    );
    // Nodes are asked in order: the first one's template is published.
    template_where(&source, WAIT, |template| template.height == 109).await;

    first.die().await;
    let template = template_where(&source, WAIT, |template| template.height == 112).await;
    assert_eq!(*template, decoded("gbt-regtest-6segwit.json"));
    let status = status_where(&source, |status| {
        node_error(status, 0).is_some_and(|error| error.contains("unreachable"))
    })
    .await;
    assert!(status.nodes[1].1.is_ok(), "{status:?}");
    assert!(!status.serving_stale_template, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_when_the_first_node_hangs() {
    let first = FakeBitcoind::start("gbt-regtest-empty.json").await;
    let second = FakeBitcoind::start("gbt-regtest-6segwit.json").await;
    let source = start(
        vec![first.config("u", "p"), second.config("u", "p")],
        Network::Regtest,
        &chain(500),
    );
    template_where(&source, WAIT, |template| template.height == 109).await;

    // Well before its 10 s RPC timeout, a node that stops answering is
    // passed over.
    first.set_hang(true);
    template_where(&source, WAIT, |template| template.height == 112).await;
    let status = status_where(&source, |status| {
        node_error(status, 0).is_some_and(|error| error.contains("no answer"))
    })
    .await;
    assert!(status.nodes[1].1.is_ok(), "{status:?}");
    // Release the blocked calls so the test ends at once.
    first.die().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_finds_a_new_tip_within_a_second_without_zmq() {
    let node = FakeBitcoind::start("gbt-regtest-empty.json").await;
    let source = start(
        vec![node.config("u", "p")],
        Network::Regtest,
        &ChainConfig::default(),
    );
    template_where(&source, WAIT, |template| template.height == 109).await;

    let new_tip = decoded("gbt-regtest-6segwit.json").previous_block_hash;
    let started = Instant::now();
    node.set_template("gbt-regtest-6segwit.json");
    template_where(&source, Duration::from_secs(1), |template| {
        template.previous_block_hash == new_tip
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zmq_hashblock_brings_the_new_template() {
    let mut publisher = zeromq::PubSocket::new();
    let endpoint = publisher.bind("tcp://127.0.0.1:0").await.unwrap();
    let node = FakeBitcoind::start("gbt-regtest-empty.json").await;
    let mut config = node.config("u", "p");
    config.zmq = Some(endpoint.to_string());
    // The poll is too slow to matter here: only ZMQ can bring the new tip.
    let source = start(vec![config], Network::Regtest, &chain(600_000));
    template_where(&source, WAIT, |template| template.height == 109).await;

    node.set_template("gbt-regtest-6segwit.json");
    let new_tip = decoded("gbt-regtest-6segwit.json").previous_block_hash;
    let mut announcement = ZmqMessage::from("hashblock");
    // Core sends the hash in display order.
    let mut hash = new_tip.to_byte_array();
    hash.reverse();
    announcement.push_back(hash.to_vec().into());
    announcement.push_back(vec![0u8, 0, 0, 0].into());

    // A PUB socket drops messages until the subscription has arrived, so
    // announce until the template changes.
    let mut templates = source.templates();
    let mut every = tokio::time::interval(Duration::from_millis(50));
    let changed = timeout(WAIT, async {
        loop {
            tokio::select! {
                _ = every.tick() => publisher.send(announcement.clone()).await.unwrap(),
                found = templates.wait_for(|t| t.as_ref().is_some_and(|t| t.previous_block_hash == new_tip)) => {
                    return found.is_ok();
                }
            }
        }
    })
    .await;
    assert_eq!(changed, Ok(true), "status: {:?}", source.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fee_refresh_publishes_only_what_changed() {
    let node = FakeBitcoind::start("gbt-regtest-empty.json").await;
    let chain = ChainConfig {
        template_refresh_secs: 1,
        ..ChainConfig::default()
    };
    let source = start(vec![node.config("u", "p")], Network::Regtest, &chain);
    template_where(&source, WAIT, |template| template.height == 109).await;
    let mut templates = source.templates();
    templates.borrow_and_update();

    // Two refreshes of the same template: nothing new is published.
    node.wait_for_calls("getblocktemplate", 3, WAIT).await;
    assert!(!templates.has_changed().unwrap());

    // Same tip, 30 new transactions (a new longpollid): published.
    node.set_template("gbt-regtest-30tx.json");
    let template =
        template_where(&source, WAIT, |template| template.transactions.len() == 30).await;
    assert_eq!(*template, decoded("gbt-regtest-30tx.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_the_last_good_template_when_the_node_answers_garbage() {
    let node = FakeBitcoind::start("gbt-regtest-empty.json").await;
    let source = start(vec![node.config("u", "p")], Network::Regtest, &chain(100));
    let good = template_where(&source, WAIT, |template| template.height == 109).await;

    // Not JSON at all.
    node.set_garbage(true);
    let status = status_where(&source, |status| status.serving_stale_template).await;
    assert!(
        node_error(&status, 0).unwrap().contains("garbage"),
        "{status:?}"
    );
    assert_eq!(status.last_template_height, Some(109));
    assert_eq!(source.templates().borrow().as_deref(), Some(&*good));

    node.set_garbage(false);
    status_where(&source, |status| !status.serving_stale_template).await;

    // JSON, on a new tip, but a template the pool refuses (2-byte bits).
    let mut broken = serde_json::from_str::<Value>(&vector("gbt-regtest-6segwit.json")).unwrap();
    broken["bits"] = json!("207f");
    node.set_template_json(broken);
    let status = status_where(&source, |status| status.serving_stale_template).await;
    let error = node_error(&status, 0).unwrap();
    assert!(
        error.contains("refuses") && error.contains("bits"),
        "{error}"
    );
    assert_eq!(source.templates().borrow().as_deref(), Some(&*good));

    // Repaired: the new template is published and nothing is stale.
    node.set_template("gbt-regtest-6segwit.json");
    template_where(&source, WAIT, |template| template.height == 112).await;
    status_where(&source, |status| !status.serving_stale_template).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_node_on_the_wrong_chain() {
    let node = FakeBitcoind::start("gbt-regtest-empty.json").await;
    node.set_chain("main");
    let source = start(vec![node.config("u", "p")], Network::Regtest, &chain(100));
    let status = status_where(&source, |status| {
        node_error(status, 0).is_some_and(|error| error.contains("wrong chain"))
    })
    .await;
    let error = node_error(&status, 0).unwrap();
    assert!(
        error.contains("`main`") && error.contains("`regtest`"),
        "{error}"
    );
    assert!(source.templates().borrow().is_none());
    assert!(node.calls("getblocktemplate").is_empty());
}

fn handbuilt_block() -> Block {
    deserialize_hex(vector("block-regtest-handbuilt-6segwit.hex").trim()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_reaches_every_node_and_reports_each_answer() {
    let accepting = FakeBitcoind::start("gbt-regtest-6segwit.json").await;
    let duplicate = FakeBitcoind::start("gbt-regtest-6segwit.json").await;
    duplicate.set_submit_answer(json!("duplicate"));
    let source = start(
        vec![accepting.config("u", "p"), duplicate.config("u", "p")],
        Network::Regtest,
        &chain(500),
    );
    template_where(&source, WAIT, |_| true).await;

    let block = handbuilt_block();
    let hex = bitcoin::consensus::encode::serialize_hex(&block);
    let report = source.submit_block(block.clone()).await;
    assert_eq!(report.block_hash, block.block_hash());
    assert_eq!(report.height, 112);
    assert_eq!(
        report.answers,
        vec![
            NodeAnswer {
                node: accepting.url(),
                result: Ok(None)
            },
            NodeAnswer {
                node: duplicate.url(),
                result: Ok(Some("duplicate".into()))
            },
        ]
    );
    assert!(report.confirmed);
    for node in [&accepting, &duplicate] {
        assert_eq!(node.calls("submitblock"), vec![json!([hex])]);
        assert_eq!(
            node.calls("preciousblock"),
            vec![json!([block.block_hash().to_string()])]
        );
        assert_eq!(node.calls("getblockhash"), vec![json!([112])]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_reports_rejections_and_dead_nodes() {
    let rejecting = FakeBitcoind::start("gbt-regtest-6segwit.json").await;
    rejecting.set_submit_answer(json!("high-hash"));
    let dead = FakeBitcoind::start("gbt-regtest-6segwit.json").await;
    let source = start(
        vec![rejecting.config("u", "p"), dead.config("u", "p")],
        Network::Regtest,
        &chain(500),
    );
    template_where(&source, WAIT, |_| true).await;
    dead.die().await;

    let report = source.submit_block(handbuilt_block()).await;
    assert_eq!(report.answers[0].result, Ok(Some("high-hash".into())));
    let error = report.answers[1].result.as_ref().unwrap_err();
    assert!(
        error.contains("unreachable") && error.contains(&dead.url()),
        "{error}"
    );
    assert!(!report.confirmed);
    assert!(rejecting.calls("preciousblock").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_core_capture_decodes_through_the_source() {
    let mut captures: Vec<String> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("gbt-") && name.ends_with(".json"))
        .collect();
    captures.sort();
    assert!(captures.contains(&"gbt-signet51-6tx.json".to_string()));
    for capture in captures {
        let expected = decoded(&capture);
        // The fake insists on the signet rule on signet, as Core does.
        let network = if expected.signet_challenge.is_some() {
            Network::Signet
        } else {
            Network::Regtest
        };
        let node = FakeBitcoind::start(&capture).await;
        let source = start(vec![node.config("u", "p")], network, &chain(500));
        let template = template_where(&source, WAIT, |_| true).await;
        assert_eq!(*template, expected, "{capture}");
    }
}

fn line<'a>(lines: &'a [ProbeLine], aspect: &str) -> &'a ProbeLine {
    lines
        .iter()
        .find(|line| line.component.ends_with(&format!(" {aspect}")))
        .unwrap_or_else(|| panic!("no {aspect} line in {lines:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_of_a_healthy_node_is_all_ok() {
    let node = FakeBitcoind::start("gbt-regtest-30tx.json").await;
    let lines = probe(&node.config("u", "p"), Network::Regtest).await;
    assert!(lines.iter().all(ProbeLine::is_ok), "{lines:#?}");
    for aspect in ["rpc", "chain", "sync", "template", "zmq"] {
        line(&lines, aspect);
    }
    let rpc = line(&lines, "rpc").to_string();
    assert!(
        rpc.contains(": ok (Bitcoin Core /Satoshi:30.99.0/"),
        "{rpc}"
    );
    assert!(line(&lines, "template")
        .to_string()
        .contains("30 transactions"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_names_each_failure_precisely() {
    // Unreachable: the URL and the reason, and nothing else is tried.
    let url = format!("http://127.0.0.1:{}", closed_port());
    let config: BitcoindConfig =
        serde_json::from_value(json!({"url": url, "user": "u", "password": "p"})).unwrap();
    let lines = probe(&config, Network::Regtest).await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let reason = lines[0].result.as_ref().unwrap_err();
    assert!(
        reason.contains("unreachable")
            && reason.contains("connection refused")
            && reason.contains(&url),
        "{reason}"
    );

    let node = FakeBitcoind::start("gbt-signet51-6tx.json").await;
    // Bad password.
    let lines = probe(&node.config("u", "nope"), Network::Signet).await;
    let reason = line(&lines, "rpc").result.as_ref().unwrap_err();
    assert!(
        reason.starts_with("bad credentials") && reason.contains("401"),
        "{reason}"
    );
    // Missing cookie file.
    let dir = TempDir::new("probe-cookie");
    let cookie = dir.path().join(".cookie");
    let lines = probe(&node.cookie_config(&cookie), Network::Signet).await;
    let reason = line(&lines, "rpc").result.as_ref().unwrap_err();
    assert!(reason.contains(&cookie.display().to_string()), "{reason}");
    // Wrong chain: both names.
    let lines = probe(&node.config("u", "p"), Network::Mainnet).await;
    let reason = line(&lines, "chain").result.as_ref().unwrap_err();
    assert!(
        reason.contains("`signet`") && reason.contains("`main`"),
        "{reason}"
    );
    // Initial block download, with progress.
    node.set_initial_block_download(1000, 2000, 0.25);
    let lines = probe(&node.config("u", "p"), Network::Signet).await;
    let reason = line(&lines, "sync").result.as_ref().unwrap_err();
    assert!(
        reason.contains("initial block download")
            && reason.contains("1000 of 2000")
            && reason.contains("25.00%"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_checks_zmq() {
    let node = FakeBitcoind::start("gbt-regtest-empty.json").await;
    let mut publisher = zeromq::PubSocket::new();
    let endpoint = publisher
        .bind("tcp://127.0.0.1:0")
        .await
        .unwrap()
        .to_string();
    let with_zmq = |zmq: &str| {
        let mut config = node.config("u", "p");
        config.zmq = Some(zmq.to_string());
        config
    };

    // Configured in the pool, not published by the node.
    let lines = probe(&with_zmq(&endpoint), Network::Regtest).await;
    let reason = line(&lines, "zmq").result.as_ref().unwrap_err();
    assert!(reason.contains("not published by the node"), "{reason}");

    // Published and listening.
    node.set_zmq_notifications(json!([
        {"type": "pubhashblock", "address": endpoint, "hwm": 1000}
    ]));
    let lines = probe(&with_zmq(&endpoint), Network::Regtest).await;
    assert!(line(&lines, "zmq").is_ok(), "{lines:#?}");

    // Published, but nothing answers there.
    let silent = format!("tcp://127.0.0.1:{}", closed_port());
    node.set_zmq_notifications(json!([
        {"type": "pubhashblock", "address": silent, "hwm": 1000}
    ]));
    let lines = probe(&with_zmq(&silent), Network::Regtest).await;
    let reason = line(&lines, "zmq").result.as_ref().unwrap_err();
    assert!(
        reason.starts_with("ZMQ silent") && reason.contains(&silent),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_the_payout_wallet() {
    let node = FakeBitcoind::start("gbt-regtest-30tx.json").await;
    let mut config = pool::config::Config::default();
    config.bitcoind = vec![node.config("u", "p")];
    config.payout.wallet = "pool".to_string();
    let lines = pool::check::check(&config).await;
    let wallet = lines
        .iter()
        .find(|line| line.component == "wallet")
        .unwrap_or_else(|| panic!("no wallet line in {lines:#?}"));
    assert!(!wallet.failed(), "{wallet}");
    assert!(
        wallet.to_string().contains("balance 123456789 sat"),
        "{wallet}"
    );
    assert!(wallet.to_string().contains("/wallet/pool"), "{wallet}");

    let unreachable = format!("http://127.0.0.1:{}", closed_port());
    config.bitcoind =
        vec![
            serde_json::from_value(json!({"url": unreachable, "user": "u", "password": "p"}))
                .unwrap(),
        ];
    let lines = pool::check::check(&config).await;
    let wallet = lines
        .iter()
        .find(|line| line.component == "wallet")
        .unwrap();
    assert!(wallet.failed(), "{wallet}");
    assert!(
        wallet.to_string().contains("connection refused"),
        "{wallet}"
    );
}
