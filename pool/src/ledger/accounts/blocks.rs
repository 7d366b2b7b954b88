//! Block credits and the block lifecycle.
//!
//! A found block is credited once (PPLNS: its split over the window; SOLO:
//! the finder's coinbase output, for the record). Its credits stay
//! immature until the block has coinbase maturity, then move to the
//! balance journal in the same transaction that marks it confirmed; an
//! orphaned block's credits are reversed and never reach a balance.
//! Every transition is a conditional UPDATE on the block's status, so a
//! repeated or concurrent run changes nothing the second time.

use super::super::db::{first_row, with_pool};
use super::super::records::{BlockStatus, StoredBlock};
use super::super::{Ledger, LedgerError};
use super::{sats, to_column, unix_millis};
use sqlx::Row;

/// Where a block credit is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditState {
    /// Its block has not matured yet.
    Immature,
    /// In the balance journal.
    Matured,
    /// Its block was orphaned: never paid.
    Reversed,
    /// SOLO: the coinbase paid it directly; recorded only.
    Coinbase,
}

impl CreditState {
    pub fn name(self) -> &'static str {
        match self {
            CreditState::Immature => "immature",
            CreditState::Matured => "matured",
            CreditState::Reversed => "reversed",
            CreditState::Coinbase => "coinbase",
        }
    }

    fn parse(text: &str) -> Option<CreditState> {
        [
            CreditState::Immature,
            CreditState::Matured,
            CreditState::Reversed,
            CreditState::Coinbase,
        ]
        .into_iter()
        .find(|state| state.name() == text)
    }
}

/// One miner's credit from one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockCredit {
    pub block_id: i64,
    pub address: String,
    pub amount_sat: u64,
    /// Their shares in the window.
    pub shares: u64,
    /// Their window score (the payout crate's fixed-point raw value).
    pub score: u128,
    pub state: CreditState,
}

/// What crediting a block writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlockCredits {
    pub block_id: i64,
    pub pool_fee_sat: u64,
    /// The fee in force when it was credited.
    pub fee_basis_points: u32,
    pub window_target: u128,
    pub window_score: u128,
    pub window_shares: u64,
    pub full_window: bool,
    /// `(address, amount, shares, score)`.
    pub credits: Vec<(String, u64, u64, u128)>,
    /// Immature (PPLNS) or Coinbase (SOLO).
    pub state: CreditState,
}

/// A share as the PPLNS window reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRow {
    pub id: i64,
    pub time_ms: i64,
    pub address: String,
    pub difficulty: f64,
    pub network_difficulty: f64,
}

/// Where the next page of a window starts: strictly older than this
/// `(time_ms, id)`, across every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCursor {
    pub time_ms: i64,
    pub id: i64,
}

/// Every column but the block itself (`raw_hex` reads back empty): a
/// mainnet block is megabytes, and nothing here needs it.
const BLOCK_COLUMNS: &str = "id, node, height, hash, address, worker, coinbase_value_sat, \
     time_ms, '' AS raw_hex, answers, accepted, mode, status, confirmations, credited, pool_fee_sat, \
     window_shares, full_window";

const SHARE_OF_BLOCK: &str = "SELECT time_ms, id FROM shares WHERE hash = $1 \
     ORDER BY id LIMIT 1";

const WINDOW_PAGE: &str = "SELECT id, time_ms, address, difficulty, network_difficulty \
     FROM shares WHERE time_ms < $1 OR (time_ms = $1 AND id <= $2) \
     ORDER BY time_ms DESC, id DESC LIMIT $3";

const MARK_CREDITED: &str = "UPDATE blocks SET credited = $1, pool_fee_sat = $2, \
     window_target = $3, window_score = $4, window_shares = $5, full_window = $6, \
     fee_basis_points = $7 WHERE id = $8 AND credited = $9";

const INSERT_CREDIT: &str = "INSERT INTO block_credits \
     (block_id, address, amount_sat, shares, score, state) VALUES ($1, $2, $3, $4, $5, $6)";

const CREDITS_OF_BLOCK: &str = "SELECT block_id, address, amount_sat, shares, score, state \
     FROM block_credits WHERE block_id = $1 ORDER BY address";

