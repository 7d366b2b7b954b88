//! A stand-in for Bitcoin Core's JSON-RPC server: HTTP/1.1 on 127.0.0.1,
//! Basic auth, and the replies captured from a real node in `vectors/`.
//!
//! Knobs let a test move the tip, make the node answer garbage, hang, die, report
//! another chain or initial block download, and choose what `submitblock`
//! answers. Every call is recorded.

use super::vector;
use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::Block;
use pool::config::BitcoindConfig;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::timeout;

/// How clients must log in.
#[derive(Debug, Clone)]
pub enum Login {
    UserPass {
        user: String,
        password: String,
    },
    /// What Core writes to `.cookie`: `__cookie__:<secret>`.
    Cookie {
        secret: String,
    },
}

impl Login {
    pub fn user_pass(user: &str, password: &str) -> Login {
        Login::UserPass {
            user: user.into(),
            password: password.into(),
        }
    }

    fn basic(&self) -> String {
        let pair = match self {
            Login::UserPass { user, password } => format!("{user}:{password}"),
            Login::Cookie { secret } => format!("__cookie__:{secret}"),
        };
        format!("Basic {}", base64(pair.as_bytes()))
    }
}

/// What the fake wallet does with a `sendmany`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendBehaviour {
    /// Send and answer the txid.
    Send,
    /// Answer an RPC error (the wallet refused: nothing sent).
    Refuse(String),
    /// Never answer and never send (the caller is killed while it waits).
    HangBeforeSending,
    /// Send, then never answer (killed before it learns the txid).
    HangAfterSending,
}

/// A payment the fake wallet made.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub comment: String,
    pub txid: String,
    /// `address → BTC` as the request carried them.
    pub amounts: serde_json::Map<String, Value>,
    /// As `gettransaction` reports it: 0 until a test buries it, negative
    /// once a conflicting transaction is.
    pub confirmations: i64,
}

/// One recorded call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub params: Value,
}

struct State {
    login: Login,
    template: Value,
    chain_info: Value,
    network_info: Value,
    garbage: bool,
    /// Read requests, never answer.
    hang: bool,
    submit_answer: Value,
    zmq_notifications: Value,
    /// Blocks that `submitblock` took, by height.
    blocks: HashMap<u64, String>,
    send: SendBehaviour,
    sent: Vec<Sent>,
    /// Set by a request that must never be answered.
    hang_this: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Every call so far; a watch so tests can wait for one.
    calls: watch::Sender<Vec<Call>>,
}

