//! Reads: counts and the newest rows, decoded the same way from both
//! backends (the column types are chosen so they decode alike).

use super::db::{only_row, with_pool, Db};
use super::records::{parse_mode, BlockStatus, StoredBlock, StoredShare};
use super::LedgerError;
use sqlx::{ColumnIndex, Database, Decode, Row, Type};

const COUNT_SHARES: &str = "SELECT COUNT(*) FROM shares";

const NEWEST_SHARES: &str = "SELECT id, node, address, worker, job_id, difficulty, \
     network_difficulty, time_ms, is_block, hash, credit_sat, settled \
     FROM shares ORDER BY time_ms DESC, id DESC LIMIT $1";

const NEWEST_BLOCKS: &str = "SELECT id, node, height, hash, address, worker, \
     coinbase_value_sat, time_ms, raw_hex, answers, accepted, mode, status, confirmations, \
     credited, pool_fee_sat, window_shares, full_window \
     FROM blocks ORDER BY time_ms DESC, id DESC";

pub(super) async fn share_count(db: &Db) -> Result<u64, LedgerError> {
    let count: i64 = with_pool!(db, pool => {
        sqlx::query_scalar(COUNT_SHARES).fetch_all(pool).await
    })
    .map_err(LedgerError::Query)
    .and_then(only_row)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

pub(super) async fn newest_shares(db: &Db, limit: u64) -> Result<Vec<StoredShare>, LedgerError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    with_pool!(db, pool => {
        let rows = sqlx::query(NEWEST_SHARES)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(LedgerError::Query)?;
        rows.iter().map(share_from_row).collect()
    })
}

pub(super) async fn newest_blocks(db: &Db) -> Result<Vec<StoredBlock>, LedgerError> {
    with_pool!(db, pool => {
        let rows = sqlx::query(NEWEST_BLOCKS)
            .fetch_all(pool)
            .await
            .map_err(LedgerError::Query)?;
        rows.iter().map(block_from_row).collect()
    })
}

/// A Rust type both backends decode a column into.
pub(super) trait Column<DB: Database>: for<'r> Decode<'r, DB> + Type<DB> {}
impl<DB: Database, T: for<'r> Decode<'r, DB> + Type<DB>> Column<DB> for T {}

fn get<'r, R, T>(row: &'r R, column: &str) -> Result<T, LedgerError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(column).map_err(LedgerError::Query)
}

fn corrupt(
    table: &'static str,
    id: i64,
    column: &'static str,
    value: impl ToString,
) -> LedgerError {
    LedgerError::Corrupt {
        table,
        id,
        column,
        value: value.to_string(),
    }
}

fn share_from_row<R>(row: &R) -> Result<StoredShare, LedgerError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i32: Column<R::Database>,
    i64: Column<R::Database>,
    f64: Column<R::Database>,
    bool: Column<R::Database>,
    String: Column<R::Database>,
    Vec<u8>: Column<R::Database>,
{
    let id: i64 = get(row, "id")?;
    let node: i32 = get(row, "node")?;
    let job_id: i64 = get(row, "job_id")?;
    let hash: Vec<u8> = get(row, "hash")?;
    let credit_sat: i64 = get(row, "credit_sat")?;
    Ok(StoredShare {
        id,
        node: u8::try_from(node).map_err(|_| corrupt("shares", id, "node", node))?,
        address: get(row, "address")?,
        worker: get(row, "worker")?,
        job_id: job_id as u64,
        difficulty: get(row, "difficulty")?,
        network_difficulty: get(row, "network_difficulty")?,
        time_ms: get(row, "time_ms")?,
        is_block: get(row, "is_block")?,
        hash: <[u8; 32]>::try_from(hash.as_slice())
            .map_err(|_| corrupt("shares", id, "hash", format!("{} bytes", hash.len())))?,
        credit_sat: u64::try_from(credit_sat)
            .map_err(|_| corrupt("shares", id, "credit_sat", credit_sat))?,
        settled: get(row, "settled")?,
    })
}

pub(super) fn block_from_row<R>(row: &R) -> Result<StoredBlock, LedgerError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i32: Column<R::Database>,
    i64: Column<R::Database>,
    f64: Column<R::Database>,
    bool: Column<R::Database>,
    String: Column<R::Database>,
    Vec<u8>: Column<R::Database>,
{
    let id: i64 = get(row, "id")?;
    let node: i32 = get(row, "node")?;
    let height: i64 = get(row, "height")?;
    let coinbase_value_sat: i64 = get(row, "coinbase_value_sat")?;
    let mode: String = get(row, "mode")?;
    let status: String = get(row, "status")?;
    let pool_fee_sat: i64 = get(row, "pool_fee_sat")?;
    let window_shares: i64 = get(row, "window_shares")?;
    Ok(StoredBlock {
        id,
        node: u8::try_from(node).map_err(|_| corrupt("blocks", id, "node", node))?,
        height: u32::try_from(height).map_err(|_| corrupt("blocks", id, "height", height))?,
        hash: get(row, "hash")?,
        address: get(row, "address")?,
        worker: get(row, "worker")?,
        coinbase_value_sat: u64::try_from(coinbase_value_sat)
            .map_err(|_| corrupt("blocks", id, "coinbase_value_sat", coinbase_value_sat))?,
        time_ms: get(row, "time_ms")?,
        raw_hex: get(row, "raw_hex")?,
        answers: get(row, "answers")?,
        accepted: get(row, "accepted")?,
        mode: parse_mode(&mode).ok_or_else(|| corrupt("blocks", id, "mode", &mode))?,
        status: BlockStatus::parse(&status)
            .ok_or_else(|| corrupt("blocks", id, "status", &status))?,
        confirmations: get(row, "confirmations")?,
        credited: get(row, "credited")?,
        pool_fee_sat: u64::try_from(pool_fee_sat)
            .map_err(|_| corrupt("blocks", id, "pool_fee_sat", pool_fee_sat))?,
        window_shares: u64::try_from(window_shares)
            .map_err(|_| corrupt("blocks", id, "window_shares", window_shares))?,
        full_window: get(row, "full_window")?,
    })
}
