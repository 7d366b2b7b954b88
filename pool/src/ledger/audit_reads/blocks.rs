//! Blocks, their credits and the PPLNS windows behind them, as stored.

use super::{on_conn, query, LedgerSnapshot};
use crate::ledger::accounts::WindowCursor;
use crate::ledger::LedgerError;
use sqlx::Row;

/// A block row without its raw hex.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditBlock {
    pub id: i64,
    pub height: i64,
    /// Display hex.
    pub hash: String,
    pub address: String,
    pub coinbase_value_sat: i64,
    pub time_ms: i64,
    pub mode: String,
    pub status: String,
    pub credited: bool,
    pub pool_fee_sat: i64,
    pub fee_basis_points: i32,
    /// The payout crate's fixed-point score, as decimal text.
    pub window_target: String,
    pub window_score: String,
    pub window_shares: i64,
    pub full_window: bool,
}

/// One row of `block_credits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCredit {
    pub address: String,
    pub amount_sat: i64,
    pub shares: i64,
    pub score: String,
    pub state: String,
}

/// When a block that stayed in the chain was found, and at which height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeight {
    pub time_ms: i64,
    pub height: i64,
}

/// A share as a PPLNS window reads it; `removed` when it comes from
/// `duplicate_shares` (a copy migration 5 took out of `shares`).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowShareRow {
    pub id: i64,
    pub time_ms: i64,
    pub address: String,
    pub difficulty: f64,
    pub network_difficulty: f64,
    pub removed: bool,
}

const BLOCKS_PAGE: &str = "SELECT id, height, hash, address, coinbase_value_sat, time_ms, mode, \
     status, credited, pool_fee_sat, fee_basis_points, window_target, window_score, \
     window_shares, full_window FROM blocks WHERE id > $1 ORDER BY id LIMIT $2";

const HEIGHTS: &str = "SELECT time_ms, height FROM blocks WHERE status <> 'orphaned' \
     ORDER BY time_ms, id";

const CREDITS_OF_BLOCK: &str = "SELECT address, amount_sat, shares, score, state \
     FROM block_credits WHERE block_id = $1 ORDER BY address";

/// As `Ledger::window_start` finds it: the block's own share by hash.
const SHARE_OF_BLOCK: &str = "SELECT time_ms, id FROM shares WHERE hash = $1 ORDER BY id LIMIT 1";

const SHARE_OF_BLOCK_WITH_REMOVED: &str = "SELECT time_ms, id FROM \
     (SELECT time_ms, id FROM shares WHERE hash = $1 \
      UNION ALL SELECT time_ms, id FROM duplicate_shares WHERE hash = $1) AS found \
     ORDER BY id LIMIT 1";

/// As `Ledger::window_page` reads it: newest first from the cursor on.
const WINDOW_PAGE: &str = "SELECT id, time_ms, address, difficulty, network_difficulty, \
     CAST(0 AS BIGINT) AS removed FROM shares WHERE time_ms < $1 OR (time_ms = $1 AND id <= $2) \
     ORDER BY time_ms DESC, id DESC LIMIT $3";

const WINDOW_PAGE_WITH_REMOVED: &str = "SELECT id, time_ms, address, difficulty, \
     network_difficulty, removed FROM \
     (SELECT id, time_ms, address, difficulty, network_difficulty, CAST(0 AS BIGINT) AS removed \
      FROM shares WHERE time_ms < $1 OR (time_ms = $1 AND id <= $2) \
      UNION ALL \
      SELECT id, time_ms, address, difficulty, network_difficulty, CAST(1 AS BIGINT) AS removed \
      FROM duplicate_shares WHERE time_ms < $1 OR (time_ms = $1 AND id <= $2)) AS seen \
     ORDER BY time_ms DESC, id DESC LIMIT $3";