pub struct FakeBitcoind {
    address: SocketAddr,
    shared: Arc<Shared>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl FakeBitcoind {
    /// A node serving `vectors/<gbt>` that takes user `u`, password `p`.
    pub async fn start(gbt: &str) -> FakeBitcoind {
        FakeBitcoind::start_with(gbt, Login::user_pass("u", "p")).await
    }

    /// The chain follows the template: signet when it has a
    /// `signet_challenge`, regtest otherwise.
    pub async fn start_with(gbt: &str, login: Login) -> FakeBitcoind {
        let template: Value = serde_json::from_str(&vector(gbt)).expect("capture is JSON");
        let chain_capture = if template.get("signet_challenge").is_some() {
            "getblockchaininfo-signet51.json"
        } else {
            "getblockchaininfo-regtest.json"
        };
        let state = Mutex::new(State {
            login,
            template,
            chain_info: serde_json::from_str(&vector(chain_capture)).expect("capture is JSON"),
            network_info: serde_json::from_str(&vector("getnetworkinfo-regtest.json"))
                .expect("capture is JSON"),
            garbage: false,
            hang: false,
            submit_answer: Value::Null,
            zmq_notifications: json!([]),
            blocks: HashMap::new(),
            send: SendBehaviour::Send,
            sent: Vec::new(),
            hang_this: false,
        });
        let shared = Arc::new(Shared {
            state,
            calls: watch::Sender::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn(accept(listener, Arc::clone(&shared), Arc::clone(&tasks)));
        lock(&tasks).push(accept.abort_handle());
        FakeBitcoind {
            address,
            shared,
            tasks,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A `[[bitcoind]]` entry for this node with user/password.
    pub fn config(&self, user: &str, password: &str) -> BitcoindConfig {
        serde_json::from_value(json!({ "url": self.url(), "user": user, "password": password }))
            .expect("valid bitcoind config")
    }

    /// A `[[bitcoind]]` entry that logs in with the cookie at `path`.
    pub fn cookie_config(&self, path: &Path) -> BitcoindConfig {
        serde_json::from_value(json!({ "url": self.url(), "cookie": path }))
            .expect("valid bitcoind config")
    }

    /// Serve another capture (a new tip when its previousblockhash differs).
    pub fn set_template(&self, gbt: &str) {
        self.set_template_json(serde_json::from_str(&vector(gbt)).expect("capture is JSON"));
    }

    pub fn set_template_json(&self, template: Value) {
        lock(&self.shared.state).template = template;
    }

    pub fn template_json(&self) -> Value {
        lock(&self.shared.state).template.clone()
    }

    /// `getblockchaininfo.chain`, e.g. `main`.
    pub fn set_chain(&self, chain: &str) {
        lock(&self.shared.state).chain_info["chain"] = json!(chain);
    }

    pub fn set_initial_block_download(&self, blocks: u64, headers: u64, progress: f64) {
        let mut state = lock(&self.shared.state);
        state.chain_info["initialblockdownload"] = json!(true);
        state.chain_info["blocks"] = json!(blocks);
        state.chain_info["headers"] = json!(headers);
        state.chain_info["verificationprogress"] = json!(progress);
    }

    /// Answer every request with HTTP 200 and a body that is not JSON.
    pub fn set_garbage(&self, garbage: bool) {
        lock(&self.shared.state).garbage = garbage;
    }

    /// Keep connections open but never answer (a hung node).
    pub fn set_hang(&self, hang: bool) {
        lock(&self.shared.state).hang = hang;
    }

    pub fn set_login(&self, login: Login) {
        lock(&self.shared.state).login = login;
    }

    /// `null` (accepted) or a reason such as `"duplicate"`.
    pub fn set_submit_answer(&self, answer: Value) {
        lock(&self.shared.state).submit_answer = answer;
    }

    pub fn set_zmq_notifications(&self, notifications: Value) {
        lock(&self.shared.state).zmq_notifications = notifications;
    }

    /// The params of every call of `method` so far.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        self.shared
            .calls
            .borrow()
            .iter()
            .filter(|call| call.method == method)
            .map(|call| call.params.clone())
            .collect()
    }

    /// Waits (at most `within`) until `method` was called `count` times.
    pub async fn wait_for_calls(&self, method: &str, count: usize, within: Duration) {
        let mut calls = self.shared.calls.subscribe();
        let seen = timeout(
            within,
            calls.wait_for(|calls| {
                calls.iter().filter(|call| call.method == method).count() >= count
            }),
        )
        .await;
        assert!(
            matches!(seen, Ok(Ok(_))),
            "{method} was not called {count} times within {within:?}"
        );
    }

    /// What the wallet does with the next `sendmany`s.
    pub fn set_send(&self, behaviour: SendBehaviour) {
        lock(&self.shared.state).send = behaviour;
    }

    /// Sets what `gettransaction` says of every payment made so far.
    pub fn set_confirmations(&self, confirmations: i64) {
        for sent in &mut lock(&self.shared.state).sent {
            sent.confirmations = confirmations;
        }
    }

    /// Every payment the wallet made.
    pub fn sent(&self) -> Vec<Sent> {
        lock(&self.shared.state).sent.clone()
    }

    /// Stops listening and drops every open connection: the port refuses.
    pub async fn die(&self) {
        let tasks: Vec<AbortHandle> = lock(&self.tasks).drain(..).collect();
        for task in &tasks {
            task.abort();
        }
        // Aborted tasks drop their sockets when they next run; wait until
        // the port really refuses.
        let refused = async {
            while TcpStream::connect(self.address).await.is_ok() {
                tokio::task::yield_now().await;
            }
        };
        timeout(Duration::from_secs(5), refused)
            .await
            .expect("the fake node stops listening");
    }
}

impl Drop for FakeBitcoind {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, tasks: Arc<Mutex<Vec<AbortHandle>>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let connection = tokio::spawn(serve(stream, Arc::clone(&shared)));
        lock(&tasks).push(connection.abort_handle());
    }
}

/// HTTP/1.1 keep-alive: requests one after the other on one connection.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut content_length = 0usize;
        let mut authorization = None;
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => content_length = value.trim().parse().unwrap_or(0),
                    "authorization" => authorization = Some(value.trim().to_string()),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; content_length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        if lock(&shared.state).hang {
            std::future::pending::<()>().await;
        }
        let response = respond(&shared, authorization.as_deref(), &body);
        if std::mem::take(&mut lock(&shared.state).hang_this) {
            std::future::pending::<()>().await;
        }
        if writer.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn respond(shared: &Shared, authorization: Option<&str>, body: &[u8]) -> String {
    let mut state = lock(&shared.state);
    if authorization != Some(state.login.basic().as_str()) {
        // What Core answers: no body.
        return "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"jsonrpc\"\r\nContent-Length: 0\r\n\r\n".to_string();
    }
    if state.garbage {
        return http_200("<html><body>this is not JSON-RPC</body></html>");
    }
    let request: Value = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(_) => return http_200(&json!({"result": null, "error": {"code": -32700, "message": "Parse error"}, "id": null}).to_string()),
    };
    let method = request["method"].as_str().unwrap_or_default().to_string();
    let params = request.get("params").cloned().unwrap_or(json!([]));
    shared.calls.send_modify(|calls| {
        calls.push(Call {
            method: method.clone(),
            params: params.clone(),
        })
    });
    let answer = state.answer(&method, &params);
    let mut reply = json!({ "jsonrpc": "2.0", "id": request["id"] });
    match answer {
        Ok(result) => reply["result"] = result,
        Err((code, message)) => reply["error"] = json!({ "code": code, "message": message }),
    }
    http_200(&reply.to_string())
}

fn http_200(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

impl State {
    fn tip(&self) -> Value {
        self.template["previousblockhash"].clone()
    }

    fn answer(&mut self, method: &str, params: &Value) -> Result<Value, (i64, String)> {
        match method {
            "getblocktemplate" => {
                let rules: Vec<&str> = params[0]["rules"]
                    .as_array()
                    .map(|rules| rules.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if !rules.contains(&"segwit") {
                    return Err((-8, r#"getblocktemplate must be called with the segwit rule set (call with {"rules": ["segwit"]})"#.into()));
                }
                if self.chain_info["chain"] == "signet" && !rules.contains(&"signet") {
                    return Err((-8, r#"getblocktemplate must be called with the signet rule set (call with {"rules": ["segwit", "signet"]})"#.into()));
                }
                Ok(self.template.clone())
            }
            "getbestblockhash" => Ok(self.tip()),
            "getblockchaininfo" => {
                let mut info = self.chain_info.clone();
                if info["initialblockdownload"] == false {
                    let height = self.template["height"].as_u64().unwrap_or(1) - 1;
                    info["blocks"] = json!(height);
                    info["headers"] = json!(height);
                    info["bestblockhash"] = self.tip();
                }
                Ok(info)
            }
            "getnetworkinfo" => Ok(self.network_info.clone()),
            "getzmqnotifications" => Ok(self.zmq_notifications.clone()),
            "submitblock" => {
                let Some(block) = params[0]
                    .as_str()
                    .and_then(|hex| deserialize_hex::<Block>(hex).ok())
                else {
                    return Err((-22, "Block decode failed".into()));
                };
                let answer = self.submit_answer.clone();
                let stored = answer.is_null() || answer == "duplicate";
                if let (true, Ok(height)) = (stored, block.bip34_block_height()) {
                    self.blocks.insert(height, block.block_hash().to_string());
                }
                Ok(answer)
            }
            "preciousblock" => Ok(Value::Null),
            "sendmany" => {
                let comment = params[3].as_str().unwrap_or_default().to_string();
                let amounts = params[1].as_object().cloned().unwrap_or_default();
                match self.send.clone() {
                    SendBehaviour::Refuse(message) => return Err((-6, message)),
                    SendBehaviour::HangBeforeSending => {
                        self.hang_this = true;
                        return Ok(Value::Null);
                    }
                    SendBehaviour::Send | SendBehaviour::HangAfterSending => {}
                }
                let txid = format!("{:064x}", 0xfeed_0000 + self.sent.len());
                self.sent.push(Sent {
                    comment,
                    txid: txid.clone(),
                    amounts,
                    confirmations: 0,
                });
                self.hang_this = self.send == SendBehaviour::HangAfterSending;
                Ok(json!(txid))
            }
            "listtransactions" => Ok(Value::Array(
                self.sent
                    .iter()
                    .map(|sent| json!({"category": "send", "txid": sent.txid, "comment": sent.comment}))
                    .collect(),
            )),
            "gettransaction" => {
                let txid = params[0].as_str().unwrap_or_default();
                match self.sent.iter().find(|sent| sent.txid == txid) {
                    Some(sent) => Ok(json!({
                        "txid": sent.txid,
                        "confirmations": sent.confirmations,
                        "comment": sent.comment,
                        "details": [{"category": "send", "abandoned": false}],
                    })),
                    None => Err((-5, "Invalid or non-wallet transaction id".into())),
                }
            }
            "getwalletinfo" => {
                Ok(json!({"walletname": "pool", "balance": 1.23456789, "txcount": 4}))
            }
            "getblockhash" => {
                let height = params[0].as_u64().unwrap_or(u64::MAX);
                if let Some(hash) = self.blocks.get(&height) {
                    return Ok(json!(hash));
                }
                if Some(height + 1) == self.template["height"].as_u64() {
                    return Ok(self.tip());
                }
                Err((-8, "Block height out of range".into()))
            }
            _ => Err((-32601, "Method not found".into())),
        }
    }
}

/// Standard base64 with padding (HTTP Basic auth).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_rfc_4648() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}
