//! The `pool payout` binary as cron runs it, against a fake node whose
//! wallet records every `sendmany` (and can hang, so the run is killed
//! with SIGKILL at the two dangerous moments): its plan, its summary line
//! and exit codes, and that a killed run followed by another pays each
//! miner exactly once.

#[path = "support/mod.rs"]
mod support;

use bitcoin::{Address, Network, ScriptBuf};
use pool::ledger::accounts::BatchState;
use pool::ledger::{Ledger, NewShare};
use serde_json::json;
use std::process::Output;
use std::time::Duration;
use support::fake_bitcoind::{FakeBitcoind, SendBehaviour};
use support::TempDir;
use tokio::process::Command;

fn address(tag: u8) -> String {
    let script = ScriptBuf::from_bytes(vec![0x01, tag, 0x75, 0x51]);
    Address::p2wsh(&script, Network::Regtest).to_string()
}

struct Setup {
    dir: TempDir,
    node: FakeBitcoind,
    config: std::path::PathBuf,
    database: String,
}

async fn setup(mode: &str) -> Setup {
    let dir = TempDir::new("payout-cli");
    let node = FakeBitcoind::start("gbt-regtest-30tx.json").await;
    let database = format!("sqlite://{}/ledger.db", dir.path().display());
    let config = dir.write(
        "pool.toml",
        &format!(
            r#"[pool]
network = "regtest"
address = "{pool_address}"
mode = "{mode}"

[chain]
source = "bitcoind"

[[bitcoind]]
url = "{url}"
user = "u"
password = "p"

[database]
url = "{database}"

[payout]
threshold_sat = 10000
wallet = "pool"
"#,
            pool_address = address(100),
            url = node.url(),
        ),
    );
    Setup {
        dir,
        node,
        config,
        database,
    }
}

impl Setup {
    /// PPS credits for `(address tag, sats)`, as accepted shares.
    async fn credit(&self, credits: &[(u8, u64)]) {
        let ledger = Ledger::open(&self.database).await.unwrap();
        let first = ledger.share_count().await.unwrap();
        for (n, (tag, sats)) in credits.iter().enumerate() {
            let n = first + n as u64;
            let mut hash = [0u8; 32];
            hash[..8].copy_from_slice(&n.to_le_bytes());
            ledger
                .record_share(NewShare {
                    node: 0,
                    address: address(*tag),
                    worker: String::new(),
                    job_id: n,
                    difficulty: 1.0,
                    network_difficulty: 1.0,
                    time_ms: 1_750_000_000_000 + n as i64,
                    is_block: false,
                    hash,
                    credit_sat: *sats,
                })
                .await
                .unwrap();
        }
        ledger.close().await;
    }

    async fn balance(&self, tag: u8) -> i64 {
        let ledger = Ledger::open(&self.database).await.unwrap();
        let balance = ledger.balance(&address(tag)).await.unwrap();
        ledger.close().await;
        balance
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pool"));
        command
            .arg("payout")
            .arg("--config")
            .arg(&self.config)
            .args(extra)
            .current_dir(self.dir.path())
            .kill_on_drop(true);
        for (name, _) in std::env::vars() {
            if name.starts_with("POOL_") {
                command.env_remove(name);
            }
        }
        command
    }

    async fn run(&self, extra: &[&str]) -> (Output, String) {
        let output = tokio::time::timeout(Duration::from_secs(60), self.command(extra).output())
            .await
            .expect("pool payout finishes within 60 s")
            .expect("run pool payout");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        (output, stdout)
    }

    /// Starts a run, waits until its `sendmany` reached the wallet (which
    /// hangs as `behaviour` says), then kills it with SIGKILL.
    async fn run_and_kill(&self, behaviour: SendBehaviour) {
        self.node.set_send(behaviour);
        let calls = self.node.calls("sendmany").len();
        let mut child = self
            .command(&[])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start pool payout");
        self.node
            .wait_for_calls("sendmany", calls + 1, Duration::from_secs(60))
            .await;
        child.kill().await.expect("kill -9 pool payout");
        self.node.set_send(SendBehaviour::Send);
    }
}