impl LedgerSnapshot {
    /// Up to `limit` blocks with an id above `after_id`, by id.
    pub async fn blocks_page(
        &mut self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<AuditBlock>, LedgerError> {
        on_conn!(self, conn => {
            let rows = sqlx::query(BLOCKS_PAGE)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            rows.iter()
                .map(|row| {
                    Ok(AuditBlock {
                        id: row.try_get("id").map_err(query)?,
                        height: row.try_get("height").map_err(query)?,
                        hash: row.try_get("hash").map_err(query)?,
                        address: row.try_get("address").map_err(query)?,
                        coinbase_value_sat: row.try_get("coinbase_value_sat").map_err(query)?,
                        time_ms: row.try_get("time_ms").map_err(query)?,
                        mode: row.try_get("mode").map_err(query)?,
                        status: row.try_get("status").map_err(query)?,
                        credited: row.try_get("credited").map_err(query)?,
                        pool_fee_sat: row.try_get("pool_fee_sat").map_err(query)?,
                        fee_basis_points: row.try_get("fee_basis_points").map_err(query)?,
                        window_target: row.try_get("window_target").map_err(query)?,
                        window_score: row.try_get("window_score").map_err(query)?,
                        window_shares: row.try_get("window_shares").map_err(query)?,
                        full_window: row.try_get("full_window").map_err(query)?,
                    })
                })
                .collect()
        })
    }

    /// Every block not orphaned, oldest first: one small row per block.
    pub async fn block_heights(&mut self) -> Result<Vec<BlockHeight>, LedgerError> {
        on_conn!(self, conn => {
            let rows: Vec<(i64, i64)> = sqlx::query_as(HEIGHTS)
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            Ok(rows
                .into_iter()
                .map(|(time_ms, height)| BlockHeight { time_ms, height })
                .collect())
        })
    }

    /// Every credit of one block, by address.
    pub async fn credits_of_block(
        &mut self,
        block_id: i64,
    ) -> Result<Vec<AuditCredit>, LedgerError> {
        on_conn!(self, conn => {
            let rows = sqlx::query(CREDITS_OF_BLOCK)
                .bind(block_id)
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            rows.iter()
                .map(|row| {
                    Ok(AuditCredit {
                        address: row.try_get("address").map_err(query)?,
                        amount_sat: row.try_get("amount_sat").map_err(query)?,
                        shares: row.try_get("shares").map_err(query)?,
                        score: row.try_get("score").map_err(query)?,
                        state: row.try_get("state").map_err(query)?,
                    })
                })
                .collect()
        })
    }

    /// Where the window of the block `hash` (display hex) starts, as the
    /// crediting found it: its own share, else the last share recorded
    /// before `time_ms`. With `removed`, copies in `duplicate_shares`
    /// count as they did before migration 5 took them out.
    pub async fn window_start(
        &mut self,
        hash: &str,
        time_ms: i64,
        removed: bool,
    ) -> Result<WindowCursor, LedgerError> {
        let fallback = WindowCursor {
            time_ms,
            id: i64::MAX,
        };
        let Some(internal) = internal_hash(hash) else {
            return Ok(fallback);
        };
        let sql = if removed {
            SHARE_OF_BLOCK_WITH_REMOVED
        } else {
            SHARE_OF_BLOCK
        };
        on_conn!(self, conn => {
            let rows: Vec<(i64, i64)> = sqlx::query_as(sql)
                .bind(&internal[..])
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            Ok(rows
                .into_iter()
                .next()
                .map_or(fallback, |(time_ms, id)| WindowCursor { time_ms, id }))
        })
    }

    /// Up to `limit` shares at or before `from`, newest first (with
    /// `removed`, `duplicate_shares` too).
    pub async fn window_page(
        &mut self,
        from: WindowCursor,
        limit: u32,
        removed: bool,
    ) -> Result<Vec<WindowShareRow>, LedgerError> {
        let sql = if removed {
            WINDOW_PAGE_WITH_REMOVED
        } else {
            WINDOW_PAGE
        };
        on_conn!(self, conn => {
            let rows = sqlx::query(sql)
                .bind(from.time_ms)
                .bind(from.id)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await
                .map_err(query)?;
            rows.iter()
                .map(|row| {
                    let removed: i64 = row.try_get("removed").map_err(query)?;
                    Ok(WindowShareRow {
                        id: row.try_get("id").map_err(query)?,
                        time_ms: row.try_get("time_ms").map_err(query)?,
                        address: row.try_get("address").map_err(query)?,
                        difficulty: row.try_get("difficulty").map_err(query)?,
                        network_difficulty: row.try_get("network_difficulty").map_err(query)?,
                        removed: removed != 0,
                    })
                })
                .collect()
        })
    }
}

/// The block hash's display hex in the byte order shares store it.
fn internal_hash(display: &str) -> Option<[u8; 32]> {
    let mut bytes = <[u8; 32]>::try_from(hex::decode(display).ok()?.as_slice()).ok()?;
    bytes.reverse();
    Some(bytes)
}
