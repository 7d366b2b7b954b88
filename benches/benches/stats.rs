//! Stats queries at scale: a day of shares in a SQLite ledger, read the way
//! the pages read them (whole minutes from `share_minutes`, edges from
//! `shares`) against the single scan of `shares` they replaced, run on the
//! same file in the same process. And the write side: a batch recorded
//! through the ledger (shares plus minute sums) against the plain INSERT
//! transaction of the same rows the writer did before.
//!
//! `cargo bench -p benches --bench stats`; `POOL_BENCH_SHARES` sets the
//! day's share count (default 1 000 000: 115 workers at the default
//! vardiff pace of a share per 10 s).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use futures::future::join_all;
use pool::ledger::{Ledger, NewShare};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{Row, SqlitePool};
use std::hint::black_box;
use tokio::runtime::Runtime;

const DAY_MS: i64 = 86_400_000;
const NOW: i64 = 1_764_000_000_000;
const BATCH: usize = 2_000;

/// Workers at the pool's default vardiff pace, a share per 10 s each, that
/// make `count` shares a day (at least two).
fn workers(count: u64) -> u64 {
    (count / 8_640).max(2)
}

fn share(n: u64, time_ms: i64, workers: u64) -> NewShare {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&n.to_le_bytes());
    let worker = n % workers;
    NewShare {
        node: 1,
        // Miners with two rigs each.
        address: format!("bc1qbenchminer{:04}", worker / 2),
        worker: format!("rig{}", worker % 2),
        job_id: n,
        difficulty: [512.0, 1024.0, 4096.0][(n % 3) as usize],
        network_difficulty: 1.1e14,
        time_ms,
        is_block: false,
        hash,
        credit_sat: 0,
    }
}

async fn fill(ledger: &Ledger, count: u64) {
    let step = DAY_MS / count as i64;
    let mut n = 0;
    while n < count {
        let end = (n + BATCH as u64).min(count);
        let batch = (n..end)
            .map(|i| ledger.record_share(share(i, NOW - DAY_MS + i as i64 * step, workers(count))));
        for written in join_all(batch).await {
            written.expect("share recorded");
        }
        n = end;
    }
}

const RAW_WORK: &str = "SELECT COUNT(*) AS shares, COALESCE(SUM(difficulty), 0.0) AS difficulty, \
     COALESCE(SUM(difficulty / network_difficulty), 0.0) AS blocks FROM shares \
     WHERE time_ms >= ? AND time_ms < ?";
const RAW_CHART: &str = "SELECT time_ms / ? AS bucket, COUNT(*), SUM(difficulty) FROM shares \
     WHERE time_ms >= ? GROUP BY time_ms / ?";

async fn raw_work(pool: &SqlitePool, from: i64, to: i64) -> i64 {
    let row = sqlx::query(RAW_WORK)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await
        .unwrap();
    row.get::<i64, _>("shares")
}

