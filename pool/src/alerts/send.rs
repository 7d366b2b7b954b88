//! Delivery: each alert to each webhook in a task of its own (one slow
//! receiver delays nobody), retried with backoff, every attempt recorded.

use super::{public, Alert};
use crate::ledger::Ledger;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};

/// Attempts per alert and webhook; waits double from the first.
const ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries in flight at once.
const IN_FLIGHT: usize = 16;

/// Who gets an alert.
#[derive(Debug, Clone)]
pub(super) struct Recipients {
    /// The operator's webhooks: every block alert, and the worker alerts
    /// of `addresses` (all when empty).
    pub operator: Vec<String>,
    pub addresses: Vec<String>,
    /// Whether the webhook a miner set gets their alerts.
    pub miners: bool,
    /// Whether miners' webhooks may lead to non-public addresses.
    pub miners_private: bool,
    pub miners_http: bool,
}

/// One delivery's target.
struct Target {
    url: String,
    /// Set by a miner: sent only to public addresses, as it was when set.
    by_miner: bool,
}

impl Recipients {
    async fn of(&self, alert: &Alert, ledger: &Ledger) -> Vec<Target> {
        let mut targets = Vec::new();
        let operator_wants = alert.kind == "block_found"
            || self.addresses.is_empty()
            || self.addresses.contains(&alert.address);
        if operator_wants {
            targets.extend(self.operator.iter().map(|url| Target {
                url: url.clone(),
                by_miner: false,
            }));
        }
        if self.miners {
            match ledger.miner_webhook(&alert.address).await {
                Ok(Some((url, _))) if !targets.iter().any(|target| target.url == url) => targets
                    .push(Target {
                        url,
                        by_miner: true,
                    }),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot read the miner's webhook"),
            }
        }
        targets
    }
}

pub(super) async fn deliver(
    mut alerts: mpsc::Receiver<Alert>,
    recipients: Recipients,
    ledger: Ledger,
    mut shutdown: watch::Receiver<bool>,
) {
    let clients = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("pool/", env!("CARGO_PKG_VERSION")))
        .build()
        .and_then(|operator| {
            let miners = public::miner_client(TIMEOUT, recipients.miners_private)?;
            Ok((operator, miners))
        });
    let (operator_client, miner_client) = match clients {
        Ok(clients) => clients,
        Err(error) => {
            tracing::error!(%error, "alerts disabled: no HTTP client");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let alert = tokio::select! {
            alert = alerts.recv() => match alert {
                Some(alert) => alert,
                None => return,
            },
            _ = shutdown.wait_for(|&stop| stop) => return,
        };
        let payload = match serde_json::to_string(&alert) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(%error, "alert not serialisable");
                continue;
            }
        };
        for target in recipients.of(&alert, &ledger).await {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let client = if target.by_miner {
                miner_client.clone()
            } else {
                operator_client.clone()
            };
            // Set under other rules (an operator since tightened them):
            // recorded as refused, never sent.
            let refused = target
                .by_miner
                .then(|| {
                    public::check_url(
                        &target.url,
                        recipients.miners_http,
                        recipients.miners_private,
                    )
                    .err()
                })
                .flatten();
            let (ledger, url, payload) = (ledger.clone(), target.url, payload.clone());
            let (kind, address, worker, time_ms) = (
                alert.kind,
                alert.address.clone(),
                alert.worker.clone(),
                alert.time_ms,
            );
            tokio::spawn(async move {
                let _slot = slot;
                let id = match ledger
                    .record_alert(kind, &address, &worker, &url, &payload, time_ms)
                    .await
                {
                    Ok(id) => Some(id),
                    Err(error) => {
                        tracing::warn!(%error, "alert not recorded; sending it anyway");
                        None
                    }
                };
                match refused {
                    None => send_with_retries(&client, &ledger, id, &url, &payload).await,
                    Some(refused) => {
                        tracing::info!(%address, %refused, "miner webhook refused");
                        if let Some(id) = id {
                            let error = format!("refused: {refused}");
                            if let Err(record) = ledger.alert_attempt(id, None, &error).await {
                                tracing::warn!(error = %record, "alert attempt not recorded");
                            }
                        }
                    }
                }
            });
        }
    }
}

async fn send_with_retries(
    client: &reqwest::Client,
    ledger: &Ledger,
    id: Option<i64>,
    url: &str,
    payload: &str,
) {
    let mut wait = FIRST_RETRY;
    for attempt in 1..=ATTEMPTS {
        let outcome = client
            .post(url)
            .header("content-type", "application/json")
            .body(payload.to_string())
            .send()
            .await
            .map_err(|error| error.to_string())
            .and_then(|response| match response.status() {
                status if status.is_success() => Ok(()),
                status => Err(format!("HTTP {status}")),
            });
        let delivered = outcome.is_ok().then(crate::clock::unix_millis);
        let error = outcome.as_ref().err().cloned().unwrap_or_default();
        if let Some(id) = id {
            if let Err(record) = ledger.alert_attempt(id, delivered, &error).await {
                tracing::warn!(error = %record, "alert attempt not recorded");
            }
        }
        match outcome {
            Ok(()) => return,
            Err(error) if attempt < ATTEMPTS => {
                tracing::info!(%url, attempt, %error, "webhook failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(error) => {
                tracing::warn!(%url, attempts = ATTEMPTS, %error, "webhook failed; alert given up");
            }
        }
    }
}
