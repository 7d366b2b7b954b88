//! What operators point their tools at: `/metrics` (Prometheus text, with
//! counters that match what a miner really did), `/health` (200, then 503
//! with the reason when templates stop, bitcoind goes away or the database
//! breaks, SQLite or PostgreSQL) and `[log] format = "json"`. Everything on
//! 127.0.0.1.

mod support;

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/ledger_backend.rs"]
#[allow(dead_code)] // its write-blocking helpers serve the ledger tests
mod ledger_backend;
#[path = "support/pool_process.rs"]
mod pool_process;
#[path = "support/prometheus_text.rs"]
mod prometheus_text;

use bitcoin::Block;
use e2e::{accepted, error_code, regtest_address, wait_until_async, RawClient, Scratch, STEP};
use ledger_backend::{Backend, TestDb};
use pool::app::Pool;
use pool::config::{ChainConfig, Config, Network};
use pool::server::stats::Reject;
use pool::template::bitcoind::BitcoindSource;
use pool::template::simnet::SimnetSource;
use pool::template::{SourceStatus, SubmitReport, Template, TemplateSource};
use pool::web::health::HealthLimits;
use pool_process::PoolProcess;
use prometheus_text::{value, Families};
use sqlx::Connection;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::fake_bitcoind::FakeBitcoind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A block is ~4 M hashes; shares at a fifth of that are found at once.
const NETWORK_DIFFICULTY: f64 = 0.001;
const SHARE_DIFFICULTY: f64 = 0.0002;
/// Long enough for a busy machine; the conditions hold much sooner.
const WAIT: Duration = Duration::from_secs(20);

// ---- HTTP ------------------------------------------------------------------

struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect to the web");
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    };
    let answer = tokio::time::timeout(STEP, exchange)
        .await
        .unwrap_or_else(|_| panic!("no answer to GET {path} within {STEP:?}"));
    let (head, body) = answer.split_once("\r\n\r\n").expect("a header and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer:?}"));
    let content_type = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: body.to_string(),
    }
}

async fn scrape(addr: SocketAddr) -> Families {
    let reply = get(addr, "/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        reply.content_type
    );
    prometheus_text::parse(&reply.body)
        .unwrap_or_else(|error| panic!("/metrics is not Prometheus text: {error}\n{}", reply.body))
}

/// Polls `/health` until `wanted` holds for its reply.
async fn health_until(addr: SocketAddr, what: &str, wanted: impl Fn(&Reply) -> bool) -> Reply {
    let last = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&last);
    wait_until_async(what, WAIT, || {
        let seen = Arc::clone(&seen);
        let wanted = &wanted;
        async move {
            let reply = get(addr, "/health").await;
            let ok = wanted(&reply);
            *seen.lock().unwrap() = Some(reply);
            ok
        }
    })
    .await;
    let reply = last.lock().unwrap().take();
    reply.expect("at least one reply")
}

// ---- pools -------------------------------------------------------------------

fn config(scratch: &Scratch) -> Config {
    let mut config = e2e::simnet_config(scratch.path());
    config.simnet.difficulty = NETWORK_DIFFICULTY;
    // One fixed difficulty: vardiff never moves it under the test.
    config.stratum.start_difficulty = SHARE_DIFFICULTY;
    config.stratum.min_difficulty = SHARE_DIFFICULTY;
    config.stratum.max_difficulty = SHARE_DIFFICULTY;
    config.validate().expect("the test's config is valid");
    config
}

async fn simnet_pool(config: &Config) -> (Pool, Arc<SimnetSource>) {
    let source = Arc::new(SimnetSource::start(&config.simnet, &config.chain));
    let pool = Pool::start_with_source(config, Arc::clone(&source))
        .await
        .expect("the pool starts");
    (pool, source)
}

fn user(tag: u8) -> String {
    format!("{}.ops", regtest_address(tag))
}

/// The simnet's templates, republished every 100 ms (as bitcoind confirms
/// unchanged work at each refresh) until [`StoppableSource::stop`]; then
/// nothing, as from a source that hangs.
struct StoppableSource {
    simnet: SimnetSource,
    templates: watch::Receiver<Option<Arc<Template>>>,
    republisher: JoinHandle<()>,
}

impl StoppableSource {
    fn start(config: &Config) -> StoppableSource {
        let simnet = SimnetSource::start(&config.simnet, &config.chain);
        let upstream = simnet.templates();
        let (sender, templates) = watch::channel(None);
        let republisher = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            loop {
                every.tick().await;
                let current = upstream.borrow().clone();
                if current.is_some() {
                    sender.send_replace(current);
                }
            }
        });
        StoppableSource {
            simnet,
            templates,
            republisher,
        }
    }

    fn stop(&self) {
        self.republisher.abort();
    }
}

