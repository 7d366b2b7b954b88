//! One load connection: subscribes, authorizes, then keeps its submits in
//! flight (or sits idle), timing every answer and every new-block notify.

use super::summary::{Latencies, Outcomes};
use super::LoadError;
use serde_json::Value;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use stratum::framer::LineFramer;
use stratum::message::{Id, ServerMessage, SubscribeResult};
use stratum::{Extranonce1, Extranonce2, Job, Nonce, Sha256d};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// Clean notifies a connection remembers (one per block).
const MAX_CLEAN_NOTIFIES: usize = 10_000;
/// Longest line the pool may send.
const MAX_LINE: usize = 64 * 1024;
/// Ids of the handshake's requests; submits count up from here.
const SUBSCRIBE_ID: u64 = 1;
const AUTHORIZE_ID: u64 = 2;
const FIRST_SUBMIT_ID: u64 = 3;
/// How long a stopped connection waits for the answers still due.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection shares with the run.
#[derive(Clone)]
pub(super) struct Shared {
    pub pool: SocketAddr,
    pub username: String,
    /// Submits each connection keeps in flight once `go` turns true (0: idle).
    pub in_flight: usize,
    /// Re-roll a nonce whose header would be a block, so only the finder's
    /// blocks make new work.
    pub avoid_blocks: bool,
    pub go: watch::Receiver<bool>,
    pub stop: watch::Receiver<bool>,
    /// Clean notifies received by all load connections.
    pub clean_notifies: Arc<AtomicU64>,
    /// Woken on each of them: the run's round waits on it.
    pub clean_notified: Arc<tokio::sync::Notify>,
    /// Connections that subscribed, authorized and got a job.
    pub ready: Arc<tokio::sync::Semaphore>,
}

/// The finder is asked to solve a block and answers when its submit left.
pub(super) type SolveRequest = oneshot::Sender<Result<Instant, LoadError>>;

/// What one connection measured.
#[derive(Debug, Default)]
pub(super) struct ClientReport {
    pub latencies: Latencies,
    pub outcomes: Outcomes,
    /// When each `clean_jobs` notify arrived, in order.
    pub clean_notifies: Vec<Instant>,
    pub error: Option<LoadError>,
}

struct CurrentJob {
    job: Job,
    /// The job id as the pool wrote it.
    raw_id: String,
}

struct Client {
    shared: Shared,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    framer: LineFramer,
    engine: Sha256d,
    extranonce1: Option<Extranonce1>,
    extranonce2_size: usize,
    authorized: bool,
    /// The latest `mining.notify` as sent; read into `job` only when a
    /// share needs it, so idle connections cost the harness (which shares
    /// the machine with the pool) almost nothing per block.
    notify: Option<Vec<u8>>,
    job: Option<CurrentJob>,
    /// Submits in flight: id and when it was written.
    sent: VecDeque<(u64, Instant)>,
    next_id: u64,
    random: u64,
    report: ClientReport,
    finder: bool,
}

/// Runs one load connection until `stop`; `solve` makes it the finder.
pub(super) async fn run(
    shared: Shared,
    seed: u64,
    solve: Option<mpsc::Receiver<SolveRequest>>,
    opening: Option<tokio::sync::OwnedSemaphorePermit>,
) -> ClientReport {
    let mut client = match Client::connect(shared, seed, solve.is_some()).await {
        Ok(client) => client,
        Err(error) => {
            return ClientReport {
                error: Some(error),
                ..ClientReport::default()
            }
        }
    };
    if let Err(error) = client.serve(solve, opening).await {
        client.report.error = Some(error);
    }
    client.report
}

impl Client {
    async fn connect(shared: Shared, seed: u64, finder: bool) -> Result<Client, LoadError> {
        let stream = tokio::time::timeout(Duration::from_secs(30), TcpStream::connect(shared.pool))
            .await
            .map_err(|_| LoadError::Connect("timed out".into()))?
            .map_err(|error| LoadError::Connect(error.to_string()))?;
        stream
            .set_nodelay(true)
            .map_err(|error| LoadError::Connect(error.to_string()))?;
        let (reader, writer) = stream.into_split();
        Ok(Client {
            shared,
            reader,
            writer,
            framer: LineFramer::new(MAX_LINE),
            engine: Sha256d::best(),
            extranonce1: None,
            extranonce2_size: 0,
            authorized: false,
            notify: None,
            job: None,
            sent: VecDeque::new(),
            next_id: FIRST_SUBMIT_ID,
            random: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            report: ClientReport::default(),
            finder,
        })
    }

    fn ready(&self) -> bool {
        self.extranonce1.is_some() && self.authorized && self.notify.is_some()
    }

