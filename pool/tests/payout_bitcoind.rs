//! `pool payout` against a real Bitcoin Core wallet on regtest, when
//! `BITCOIND_EXE` names a `bitcoind` binary (skipped otherwise, recorded
//! by `test_skip`, in CI too: no package ships it): the pool's wallet
//! pays miners' balances in one sendmany whose comment is the batch id; a
//! batch recorded but never sent is cancelled and paid afresh; a batch
//! sent but never marked is found in the wallet by its comment and not
//! paid again.

#[path = "support/mod.rs"]
mod support;

use bitcoincore_rpc::{Auth, Client, RpcApi};
use pool::config::{BitcoindConfig, Network as PoolNetwork, PayoutMode};
use pool::ledger::accounts::{BatchState, PayoutLine};
use pool::ledger::{Ledger, NewShare};
use pool::payouts::{
    payout_run, BitcoindChain, BitcoindWallet, CreditSettings, RunSettings, Wallet,
};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{closed_port, TempDir};

const USER: &str = "pool";
const PASSWORD: &str = "payout-test";

struct Bitcoind {
    child: Child,
    rpc_port: u16,
    _dir: TempDir,
}

impl Drop for Bitcoind {
    fn drop(&mut self) {
        let _ = self.client("").stop();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
    }
}

