//! The ledger at volume: shares recorded through `Ledger::record_share` by
//! 1,600 tasks at once (100 connections with 16 submits in flight each),
//! every call waiting for its share's commit, into a SQLite file and, when
//! `POOL_TEST_POSTGRES_URL` names a server, into PostgreSQL (a schema of
//! its own, dropped afterwards). Criterion reports durable shares/s; the
//! latency of each call, from the first to the last sample, is printed
//! after each backend as p50 / p99 / max.
//!
//! `cargo bench -p benches --bench ledger`; `POOL_BENCH_LEDGER_SHARES` sets
//! the shares per sample (default 96 000: 60 per task).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::future::join_all;
use pool::ledger::{Ledger, NewShare};
use sqlx::{Connection, PgConnection};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::runtime::Runtime;

const CONNECTIONS: u64 = 100;
const IN_FLIGHT_PER_CONNECTION: u64 = 16;
const TASKS: u64 = CONNECTIONS * IN_FLIGHT_PER_CONNECTION;

/// Share `n` of connection `connection`: one worker per connection, two
/// per miner, as a pool sees them.
fn share(n: u64, connection: u64, time_ms: i64) -> NewShare {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&n.to_le_bytes());
    hash[8] = 0xbe;
    NewShare {
        node: 1,
        address: format!("bc1qbenchminer{:03}", connection / 2),
        worker: format!("rig{}", connection % 2),
        job_id: n,
        difficulty: [512.0, 1024.0, 4096.0][(n % 3) as usize],
        network_difficulty: 1.1e14,
        time_ms,
        is_block: false,
        hash,
        credit_sat: 0,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// Records `count` shares numbered from `first` from [`TASKS`] tasks, each
/// waiting for one call before its next; returns the wall time and every
/// call's latency.
async fn record(ledger: &Ledger, first: u64, count: u64) -> (Duration, Vec<Duration>) {
    let per_task = count.div_ceil(TASKS);
    let started = Instant::now();
    let tasks = (0..TASKS).map(|task| {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            let connection = task % CONNECTIONS;
            let mut latencies = Vec::with_capacity(per_task as usize);
            for i in 0..per_task {
                let n = first + i * TASKS + task;
                let call = Instant::now();
                ledger
                    .record_share(share(n, connection, now_ms()))
                    .await
                    .expect("share recorded");
                latencies.push(call.elapsed());
            }
            latencies
        })
    });
    let latencies: Vec<Duration> = join_all(tasks)
        .await
        .into_iter()
        .flat_map(|joined| joined.expect("task"))
        .collect();
    (started.elapsed(), latencies)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).saturating_sub(1);
    sorted.get(index).copied().unwrap_or_default()
}

/// A fresh schema on the server `server` names, and the URL that writes
/// into it.
async fn postgres_schema(server: &str) -> (String, String) {
    let schema = format!("bench_ledger_{}", std::process::id());
    let mut admin = PgConnection::connect(server).await.expect("PostgreSQL");
    sqlx::raw_sql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .execute(&mut admin)
    .await
    .expect("create the bench schema");
    let _ = admin.close().await;
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}options[search_path]={schema}");
    (schema, url)
}

async fn drop_schema(server: &str, schema: &str) {
    if let Ok(mut admin) = PgConnection::connect(server).await {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin)
            .await;
        let _ = admin.close().await;
    }
}

fn ledger_bench(c: &mut Criterion) {
    let count: u64 = std::env::var("POOL_BENCH_LEDGER_SHARES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(96_000);
    let runtime = Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("pool-bench-ledger-{}", std::process::id()));
    let mut backends = vec![("sqlite", format!("sqlite://{}/ledger.db", dir.display()))];
    let postgres = std::env::var("POOL_TEST_POSTGRES_URL")
        .ok()
        .filter(|server| !server.is_empty())
        .map(|server| {
            let (schema, url) = runtime.block_on(postgres_schema(&server));
            backends.push(("postgres", url));
            (server, schema)
        });

    let mut group = c.benchmark_group(format!("ledger_{TASKS}_in_flight"));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(count.div_ceil(TASKS) * TASKS));
    for (backend, url) in &backends {
        let ledger = runtime.block_on(Ledger::open(url)).expect("open the ledger");
        let mut next = 0;
        let mut latencies = Vec::new();
        let mut total = (0, Duration::ZERO);
        group.bench_function(BenchmarkId::new("record_share", backend), |b| {
            b.iter_custom(|samples| {
                let mut took = Duration::ZERO;
                for _ in 0..samples {
                    let (elapsed, calls) = runtime.block_on(record(&ledger, next, count));
                    next += calls.len() as u64;
                    total = (total.0 + calls.len(), total.1 + elapsed);
                    latencies.extend(calls);
                    took += elapsed;
                }
                took
            })
        });
        latencies.sort_unstable();
        let stats = ledger.stats();
        println!(
            "{backend}: {} shares in {:.2?} ({:.0} shares/s), call latency p50 {:.2?} \
             p99 {:.2?} max {:.2?}; {} transactions, largest batch {}, mean transaction {:.2?}",
            total.0,
            total.1,
            total.0 as f64 / total.1.as_secs_f64(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            latencies.last().copied().unwrap_or_default(),
            stats.batches,
            stats.largest_batch,
            Duration::from_micros(
                stats.commit_latency.sum_micros / stats.commit_latency.count.max(1)
            ),
        );
        runtime.block_on(ledger.close());
    }
    group.finish();
    if let Some((server, schema)) = postgres {
        runtime.block_on(drop_schema(&server, &schema));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, ledger_bench);
criterion_main!(benches);