/// The writer's transaction as bare SQL (one row per statement for the
/// sums: an upper bound on what the ledger's multi-row upserts cost).
async fn insert_plain(raw: &SqlitePool, shares: &[NewShare], with_sums: bool) {
    let mut tx = raw.begin().await.unwrap();
    for chunk in shares.chunks(90) {
        let mut sql = String::from(
            "INSERT INTO shares_before (node, address, worker, job_id, difficulty, \
             network_difficulty, time_ms, is_block, hash, credit_sat) VALUES ",
        );
        sql.push_str(&vec!["(?,?,?,?,?,?,?,?,?,?)"; chunk.len()].join(","));
        let mut query = sqlx::query(&sql);
        for s in chunk {
            query = query
                .bind(i32::from(s.node))
                .bind(s.address.as_str())
                .bind(s.worker.as_str())
                .bind(s.job_id as i64)
                .bind(s.difficulty)
                .bind(s.network_difficulty)
                .bind(s.time_ms)
                .bind(s.is_block)
                .bind(s.hash.to_vec())
                .bind(s.credit_sat as i64);
        }
        query.execute(&mut *tx).await.unwrap();
    }
    if with_sums {
        let mut sums = std::collections::BTreeMap::<(i64, &str, &str), (i64, f64, f64, i64)>::new();
        let mut pool = std::collections::BTreeMap::<i64, (i64, f64, f64)>::new();
        for s in shares {
            let minute = s.time_ms / 60_000;
            let blocks = s.difficulty / s.network_difficulty;
            let sum = sums.entry((minute, &s.address, &s.worker)).or_default();
            *sum = (
                sum.0 + 1,
                sum.1 + s.difficulty,
                sum.2 + blocks,
                sum.3.max(s.time_ms),
            );
            let minute_sum = pool.entry(minute).or_default();
            *minute_sum = (
                minute_sum.0 + 1,
                minute_sum.1 + s.difficulty,
                minute_sum.2 + blocks,
            );
        }
        for ((minute, address, worker), (count, difficulty, blocks, last)) in sums {
            sqlx::query(
                "INSERT INTO minutes_before VALUES (?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (minute, address, worker) DO UPDATE SET shares = shares + excluded.shares, \
                 difficulty = difficulty + excluded.difficulty, blocks = blocks + excluded.blocks, \
                 last_ms = MAX(last_ms, excluded.last_ms)",
            )
            .bind(minute)
            .bind(address)
            .bind(worker)
            .bind(count)
            .bind(difficulty)
            .bind(blocks)
            .bind(last)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        for (minute, (count, difficulty, blocks)) in pool {
            sqlx::query(
                "INSERT INTO pool_minutes_before VALUES (?, ?, ?, ?) ON CONFLICT (minute) DO UPDATE \
                 SET shares = shares + excluded.shares, difficulty = difficulty + excluded.difficulty, \
                 blocks = blocks + excluded.blocks",
            )
            .bind(minute)
            .bind(count)
            .bind(difficulty)
            .bind(blocks)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
}

fn stats_bench(c: &mut Criterion) {
    let count: u64 = std::env::var("POOL_BENCH_SHARES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("pool-bench-stats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/ledger.db", dir.display());
    let (ledger, raw) = runtime.block_on(async {
        let ledger = Ledger::open(&url).await.unwrap();
        fill(&ledger, count).await;
        let raw = SqlitePoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        (ledger, raw)
    });
    // Both read the same shares: the comparison is fair only if so.
    runtime.block_on(async {
        let work = ledger.work(NOW - DAY_MS, NOW + 1, None).await.unwrap();
        assert_eq!(
            work.shares as i64,
            raw_work(&raw, NOW - DAY_MS, NOW + 1).await
        );
        assert_eq!(work.shares, count);
    });

    let mut group = c.benchmark_group(format!("stats_{count}_shares"));
    group.sample_size(10);
    let spans = [
        ("hashrate_5min", NOW - 300_000 - 12_345),
        ("hashrate_24h", NOW - DAY_MS + 12_345),
        ("round_whole_history", i64::MIN),
    ];
    for (name, from) in spans {
        group.bench_function(BenchmarkId::new("minute_sums", name), |b| {
            b.iter(|| {
                runtime
                    .block_on(ledger.work(black_box(from), NOW + 1, None))
                    .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("shares_scan", name), |b| {
            b.iter(|| runtime.block_on(raw_work(&raw, black_box(from), NOW + 1)))
        });
    }
    let chart_from = NOW - DAY_MS + 12_345;
    group.bench_function(BenchmarkId::new("minute_sums", "chart_24h_30min"), |b| {
        b.iter(|| {
            runtime
                .block_on(ledger.work_by_bucket(black_box(chart_from), 1_800_000, None))
                .unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("shares_scan", "chart_24h_30min"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                sqlx::query(RAW_CHART)
                    .bind(1_800_000_i64)
                    .bind(black_box(chart_from))
                    .bind(1_800_000_i64)
                    .fetch_all(&raw)
                    .await
                    .unwrap()
                    .len()
            })
        })
    });
    group.finish();

    // The write side: one batch of 2000 shares, durable.
    let mut group = c.benchmark_group("record_2000_shares");
    group.sample_size(10);
    let mut next = count;
    group.bench_function("ledger_with_minute_sums", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let batch = (next..next + BATCH as u64)
                    .map(|i| ledger.record_share(share(i, NOW + i as i64, workers(count))));
                for written in join_all(batch).await {
                    written.unwrap();
                }
            });
            next += BATCH as u64;
        })
    });
    runtime.block_on(async {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS shares_before AS SELECT * FROM shares WHERE 0; \
             CREATE INDEX IF NOT EXISTS shares_before_time ON shares_before (time_ms); \
             CREATE INDEX IF NOT EXISTS shares_before_address ON shares_before (address, time_ms); \
             CREATE TABLE IF NOT EXISTS minutes_before (minute INTEGER, address TEXT, worker TEXT, \
             shares INTEGER, difficulty REAL, blocks REAL, last_ms INTEGER, \
             PRIMARY KEY (minute, address, worker)) WITHOUT ROWID; \
             CREATE TABLE IF NOT EXISTS pool_minutes_before (minute INTEGER PRIMARY KEY, \
             shares INTEGER, difficulty REAL, blocks REAL); \
             PRAGMA synchronous = FULL;",
        )
        .execute(&raw)
        .await
        .unwrap();
    });
    // The same rows as bare SQL, without and with the minute sums: what
    // the sums themselves cost a batch.
    for with_sums in [false, true] {
        let mut next_raw = count + if with_sums { 10_000_000 } else { 0 };
        let name = if with_sums {
            "plain_insert_with_minute_sums"
        } else {
            "plain_insert"
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let shares: Vec<NewShare> = (next_raw..next_raw + BATCH as u64)
                    .map(|i| share(i, NOW + i as i64, workers(count)))
                    .collect();
                runtime.block_on(insert_plain(&raw, &shares, with_sums));
                next_raw += BATCH as u64;
            })
        });
    }
    group.finish();
    runtime.block_on(async {
        ledger.close().await;
        raw.close().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, stats_bench);
criterion_main!(benches);
