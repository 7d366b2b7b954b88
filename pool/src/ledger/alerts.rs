//! The record of alerts: what was sent to which webhook, and how each
//! delivery went.

use super::db::{first_row, only_row, with_pool};
use super::{Ledger, LedgerError};
use sqlx::Row;

/// An alert as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlert {
    pub id: i64,
    pub kind: String,
    pub address: String,
    pub worker: String,
    pub url: String,
    pub payload: String,
    pub created_ms: i64,
    pub attempts: i64,
    pub delivered_ms: Option<i64>,
    pub last_error: String,
}

const INSERT_ALERT: &str = "INSERT INTO alerts (kind, address, worker, url, payload, created_ms) \
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";

const ATTEMPT: &str = "UPDATE alerts SET attempts = attempts + 1, delivered_ms = $1, \
     last_error = $2 WHERE id = $3";

const NEWEST: &str = "SELECT id, kind, address, worker, url, payload, created_ms, attempts, \
     delivered_ms, last_error FROM alerts ORDER BY id DESC LIMIT $1";

const SET_WEBHOOK: &str =
    "INSERT INTO miner_webhooks (address, url, updated_ms) VALUES ($1, $2, $3) \
     ON CONFLICT (address) DO UPDATE SET url = excluded.url, updated_ms = excluded.updated_ms";

impl Ledger {
    /// Sets (or, with `None`, removes) the webhook a miner chose.
    pub async fn set_miner_webhook(
        &self,
        address: &str,
        url: Option<&str>,
        now_ms: i64,
    ) -> Result<(), LedgerError> {
        with_pool!(&self.inner.db, pool => {
            let query = match url {
                Some(url) => sqlx::query(SET_WEBHOOK).bind(address).bind(url).bind(now_ms),
                None => sqlx::query("DELETE FROM miner_webhooks WHERE address = $1").bind(address),
            };
            query.execute(pool).await.map_err(LedgerError::Query)?;
            Ok(())
        })
    }

    /// The webhook a miner set, and when (unix ms).
    pub async fn miner_webhook(&self, address: &str) -> Result<Option<(String, i64)>, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            sqlx::query_as("SELECT url, updated_ms FROM miner_webhooks WHERE address = $1")
                .bind(address)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)
                .map(first_row)
        })
    }

    /// Records an alert before it is sent; its id.
    pub async fn record_alert(
        &self,
        kind: &str,
        address: &str,
        worker: &str,
        url: &str,
        payload: &str,
        created_ms: i64,
    ) -> Result<i64, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            sqlx::query_scalar(INSERT_ALERT)
                .bind(kind)
                .bind(address)
                .bind(worker)
                .bind(url)
                .bind(payload)
                .bind(created_ms)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)
                .and_then(only_row)
        })
    }

    /// Notes one delivery attempt: delivered at `delivered_ms`, or failed
    /// with `error`.
    pub async fn alert_attempt(
        &self,
        id: i64,
        delivered_ms: Option<i64>,
        error: &str,
    ) -> Result<(), LedgerError> {
        with_pool!(&self.inner.db, pool => {
            sqlx::query(ATTEMPT)
                .bind(delivered_ms)
                .bind(error)
                .bind(id)
                .execute(pool)
                .await
                .map_err(LedgerError::Query)?;
            Ok(())
        })
    }

    /// The newest `limit` alerts, newest first.
    pub async fn alerts(&self, limit: u32) -> Result<Vec<StoredAlert>, LedgerError> {
        with_pool!(&self.inner.db, pool => {
            let rows = sqlx::query(NEWEST)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)?;
            rows.iter()
                .map(|row| {
                    let get = |column| row.try_get::<String, _>(column).map_err(LedgerError::Query);
                    Ok(StoredAlert {
                        id: row.try_get("id").map_err(LedgerError::Query)?,
                        kind: get("kind")?,
                        address: get("address")?,
                        worker: get("worker")?,
                        url: get("url")?,
                        payload: get("payload")?,
                        created_ms: row.try_get("created_ms").map_err(LedgerError::Query)?,
                        attempts: row.try_get("attempts").map_err(LedgerError::Query)?,
                        delivered_ms: row.try_get("delivered_ms").map_err(LedgerError::Query)?,
                        last_error: get("last_error")?,
                    })
                })
                .collect()
        })
    }
}
