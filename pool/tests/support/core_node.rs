//! A real Bitcoin Core (`BITCOIND_EXE`) for the real-node tests: each node
//! in its own temporary datadir, RPC (and P2P, ZMQ when asked) on free
//! 127.0.0.1 ports, stopped (then killed) when dropped.
//!
//! A test that finds no `BITCOIND_EXE` says so through `test_skip` and
//! returns: no package ships Core, `../shared/tools/build-bitcoind.sh`
//! builds it once per machine, and `.ci/run` names it when it exists.

use super::{closed_port, TempDir};
use bitcoincore_rpc::{Auth, Client, RpcApi};
use pool::config::BitcoindConfig;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "pool";
pub const PASSWORD: &str = "real-node-test";

/// `BITCOIND_EXE`, or a visible skip.
pub fn bitcoind_exe() -> Option<String> {
    match std::env::var("BITCOIND_EXE") {
        Ok(exe) if !exe.is_empty() => Some(exe),
        _ => {
            test_skip::skip!(
                test_skip::Service::Bitcoind,
                "BITCOIND_EXE is not set; build Bitcoin Core with ../shared/tools/build-bitcoind.sh"
            );
            None
        }
    }
}

/// Which chain a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    Regtest,
    /// A private signet whose challenge is `OP_TRUE` (`51`): blocks need
    /// no signature, the difficulty is signet's (0.001).
    SignetTrue,
}

impl Chain {
    fn args(self) -> &'static [&'static str] {
        match self {
            Chain::Regtest => &["-regtest"],
            Chain::SignetTrue => &["-signet", "-signetchallenge=51"],
        }
    }

    /// The pool's `pool.network` for it.
    pub fn pool_network(self) -> &'static str {
        match self {
            Chain::Regtest => "regtest",
            Chain::SignetTrue => "signet",
        }
    }

    pub fn bitcoin_network(self) -> bitcoin::Network {
        match self {
            Chain::Regtest => bitcoin::Network::Regtest,
            Chain::SignetTrue => bitcoin::Network::Signet,
        }
    }
}

/// Options beyond the chain.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    /// Publish `hashblock` over ZMQ on a free port.
    pub zmq: bool,
    /// Extra `-key=value` arguments.
    pub extra: Vec<String>,
}

pub struct CoreNode {
    exe: String,
    chain: Chain,
    child: Option<Child>,
    pub rpc_port: u16,
    pub p2p_port: u16,
    pub zmq_port: Option<u16>,
    extra: Vec<String>,
    dir: TempDir,
}

impl CoreNode {
    pub fn start(exe: &str, chain: Chain, options: NodeOptions) -> CoreNode {
        let mut node = CoreNode {
            exe: exe.to_string(),
            chain,
            child: None,
            rpc_port: closed_port(),
            p2p_port: closed_port(),
            zmq_port: options.zmq.then(closed_port),
            extra: options.extra,
            dir: TempDir::new("core-node"),
        };
        node.launch();
        node
    }

    /// Starts the process (again, after [`CoreNode::kill`]) on the same
    /// datadir and ports, and waits until its RPC answers.
    pub fn launch(&mut self) {
        assert!(self.child.is_none(), "the node is running");
        let mut command = Command::new(&self.exe);
        command
            .args(self.chain.args())
            .args([
                "-server",
                "-listen=1",
                "-bind=127.0.0.1",
                "-discover=0",
                "-dnsseed=0",
                "-fixedseeds=0",
                "-fallbackfee=0.0002",
                "-rpcbind=127.0.0.1",
                "-rpcallowip=127.0.0.1",
                "-rpcthreads=8",
                "-printtoconsole=0",
            ])
            .arg(format!("-datadir={}", self.dir.path().display()))
            .arg(format!("-port={}", self.p2p_port))
            .arg(format!("-rpcport={}", self.rpc_port))
            .arg(format!("-rpcuser={USER}"))
            .arg(format!("-rpcpassword={PASSWORD}"))
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(port) = self.zmq_port {
            command.arg(format!("-zmqpubhashblock=tcp://127.0.0.1:{port}"));
        }
        self.child = Some(command.spawn().expect("start bitcoind"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.client().get_blockchain_info().is_err() {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("bitcoind exited at start: {status}");
                }
            }
            assert!(
                Instant::now() < deadline,
                "bitcoind did not answer within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL, as a crash or a pulled plug: no clean shutdown.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }

    pub fn client(&self) -> Client {
        self.wallet_client("")
    }

    pub fn wallet_client(&self, wallet: &str) -> Client {
        let url = if wallet.is_empty() {
            self.url()
        } else {
            format!("{}/wallet/{wallet}", self.url())
        };
        Client::new(&url, Auth::UserPass(USER.into(), PASSWORD.into())).expect("rpc client")
    }

    /// A `[[bitcoind]]` entry for the pool.
    pub fn config(&self) -> BitcoindConfig {
        BitcoindConfig {
            url: self.url(),
            user: Some(USER.into()),
            password: Some(PASSWORD.into()),
            cookie: None,
            zmq: self.zmq_port.map(|port| format!("tcp://127.0.0.1:{port}")),
        }
    }

    /// The same entry as TOML.
    pub fn config_toml(&self) -> String {
        let zmq = self
            .zmq_port
            .map(|port| format!("zmq = \"tcp://127.0.0.1:{port}\"\n"))
            .unwrap_or_default();
        format!(
            "[[bitcoind]]\nurl = \"{}\"\nuser = \"{USER}\"\npassword = \"{PASSWORD}\"\n{zmq}",
            self.url()
        )
    }

    pub fn call(&self, method: &str, params: &[Value]) -> Value {
        self.client()
            .call::<Value>(method, params)
            .unwrap_or_else(|error| panic!("{method}: {error}"))
    }

    pub fn height(&self) -> u64 {
        self.client().get_block_count().expect("getblockcount")
    }

    /// Connects to `other` over P2P (both ways after the handshake).
    pub fn connect(&self, other: &CoreNode) {
        self.call(
            "addnode",
            &[
                Value::from(format!("127.0.0.1:{}", other.p2p_port)),
                Value::from("onetry"),
            ],
        );
    }
}

impl Drop for CoreNode {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = self.client().stop();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A `pool.toml` for a pool on `network` paying `address`, following
/// `nodes` (their `[[bitcoind]]` entries as TOML), with its ledger and
/// blocks in `dir`, Stratum and the web on free loopback ports, the tip
/// polled every 200 ms, and `wallet` as `payout.wallet`.
pub fn pool_toml(
    dir: &std::path::Path,
    network: &str,
    address: &str,
    tag: &str,
    nodes: &str,
    wallet: &str,
) -> String {
    format!(
        r#"[pool]
network = "{network}"
address = "{address}"
tag = "{tag}"
mode = "pplns"

[stratum]
listen = "127.0.0.1:0"

[chain]
source = "bitcoind"
poll_interval_ms = 200
blocks_dir = "{dir}/blocks"

{nodes}
[database]
url = "sqlite://{dir}/pool.db"

[web]
listen = "127.0.0.1:0"

[payout]
wallet = "{wallet}"
"#,
        dir = dir.display(),
    )
}
