//! The PROXY protocol on the Stratum port, over real TCP on 127.0.0.1.
//! Every connection comes from 127.0.0.1, the "load balancer", and names
//! a miner's address in a v1 or v2 header: the per-address limit, bans and
//! logs see the named address, never 127.0.0.1; the miner's lines after the
//! header are served as usual, even in the header's own packet. A
//! connection without a valid header is closed and counted, and one from a
//! peer outside `stratum.proxy_trusted` is closed unread.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/log_capture.rs"]
mod log_capture;
#[path = "support/proxy_header.rs"]
mod proxy_header;

use e2e::{accepted, regtest_address, GroundShare, RawClient, TestPool, STEP};
use log_capture::{capture_logs, log_lines_with};
use serde_json::Value;
use std::net::SocketAddr;
use stratum::message::{ClientMethod, ClientRequest, Id, Subscribe};
use stratum::JobId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---- headers, as a balancer writes them -----------------------------------------

/// Where the balancer says the miner connected to (the spec wants both
/// ends of one family).
fn destination(source: SocketAddr) -> SocketAddr {
    match source {
        SocketAddr::V4(_) => "10.0.0.2:3333".parse().unwrap(),
        SocketAddr::V6(_) => "[2001:db8::2]:3333".parse().unwrap(),
    }
}

/// `PROXY TCP4 <source> 10.0.0.2 <port> 3333\r\n` (TCP6 for IPv6).
fn v1(source: &str) -> Vec<u8> {
    let source: SocketAddr = source.parse().expect("a socket address");
    let to = destination(source);
    let protocol = if source.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {protocol} {} {} {} {}\r\n",
        source.ip(),
        to.ip(),
        source.port(),
        to.port()
    )
    .into_bytes()
}

/// A v2 PROXY header for `source`, with an AWS-style TLV (type 0xEA, a
/// VPC endpoint id) after the addresses, as an NLB sends it.
fn v2(source: &str) -> Vec<u8> {
    let source: SocketAddr = source.parse().expect("a socket address");
    let (family, mut block) = proxy_header::tcp_block(source, destination(source));
    block.extend(proxy_header::tlv(0xea, b"\x01vpce-08d2bf15fac5001c9"));
    proxy_header::v2(1, family, &block)
}

/// The v2 LOCAL header of a balancer's health check: its own connection.
fn v2_local() -> Vec<u8> {
    proxy_header::v2(0, 0x00, &[])
}

// ---- connections -----------------------------------------------------------------

/// A connection that has sent `header`.
async fn through_balancer(pool: SocketAddr, header: &[u8]) -> RawClient {
    let mut client = RawClient::connect(pool).await;
    client.write(header).await.expect("send the header");
    client
}

/// A connection the pool serves after `header`: it answers subscribe.
async fn served(pool: SocketAddr, header: &[u8]) -> RawClient {
    let mut client = through_balancer(pool, header).await;
    client.subscribe().await;
    client
}

/// A connection the pool closes after `header` without a word.
async fn refused(pool: SocketAddr, header: &[u8]) {
    let mut client = through_balancer(pool, header).await;
    match client.read_line(STEP).await {
        Err(e2e::ReadEnd::Closed) => {}
        Err(e2e::ReadEnd::TimedOut) => panic!("still open after {STEP:?}"),
        Ok(line) => panic!("the pool sent {:?}", String::from_utf8_lossy(&line)),
    }
}

async fn metrics(pool: &TestPool) -> String {
    let (status, body) = pool.get("/metrics").await;
    assert_eq!(status, 200);
    body
}

fn assert_metrics(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}

/// A pool behind a balancer at 127.0.0.1, as `adjust` changes it.
async fn behind_balancer(label: &str, adjust: impl FnOnce(&mut pool::config::Config)) -> TestPool {
    capture_logs();
    TestPool::start(label, |config| {
        config.stratum.proxy_protocol = true;
        config.stratum.proxy_trusted = vec!["127.0.0.1".to_string()];
        adjust(config);
    })
    .await
}

