//! Payout batches. A batch is written, with its balances debited, before
//! the wallet is asked to send; its id is the wallet transaction's comment.
//! A batch left `pending` by a crash is resolved against the wallet by the
//! next run: sent (record the txid) or not (cancel: the debits are given
//! back). So no balance is paid twice or lost, wherever a run stops.
//!
//! A sent batch is then followed until its transaction is buried:
//! `confirmed`, or `reversed` (debits given back, to be paid again) once a
//! conflicting transaction is buried instead. A fee bump's replacement
//! takes over the batch's txid.

use super::super::db::with_pool;
use super::super::{Ledger, LedgerError};
use super::{sats, to_column, unix_millis};
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    /// Recorded and debited; the wallet may or may not have sent it.
    Pending,
    /// The wallet sent it: `txid` is known.
    Sent,
    /// Never sent: its debits were given back.
    Cancelled,
    /// Its transaction is buried in the chain: the miners have the coins.
    Confirmed,
    /// Its transaction can no longer confirm (a conflicting one is
    /// buried): its debits were given back.
    Reversed,
}

impl BatchState {
    pub fn name(self) -> &'static str {
        match self {
            BatchState::Pending => "pending",
            BatchState::Sent => "sent",
            BatchState::Cancelled => "cancelled",
            BatchState::Confirmed => "confirmed",
            BatchState::Reversed => "reversed",
        }
    }

    /// A state as the ledger stores it; anything else is corruption.
    fn stored(text: String) -> Result<BatchState, LedgerError> {
        [
            BatchState::Pending,
            BatchState::Sent,
            BatchState::Cancelled,
            BatchState::Confirmed,
            BatchState::Reversed,
        ]
        .into_iter()
        .find(|state| state.name() == text)
        .ok_or(LedgerError::Corrupt {
            table: "payout_batches",
            id: 0,
            column: "state",
            value: text,
        })
    }
}

/// One address's line in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutLine {
    pub address: String,
    pub amount_sat: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutBatch {
    pub id: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub state: BatchState,
    pub total_sat: u64,
    pub txid: Option<String>,
    /// Why it was cancelled, or how it was resolved.
    pub note: String,
    pub lines: Vec<PayoutLine>,
}

const INSERT_BATCH: &str = "INSERT INTO payout_batches \
     (id, created_ms, updated_ms, state, total_sat, txid, note) VALUES ($1, $2, $2, 'pending', $3, NULL, '')";

const INSERT_LINE: &str = "INSERT INTO payouts (batch_id, address, amount_sat) VALUES ($1, $2, $3)";

const INSERT_MOVE: &str = "INSERT INTO balance_moves \
     (address, amount_sat, kind, reference, time_ms) VALUES ($1, $2, $3, $4, $5)";

const BALANCE_OF: &str = "SELECT CAST(COALESCE(SUM(amount_sat), 0) AS BIGINT) FROM balance_moves \
     WHERE address = $1";

// Every state change binds the time as $1, the batch id as $2, the note
// as $3, then its own values: `change_batch` runs them all.

const MARK_SENT: &str = "UPDATE payout_batches SET state = 'sent', updated_ms = $1, note = $3, \
     txid = $4 WHERE id = $2 AND state = 'pending'";

const MARK_CANCELLED: &str = "UPDATE payout_batches SET state = 'cancelled', updated_ms = $1, \
     note = $3 WHERE id = $2 AND state = 'pending'";

const MARK_CONFIRMED: &str = "UPDATE payout_batches SET state = 'confirmed', updated_ms = $1, \
     note = $3 WHERE id = $2 AND state = 'sent'";

const MARK_REVERSED: &str = "UPDATE payout_batches SET state = 'reversed', updated_ms = $1, \
     note = $3 WHERE id = $2 AND state = 'sent'";

const MARK_REPLACED: &str = "UPDATE payout_batches SET updated_ms = $1, note = $3, txid = $4 \
     WHERE id = $2 AND state = 'sent' AND txid = $5";

/// `kind` tells a cancelled batch's give-back from a reversed one's; the
/// journal's unique (kind, reference, address) makes each happen once.
const GIVE_BACK: &str =
    "INSERT INTO balance_moves (address, amount_sat, kind, reference, time_ms) \
     SELECT address, amount_sat, $1, batch_id, $2 FROM payouts WHERE batch_id = $3";

const BATCH_COLUMNS: &str = "id, created_ms, updated_ms, state, total_sat, txid, note";

const LINES_OF: &str =
    "SELECT address, amount_sat FROM payouts WHERE batch_id = $1 ORDER BY address";