impl TemplateSource for StoppableSource {
    fn templates(&self) -> watch::Receiver<Option<Arc<Template>>> {
        self.templates.clone()
    }

    async fn submit_block(&self, block: Block) -> SubmitReport {
        self.simnet.submit_block(block).await
    }

    fn status(&self) -> SourceStatus {
        self.simnet.status()
    }
}

// ---- /metrics ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_count_what_a_miner_did() {
    let scratch = Scratch::new("ops-metrics");
    let config = config(&scratch);
    // The hashrate spans the pool's life: it started within these.
    let before_start = std::time::Instant::now();
    let (pool, source) = simnet_pool(&config).await;
    let after_start = std::time::Instant::now();
    let user = user(1);
    let mut miner = RawClient::miner(pool.stratum_addr(), &user).await;
    let job = miner.latest_job();
    assert_eq!(job.difficulty, SHARE_DIFFICULTY);

    const SHARES: u64 = 4;
    let mut last = None;
    for _ in 0..SHARES {
        let share = miner.grind(&job.job, None, SHARE_DIFFICULTY, None);
        let answer = miner.submit(&user, &share).await;
        assert!(accepted(&answer), "{answer:?}");
        last = Some(share);
    }
    let duplicate = last.expect("a share");
    assert_eq!(error_code(&miner.submit(&user, &duplicate).await), Some(22));

    let before_scrape = std::time::Instant::now();
    let metrics = scrape(pool.web_addr()).await;
    let after_scrape = std::time::Instant::now();
    let shares = |outcome: &str| value(&metrics, "pool_shares_total", &[("outcome", outcome)]);
    assert_eq!(shares("accepted"), Some(SHARES as f64));
    for reject in Reject::ALL {
        let expected = if reject == Reject::Duplicate {
            1.0
        } else {
            0.0
        };
        assert_eq!(shares(reject.name()), Some(expected), "{}", reject.name());
    }
    let difficulty = value(&metrics, "pool_accepted_difficulty_total", &[]).unwrap();
    assert!(
        (difficulty - SHARES as f64 * SHARE_DIFFICULTY).abs() < 1e-9,
        "{difficulty}"
    );
    // The shares' work over the pool's life so far (younger than the
    // window), which lies between these spans.
    let hashrate = value(&metrics, "pool_hashrate_hashes_per_second", &[]).unwrap();
    let work = SHARES as f64 * SHARE_DIFFICULTY * 4_294_967_296.0;
    let longest = (after_scrape - before_start).as_secs_f64();
    let shortest = (before_scrape - after_start).as_secs_f64();
    assert!(
        (work / longest..=work / shortest).contains(&hashrate),
        "{hashrate}: {work} hashes over {shortest} to {longest} s"
    );
    assert_eq!(value(&metrics, "pool_connections_open", &[]), Some(1.0));
    assert_eq!(value(&metrics, "pool_connections_total", &[]), Some(1.0));
    let height = source
        .templates()
        .borrow()
        .as_ref()
        .expect("a template")
        .height;
    assert_eq!(
        value(&metrics, "pool_template_height", &[]),
        Some(f64::from(height))
    );
    let age = value(&metrics, "pool_template_age_seconds", &[]).unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");
    // Each share was answered, so committed, before the next was sent: a
    // transaction each, and nothing else was written.
    let commits = value(&metrics, "pool_ledger_commit_duration_seconds_count", &[]).unwrap();
    assert_eq!(commits, SHARES as f64);
    assert_eq!(
        value(&metrics, "pool_ledger_shares_written_total", &[]),
        Some(SHARES as f64)
    );
    assert_eq!(
        value(&metrics, "pool_ledger_blocks", &[("status", "orphaned")]),
        Some(0.0)
    );
    assert_eq!(value(&metrics, "pool_database_up", &[]), Some(1.0));
    // The simnet makes no RPC calls: no bitcoind families at all.
    assert!(!metrics.keys().any(|name| name.starts_with("pool_bitcoind")));
    for family in metrics.keys() {
        assert!(family.starts_with("pool_"), "{family}");
    }
    pool.shutdown().await;
}