const CREDITS_OF_ADDRESS: &str = "SELECT block_id, address, amount_sat, shares, score, state \
     FROM block_credits WHERE address = $1 ORDER BY block_id DESC";

const WINDOW_OF_BLOCK: &str = "SELECT window_score, fee_basis_points FROM blocks WHERE id = $1";

const SET_CONFIRMATIONS: &str = "UPDATE blocks SET confirmations = $1, status_ms = $2 \
     WHERE id = $3 AND status = 'submitted'";

const SET_STATUS: &str = "UPDATE blocks SET status = $1, confirmations = $2, status_ms = $3 \
     WHERE id = $4 AND status = 'submitted'";

const RESTORE_ORPHAN: &str = "UPDATE blocks SET status = 'submitted', confirmations = $1, \
     status_ms = $2 WHERE id = $3 AND status = 'orphaned'";

const RESTORE_CREDITS: &str = "UPDATE block_credits SET state = 'immature' \
     WHERE block_id = $1 AND state = 'reversed'";

const ORPHANED_SINCE: &str = "status = 'orphaned' AND status_ms >= $1";

const SET_CREDIT_STATE: &str = "UPDATE block_credits SET state = $1 \
     WHERE block_id = $2 AND state = 'immature'";

const MATURE_MOVES: &str =
    "INSERT INTO balance_moves (address, amount_sat, kind, reference, time_ms) \
     SELECT address, amount_sat, 'block', $1, $2 FROM block_credits \
     WHERE block_id = $3 AND state = 'immature' AND amount_sat > 0";