/// One payment to one address, as its miner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub batch_id: String,
    pub state: BatchState,
    pub txid: Option<String>,
    pub amount_sat: u64,
    pub created_ms: i64,
}

const PAYMENTS_OF: &str = "SELECT b.id, b.state, b.txid, b.created_ms, p.amount_sat \
     FROM payouts p JOIN payout_batches b ON b.id = p.batch_id \
     WHERE p.address = $1 ORDER BY b.created_ms DESC, b.id DESC LIMIT $2";

impl Ledger {
    /// The newest `limit` payments to `address`, newest first (cancelled
    /// batches included: their state says so).
    pub async fn payments_to(
        &self,
        address: &str,
        limit: u32,
    ) -> Result<Vec<Payment>, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            let rows = sqlx::query(PAYMENTS_OF)
                .bind(address)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)?;
            rows.iter()
                .map(|row| {
                    let state: String = row.try_get("state").map_err(LedgerError::Query)?;
                    let amount: i64 = row.try_get("amount_sat").map_err(LedgerError::Query)?;
                    Ok(Payment {
                        batch_id: row.try_get("id").map_err(LedgerError::Query)?,
                        state: BatchState::stored(state)?,
                        txid: row.try_get("txid").map_err(LedgerError::Query)?,
                        amount_sat: sats("payouts", 0, "amount_sat", amount)?,
                        created_ms: row.try_get("created_ms").map_err(LedgerError::Query)?,
                    })
                })
                .collect()
        })
    }

    /// Records a batch and debits each balance, in one transaction.
    /// Refuses (writing nothing) a line larger than its balance or not
    /// positive: a payout never makes a balance negative.
    pub async fn create_batch(
        &self,
        id: &str,
        lines: &[PayoutLine],
    ) -> Result<PayoutBatch, LedgerError> {
        let total: u64 = lines.iter().map(|line| line.amount_sat).sum();
        let total_column = to_column("payout batch", "total_sat", total)?;
        let db = &self.inner.db;
        let begin = db.backend().begin_write();
        let now = unix_millis();
        with_pool!(db, pool => {
            let mut tx = pool.begin_with(begin).await.map_err(LedgerError::Query)?;
            sqlx::query(INSERT_BATCH)
                .bind(id)
                .bind(now)
                .bind(total_column)
                .execute(&mut *tx)
                .await
                .map_err(LedgerError::Query)?;
            for line in lines {
                let amount = to_column("payout", "amount_sat", line.amount_sat)?;
                let balance: i64 = sqlx::query_scalar(BALANCE_OF)
                    .bind(&line.address)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(LedgerError::Query)?;
                if amount <= 0 || amount > balance {
                    return Err(LedgerError::Invalid {
                        record: "payout",
                        field: "amount_sat",
                        reason: "is not positive or exceeds the address's balance",
                    });
                }
                sqlx::query(INSERT_LINE)
                    .bind(id)
                    .bind(&line.address)
                    .bind(amount)
                    .execute(&mut *tx)
                    .await
                    .map_err(LedgerError::Query)?;
                sqlx::query(INSERT_MOVE)
                    .bind(&line.address)
                    .bind(-amount)
                    .bind("payout")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(LedgerError::Query)?;
            }
            tx.commit().await.map_err(LedgerError::Query)?;
            Ok(())
        })?;
        self.batch(id).await?.ok_or(LedgerError::Closed)
    }

    /// Pending → sent with the wallet's txid. False if it was not pending.
    pub async fn mark_batch_sent(
        &self,
        id: &str,
        txid: &str,
        note: &str,
    ) -> Result<bool, LedgerError> {
        self.change_batch(MARK_SENT, id, note, &[txid]).await
    }

    /// Runs one of the `MARK_*` changes; whether it changed the batch.
    async fn change_batch(
        &self,
        sql: &str,
        id: &str,
        note: &str,
        values: &[&str],
    ) -> Result<bool, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            let mut query = sqlx::query(sql).bind(unix_millis()).bind(id).bind(note);
            for value in values {
                query = query.bind(*value);
            }
            let done = query.execute(pool).await.map_err(LedgerError::Query)?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Pending → cancelled, giving every debit back, in one transaction.
    /// False (nothing changed) if it was not pending.
    pub async fn cancel_batch(&self, id: &str, why: &str) -> Result<bool, LedgerError> {
        self.give_back(id, MARK_CANCELLED, "payout_cancelled", why)
            .await
    }

    /// Sent → reversed, giving every debit back, in one transaction: its
    /// transaction can never confirm. False if it was not sent.
    pub async fn reverse_batch(&self, id: &str, why: &str) -> Result<bool, LedgerError> {
        self.give_back(id, MARK_REVERSED, "payout_reversed", why)
            .await
    }

    async fn give_back(
        &self,
        id: &str,
        mark: &str,
        kind: &str,
        why: &str,
    ) -> Result<bool, LedgerError> {
        let db = &self.inner.db;
        let begin = db.backend().begin_write();
        let now = unix_millis();
        with_pool!(db, pool => {
            let mut tx = pool.begin_with(begin).await.map_err(LedgerError::Query)?;
            let done = sqlx::query(mark)
                .bind(now)
                .bind(id)
                .bind(why)
                .execute(&mut *tx)
                .await
                .map_err(LedgerError::Query)?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query(GIVE_BACK)
                .bind(kind)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(LedgerError::Query)?;
            tx.commit().await.map_err(LedgerError::Query)?;
            Ok(true)
        })
    }

    /// Sent → confirmed. False if it was not sent.
    pub async fn confirm_batch(&self, id: &str, note: &str) -> Result<bool, LedgerError> {
        self.change_batch(MARK_CONFIRMED, id, note, &[]).await
    }

    /// A sent batch's transaction `old` was replaced (a fee bump) by
    /// `new`: the batch follows `new`. False if it was not sent with `old`.
    pub async fn replace_batch_txid(
        &self,
        id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, LedgerError> {
        let note = format!("{old} replaced by {new} in the wallet");
        self.change_batch(MARK_REPLACED, id, &note, &[new, old])
            .await
    }

    /// One batch with its lines.
    pub async fn batch(&self, id: &str) -> Result<Option<PayoutBatch>, LedgerError> {
        let sql = format!("SELECT {BATCH_COLUMNS} FROM payout_batches WHERE id = $1");
        Ok(self.batches_query(&sql, Some(id)).await?.pop())
    }

    /// Batches still pending, oldest first.
    pub async fn pending_batches(&self) -> Result<Vec<PayoutBatch>, LedgerError> {
        let sql = format!(
            "SELECT {BATCH_COLUMNS} FROM payout_batches WHERE state = 'pending' ORDER BY created_ms, id"
        );
        self.batches_query(&sql, None).await
    }

    /// Batches sent and not yet confirmed or reversed, oldest first.
    pub async fn sent_batches(&self) -> Result<Vec<PayoutBatch>, LedgerError> {
        let sql = format!(
            "SELECT {BATCH_COLUMNS} FROM payout_batches WHERE state = 'sent' ORDER BY created_ms, id"
        );
        self.batches_query(&sql, None).await
    }

    /// Every batch, newest first.
    pub async fn batches(&self) -> Result<Vec<PayoutBatch>, LedgerError> {
        let sql =
            format!("SELECT {BATCH_COLUMNS} FROM payout_batches ORDER BY created_ms DESC, id DESC");
        self.batches_query(&sql, None).await
    }

    async fn batches_query(
        &self,
        sql: &str,
        id: Option<&str>,
    ) -> Result<Vec<PayoutBatch>, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            let mut query = sqlx::query(sql);
            if let Some(id) = id {
                query = query.bind(id);
            }
            let rows = query.fetch_all(pool).await.map_err(LedgerError::Query)?;
            let mut batches = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: String = row.try_get("id").map_err(LedgerError::Query)?;
                let state: String = row.try_get("state").map_err(LedgerError::Query)?;
                let total: i64 = row.try_get("total_sat").map_err(LedgerError::Query)?;
                let line_rows = sqlx::query(LINES_OF)
                    .bind(&id)
                    .fetch_all(pool)
                    .await
                    .map_err(LedgerError::Query)?;
                let mut lines = Vec::with_capacity(line_rows.len());
                for line in &line_rows {
                    let amount: i64 = line.try_get("amount_sat").map_err(LedgerError::Query)?;
                    lines.push(PayoutLine {
                        address: line.try_get("address").map_err(LedgerError::Query)?,
                        amount_sat: sats("payouts", 0, "amount_sat", amount)?,
                    });
                }
                batches.push(PayoutBatch {
                    state: BatchState::stored(state)?,
                    created_ms: row.try_get("created_ms").map_err(LedgerError::Query)?,
                    updated_ms: row.try_get("updated_ms").map_err(LedgerError::Query)?,
                    total_sat: sats("payout_batches", 0, "total_sat", total)?,
                    txid: row.try_get("txid").map_err(LedgerError::Query)?,
                    note: row.try_get("note").map_err(LedgerError::Query)?,
                    lines,
                    id,
                });
            }
            Ok(batches)
        })
    }
}
