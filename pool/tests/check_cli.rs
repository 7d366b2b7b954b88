//! `pool check` names what is wrong with a node and exits non-zero.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;
use support::fake_bitcoind::FakeBitcoind;
use support::{closed_port, TempDir};

fn config(url: &str) -> String {
    format!(
        r#"[pool]
network = "regtest"
address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"

[[bitcoind]]
url = "{url}"
user = "u"
password = "p"
"#
    )
}

/// Runs `pool check` in the config's directory (it may look at relative
/// paths such as the database and the blocks directory).
async fn pool_check(config: &Path) -> (Output, String) {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_pool"))
        .current_dir(config.parent().expect("config in a directory"))
        .arg("check")
        .arg("--config")
        .arg(config)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("pool check finishes within 60 s")
        .expect("pool binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_an_unreachable_node() {
    let dir = TempDir::new("check-unreachable");
    let url = format!("http://127.0.0.1:{}", closed_port());
    let path = dir.write("pool.toml", &config(&url));
    let (output, text) = pool_check(&path).await;
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("unreachable"), "{text}");
    assert!(text.contains("connection refused"), "{text}");
    assert!(text.contains(&url), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_a_node_on_the_wrong_chain() {
    let node = FakeBitcoind::start("gbt-regtest-empty.json").await;
    node.set_chain("main");
    let dir = TempDir::new("check-chain");
    let path = dir.write("pool.toml", &config(&node.url()));
    let (output, text) = pool_check(&path).await;
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("wrong chain"), "{text}");
    assert!(text.contains("main") && text.contains("regtest"), "{text}");
}