fn btc(sats: u64) -> serde_json::Value {
    json!(bitcoin::Amount::from_sat(sats).to_btc())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_plan_and_sends_nothing() {
    let setup = setup("pps").await;
    setup.credit(&[(1, 60_000), (2, 9_999)]).await;
    let (output, stdout) = setup.run(&["--dry-run"]).await;
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("would pay {} 60000 sat", address(1))),
        "{stdout}"
    );
    assert!(stdout.contains("payout (dry run): "), "{stdout}");
    assert!(
        stdout.contains("below threshold 1 miners 9999 sat"),
        "{stdout}"
    );
    assert!(
        stdout.contains("position: credited to miners 69999 sat"),
        "{stdout}"
    );
    assert!(setup.node.calls("sendmany").is_empty());
    assert_eq!(setup.balance(1).await, 0, "a dry run settles nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_pays_once_with_the_batch_id_as_comment() {
    let setup = setup("pps").await;
    setup.credit(&[(1, 60_000), (2, 25_000), (1, 15_000)]).await;
    let (output, stdout) = setup.run(&[]).await;
    assert!(output.status.success(), "{stdout}");
    let sent = setup.node.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].comment.starts_with("pool-payout-"), "{:?}", sent[0]);
    assert_eq!(sent[0].amounts[&address(1)], btc(75_000));
    assert_eq!(sent[0].amounts[&address(2)], btc(25_000));
    assert!(
        stdout.contains(&format!(
            "paid 2 miners 100000 sat in {} (batch {})",
            sent[0].txid, sent[0].comment
        )),
        "{stdout}"
    );
    // Replace-by-fee, the default target, and the pool pays the fee.
    let params = &setup.node.calls("sendmany")[0];
    assert_eq!(
        (&params[4], &params[5], &params[6]),
        (&json!([]), &json!(true), &json!(6))
    );
    let (output, stdout) = setup.run(&[]).await;
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("paid nobody"), "{stdout}");
    assert_eq!(setup.node.sent().len(), 1);
    assert!(
        setup.node.calls("gettransaction").len() == 1,
        "the sent batch is followed"
    );

    // Buried six deep: the next run confirms the batch.
    setup.node.set_confirmations(6);
    let (output, stdout) = setup.run(&[]).await;
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("payments confirmed 1, replaced 0, reversed 0, stuck 0"),
        "{stdout}"
    );
    let ledger = Ledger::open(&setup.database).await.unwrap();
    let batch = ledger.batch(&sent[0].comment).await.unwrap().unwrap();
    assert_eq!(batch.state, BatchState::Confirmed);
    ledger.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miners_can_be_made_to_pay_the_fee_at_a_chosen_target() {
    let setup = setup("pps").await;
    // The config's last section is [payout].
    let mut text = std::fs::read_to_string(&setup.config).unwrap();
    text.push_str("fee_from_miners = true\nconf_target = 2\n");
    std::fs::write(&setup.config, text).unwrap();
    setup.credit(&[(1, 60_000), (2, 25_000)]).await;
    let (output, stdout) = setup.run(&[]).await;
    assert!(output.status.success(), "{stdout}");
    let params = &setup.node.calls("sendmany")[0];
    // Every output shares the fee (lines come in address order).
    let mut miners = [address(1), address(2)];
    miners.sort();
    assert_eq!(params[4], json!(miners));
    assert_eq!(params[6], json!(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_buried_under_a_conflict_is_paid_again_once() {
    let setup = setup("pps").await;
    setup.credit(&[(1, 60_000)]).await;
    let (output, stdout) = setup.run(&[]).await;
    assert!(output.status.success(), "{stdout}");

    // Conflicted but not yet buried: reported, not reversed; cron hears.
    setup.node.set_confirmations(-2);
    let (output, stdout) = setup.run(&[]).await;
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("conflicted, 2 of 6 blocks deep"),
        "{stdout}"
    );
    assert_eq!(setup.node.sent().len(), 1);

    // Buried: the balance comes back and is paid again in the same run.
    setup.node.set_confirmations(-6);
    let (output, stdout) = setup.run(&[]).await;
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("reversed 1"), "{stdout}");
    let sent = setup.node.sent();
    assert_eq!(sent.len(), 2, "paid again");
    assert_eq!(sent[1].amounts[&address(1)], btc(60_000));
    assert_eq!(sent[1].confirmations, 0);

    // Once: the reversed batch is never given back again.
    let (output, stdout) = setup.run(&[]).await;
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("paid nobody"), "{stdout}");
    assert_eq!(setup.node.sent().len(), 2);
    assert_eq!(setup.balance(1).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_sending_then_run_again_pays_once() {
    let setup = setup("pps").await;
    setup.credit(&[(1, 60_000), (2, 25_000)]).await;
    setup.run_and_kill(SendBehaviour::HangAfterSending).await;
    assert_eq!(
        setup.node.sent().len(),
        1,
        "the wallet sent before the kill"
    );
    let (output, stdout) = setup.run(&[]).await;
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("unfinished batches: 1 found sent, 0 cancelled"),
        "{stdout}"
    );
    assert!(stdout.contains("paid nobody"), "{stdout}");
    assert_eq!(setup.node.sent().len(), 1, "nobody paid twice");
    assert_eq!((setup.balance(1).await, setup.balance(2).await), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_sending_then_run_again_pays_once() {
    let setup = setup("pps").await;
    setup.credit(&[(1, 60_000), (2, 25_000)]).await;
    setup.run_and_kill(SendBehaviour::HangBeforeSending).await;
    assert!(setup.node.sent().is_empty());
    assert_eq!(setup.balance(1).await, 0, "debited by the recorded batch");
    let (output, stdout) = setup.run(&[]).await;
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("unfinished batches: 0 found sent, 1 cancelled"),
        "{stdout}"
    );
    assert!(stdout.contains("paid 2 miners 85000 sat"), "{stdout}");
    let sent = setup.node.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].amounts[&address(1)], btc(60_000));
    assert_eq!((setup.balance(1).await, setup.balance(2).await), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_exits_1_and_keeps_the_balances() {
    let setup = setup("pps").await;
    setup.credit(&[(1, 60_000)]).await;
    setup
        .node
        .set_send(SendBehaviour::Refuse("Insufficient funds".to_string()));
    let (output, stdout) = setup.run(&[]).await;
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("payout: failed: ") && stdout.contains("Insufficient funds"),
        "{stdout}"
    );
    assert_eq!(setup.balance(1).await, 60_000, "given back");
    setup.node.set_send(SendBehaviour::Send);
    let (output, stdout) = setup.run(&[]).await;
    assert!(output.status.success(), "{stdout}");
    assert_eq!(setup.node.sent().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simnet_config_is_a_usage_error() {
    let setup = setup("pps").await;
    let config = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace(r#"source = "bitcoind""#, r#"source = "simnet""#);
    std::fs::write(&setup.config, config).unwrap();
    let (output, _) = setup.run(&[]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("chain.source = \"bitcoind\""), "{stderr}");
}
