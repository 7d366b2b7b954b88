//! The ledger at volume: shares recorded through `Ledger::record_share` by
//! 1,600 tasks at once (100 connections with 16 submits in flight each),
//! every call waiting for its share's commit, into a SQLite file and, when
//! `POOL_TEST_POSTGRES_URL` names a server, into PostgreSQL (a schema per
//! sample, dropped afterwards). Each sample starts from an empty ledger.
//! Criterion reports durable shares/s; the latency of every call of every
//! sample is printed after each backend as p50 / p99 / max. PostgreSQL runs
//! twice: one commit in flight (the baseline) and the default number.
//!
//! `cargo bench -p benches --bench ledger`; `POOL_BENCH_LEDGER_SHARES` sets
//! the shares per sample (default 96 000: 60 per task).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::future::join_all;
use pool::ledger::{Ledger, LedgerOptions, LedgerStats, NewShare};
use sqlx::{Connection, PgConnection};
use std::path::PathBuf;
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

/// Records `count` shares (rounded up to a multiple of [`TASKS`]) from
/// [`TASKS`] tasks, each waiting for one call before its next; returns the
/// wall time and every call's latency.
async fn record(ledger: &Ledger, count: u64) -> (Duration, Vec<Duration>) {
    let per_task = count.div_ceil(TASKS);
    let started = Instant::now();
    let tasks = (0..TASKS).map(|task| {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            let connection = task % CONNECTIONS;
            let mut latencies = Vec::with_capacity(per_task as usize);
            for i in 0..per_task {
                let n = i * TASKS + task;
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

/// Where each sample gets a database of its own, so that every sample
/// starts from an empty ledger (the unique hash index grows with the
/// table, and with it what a commit writes).
enum Place {
    /// A directory for SQLite files.
    Sqlite(PathBuf),
    /// A PostgreSQL server, for one schema per sample.
    Postgres(String),
}

impl Place {
    fn name(&self) -> &'static str {
        match self {
            Place::Sqlite(_) => "sqlite",
            Place::Postgres(_) => "postgres",
        }
    }

    /// The URL of a new, empty database for sample `sample`.
    async fn create(&self, sample: u64) -> String {
        match self {
            Place::Sqlite(dir) => format!("sqlite://{}/sample{sample}.db", dir.display()),
            Place::Postgres(server) => {
                let schema = schema_name(sample);
                let mut admin = PgConnection::connect(server).await.expect("PostgreSQL");
                sqlx::raw_sql(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                ))
                .execute(&mut admin)
                .await
                .expect("create the sample's schema");
                let _ = admin.close().await;
                let separator = if server.contains('?') { '&' } else { '?' };
                format!("{server}{separator}options[search_path]={schema}")
            }
        }
    }

    async fn remove(&self, sample: u64) {
        match self {
            Place::Sqlite(dir) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(dir.join(format!("sample{sample}.db{suffix}")));
                }
            }
            Place::Postgres(server) => {
                if let Ok(mut admin) = PgConnection::connect(server).await {
                    let _ = sqlx::raw_sql(&format!("DROP SCHEMA {} CASCADE", schema_name(sample)))
                        .execute(&mut admin)
                        .await;
                    let _ = admin.close().await;
                }
            }
        }
    }
}

fn schema_name(sample: u64) -> String {
    format!("bench_ledger_{}_{sample}", std::process::id())
}

/// What the samples of one backend measured, together.
#[derive(Default)]
struct Totals {
    shares: usize,
    wall: Duration,
    latencies: Vec<Duration>,
    transactions: u64,
    largest_batch: u64,
    transaction_micros: u64,
}

impl Totals {
    fn add(&mut self, wall: Duration, latencies: Vec<Duration>, stats: &LedgerStats) {
        self.shares += latencies.len();
        self.wall += wall;
        self.latencies.extend(latencies);
        self.transactions += stats.batches;
        self.largest_batch = self.largest_batch.max(stats.largest_batch);
        self.transaction_micros += stats.commit_latency.sum_micros;
    }

    fn print(mut self, backend: &str) {
        self.latencies.sort_unstable();
        println!(
            "{backend}: {} shares in {:.2?} ({:.0} shares/s), call latency p50 {:.2?} \
             p99 {:.2?} max {:.2?}; {} share transactions, largest {}, mean {:.2?}",
            self.shares,
            self.wall,
            self.shares as f64 / self.wall.as_secs_f64(),
            percentile(&self.latencies, 0.50),
            percentile(&self.latencies, 0.99),
            self.latencies.last().copied().unwrap_or_default(),
            self.transactions,
            self.largest_batch,
            Duration::from_micros(self.transaction_micros / self.transactions.max(1)),
        );
    }
}

fn ledger_bench(c: &mut Criterion) {
    let count: u64 = std::env::var("POOL_BENCH_LEDGER_SHARES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(96_000);
    let runtime = Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("pool-bench-ledger-{}", std::process::id()));
    let mut places = vec![Place::Sqlite(dir.clone())];
    if let Some(server) = std::env::var("POOL_TEST_POSTGRES_URL")
        .ok()
        .filter(|server| !server.is_empty())
    {
        places.push(Place::Postgres(server));
    }

    let mut group = c.benchmark_group(format!("ledger_{TASKS}_in_flight"));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(count.div_ceil(TASKS) * TASKS));
    // PostgreSQL with one commit in flight (the writer before) and with
    // the default: the baseline in the same process.
    let runs: Vec<(&Place, usize, String)> = places
        .iter()
        .flat_map(|place| match place {
            Place::Sqlite(_) => vec![(place, 1, place.name().to_string())],
            Place::Postgres(_) => [1, LedgerOptions::default().commits_in_flight]
                .map(|commits| {
                    (
                        place,
                        commits,
                        format!("{}-{commits}-in-flight", place.name()),
                    )
                })
                .to_vec(),
        })
        .collect();
    let mut sample = 0;
    for (place, commits_in_flight, name) in runs {
        let options = LedgerOptions {
            commits_in_flight,
            ..LedgerOptions::default()
        };
        let mut totals = Totals::default();
        group.bench_function(BenchmarkId::new("record_share", &name), |b| {
            b.iter_custom(|samples| {
                let mut took = Duration::ZERO;
                for _ in 0..samples {
                    sample += 1;
                    runtime.block_on(async {
                        let url = place.create(sample).await;
                        let ledger = Ledger::open_with(&url, options.clone())
                            .await
                            .expect("open the ledger");
                        let (wall, latencies) = record(&ledger, count).await;
                        totals.add(wall, latencies, &ledger.stats());
                        ledger.close().await;
                        place.remove(sample).await;
                        took += wall;
                    });
                }
                took
            })
        });
        totals.print(&name);
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, ledger_bench);
criterion_main!(benches);