impl Ledger {
    /// One block by hash (display hex).
    pub async fn block_by_hash(&self, hash: &str) -> Result<Option<StoredBlock>, LedgerError> {
        let sql = format!("SELECT {BLOCK_COLUMNS} FROM blocks WHERE hash = $1");
        with_pool!(&self.inner.db, pool => {
            let row = sqlx::query(&sql)
                .bind(hash)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)
                .map(first_row)?;
            row.as_ref().map(super::super::queries::block_from_row).transpose()
        })
    }

    /// One block by id.
    pub async fn block_by_id(&self, id: i64) -> Result<Option<StoredBlock>, LedgerError> {
        let sql = format!("SELECT {BLOCK_COLUMNS} FROM blocks WHERE id = $1");
        with_pool!(&self.inner.db, pool => {
            let row = sqlx::query(&sql)
                .bind(id)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)
                .map(first_row)?;
            row.as_ref().map(super::super::queries::block_from_row).transpose()
        })
    }

    /// The newest `limit` blocks, newest first, without their raw hex
    /// (`raw_hex` is empty): what pages and reports need.
    pub async fn recent_blocks(&self, limit: u32) -> Result<Vec<StoredBlock>, LedgerError> {
        let sql = format!(
            "SELECT {BLOCK_COLUMNS} FROM blocks ORDER BY time_ms DESC, id DESC LIMIT {limit}"
        );
        with_pool!(&self.inner.db, pool => {
            let rows = sqlx::query(&sql).fetch_all(pool).await.map_err(LedgerError::Query)?;
            rows.iter().map(super::super::queries::block_from_row).collect()
        })
    }

    /// Blocks whose status can still change (submitted), oldest first.
    pub async fn blocks_in_flight(&self) -> Result<Vec<StoredBlock>, LedgerError> {
        self.blocks_where("status = 'submitted'").await
    }

    /// Blocks orphaned at or after `since_ms` (unix ms), oldest first: a
    /// reorg may still bring them back.
    pub async fn blocks_orphaned_since(
        &self,
        since_ms: i64,
    ) -> Result<Vec<StoredBlock>, LedgerError> {
        let sql = format!("SELECT {BLOCK_COLUMNS} FROM blocks WHERE {ORPHANED_SINCE} ORDER BY id");
        with_pool!(&self.inner.db, pool => {
            let rows = sqlx::query(&sql)
                .bind(since_ms)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)?;
            rows.iter().map(super::super::queries::block_from_row).collect()
        })
    }

    /// Orphaned → submitted, for a block a reorg brought back into the best
    /// chain: its reversed credits are immature again, in the same
    /// transaction (orphaning only ever reverses immature credits, so no
    /// balance moved). Returns false if it was not `orphaned`.
    pub async fn restore_orphaned_block(
        &self,
        block_id: i64,
        confirmations: i64,
    ) -> Result<bool, LedgerError> {
        let db = &self.inner.db;
        let begin = db.backend().begin_write();
        with_pool!(db, pool => {
            let mut tx = pool.begin_with(begin).await.map_err(LedgerError::Query)?;
            let changed = sqlx::query(RESTORE_ORPHAN)
                .bind(confirmations)
                .bind(unix_millis())
                .bind(block_id)
                .execute(&mut *tx)
                .await
                .map_err(LedgerError::Query)?;
            if changed.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query(RESTORE_CREDITS)
                .bind(block_id)
                .execute(&mut *tx)
                .await
                .map_err(LedgerError::Query)?;
            tx.commit().await.map_err(LedgerError::Query)?;
            Ok(true)
        })
    }

    /// Blocks not yet credited, oldest first.
    pub async fn uncredited_blocks(&self) -> Result<Vec<StoredBlock>, LedgerError> {
        self.blocks_where("credited = $1").await
    }

    async fn blocks_where(&self, condition: &str) -> Result<Vec<StoredBlock>, LedgerError> {
        let sql = format!("SELECT {BLOCK_COLUMNS} FROM blocks WHERE {condition} ORDER BY id");
        with_pool!(&self.inner.db, pool => {
            let mut query = sqlx::query(&sql);
            if condition.contains("$1") {
                query = query.bind(false);
            }
            let rows = query.fetch_all(pool).await.map_err(LedgerError::Query)?;
            rows.iter().map(super::super::queries::block_from_row).collect()
        })
    }

    /// Where a block's PPLNS window starts: its own share (found by the
    /// header hash, the block hash in internal byte order), else the last
    /// share recorded before the block was.
    pub async fn window_start(&self, block: &StoredBlock) -> Result<WindowCursor, LedgerError> {
        let internal = block_hash_internal(&block.hash);
        let found: Option<(i64, i64)> = match internal {
            Some(hash) => with_pool!(&self.inner.db, pool => {
                sqlx::query_as(SHARE_OF_BLOCK)
                    .bind(&hash[..])
                    .fetch_all(pool)
                    .await
                    .map_err(LedgerError::Query)
                    .map(first_row)?
            }),
            None => None,
        };
        Ok(match found {
            Some((time_ms, id)) => WindowCursor { time_ms, id },
            None => WindowCursor {
                time_ms: block.time_ms,
                id: i64::MAX,
            },
        })
    }

    /// Up to `limit` shares at or before `from`, newest first, from every
    /// node. The next page starts just before the last row returned.
    pub async fn window_page(
        &self,
        from: WindowCursor,
        limit: u32,
    ) -> Result<Vec<WindowRow>, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            let rows = sqlx::query(WINDOW_PAGE)
                .bind(from.time_ms)
                .bind(from.id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)?;
            rows.iter()
                .map(|row| {
                    Ok(WindowRow {
                        id: row.try_get("id").map_err(LedgerError::Query)?,
                        time_ms: row.try_get("time_ms").map_err(LedgerError::Query)?,
                        address: row.try_get("address").map_err(LedgerError::Query)?,
                        difficulty: row.try_get("difficulty").map_err(LedgerError::Query)?,
                        network_difficulty: row
                            .try_get("network_difficulty")
                            .map_err(LedgerError::Query)?,
                    })
                })
                .collect()
        })
    }

    /// Writes a block's credits once. Returns false, writing nothing, when
    /// the block was already credited (by another run or node).
    pub async fn write_block_credits(
        &self,
        credits: &NewBlockCredits,
    ) -> Result<bool, LedgerError> {
        let db = &self.inner.db;
        let begin = db.backend().begin_write();
        let pool_fee = to_column("block credits", "pool_fee_sat", credits.pool_fee_sat)?;
        let window_shares = i64::try_from(credits.window_shares).unwrap_or(i64::MAX);
        with_pool!(db, pool => {
            let mut tx = pool.begin_with(begin).await.map_err(LedgerError::Query)?;
            let marked = sqlx::query(MARK_CREDITED)
                .bind(true)
                .bind(pool_fee)
                .bind(credits.window_target.to_string())
                .bind(credits.window_score.to_string())
                .bind(window_shares)
                .bind(credits.full_window)
                .bind(i32::try_from(credits.fee_basis_points).unwrap_or(i32::MAX))
                .bind(credits.block_id)
                .bind(false)
                .execute(&mut *tx)
                .await
                .map_err(LedgerError::Query)?;
            if marked.rows_affected() == 0 {
                return Ok(false);
            }
            for (address, amount, shares, score) in &credits.credits {
                sqlx::query(INSERT_CREDIT)
                    .bind(credits.block_id)
                    .bind(address)
                    .bind(to_column("block credit", "amount_sat", *amount)?)
                    .bind(i64::try_from(*shares).unwrap_or(i64::MAX))
                    .bind(score.to_string())
                    .bind(credits.state.name())
                    .execute(&mut *tx)
                    .await
                    .map_err(LedgerError::Query)?;
            }
            tx.commit().await.map_err(LedgerError::Query)?;
            Ok(true)
        })
    }

    /// Every credit of one block, by address.
    pub async fn block_credits(&self, block_id: i64) -> Result<Vec<BlockCredit>, LedgerError> {
        self.credits_query(CreditsOf::Block(block_id)).await
    }

    /// Every block credit of one address, newest block first.
    pub async fn credits_of(&self, address: &str) -> Result<Vec<BlockCredit>, LedgerError> {
        self.credits_query(CreditsOf::Address(address)).await
    }

    async fn credits_query(&self, of: CreditsOf<'_>) -> Result<Vec<BlockCredit>, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            let query = match of {
                CreditsOf::Block(id) => sqlx::query(CREDITS_OF_BLOCK).bind(id),
                CreditsOf::Address(address) => sqlx::query(CREDITS_OF_ADDRESS).bind(address),
            };
            let rows = query.fetch_all(pool).await.map_err(LedgerError::Query)?;
            rows.iter().map(credit_from_row).collect()
        })
    }

    /// How `address`'s credit from block `block_id` was computed: its
    /// shares and score in the window, the window's total, the reward and
    /// the fee. `None` when the block does not exist or is not credited.
    pub async fn explain_credit(
        &self,
        block_id: i64,
        address: &str,
    ) -> Result<Option<payout::Explanation>, LedgerError> {
        let Some(block) = self.block_by_id(block_id).await? else {
            return Ok(None);
        };
        if !block.credited {
            return Ok(None);
        }
        let window: Option<(String, i32)> = with_pool!(&self.inner.db, pool => {
            sqlx::query_as(WINDOW_OF_BLOCK)
                .bind(block_id)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)
                .map(first_row)?
        });
        let (total, fee_basis_points) = window.unwrap_or_default();
        let corrupt = |column, value: String| LedgerError::Corrupt {
            table: "blocks",
            id: block_id,
            column,
            value,
        };
        let window_score: u128 = total
            .parse()
            .map_err(|_| corrupt("window_score", total.clone()))?;
        let fee = u32::try_from(fee_basis_points)
            .ok()
            .and_then(|bp| payout::Fee::from_basis_points(bp).ok())
            .ok_or_else(|| corrupt("fee_basis_points", fee_basis_points.to_string()))?;
        let credit = self
            .block_credits(block_id)
            .await?
            .into_iter()
            .find(|credit| credit.address == address);
        let pool_fee = block.pool_fee_sat;
        Ok(Some(payout::Explanation {
            address: address.to_string(),
            shares: credit.as_ref().map_or(0, |credit| credit.shares),
            score: payout::Score::from_raw(credit.as_ref().map_or(0, |credit| credit.score)),
            window_score: payout::Score::from_raw(window_score),
            full_window: block.full_window,
            coinbase_value: block.coinbase_value_sat,
            fee,
            pool_fee,
            miners_reward: block.coinbase_value_sat.saturating_sub(pool_fee),
            amount: credit.as_ref().map_or(0, |credit| credit.amount_sat),
        }))
    }

    /// Records how deep a submitted block now is.
    pub async fn set_block_confirmations(
        &self,
        block_id: i64,
        confirmations: i64,
    ) -> Result<(), LedgerError> {
        with_pool!(&self.inner.db, pool => {
            sqlx::query(SET_CONFIRMATIONS)
                .bind(confirmations)
                .bind(unix_millis())
                .bind(block_id)
                .execute(pool)
                .await
                .map_err(LedgerError::Query)?;
            Ok(())
        })
    }

    /// Submitted → confirmed: its immature credits become balance moves,
    /// in the same transaction. Returns false if it was not `submitted`.
    pub async fn confirm_block(
        &self,
        block_id: i64,
        confirmations: i64,
    ) -> Result<bool, LedgerError> {
        self.finish_block(block_id, BlockStatus::Confirmed, confirmations)
            .await
    }

    /// Submitted → orphaned: its immature credits are reversed. Returns
    /// false if it was not `submitted`.
    pub async fn orphan_block(&self, block_id: i64) -> Result<bool, LedgerError> {
        self.finish_block(block_id, BlockStatus::Orphaned, -1).await
    }

    async fn finish_block(
        &self,
        block_id: i64,
        status: BlockStatus,
        confirmations: i64,
    ) -> Result<bool, LedgerError> {
        let db = &self.inner.db;
        let begin = db.backend().begin_write();
        let now = unix_millis();
        let credit_state = match status {
            BlockStatus::Confirmed => CreditState::Matured,
            _ => CreditState::Reversed,
        };
        with_pool!(db, pool => {
            let mut tx = pool.begin_with(begin).await.map_err(LedgerError::Query)?;
            let changed = sqlx::query(SET_STATUS)
                .bind(status.name())
                .bind(confirmations)
                .bind(now)
                .bind(block_id)
                .execute(&mut *tx)
                .await
                .map_err(LedgerError::Query)?;
            if changed.rows_affected() == 0 {
                return Ok(false);
            }
            if status == BlockStatus::Confirmed {
                sqlx::query(MATURE_MOVES)
                    .bind(block_id.to_string())
                    .bind(now)
                    .bind(block_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(LedgerError::Query)?;
            }
            sqlx::query(SET_CREDIT_STATE)
                .bind(credit_state.name())
                .bind(block_id)
                .execute(&mut *tx)
                .await
                .map_err(LedgerError::Query)?;
            tx.commit().await.map_err(LedgerError::Query)?;
            Ok(true)
        })
    }
}

