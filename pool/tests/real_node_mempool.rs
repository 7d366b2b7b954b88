//! A full template from a real Bitcoin Core (`BITCOIND_EXE`; skipped
//! visibly without it): a mempool of a few thousand transactions spending
//! legacy (P2PKH), segwit v0 (P2WPKH) and taproot (P2TR) outputs. The
//! block the pool builds from it must be the one Core accepts: every
//! transaction in place, the merkle root and the witness commitment
//! checked by Core's own validation.

#[path = "support/mod.rs"]
mod support;

use bitcoincore_rpc::{Client, RpcApi};
use miner_sim::{Dialect, MinerConfig, Swarm};
use pool::app::Pool;
use pool::config::Config;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::core_node::{bitcoind_exe, pool_toml, Chain, CoreNode, NodeOptions};
use support::TempDir;

const ADDRESS: &str = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9";
/// Spends of each kind in the mempool.
const EACH: usize = 700;
const KINDS: [(&str, &str); 3] = [
    ("legacy", "pubkeyhash"),
    ("bech32", "witness_v0_keyhash"),
    ("bech32m", "witness_v1_taproot"),
];

fn call(client: &Client, method: &str, params: &[Value]) -> Value {
    client
        .call::<Value>(method, params)
        .unwrap_or_else(|error| panic!("{method}: {error}"))
}

/// Funds `EACH` outputs of every kind, confirms them, then spends each in
/// its own transaction: `3 × EACH` transactions wait in the mempool.
fn fill_mempool(node: &CoreNode) -> usize {
    node.call("createwallet", &[json!("w")]);
    let wallet = node.wallet_client("w");
    let mine = call(&wallet, "getnewaddress", &[json!(""), json!("bech32")]);
    node.call("generatetoaddress", &[json!(101), mine.clone()]);
    let mut outputs = serde_json::Map::new();
    for (kind, _) in KINDS {
        for _ in 0..EACH {
            let address = call(&wallet, "getnewaddress", &[json!(""), json!(kind)]);
            outputs.insert(address.as_str().unwrap().to_string(), json!(0.01));
        }
    }
    call(&wallet, "sendmany", &[json!(""), Value::Object(outputs)]);
    node.call("generatetoaddress", &[json!(1), mine.clone()]);

    let unspent = call(&wallet, "listunspent", &[json!(1)]);
    let mut sent = 0;
    for utxo in unspent.as_array().unwrap() {
        let amount = bitcoin::Amount::from_btc(utxo["amount"].as_f64().expect("an amount"));
        if amount != Ok(bitcoin::Amount::from_sat(1_000_000)) {
            continue;
        }
        let raw = call(
            &wallet,
            "createrawtransaction",
            &[
                json!([{"txid": utxo["txid"], "vout": utxo["vout"]}]),
                json!([{ mine.as_str().unwrap(): 0.0099 }]),
            ],
        );
        let signed = call(&wallet, "signrawtransactionwithwallet", &[raw]);
        assert_eq!(signed["complete"], true, "{signed}");
        node.call("sendrawtransaction", &[signed["hex"].clone()]);
        sent += 1;
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_template_of_legacy_segwit_and_taproot_spends_is_a_block_core_accepts() {
    let Some(exe) = bitcoind_exe() else { return };
    let (node, sent) = tokio::task::spawn_blocking(move || {
        let node = CoreNode::start(&exe, Chain::Regtest, NodeOptions::default());
        let sent = fill_mempool(&node);
        (node, sent)
    })
    .await
    .expect("the mempool fills");
    assert_eq!(sent, 3 * EACH);
    let in_mempool = node.call("getmempoolinfo", &[])["size"].as_u64();
    assert_eq!(in_mempool, Some(sent as u64));
    let base = node.height();

    let dir = TempDir::new("real-node-mempool");
    let text = pool_toml(
        dir.path(),
        "regtest",
        ADDRESS,
        "/pool/",
        &node.config_toml(),
        "",
    );
    let config = Config::from_toml_str(&text, Vec::<(String, String)>::new()).expect("config");
    let pool = Pool::start(&config).await.expect("the pool starts");
    let mut miner = MinerConfig::new(
        pool.stratum_addr(),
        format!("{ADDRESS}.rig"),
        Dialect::Bitaxe,
    );
    miner.hashrate = 1e6;
    let swarm = Swarm::start(vec![miner]);
    let started = Instant::now();
    while node.height() <= base {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no block from the pool within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Core's tip moves before the pool has read submitblock's answer.
    while pool.stats().snapshot().blocks_accepted == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the node took the block, but the pool never counted it accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = swarm.stop().await;
    pool.shutdown().await;

    // The pool's first block carries the whole mempool.
    let hash = node.call("getblockhash", &[json!(base + 1)]);
    let block = node.call("getblock", &[hash, json!(3)]);
    let txs = block["tx"].as_array().expect("transactions");
    assert_eq!(txs.len(), sent + 1, "coinbase and every transaction");
    let mut spent: BTreeMap<String, usize> = BTreeMap::new();
    for tx in &txs[1..] {
        let kind = tx["vin"][0]["prevout"]["scriptPubKey"]["type"]
            .as_str()
            .expect("a prevout type")
            .to_string();
        *spent.entry(kind).or_default() += 1;
    }
    for (_, kind) in KINDS {
        assert_eq!(spent.get(kind), Some(&EACH), "{spent:?}");
    }
    // BIP 141: the coinbase commits to the witnesses Core just checked.
    let commitment = txs[0]["vout"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|output| {
            output["scriptPubKey"]["hex"]
                .as_str()
                .is_some_and(|hex| hex.starts_with("6a24aa21a9ed"))
        })
        .count();
    assert_eq!(commitment, 1, "one witness commitment output");
    assert!(
        block["weight"].as_u64().unwrap() > 1_000_000,
        "{}",
        block["weight"]
    );
    assert_eq!(
        node.call("getmempoolinfo", &[])["size"].as_u64(),
        Some(0),
        "the block took the whole mempool"
    );
    eprintln!(
        "mempool: {} transactions ({spent:?}), block weight {}, found {:.1} s after the pool started; miner {} accepted",
        sent,
        block["weight"],
        started.elapsed().as_secs_f64(),
        report.total.accepted
    );
    assert_eq!(report.total.unexpected_rejections, 0, "{report:?}");
    tokio::task::spawn_blocking(move || drop(node))
        .await
        .expect("the node stops");
}