#[test]
fn the_exposition_reader_refuses_what_a_scraper_would() {
    let good = "# HELP pool_a_total A.\n# TYPE pool_a_total counter\npool_a_total{x=\"1\"} 2\n";
    assert!(prometheus_text::parse(good).is_ok());
    for bad in [
        // No HELP.
        "# TYPE pool_a_total counter\npool_a_total 1\n",
        // A sample of another family.
        "# HELP pool_a_total A.\n# TYPE pool_a_total counter\npool_b_total 1\n",
        // A counter without _total, and a negative one.
        "# HELP pool_a A.\n# TYPE pool_a counter\npool_a 1\n",
        "# HELP pool_a_total A.\n# TYPE pool_a_total counter\npool_a_total -1\n",
        // Label syntax: unquoted, bad escape, trailing comma.
        "# HELP pool_a A.\n# TYPE pool_a gauge\npool_a{x=1} 1\n",
        "# HELP pool_a A.\n# TYPE pool_a gauge\npool_a{x=\"\\t\"} 1\n",
        "# HELP pool_a A.\n# TYPE pool_a gauge\npool_a{x=\"1\",} 1\n",
        // Rust's spelling of infinity, and a repeated series.
        "# HELP pool_a A.\n# TYPE pool_a gauge\npool_a inf\n",
        "# HELP pool_a A.\n# TYPE pool_a gauge\npool_a 1\npool_a 2\n",
        // A histogram whose +Inf bucket is not its count.
        "# HELP pool_h H.\n# TYPE pool_h histogram\npool_h_bucket{le=\"1\"} 1\n\
         pool_h_bucket{le=\"+Inf\"} 2\npool_h_sum 1\npool_h_count 3\n",
    ] {
        assert!(prometheus_text::parse(bad).is_err(), "accepted {bad:?}");
    }
}