// ---- the tests -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_limit_counts_the_named_address_not_the_balancers() {
    const LIMIT: usize = 2;
    let pool = behind_balancer("proxy-limit", |config| {
        config.stratum.max_connections_per_ip = LIMIT;
    })
    .await;
    let addr = pool.addr();

    // 203.0.113.7 reaches its limit, in either version.
    let mut open = vec![
        served(addr, &v1("203.0.113.7:40001")).await,
        served(addr, &v2("203.0.113.7:40002")).await,
    ];
    refused(addr, &v2("203.0.113.7:40003")).await;
    let lines = log_lines_with(&["per_ip_limit", "peer=203.0.113.7:40003"]);
    assert_eq!(lines.len(), 1, "the refusal names the miner: {lines:?}");
    assert!(log_lines_with(&["per_ip_limit", "peer=127.0.0.1"]).is_empty());

    // Others behind the same balancer are served: 127.0.0.1 is not limited.
    for header in [
        v1("198.51.100.9:1"),
        v2("198.51.100.10:2"),
        v1("[2001:db8:1::7]:3"),
        v2("[2001:db8:2::7]:4"),
        // The balancer's own connection counts as 127.0.0.1: one of two.
        v2_local(),
    ] {
        open.push(served(addr, &header).await);
    }
    assert_eq!(pool.stats().connections_open, 2 + 5);
    assert_metrics(
        &metrics(&pool).await,
        &[
            "pool_connections_refused_total{reason=\"per_ip_limit\"} 1\n",
            "pool_proxy_header_refused_total{reason=\"malformed\"} 0\n",
        ],
    );

    // The header, subscribe and authorize in one packet: all answered, and
    // work follows.
    let worker = format!("{}.rig", regtest_address(70));
    let subscribe = ClientRequest::new(
        Id::from(90),
        ClientMethod::Subscribe(Subscribe {
            user_agent: Some("proxied/1.0".into()),
            session_id: None,
        }),
    )
    .to_line();
    let authorize = ClientRequest::new(Id::from(91), e2e::authorize(&worker)).to_line();
    let packet = [
        v2("192.0.2.77:5000"),
        subscribe.into_bytes(),
        authorize.into_bytes(),
    ]
    .concat();
    let mut eager = through_balancer(addr, &packet).await;
    assert!(eager.answer(&Id::from(90)).await.result.is_ok());
    assert!(accepted(&eager.answer(&Id::from(91)).await));
    eager.wait_for_jobs(1).await;

    // The ones admitted are still served.
    for client in &mut open {
        let answer = client.request(ClientMethod::ExtranonceSubscribe).await;
        assert!(accepted(&answer));
    }
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_lands_on_the_named_address_and_spares_the_others_behind_the_balancer() {
    const MIN_SHARES: u32 = 10;
    let pool = behind_balancer("proxy-ban", |config| {
        // No blocks: any share the test grinds is a share.
        config.simnet.difficulty = 1.0;
        config.bans.min_shares = MIN_SHARES;
        config.bans.window_secs = 60;
        config.bans.ban_secs = 600;
    })
    .await;
    let addr = pool.addr();
    let worker = format!("{}.flood", regtest_address(71));

    // A neighbour behind the same balancer, served throughout.
    let mut neighbour = served(addr, &v1("198.51.100.20:1000")).await;

    let mut flooder = served(addr, &v2("203.0.113.50:50000")).await;
    flooder.authorize(&worker).await;
    flooder.wait_for_jobs(1).await;
    let job = flooder.latest_job();
    let share = flooder.grind(&job.job, None, 1e-12, None);
    // The same share under a job never sent: invalid every time.
    let unknown = GroundShare {
        job_id: JobId(share.job_id.0.wrapping_add(1 << 40)),
        ..share
    };
    let flood: String = (0..2 * MIN_SHARES as u64)
        .map(|n| ClientRequest::new(Id::from(100 + n), unknown.method(&worker)).to_line())
        .collect();
    // The pool may close before it has read it all.
    let _ = flooder.write(flood.as_bytes()).await;
    assert!(
        flooder.closed_within(STEP).await,
        "the flooder is still connected"
    );

    // The ban is on 203.0.113.50, listed and logged as such.
    let (status, body) = pool.get("/api/pool").await;
    assert_eq!(status, 200, "{body}");
    let view: Value = serde_json::from_str(&body).expect("JSON");
    let bans = view["bans"].as_array().expect("a bans list");
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0]["ip"], "203.0.113.50");
    let banned = log_lines_with(&["mostly invalid shares: banned", "ip=203.0.113.50"]);
    assert_eq!(banned.len(), 1, "{banned:?}");

    // Refused when it comes back, on any port, through either version.
    refused(addr, &v1("203.0.113.50:50001")).await;
    refused(addr, &v2("203.0.113.50:50002")).await;
    let refusals = log_lines_with(&["the address is banned", "peer=203.0.113.50:5000"]);
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert_metrics(
        &metrics(&pool).await,
        &[
            "pool_bans_total{scope=\"ip\"} 1\n",
            "pool_connections_refused_total{reason=\"banned\"} 2\n",
        ],
    );

    // Everyone else behind the balancer is not banned.
    let answer = neighbour.request(ClientMethod::ExtranonceSubscribe).await;
    assert!(accepted(&answer));
    let mut newcomer = served(addr, &v2("203.0.113.51:1")).await;
    newcomer
        .authorize(&format!("{}.new", regtest_address(72)))
        .await;
    served(addr, &v2_local()).await;
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_a_valid_header_are_closed_and_counted() {
    let pool = behind_balancer("proxy-garbage", |config| {
        // The header's deadline: the shorter of this and 5 s.
        config.stratum.handshake_timeout_secs = 1;
    })
    .await;
    let addr = pool.addr();

    // A miner that skipped the balancer speaks Stratum at once.
    let subscribe = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n";
    refused(addr, subscribe).await;
    refused(addr, b"PROXY TCP4 203.0.113.9 10.0.0.2 65536 3333\r\n").await;
    let mut wrong_version = v2("203.0.113.9:1");
    wrong_version[12] = 0x11;
    refused(addr, &wrong_version).await;

    // Half a header, then the write side closed.
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(b"PROXY TCP4 203.0").await.expect("write");
    stream.shutdown().await.expect("half-close");
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(STEP, stream.read(&mut buffer)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");

    // Silent: closed at the deadline.
    let mut silent = RawClient::connect(addr).await;
    assert!(
        silent.closed_within(STEP).await,
        "a silent connection stays"
    );

    // A balancer's plain TCP health check: connected, closed, not counted.
    drop(TcpStream::connect(addr).await.expect("connect"));

    let text = metrics(&pool).await;
    assert_metrics(
        &text,
        &[
            "pool_proxy_header_refused_total{reason=\"untrusted_peer\"} 0\n",
            "pool_proxy_header_refused_total{reason=\"malformed\"} 3\n",
            "pool_proxy_header_refused_total{reason=\"timeout\"} 1\n",
            "pool_proxy_header_refused_total{reason=\"truncated\"} 1\n",
        ],
    );
    let lines = log_lines_with(&["no valid PROXY protocol header", "malformed"]);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|line| line.contains("source port") && line.contains("65536")),
        "the log says what was wrong: {lines:?}"
    );
    assert_eq!(pool.stats().connections_total, 0, "no session began");

    // A proper one is still served.
    served(addr, &v1("203.0.113.9:2")).await;
    assert_eq!(pool.stats().connections_total, 1);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_not_trusted_is_closed_unread() {
    let pool = behind_balancer("proxy-untrusted", |config| {
        config.stratum.proxy_trusted = vec!["10.0.0.0/8".to_string(), "::1".to_string()];
    })
    .await;
    let addr = pool.addr();
    let subscribe = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n";
    refused(addr, &[v2("203.0.113.60:1"), subscribe.to_vec()].concat()).await;
    refused(addr, &v2_local()).await;
    assert_metrics(
        &metrics(&pool).await,
        &["pool_proxy_header_refused_total{reason=\"untrusted_peer\"} 2\n"],
    );
    let lines = log_lines_with(&["not a trusted load balancer", "peer=127.0.0.1:"]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(log_lines_with(&["203.0.113.60"]).is_empty(), "never read");
    assert_eq!(pool.stats().connections_total, 0);
    pool.shutdown().await;
}
