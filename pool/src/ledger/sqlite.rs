//! SQLite: an embedded file in WAL mode with `synchronous = FULL`, so a
//! committed share survives a kill -9 of the pool and a power loss.

use super::error::redact_url;
use super::records::NewShare;
use super::rollup::{inserted_sums, pool_minutes};
use super::{LedgerError, LedgerOptions};
use rustc_hash::FxHashSet;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;
use std::str::FromStr;

/// Rows in the largest INSERT: 10 parameters each, 10 240 in all, within
/// the parameter limit of the SQLite that sqlx's `sqlite` feature bundles
/// (3.46; `SQLITE_MAX_VARIABLE_NUMBER` is 32 766 since 3.32). A power of
/// two (see [`statement_rows`]). Larger statements gain nothing: the rows'
/// index work dominates a commit.
const MAX_ROWS_PER_STATEMENT: usize = 1_024;

/// The rows of each INSERT a batch of `shares` is cut into: as many of the
/// largest as fit, then the rest in falling powers of two. Every statement
/// then has one of 11 shapes, each prepared once per connection and kept:
/// preparing a multi-row INSERT costs about as much as running it (some
/// microseconds a row), and pipelined batches come in every size.
fn statement_rows(shares: usize) -> impl Iterator<Item = usize> {
    let mut rest = shares;
    std::iter::from_fn(move || {
        let rows = match rest {
            0 => return None,
            rest if rest >= MAX_ROWS_PER_STATEMENT => MAX_ROWS_PER_STATEMENT,
            rest => 1 << rest.ilog2(),
        };
        rest -= rows;
        Some(rows)
    })
}

/// WAL pages before a commit copies them into the database file.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// Page cache of each connection, in KiB.
const CACHE_KIB: u32 = 32 * 1024;

const SHARE_COLUMNS: &str =
    "node, address, worker, job_id, difficulty, network_difficulty, time_ms, is_block, hash, \
     credit_sat";

pub(super) async fn connect(url: &str, options: &LedgerOptions) -> Result<SqlitePool, LedgerError> {
    let connect = SqliteConnectOptions::from_str(url)
        .map_err(|source| LedgerError::BadUrl {
            url: redact_url(url),
            source,
        })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(options.write_timeout)
        // A commit of shares dirties about one page of the unique hash
        // index per share (hashes are random). At SQLite's default of 1,000
        // pages nearly every commit also copied its pages into the database
        // file and synced it; at 10,000 (~40 MiB of WAL) that happens every
        // few commits, each page copied once for all of them.
        .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
        // Room for the pages one batch dirties: the default 2 MiB (500
        // pages) is fewer than a batch of a thousand shares touches, and a
        // full cache spills pages to the WAL mid-transaction. An upper
        // bound, per connection.
        .pragma("cache_size", format!("-{CACHE_KIB}"));
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let mut pool = SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.connect_timeout);
    if in_memory {
        // The shared in-memory database lives while one connection does.
        pool = pool
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    } else if let Some(dir) = connect.get_filename().parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|source| LedgerError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
    }
    // Two processes opening a fresh file at once both switch it to WAL,
    // which needs an exclusive lock that SQLite refuses at once (without
    // its busy handler, to avoid a deadlock): retry until the timeout.
    let deadline = std::time::Instant::now() + options.connect_timeout;
    loop {
        match pool.clone().connect_with(connect.clone()).await {
            Ok(pool) => return Ok(pool),
            Err(source) if is_busy(&source) && std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(source) => {
                return Err(LedgerError::Connect {
                    url: redact_url(url),
                    source,
                })
            }
        }
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6), possibly extended.
fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(database) => database
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
        _ => false,
    }
}

/// Minute rows per upsert: 7 parameters each.
const MINUTES_PER_STATEMENT: usize = 120;

const UPSERT_MINUTES_TAIL: &str = " ON CONFLICT (minute, address, worker) DO UPDATE SET \
     shares = share_minutes.shares + excluded.shares, \
     difficulty = share_minutes.difficulty + excluded.difficulty, \
     blocks = share_minutes.blocks + excluded.blocks, \
     last_ms = MAX(share_minutes.last_ms, excluded.last_ms)";