impl Bitcoind {
    fn start(exe: &str) -> Bitcoind {
        let dir = TempDir::new("bitcoind");
        let rpc_port = closed_port();
        let child = Command::new(exe)
            .args([
                "-regtest",
                "-server",
                "-listen=0",
                "-fallbackfee=0.0002",
                "-rpcbind=127.0.0.1",
                "-rpcallowip=127.0.0.1",
            ])
            .arg(format!("-datadir={}", dir.path().display()))
            .arg(format!("-rpcport={rpc_port}"))
            .arg(format!("-rpcuser={USER}"))
            .arg(format!("-rpcpassword={PASSWORD}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start bitcoind");
        let node = Bitcoind {
            child,
            rpc_port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while node.client("").get_blockchain_info().is_err() {
            assert!(
                Instant::now() < deadline,
                "bitcoind did not answer within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        node
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }

    fn client(&self, wallet: &str) -> Client {
        let url = if wallet.is_empty() {
            self.url()
        } else {
            format!("{}/wallet/{wallet}", self.url())
        };
        Client::new(&url, Auth::UserPass(USER.into(), PASSWORD.into())).expect("rpc client")
    }

    fn config(&self) -> BitcoindConfig {
        BitcoindConfig {
            url: self.url(),
            user: Some(USER.into()),
            password: Some(PASSWORD.into()),
            cookie: None,
            zmq: None,
        }
    }
}

fn call(client: &Client, method: &str, params: &[Value]) -> Value {
    client
        .call::<Value>(method, params)
        .unwrap_or_else(|error| panic!("{method}: {error}"))
}

fn received(miners: &Client, address: &str) -> u64 {
    let btc = call(miners, "getreceivedbyaddress", &[json!(address), json!(1)]);
    (btc.as_f64().expect("an amount") * 1e8).round() as u64
}

fn sends_with_comment(pool: &Client, comment: &str) -> usize {
    let listed = call(
        pool,
        "listtransactions",
        &[json!("*"), json!(1000), json!(0), json!(true)],
    );
    let mut txids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["comment"] == comment && entry["category"] == "send")
        .filter_map(|entry| entry["txid"].as_str())
        .collect();
    txids.sort_unstable();
    txids.dedup();
    txids.len()
}

async fn credit(ledger: &Ledger, n: u64, address: &str, amount: u64) {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&n.to_le_bytes());
    ledger
        .record_share(NewShare {
            node: 0,
            address: address.to_string(),
            worker: String::new(),
            job_id: n,
            difficulty: 1.0,
            network_difficulty: 1.0,
            time_ms: 1_750_000_000_000 + n as i64,
            is_block: false,
            hash,
            credit_sat: amount,
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_wallet_pays_each_balance_exactly_once() {
    let Ok(exe) = std::env::var("BITCOIND_EXE") else {
        test_skip::skip!(
            test_skip::Service::Bitcoind,
            "BITCOIND_EXE is not set; point it at a bitcoind binary"
        );
        return;
    };
    let node = Bitcoind::start(&exe);
    let base = node.client("");
    call(&base, "createwallet", &[json!("pool")]);
    call(&base, "createwallet", &[json!("miners")]);
    let pool_wallet = node.client("pool");
    let miners = node.client("miners");
    let funding = call(&pool_wallet, "getnewaddress", &[]);
    call(&base, "generatetoaddress", &[json!(101), funding]);
    let alice = call(&miners, "getnewaddress", &[])
        .as_str()
        .unwrap()
        .to_string();
    let bob = call(&miners, "getnewaddress", &[])
        .as_str()
        .unwrap()
        .to_string();

    let dir = TempDir::new("payout-bitcoind");
    let ledger = Ledger::open(&format!("sqlite://{}/ledger.db", dir.path().display()))
        .await
        .unwrap();
    let chain = BitcoindChain::new(&node.config(), PoolNetwork::Regtest).unwrap();
    let payout_config = pool::config::PayoutConfig {
        wallet: "pool".to_string(),
        ..Default::default()
    };
    let wallet = BitcoindWallet::new(&node.config(), PoolNetwork::Regtest, &payout_config).unwrap();
    let settings = RunSettings {
        credit: CreditSettings {
            mode: PayoutMode::Pps,
            fee: payout::Fee::from_basis_points(0).unwrap(),
            window: payout::Score::from_blocks(2.0).unwrap(),
        },
        threshold_sat: 10_000,
        maturity: 100,
        network: bitcoin::Network::Regtest,
        dry_run: false,
    };

    // A normal run: one sendmany, its comment the batch id.
    credit(&ledger, 1, &alice, 150_000).await;
    credit(&ledger, 2, &bob, 70_000).await;
    let report = payout_run(&ledger, &chain, &wallet, &settings)
        .await
        .unwrap();
    let batch = report.batch.expect("a batch");
    assert_eq!(batch.state, BatchState::Sent);
    let txid = batch.txid.clone().unwrap();
    let tx = call(&pool_wallet, "gettransaction", &[json!(txid)]);
    assert_eq!(tx["comment"], batch.id.as_str());
    call(
        &base,
        "generatetoaddress",
        &[json!(1), call(&pool_wallet, "getnewaddress", &[])],
    );
    assert_eq!(received(&miners, &alice), 150_000);
    assert_eq!(received(&miners, &bob), 70_000);

    // Recorded, then killed before sending: cancelled, then paid once.
    credit(&ledger, 3, &alice, 30_000).await;
    ledger.settle_share_credits("test-settle-1").await.unwrap();
    let unsent = ledger
        .create_batch(
            "pool-payout-unsent",
            &[PayoutLine {
                address: alice.clone(),
                amount_sat: 30_000,
            }],
        )
        .await
        .unwrap();
    let report = payout_run(&ledger, &chain, &wallet, &settings)
        .await
        .unwrap();
    assert_eq!(report.cancelled, vec![unsent.id.clone()]);
    let repaid = report.batch.expect("paid afresh");
    assert_eq!(repaid.total_sat, 30_000);
    assert_eq!(sends_with_comment(&pool_wallet, "pool-payout-unsent"), 0);

    // Sent, then killed before the txid was recorded: found, not resent.
    credit(&ledger, 4, &bob, 40_000).await;
    ledger.settle_share_credits("test-settle-2").await.unwrap();
    let lines = [PayoutLine {
        address: bob.clone(),
        amount_sat: 40_000,
    }];
    let sent = ledger
        .create_batch("pool-payout-sent", &lines)
        .await
        .unwrap();
    let sent_txid = wallet.send_many(&lines, &sent.id).await.unwrap();
    let report = payout_run(&ledger, &chain, &wallet, &settings)
        .await
        .unwrap();
    assert_eq!(report.recovered, vec![(sent.id.clone(), sent_txid)]);
    assert!(report.batch.is_none(), "{}", report.summary());
    assert_eq!(sends_with_comment(&pool_wallet, "pool-payout-sent"), 1);

    call(
        &base,
        "generatetoaddress",
        &[json!(1), call(&pool_wallet, "getnewaddress", &[])],
    );
    assert_eq!(received(&miners, &alice), 180_000);
    assert_eq!(received(&miners, &bob), 110_000);
    assert!(ledger
        .balances()
        .await
        .unwrap()
        .iter()
        .all(|b| b.balance_sat == 0));

    // Buried six deep, every sent batch is confirmed by the next run.
    call(
        &base,
        "generatetoaddress",
        &[json!(6), call(&pool_wallet, "getnewaddress", &[])],
    );
    let report = payout_run(&ledger, &chain, &wallet, &settings)
        .await
        .unwrap();
    assert_eq!(report.confirmed_batches.len(), 3, "{}", report.summary());
    assert!(ledger
        .batches()
        .await
        .unwrap()
        .iter()
        .all(|batch| matches!(batch.state, BatchState::Confirmed | BatchState::Cancelled)));
    ledger.close().await;
}