// ---- /health --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_ok_on_a_running_pool_and_503_once_templates_stop() {
    let scratch = Scratch::new("ops-templates");
    let config = config(&scratch);
    let source = Arc::new(StoppableSource::start(&config));
    let limits = HealthLimits {
        template_max_age: Duration::from_secs(2),
        ..HealthLimits::default()
    };
    let pool = Pool::start_with_limits(&config, Arc::clone(&source), limits)
        .await
        .expect("the pool starts");
    let web = pool.web_addr();

    let ok = health_until(web, "/health 200", |reply| reply.status == 200).await;
    assert_eq!(ok.body, "ok\n");
    assert!(
        ok.content_type.starts_with("text/plain"),
        "{}",
        ok.content_type
    );

    source.stop();
    let down = health_until(web, "/health 503 for old templates", |reply| {
        reply.status == 503
    })
    .await;
    let lines: Vec<&str> = down.body.lines().collect();
    assert_eq!(lines.len(), 1, "{}", down.body);
    assert!(
        lines[0].starts_with("template: the newest is") && lines[0].contains("(limit 2 s)"),
        "{}",
        down.body
    );
    let age = value(&scrape(web).await, "pool_template_age_seconds", &[]).unwrap();
    assert!(age > 2.0, "{age}");
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_a_broken_sqlite_database_and_failing_writes_then_recovers() {
    ledger_backend::run(
        Backend::Sqlite,
        "ops-database",
        broken_database_then_recovery,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_a_broken_postgres_database_and_failing_writes_then_recovers() {
    ledger_backend::run(
        Backend::Postgres,
        "ops-database",
        broken_database_then_recovery,
    )
    .await;
}

/// A connection of the test's own to the pool's database.
enum Other {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Other {
    async fn connect(db: &TestDb) -> Other {
        match db.backend {
            Backend::Sqlite => Other::Sqlite(
                sqlx::SqliteConnection::connect(&db.url)
                    .await
                    .expect("open the pool's database"),
            ),
            Backend::Postgres => Other::Postgres(
                sqlx::PgConnection::connect(&db.url)
                    .await
                    .expect("connect to the pool's database"),
            ),
        }
    }

    async fn execute(&mut self, sql: &str) {
        match self {
            Other::Sqlite(connection) => sqlx::raw_sql(sql).execute(connection).await.map(drop),
            Other::Postgres(connection) => sqlx::raw_sql(sql).execute(connection).await.map(drop),
        }
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    async fn close(self) {
        match self {
            Other::Sqlite(connection) => connection.close().await,
            Other::Postgres(connection) => connection.close().await,
        }
        .expect("close");
    }
}

async fn broken_database_then_recovery(db: TestDb) {
    let scratch = Scratch::new("ops-database");
    let mut config = config(&scratch);
    config.database.url = db.url.clone();
    let (pool, _source) = simnet_pool(&config).await;
    let web = pool.web_addr();
    health_until(web, "/health 200", |reply| reply.status == 200).await;
    let user = user(2);
    let mut miner = RawClient::miner(pool.stratum_addr(), &user).await;
    let job = miner.latest_job();

    // Another client of the same database takes the shares table away:
    // every query and write of the pool's on it now fails (PostgreSQL
    // re-plans its cached statements, and finds no table either).
    let mut other = Other::connect(&db).await;
    other
        .execute("ALTER TABLE shares RENAME TO shares_away")
        .await;
    let down = health_until(web, "/health 503 for the database", |reply| {
        reply.status == 503
    })
    .await;
    assert!(
        down.body
            .lines()
            .any(|line| line.starts_with("database: not answering") && line.contains("shares")),
        "{}",
        down.body
    );
    let share = miner.grind(&job.job, None, SHARE_DIFFICULTY, None);
    let answer = miner.submit(&user, &share).await;
    assert_eq!(error_code(&answer), Some(20), "not recorded: {answer:?}");
    let down = get(web, "/health").await;
    assert_eq!(down.status, 503);
    assert!(
        down.body
            .lines()
            .any(|line| line.starts_with("ledger: writes failing")),
        "{}",
        down.body
    );
    let metrics = scrape(web).await;
    assert_eq!(
        value(
            &metrics,
            "pool_shares_total",
            &[("outcome", "not_recorded")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics, "pool_ledger_write_failures_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics, "pool_ledger_failing_writes", &[]),
        Some(1.0)
    );
    assert_eq!(value(&metrics, "pool_database_up", &[]), Some(0.0));

    // The table back and one share written: healthy again.
    other
        .execute("ALTER TABLE shares_away RENAME TO shares")
        .await;
    other.close().await;
    let share = miner.grind(&job.job, None, SHARE_DIFFICULTY, None);
    assert!(accepted(&miner.submit(&user, &share).await));
    let ok = health_until(web, "/health 200 again", |reply| reply.status == 200).await;
    assert_eq!(ok.body, "ok\n");
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitcoind_calls_are_measured_and_a_dead_node_fails_health() {
    let node = FakeBitcoind::start("gbt-regtest-empty.json").await;
    let chain = ChainConfig {
        poll_interval_ms: 50,
        ..ChainConfig::default()
    };
    let source = Arc::new(
        BitcoindSource::start(vec![node.config("u", "p")], Network::Regtest, &chain)
            .expect("valid configuration"),
    );
    let scratch = Scratch::new("ops-bitcoind");
    let config = config(&scratch);
    let pool = Pool::start_with_source(&config, Arc::clone(&source))
        .await
        .expect("the pool starts");
    let web = pool.web_addr();

    health_until(web, "/health 200", |reply| reply.status == 200).await;
    let metrics = scrape(web).await;
    let calls = |method: &str| {
        value(
            &metrics,
            "pool_bitcoind_rpc_duration_seconds_count",
            &[("method", method)],
        )
        .unwrap_or(0.0)
    };
    assert!(calls("getblocktemplate") >= 1.0);
    assert!(calls("getbestblockhash") >= 1.0);
    let family = &metrics["pool_bitcoind_node_up"];
    assert_eq!(family.samples.len(), 1, "{family:?}");
    assert_eq!(family.samples[0].value, 1.0);
    assert_eq!(value(&metrics, "pool_template_height", &[]), Some(109.0));

    node.die().await;
    let down = health_until(web, "/health 503 for bitcoind", |reply| reply.status == 503).await;
    assert!(
        down.body.lines().any(|line| line
            .starts_with("bitcoind: the latest call to every node failed")
            && line.contains("unreachable")),
        "{}",
        down.body
    );
    let metrics = scrape(web).await;
    assert_eq!(metrics["pool_bitcoind_node_up"].samples[0].value, 0.0);
    let unreachable = value(
        &metrics,
        "pool_bitcoind_rpc_errors_total",
        &[("method", "getbestblockhash"), ("kind", "unreachable")],
    );
    assert!(
        unreachable.is_some_and(|count| count >= 1.0),
        "{unreachable:?}"
    );
    pool.shutdown().await;
}

// ---- JSON logs --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_format_prints_one_json_object_per_line() {
    let scratch = Scratch::new("ops-json-logs");
    let database_url = format!("sqlite://{}", scratch.path().join("pool.db").display());
    let mut process = PoolProcess::start(scratch.path(), "json", |port, web_port| {
        let mut text = pool_process::simnet_config_text(
            port,
            web_port,
            0,
            SHARE_DIFFICULTY,
            scratch.path(),
            &database_url,
        );
        text.push_str("\n[log]\nformat = \"json\"\n");
        text
    })
    .await;
    // Listening means the start was logged: read what came so far, whole
    // lines only (the pool may be writing the next one).
    let log = std::fs::read_to_string(&process.log).expect("read the log");
    process.child.kill().await.expect("stop the pool");
    let log = &log[..log.rfind('\n').map_or(0, |end| end + 1)];
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 2, "{log}");
    let mut messages = Vec::new();
    for line in lines {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"));
        for key in ["timestamp", "level", "message", "target"] {
            assert!(event[key].is_string(), "no {key} in {line}");
        }
        messages.push(event);
    }
    let starting = messages
        .iter()
        .find(|event| event["message"] == "starting")
        .unwrap_or_else(|| panic!("no `starting` event in {log}"));
    // Fields sit beside the message, not nested.
    assert_eq!(starting["network"], "regtest", "{starting}");
    assert_eq!(starting["level"], "INFO");
}