enum CreditsOf<'a> {
    Block(i64),
    Address(&'a str),
}

fn credit_from_row<R>(row: &R) -> Result<BlockCredit, LedgerError>
where
    R: Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let get_i64 = |column| row.try_get::<i64, _>(column).map_err(LedgerError::Query);
    let get_text = |column| row.try_get::<String, _>(column).map_err(LedgerError::Query);
    let block_id = get_i64("block_id")?;
    let score = get_text("score")?;
    let state = get_text("state")?;
    let corrupt = |column, value: &str| LedgerError::Corrupt {
        table: "block_credits",
        id: block_id,
        column,
        value: value.to_string(),
    };
    Ok(BlockCredit {
        block_id,
        address: get_text("address")?,
        amount_sat: sats(
            "block_credits",
            block_id,
            "amount_sat",
            get_i64("amount_sat")?,
        )?,
        shares: sats("block_credits", block_id, "shares", get_i64("shares")?)?,
        score: score.parse().map_err(|_| corrupt("score", &score))?,
        state: CreditState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
    })
}

/// The block hash's display hex in the byte order shares store it.
fn block_hash_internal(display: &str) -> Option<[u8; 32]> {
    let mut bytes = <[u8; 32]>::try_from(hex::decode(display).ok()?.as_slice()).ok()?;
    bytes.reverse();
    Some(bytes)
}
