//! PostgreSQL: one server for several pool nodes. Ids come from BIGSERIAL,
//! so nodes never collide; a batch is one INSERT of ten arrays.

use super::error::redact_url;
use super::records::NewShare;
use super::rollup::{inserted_sums, pool_minutes, MinuteSums};
use super::{LedgerError, LedgerOptions};
use rustc_hash::FxHashSet;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// One statement whatever the batch size: one prepared plan, no limit on
/// bind parameters, atomic on its own. Rows go in in hash order: two
/// transactions in flight (this node's or another's) that hold a hash in
/// common then wait for each other in one order, never both at once.
const INSERT_SHARES: &str = "INSERT INTO shares \
     (node, address, worker, job_id, difficulty, network_difficulty, time_ms, is_block, hash, \
     credit_sat) \
     SELECT * FROM UNNEST($1::INTEGER[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], \
     $5::DOUBLE PRECISION[], $6::DOUBLE PRECISION[], $7::BIGINT[], $8::BOOLEAN[], $9::BYTEA[], \
     $10::BIGINT[]) \
     AS batch (node, address, worker, job_id, difficulty, network_difficulty, time_ms, \
     is_block, hash, credit_sat) \
     ORDER BY hash \
     ON CONFLICT (hash) DO NOTHING RETURNING hash";

const UPSERT_MINUTES: &str = "INSERT INTO share_minutes \
     (minute, address, worker, shares, difficulty, blocks, last_ms) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], \
     $5::DOUBLE PRECISION[], $6::DOUBLE PRECISION[], $7::BIGINT[]) \
     ON CONFLICT (minute, address, worker) DO UPDATE SET \
     shares = share_minutes.shares + EXCLUDED.shares, \
     difficulty = share_minutes.difficulty + EXCLUDED.difficulty, \
     blocks = share_minutes.blocks + EXCLUDED.blocks, \
     last_ms = GREATEST(share_minutes.last_ms, EXCLUDED.last_ms)";

const UPSERT_POOL_MINUTES: &str = "INSERT INTO pool_minutes (minute, shares, difficulty, blocks) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::DOUBLE PRECISION[], \
     $4::DOUBLE PRECISION[]) \
     ON CONFLICT (minute) DO UPDATE SET \
     shares = pool_minutes.shares + EXCLUDED.shares, \
     difficulty = pool_minutes.difficulty + EXCLUDED.difficulty, \
     blocks = pool_minutes.blocks + EXCLUDED.blocks";

pub(super) async fn connect(url: &str, options: &LedgerOptions) -> Result<PgPool, LedgerError> {
    let connect = PgConnectOptions::from_str(url).map_err(|source| LedgerError::BadUrl {
        url: redact_url(url),
        source,
    })?;
    PgPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.connect_timeout)
        .connect_with(connect)
        .await
        .map_err(|source| LedgerError::Connect {
            url: redact_url(url),
            source,
        })
}

/// One transaction: the shares, then the minute sums of those inserted. A
/// share whose header hash is already recorded (by this node or another)
/// is skipped; the result says, per share, whether it was inserted. The
/// batch holds no hash twice (the writer sees to it).
pub(super) async fn insert_shares(
    pool: &PgPool,
    shares: &[NewShare],
    write_timeout: Duration,
) -> Result<Vec<bool>, sqlx::Error> {
    let mut nodes = Vec::with_capacity(shares.len());
    let mut addresses = Vec::with_capacity(shares.len());
    let mut workers = Vec::with_capacity(shares.len());
    let mut job_ids = Vec::with_capacity(shares.len());
    let mut difficulties = Vec::with_capacity(shares.len());
    let mut network_difficulties = Vec::with_capacity(shares.len());
    let mut times_ms = Vec::with_capacity(shares.len());
    let mut is_blocks = Vec::with_capacity(shares.len());
    let mut hashes = Vec::with_capacity(shares.len());
    let mut credits = Vec::with_capacity(shares.len());
    for share in shares {
        nodes.push(i32::from(share.node));
        addresses.push(share.address.as_str());
        workers.push(share.worker.as_str());
        // The u64's bits, read back with `as u64`.
        job_ids.push(share.job_id as i64);
        difficulties.push(share.difficulty);
        network_difficulties.push(share.network_difficulty);
        times_ms.push(share.time_ms);
        is_blocks.push(share.is_block);
        hashes.push(&share.hash[..]);
        // `NewShare::check` refused values above i64::MAX.
        credits.push(share.credit_sat as i64);
    }
    let mut tx = pool.begin().await?;
    sqlx::query(LIMIT_WAITS)
        .bind(timeout_millis(write_timeout))
        .execute(&mut *tx)
        .await?;
    let inserted: FxHashSet<Vec<u8>> = sqlx::query_scalar(INSERT_SHARES)
        .bind(nodes)
        .bind(addresses)
        .bind(workers)
        .bind(job_ids)
        .bind(difficulties)
        .bind(network_difficulties)
        .bind(times_ms)
        .bind(is_blocks)
        .bind(hashes)
        .bind(credits)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    // Sorted by key: nodes sharing rows lock them in one order.
    let (flags, sums) = inserted_sums(shares, &inserted);
    let column = |pick: fn(&MinuteSums) -> i64| sums.iter().map(pick).collect::<Vec<i64>>();
    sqlx::query(UPSERT_MINUTES)
        .bind(column(|sum| sum.minute))
        .bind(
            sums.iter()
                .map(|sum| sum.address.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            sums.iter()
                .map(|sum| sum.worker.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(column(|sum| sum.shares))
        .bind(sums.iter().map(|sum| sum.difficulty).collect::<Vec<f64>>())
        .bind(sums.iter().map(|sum| sum.blocks).collect::<Vec<f64>>())
        .bind(column(|sum| sum.last_ms))
        .execute(&mut *tx)
        .await?;
    // Every node updates the current minute's row: in minute order, each
    // holds it only until its commit.
    let minutes = pool_minutes(&sums);
    sqlx::query(UPSERT_POOL_MINUTES)
        .bind(minutes.iter().map(|m| m.minute).collect::<Vec<i64>>())
        .bind(minutes.iter().map(|m| m.shares).collect::<Vec<i64>>())
        .bind(minutes.iter().map(|m| m.difficulty).collect::<Vec<f64>>())
        .bind(minutes.iter().map(|m| m.blocks).collect::<Vec<f64>>())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(flags)
}

/// Bounds every wait of the transaction it runs in on the server (a table
/// another session locked, say): past it the statement fails, the
/// transaction rolls back and its callers hear so, instead of waiting for
/// ever. Bind the timeout in milliseconds, as text.
pub(super) const LIMIT_WAITS: &str = "SELECT set_config('statement_timeout', $1, true)";

/// [`LIMIT_WAITS`]'s parameter.
pub(super) fn timeout_millis(write_timeout: Duration) -> String {
    write_timeout
        .as_millis()
        .clamp(1, i32::MAX as u128)
        .to_string()
}