const UPSERT_POOL_MINUTE: &str = "INSERT INTO pool_minutes (minute, shares, difficulty, blocks) \
     VALUES (?, ?, ?, ?) ON CONFLICT (minute) DO UPDATE SET \
     shares = pool_minutes.shares + excluded.shares, \
     difficulty = pool_minutes.difficulty + excluded.difficulty, \
     blocks = pool_minutes.blocks + excluded.blocks";

fn upsert_minutes_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO share_minutes (minute, address, worker, shares, difficulty, blocks, last_ms) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?)");
    }
    sql.push_str(UPSERT_MINUTES_TAIL);
    sql
}

/// One transaction of multi-row INSERTs, and the minute sums of the rows
/// it inserted. A share whose header hash is already recorded is skipped
/// (`ON CONFLICT DO NOTHING`); the result says, per share, whether it was
/// inserted. The batch holds no hash twice (the writer sees to it).
pub(super) async fn insert_shares(
    pool: &SqlitePool,
    shares: &[NewShare],
) -> Result<Vec<bool>, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut inserted = FxHashSet::default();
    let mut rest = shares;
    for rows in statement_rows(shares.len()) {
        let (chunk, after) = rest.split_at(rows);
        rest = after;
        let sql = insert_sql(rows);
        let mut query = sqlx::query(&sql);
        for share in chunk {
            query = query
                .bind(i32::from(share.node))
                .bind(share.address.as_str())
                .bind(share.worker.as_str())
                // The u64's bits, read back with `as u64`.
                .bind(share.job_id as i64)
                .bind(share.difficulty)
                .bind(share.network_difficulty)
                .bind(share.time_ms)
                .bind(share.is_block)
                .bind(&share.hash[..])
                // `NewShare::check` refused values above i64::MAX.
                .bind(share.credit_sat as i64);
        }
        for row in query.fetch_all(&mut *tx).await? {
            inserted.insert(row.try_get::<Vec<u8>, _>(0)?);
        }
    }
    let (flags, sums) = inserted_sums(shares, &inserted);
    for chunk in sums.chunks(MINUTES_PER_STATEMENT) {
        let sql = upsert_minutes_sql(chunk.len());
        let mut query = sqlx::query(&sql).persistent(chunk.len() == MINUTES_PER_STATEMENT);
        for sum in chunk {
            query = query
                .bind(sum.minute)
                .bind(sum.address.as_str())
                .bind(sum.worker.as_str())
                .bind(sum.shares)
                .bind(sum.difficulty)
                .bind(sum.blocks)
                .bind(sum.last_ms);
        }
        query.execute(&mut *tx).await?;
    }
    // A batch spans a minute or two: one statement each.
    for minute in pool_minutes(&sums) {
        sqlx::query(UPSERT_POOL_MINUTE)
            .bind(minute.minute)
            .bind(minute.shares)
            .bind(minute.difficulty)
            .bind(minute.blocks)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(flags)
}

fn insert_sql(rows: usize) -> String {
    let mut sql = format!("INSERT INTO shares ({SHARE_COLUMNS}) VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?,?,?,?)");
    }
    sql.push_str(" ON CONFLICT (hash) DO NOTHING RETURNING hash");
    sql
}

#[cfg(test)]
mod tests {
    use super::{connect, insert_shares, insert_sql, statement_rows, MAX_ROWS_PER_STATEMENT};
    use crate::ledger::db::Db;
    use crate::ledger::{LedgerOptions, NewShare};

    /// The parameter limit of the SQLite sqlx bundles (3.46).
    const SQLITE_MAX_VARIABLE_NUMBER: usize = 32_766;

    #[test]
    fn the_largest_insert_is_within_sqlites_parameter_limit() {
        let sql = insert_sql(MAX_ROWS_PER_STATEMENT);
        assert_eq!(sql.matches('?').count(), 10 * MAX_ROWS_PER_STATEMENT);
        const { assert!(10 * MAX_ROWS_PER_STATEMENT <= SQLITE_MAX_VARIABLE_NUMBER) };
    }

