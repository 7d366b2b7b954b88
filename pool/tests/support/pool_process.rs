//! `pool run` as a child process on the simnet, on free loopback ports,
//! with its log in the test's scratch directory and only the test's config
//! (no `POOL_*` overrides from the environment).

#![allow(dead_code)] // each test file uses its own part

use crate::e2e::POLL;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// A port that was free a moment ago (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free port")
        .port()
}

/// A `pool run` config on the simnet (difficulty 0.01) with every share
/// at `share_difficulty`, node `node_prefix`, blocks in
/// `<scratch>/blocks-<node_prefix>` and the ledger at `database_url`.
pub fn simnet_config_text(
    port: u16,
    web_port: u16,
    node_prefix: u8,
    share_difficulty: f64,
    scratch: &Path,
    database_url: &str,
) -> String {
    format!(
        r#"[pool]
network = "regtest"
mode = "pplns"

[stratum]
listen = "127.0.0.1:{port}"
node_prefix = {node_prefix}
start_difficulty = {share_difficulty}
min_difficulty = {share_difficulty}
max_difficulty = {share_difficulty}

[chain]
source = "simnet"
blocks_dir = "{blocks}"

[simnet]
difficulty = 0.01

[database]
url = "{database_url}"

[web]
listen = "127.0.0.1:{web_port}"
"#,
        blocks = scratch.join(format!("blocks-{node_prefix}")).display(),
    )
}

pub struct PoolProcess {
    pub child: Child,
    pub stratum: SocketAddr,
    pub web: SocketAddr,
    pub log: PathBuf,
}

impl PoolProcess {
    /// Starts `pool run` with the config `config_text(stratum_port,
    /// web_port)` and waits until it accepts miners. A port taken in the
    /// meantime by someone else is retried with others.
    pub async fn start(
        scratch: &Path,
        label: &str,
        config_text: impl Fn(u16, u16) -> String,
    ) -> PoolProcess {
        for attempt in 1..=5 {
            let (port, web_port) = (free_port(), free_port());
            let config = scratch.join(format!("{label}.toml"));
            std::fs::write(&config, config_text(port, web_port)).expect("write the config");
            let log_path = scratch.join(format!("{label}-{attempt}.log"));
            let log = std::fs::File::create(&log_path).expect("create the log");
            let mut command = Command::new(env!("CARGO_BIN_EXE_pool"));
            command
                .arg("run")
                .arg("--config")
                .arg(&config)
                .current_dir(scratch)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .kill_on_drop(true);
            for (name, _) in std::env::vars() {
                if name.starts_with("POOL_") {
                    command.env_remove(name);
                }
            }
            let mut child = command.spawn().expect("start the pool binary");
            let stratum = SocketAddr::from(([127, 0, 0, 1], port));
            let web = SocketAddr::from(([127, 0, 0, 1], web_port));
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(status) = child.try_wait().expect("poll the child") {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    if log.contains("cannot listen") {
                        break; // a port was taken: others
                    }
                    panic!("the pool exited with {status} before listening:\n{log}");
                }
                if tokio::net::TcpStream::connect(stratum).await.is_ok() {
                    return PoolProcess {
                        child,
                        stratum,
                        web,
                        log: log_path,
                    };
                }
                if Instant::now() > deadline {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    panic!("the pool did not listen on {stratum} within 30 s:\n{log}");
                }
                tokio::time::sleep(POLL).await;
            }
        }
        panic!("no free ports for the pool after 5 attempts");
    }

    /// The JSON of `GET path` on the pool's web listener.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let mut stream = tokio::net::TcpStream::connect(self.web)
            .await
            .expect("connect to the web listener");
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
            .await
            .expect("an answer within 10 s")
            .expect("read the answer");
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        serde_json::from_str(body).unwrap_or_else(|error| panic!("{path}: {error}: {answer}"))
    }
}