    async fn serve(
        &mut self,
        mut solve: Option<mpsc::Receiver<SolveRequest>>,
        mut opening: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<(), LoadError> {
        let handshake = format!(
            "{{\"id\":{SUBSCRIBE_ID},\"method\":\"mining.subscribe\",\"params\":[\"pool-load/1\"]}}\n\
             {{\"id\":{AUTHORIZE_ID},\"method\":\"mining.authorize\",\"params\":[\"{}\",\"x\"]}}\n",
            self.shared.username
        );
        self.write(handshake.as_bytes()).await?;
        let mut go = self.shared.go.clone();
        let mut stop = self.shared.stop.clone();
        let mut buffer = Vec::with_capacity(16 * 1024);
        let mut announced = false;
        loop {
            if !announced && self.ready() {
                announced = true;
                opening.take();
                if !self.finder {
                    self.shared.ready.add_permits(1);
                }
            }
            if announced && *go.borrow() && !self.finder {
                self.top_up().await?;
            }
            tokio::select! {
                read = self.reader.read_buf(&mut buffer) => {
                    match read {
                        Ok(0) => return Err(LoadError::Closed),
                        Ok(_) => {}
                        Err(error) => return Err(LoadError::Io(error.to_string())),
                    }
                    self.on_bytes(&mut buffer)?;
                }
                Some(request) = recv(&mut solve), if announced => {
                    let sent = self.solve().await;
                    let _ = request.send(sent);
                }
                _ = go.changed() => {}
                _ = stop.changed() => return self.drain(&mut buffer).await,
            }
        }
    }

    /// Reads the answers still due (submitting no more), so every share
    /// the pool answered is counted.
    async fn drain(&mut self, buffer: &mut Vec<u8>) -> Result<(), LoadError> {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while !self.sent.is_empty() {
            let read = tokio::time::timeout_at(deadline, self.reader.read_buf(buffer)).await;
            match read {
                Err(_) => return Err(LoadError::Protocol("answers missing at the end".into())),
                Ok(Ok(0)) => return Err(LoadError::Closed),
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(LoadError::Io(error.to_string())),
            }
            self.on_bytes(buffer)?;
        }
        Ok(())
    }

    /// Handles every complete line read so far.
    fn on_bytes(&mut self, buffer: &mut Vec<u8>) -> Result<(), LoadError> {
        let arrived = Instant::now();
        self.framer.push(buffer);
        buffer.clear();
        while let Some(line) = self.framer.next_line() {
            let line = line
                .map_err(|_| LoadError::Protocol("over-long line".into()))?
                .to_vec();
            self.on_line(&line, arrived)?;
        }
        Ok(())
    }

    fn on_line(&mut self, line: &[u8], arrived: Instant) -> Result<(), LoadError> {
        if is_notify(line) {
            self.on_notify(line, arrived);
            return Ok(());
        }
        let message = ServerMessage::parse(line)
            .map_err(|error| LoadError::Protocol(format!("unreadable line: {error}")))?;
        // Difficulty, masks, pings: nothing the harness measures.
        let ServerMessage::Response(response) = message else {
            return Ok(());
        };
        let id = match &response.id {
            Id::Number(number) => number.as_u64().unwrap_or(0),
            _ => 0,
        };
        match id {
            SUBSCRIBE_ID => {
                let result = response
                    .result
                    .map_err(|error| LoadError::Refused(format!("subscribe: {error:?}")))?;
                let subscribed = SubscribeResult::from_value(&result)
                    .map_err(|error| LoadError::Protocol(format!("subscribe answer: {error}")))?;
                self.extranonce1 = Some(subscribed.extranonce1);
                self.extranonce2_size = subscribed.extranonce2_size;
            }
            AUTHORIZE_ID => match response.result {
                Ok(Value::Bool(true)) => self.authorized = true,
                other => {
                    return Err(LoadError::Refused(format!("authorize: {other:?}")));
                }
            },
            id => {
                let Some(position) = self.sent.iter().position(|(sent, _)| *sent == id) else {
                    return Ok(());
                };
                let (_, sent_at) = self.sent.remove(position).expect("found");
                // The finder's blocks are counted (a refused one explains a
                // round that no connection saw), not timed.
                if !self.finder {
                    self.report.latencies.record(arrived - sent_at);
                }
                match response.result {
                    Ok(Value::Bool(true)) => self.report.outcomes.accepted += 1,
                    Ok(_) => self.report.outcomes.refused += 1,
                    Err(error) => {
                        *self
                            .report
                            .outcomes
                            .errors
                            .entry(error.code.code())
                            .or_default() += 1
                    }
                }
            }
        }
        Ok(())
    }

    /// A job: a clean one after the first is a new block, timed here.
    fn on_notify(&mut self, line: &[u8], arrived: Instant) {
        if is_clean(line) && self.notify.is_some() && !self.finder {
            if self.report.clean_notifies.len() < MAX_CLEAN_NOTIFIES {
                self.report.clean_notifies.push(arrived);
            }
            self.shared.clean_notifies.fetch_add(1, Ordering::Relaxed);
            self.shared.clean_notified.notify_one();
        }
        self.notify = Some(line.to_vec());
        self.job = None;
    }

    /// The latest job, read from its notify once.
    fn job(&mut self) -> Result<&CurrentJob, LoadError> {
        if self.job.is_none() {
            let line = self.notify.as_deref().expect("ready");
            let Ok(ServerMessage::Notify(notify)) = ServerMessage::parse(line) else {
                return Err(LoadError::Protocol("unreadable mining.notify".into()));
            };
            let raw_id = raw_job_id(line)?;
            let job =
                Job::new(notify).map_err(|error| LoadError::Protocol(format!("job: {error}")))?;
            self.job = Some(CurrentJob { job, raw_id });
        }
        Ok(self.job.as_ref().expect("just read"))
    }

    /// Writes submits until `in_flight` are waiting for their answers.
    async fn top_up(&mut self) -> Result<(), LoadError> {
        let missing = self.shared.in_flight.saturating_sub(self.sent.len());
        if missing == 0 {
            return Ok(());
        }
        let mut lines = String::with_capacity(missing * 160);
        for _ in 0..missing {
            let line = self.submit_line(false)?;
            lines.push_str(&line);
        }
        self.write(lines.as_bytes()).await
    }

    /// A submit with a random extranonce2 and nonce: a block when `block`,
    /// else anything but a block if the run avoids them.
    fn submit_line(&mut self, block: bool) -> Result<String, LoadError> {
        self.job()?;
        let job = self.job.as_ref().expect("read");
        let extranonce1 = self.extranonce1.as_ref().expect("ready");
        loop {
            let random = next_random(&mut self.random);
            let extranonce2 =
                Extranonce2::from_bytes(&random.to_le_bytes()[..self.extranonce2_size.min(8)])
                    .expect("2 to 8 bytes")
                    .fit(self.extranonce2_size)
                    .expect("padded");
            let mut nonce = Nonce((random >> 32) as u32);
            let check = block || self.shared.avoid_blocks;
            if check {
                let root = job.job.merkle_root(&self.engine, extranonce1, &extranonce2);
                let mut found = None;
                for _ in 0..u32::MAX {
                    let header = job
                        .job
                        .header(&root, job.job.version(), job.job.ntime(), nonce);
                    let is_block = job
                        .job
                        .network_target()
                        .is_met_by(&self.engine.hash(&header));
                    if is_block == block {
                        found = Some(nonce);
                        break;
                    }
                    if !block {
                        break;
                    }
                    nonce = Nonce(nonce.0.wrapping_add(1));
                }
                let Some(nonce_found) = found else {
                    // A block by chance, or (solving) no nonce on this
                    // extranonce2: another one.
                    continue;
                };
                nonce = nonce_found;
            }
            let id = self.next_id;
            self.next_id += 1;
            self.sent.push_back((id, Instant::now()));
            return Ok(format!(
                "{{\"id\":{id},\"method\":\"mining.submit\",\"params\":[\"{}\",\"{}\",\"{}\",\"{}\",\"{}\"]}}\n",
                self.shared.username,
                job.raw_id,
                extranonce2.to_wire(),
                job.job.ntime().to_wire(),
                nonce.to_wire()
            ));
        }
    }

    /// Grinds a block on the current job and submits it; the instant its
    /// submit left is the trigger time.
    async fn solve(&mut self) -> Result<Instant, LoadError> {
        let line = self.submit_line(true)?;
        let sent = Instant::now();
        self.write(line.as_bytes()).await?;
        Ok(sent)
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), LoadError> {
        self.writer
            .write_all(bytes)
            .await
            .map_err(|error| LoadError::Io(error.to_string()))
    }
}

async fn recv<T>(receiver: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match receiver {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// A `mining.notify` call (the subscribe answer names the method too).
fn is_notify(line: &[u8]) -> bool {
    contains(line, b"\"method\":\"mining.notify\"")
        || contains(line, b"\"method\": \"mining.notify\"")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Whether a notify's last parameter, `clean_jobs`, is true.
fn is_clean(line: &[u8]) -> bool {
    let Some(close) = line.iter().rposition(|byte| *byte == b']') else {
        return false;
    };
    line[..close].trim_ascii_end().ends_with(b"true")
}

/// The job id exactly as the pool wrote it (first notify parameter).
fn raw_job_id(line: &[u8]) -> Result<String, LoadError> {
    let value: Value = serde_json::from_slice(line)
        .map_err(|error| LoadError::Protocol(format!("notify: {error}")))?;
    value["params"][0]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| LoadError::Protocol("notify without a job id".into()))
}

fn next_random(state: &mut u64) -> u64 {
    // splitmix64: cheap and well spread, enough for nonces.
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_jobs_is_the_last_parameter() {
        let clean = br#"{"id":null,"method":"mining.notify","params":["1","00",["ab"],"20000000","1d00ffff","6740",true]}"#;
        assert!(is_clean(clean));
        assert!(is_clean(b"{\"params\":[\"1\", true ] }"));
        let not = br#"{"id":null,"method":"mining.notify","params":["1","00",["ab"],"20000000","1d00ffff","6740",false]}"#;
        assert!(!is_clean(not));
        assert!(is_notify(not));
        let subscribed = br#"{"id":1,"result":[[["mining.notify","ae6812eb4cd7735a"]],"08000002",4],"error":null}"#;
        assert!(!is_notify(subscribed));
    }
}