    #[test]
    fn a_batch_is_cut_into_few_statements_of_few_shapes() {
        let mut shapes = std::collections::BTreeSet::new();
        for shares in 0..5_000 {
            let rows: Vec<usize> = statement_rows(shares).collect();
            assert_eq!(rows.iter().sum::<usize>(), shares);
            assert!(rows
                .iter()
                .all(|&n| n.is_power_of_two() && n <= MAX_ROWS_PER_STATEMENT));
            assert!(rows.windows(2).all(|pair| pair[0] >= pair[1]), "{rows:?}");
            // Full statements, then at most one of each smaller power.
            assert!(
                rows.len() <= shares / MAX_ROWS_PER_STATEMENT + 10,
                "{rows:?}"
            );
            shapes.extend(rows);
        }
        assert_eq!(shapes.len(), 11, "1, 2, 4, ... 1024 rows: {shapes:?}");
        assert_eq!(
            statement_rows(2_000).collect::<Vec<_>>(),
            [1024, 512, 256, 128, 64, 16]
        );
    }

    /// Every statement size, the largest included, runs on the bundled
    /// SQLite, and the flags follow the shares' order.
    #[tokio::test]
    async fn a_batch_of_every_statement_size_is_inserted_and_then_refused() {
        let pool = connect("sqlite::memory:", &LedgerOptions::default())
            .await
            .expect("open");
        crate::ledger::migrations::run(&Db::Sqlite(pool.clone()))
            .await
            .expect("migrate");
        let share = |n: u32| {
            let mut hash = [0u8; 32];
            hash[..4].copy_from_slice(&n.to_le_bytes());
            NewShare {
                node: 0,
                address: format!("bcrt1qaddress{}", n % 3),
                worker: String::new(),
                job_id: u64::from(n),
                difficulty: 1.0,
                network_difficulty: 2.0,
                time_ms: 1_700_000_000_000 + i64::from(n),
                is_block: false,
                hash,
                credit_sat: 0,
            }
        };
        let first: Vec<NewShare> = (0..2 * MAX_ROWS_PER_STATEMENT as u32 - 1)
            .map(share)
            .collect();
        let inserted = insert_shares(&pool, &first).await.expect("insert");
        assert!(inserted.iter().all(|&flag| flag));
        // Half already recorded, interleaved with new ones.
        let second: Vec<NewShare> = (0..2_000).map(|n| share(n * 2)).collect();
        let inserted = insert_shares(&pool, &second).await.expect("insert again");
        let expected: Vec<bool> = (0..2_000)
            .map(|n| n * 2 >= 2 * MAX_ROWS_PER_STATEMENT as u32 - 1)
            .collect();
        assert_eq!(inserted, expected);
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM shares")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        assert_eq!(
            rows as usize,
            first.len() + expected.iter().filter(|&&f| f).count()
        );
    }

    #[test]
    fn insert_has_ten_parameters_per_row() {
        let sql = insert_sql(3);
        assert_eq!(sql.matches('?').count(), 30);
        assert!(sql.ends_with(
            "(?,?,?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?,?,?),(?,?,?,?,?,?,?,?,?,?) \
             ON CONFLICT (hash) DO NOTHING RETURNING hash"
        ));
        assert_eq!(super::SHARE_COLUMNS.split(',').count(), 10);
    }

    #[tokio::test]
    async fn a_file_database_is_wal_with_full_sync_in_a_created_directory() {
        let dir = std::env::temp_dir().join(format!(
            "pool_ledger_unit_{}_{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        let url = format!("sqlite://{}/nested/ledger.db", dir.display());
        let pool = connect(&url, &LedgerOptions::default())
            .await
            .expect("open");
        let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&pool)
            .await
            .unwrap();
        let busy_timeout_ms: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&pool)
            .await
            .unwrap();
        let autocheckpoint: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&pool)
            .await
            .unwrap();
        let cache_size: i64 = sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(journal_mode, "wal");
        assert_eq!(synchronous, 2, "FULL");
        assert_eq!(busy_timeout_ms, 5_000);
        assert_eq!(autocheckpoint, 10_000);
        assert_eq!(cache_size, -32 * 1024, "32 MiB");
    }
}
