//! The load harness measures something in each mode, against a pool
//! started in this process from the very configurations BENCHMARKS.md
//! uses (`benches/load/*.toml`), so neither can rot. Speed is not judged
//! here: only that answers come, latencies are ordered, the ledger holds
//! what the connections were told, and every triggered block reaches
//! every connection.

use benches::load::{self, Mode, Report, Settings, Trigger};
use pool::app::Pool;
use pool::config::Config;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CONNECTIONS: usize = 4;

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(mode: &str) -> (Pool, Scratch) {
    let scratch = std::env::temp_dir().join(format!(
        "pool-load-smoke-{mode}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("load/{mode}.toml"));
    let env = [
        ("POOL_STRATUM_LISTEN", "127.0.0.1:0".to_string()),
        ("POOL_WEB_LISTEN", "127.0.0.1:0".to_string()),
        (
            "POOL_DATABASE_URL",
            format!("sqlite://{}", scratch.join("load.db").display()),
        ),
        (
            "POOL_CHAIN_BLOCKS_DIR",
            scratch.join("blocks").display().to_string(),
        ),
    ]
    .map(|(key, value)| (key.to_string(), value));
    let config = Config::load(Some(&file), env).expect("the mode's config is valid");
    let pool = Pool::start(&config).await.expect("the pool starts");
    (pool, Scratch(scratch))
}

fn settings(pool: &Pool, mode: Mode, in_flight: usize) -> Settings {
    Settings {
        pool: pool.stratum_addr(),
        pid: Some(std::process::id()),
        mode,
        connections: CONNECTIONS,
        in_flight,
        duration: Duration::from_millis(700),
        username: "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9".to_string(),
        blocks: 2,
        trigger: Trigger::Finder,
    }
}

fn assert_measured(report: &Report) {
    assert!(report.failures.is_empty(), "{report}");
    assert!(report.answers > 0, "{report}");
    assert_eq!(report.latency.count, report.answers, "{report}");
    let latency = report.latency;
    assert!(
        0.0 < latency.p50_ms
            && latency.p50_ms <= latency.p99_ms
            && latency.p99_ms <= latency.max_ms,
        "{report}"
    );
    let memory = report.memory.as_ref().expect("this process's memory");
    assert!(memory.before > 0 && memory.connected > 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_mode_answers_low_difficulty() {
    let (pool, _scratch) = start("reject").await;
    let report = load::run(settings(&pool, Mode::Reject, 4))
        .await
        .expect("the run completes");
    assert_measured(&report);
    assert_eq!(report.in_flight, 4);
    // Every random nonce misses difficulty 1 (a 2^-32 chance each).
    assert_eq!(report.outcomes.accepted, 0, "{report}");
    assert_eq!(
        report.outcomes.errors.get(&23),
        Some(&report.answers),
        "{report}"
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_mode_answers_only_what_the_ledger_holds() {
    let (pool, _scratch) = start("accept").await;
    let report = load::run(settings(&pool, Mode::Accept, 4))
        .await
        .expect("the run completes");
    assert_measured(&report);
    assert!(report.outcomes.accepted > 0, "{report}");
    // Every answer was read: the ledger holds exactly the shares answered
    // true (a block by chance, 2^-32 a share, adds stale answers only).
    assert_eq!(
        pool.ledger().share_count().await.expect("count"),
        report.outcomes.accepted,
        "{report}"
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_mode_times_every_block_to_every_connection() {
    let (pool, _scratch) = start("notify").await;
    let mut settings = settings(&pool, Mode::Notify, 0);
    settings.duration = Duration::from_secs(60);
    let report = load::run(settings).await.expect("the run completes");
    assert!(report.failures.is_empty(), "{report}");
    assert_eq!(
        report.answers, 0,
        "idle connections submit nothing: {report}"
    );
    let notify = report.notify.as_ref().expect("notify figures");
    assert_eq!(notify.blocks, 2, "{report}");
    assert_eq!(notify.missed, 0, "{report}");
    assert_eq!(notify.latency.count, 2 * CONNECTIONS as u64, "{report}");
    assert!(
        notify.latency.p50_ms <= notify.latency.p99_ms
            && notify.latency.p99_ms <= notify.latency.max_ms,
        "{report}"
    );
    pool.shutdown().await;
}
