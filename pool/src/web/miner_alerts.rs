//! A miner sets (or clears) their own alert webhook: a POST from their
//! page carrying the URL, a timestamp and a signature of a fixed message
//! by their payout address, BIP 322 ("simple") for segwit and taproot
//! addresses or BIP 137 (Bitcoin Core's signmessage) for `1...`
//! addresses. The URL is stored and never shown back.

use super::format::escape;
use super::{valid_address, WebState};
use crate::alerts::public;
use crate::config::AlertsConfig;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Instant;

/// How far the signed timestamp may be from the pool's clock: an old
/// signature cannot be replayed later.
const CLOCK_SLACK_SECS: i64 = 600;
const MAX_URL: usize = 2_048;

#[derive(Debug, Deserialize)]
pub(super) struct AlertSettings {
    /// The webhook URL; empty removes it.
    pub webhook: String,
    /// Unix seconds, as in the signed message.
    pub timestamp: i64,
    pub signature: String,
}

/// Whether a signed `timestamp` (any i64 a visitor sends) is within
/// [`CLOCK_SLACK_SECS`] of `now`; `abs_diff` cannot overflow where
/// `(now - timestamp).abs()` would for `i64::MIN`.
fn near_now(timestamp: i64, now: i64) -> bool {
    now.abs_diff(timestamp) <= CLOCK_SLACK_SECS.unsigned_abs()
}

/// The exact text a miner signs.
pub fn message(address: &str, webhook: &str, timestamp: i64) -> String {
    format!("pool alerts for {address}: webhook \"{webhook}\" at {timestamp}")
}

fn answer(status: StatusCode, text: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>pool: alerts</title>\
             </head><body><p>{}</p><p><a href=\"javascript:history.back()\">back</a></p></body></html>",
            escape(text)
        )),
    )
        .into_response()
}

/// Whether a webhook (empty: none) may be saved, before any signature check.
fn acceptable(webhook: &str, alerts: &AlertsConfig) -> Result<(), String> {
    if webhook.is_empty() {
        return Ok(());
    }
    if webhook.len() > MAX_URL || webhook.contains(char::is_whitespace) {
        return Err(format!(
            "the webhook must be one URL of at most {MAX_URL} characters"
        ));
    }
    public::check_url(
        webhook,
        alerts.allow_http_miner_webhooks,
        alerts.allow_private_miner_webhooks,
    )
    .map_err(|refused| refused.to_string())
}

/// Whether `signature` signs `message` for `address` (BIP 137 for P2PKH,
/// BIP 322 simple otherwise).
fn signed_by(address: &str, message: &str, signature: &str) -> bool {
    let legacy = bip322::verify_legacy_encoded(address, message, signature).is_ok();
    legacy || bip322::verify_simple_encoded(address, message, signature).is_ok()
}

pub(super) async fn set(
    State(state): State<Arc<WebState>>,
    Path(address): Path<String>,
    Form(settings): Form<AlertSettings>,
) -> Response {
    if !state.alerts.miner_webhooks {
        return answer(
            StatusCode::FORBIDDEN,
            "This pool does not take webhooks from miners.",
        );
    }
    let Some(address) = valid_address(&state, &address) else {
        return answer(
            StatusCode::BAD_REQUEST,
            "Not an address of this pool's network.",
        );
    };
    if !state.settings_limit.allow(&address, Instant::now()) {
        return answer(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts for this address: wait a few minutes.",
        );
    }
    let webhook = settings.webhook.trim();
    if let Err(refused) = acceptable(webhook, &state.alerts) {
        return answer(StatusCode::BAD_REQUEST, &format!("Not saved: {refused}."));
    }
    if !near_now(settings.timestamp, crate::clock::unix_millis() / 1000) {
        return answer(
            StatusCode::FORBIDDEN,
            "The signed timestamp is too far from now: sign the message again.",
        );
    }
    let signed = message(&address, webhook, settings.timestamp);
    if !signed_by(&address, &signed, settings.signature.trim()) {
        tracing::info!(%address, "alert settings refused: bad signature");
        return answer(
            StatusCode::FORBIDDEN,
            "The signature does not match: sign the exact message with the payout address.",
        );
    }
    // Resolved only now, for a signed request: strangers cannot make the
    // pool look up names.
    if !webhook.is_empty() && !state.alerts.allow_private_miner_webhooks {
        if let Err(refused) = public::check_resolves(webhook).await {
            return answer(
                StatusCode::BAD_REQUEST,
                &format!("Not saved: {refused}; the webhook must lead to a public host."),
            );
        }
    }
    let url = (!webhook.is_empty()).then_some(webhook);
    match state
        .ledger
        .set_miner_webhook(&address, url, crate::clock::unix_millis())
        .await
    {
        Ok(()) => {
            tracing::info!(%address, set = url.is_some(), "miner webhook changed");
            answer(
                StatusCode::OK,
                if url.is_some() {
                    "Webhook saved."
                } else {
                    "Webhook removed."
                },
            )
        }
        Err(error) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("Not saved: the ledger is unavailable ({error})."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_far_from_now_are_refused_without_overflow() {
        let now = 1_764_000_000;
        assert!(near_now(now, now));
        assert!(near_now(now - 600, now));
        assert!(near_now(now + 600, now));
        assert!(!near_now(now - 601, now));
        assert!(!near_now(now + 601, now));
        assert!(!near_now(i64::MIN, now));
        assert!(!near_now(i64::MAX, now));
        assert!(!near_now(i64::MAX, i64::MIN));
    }

    #[test]
    fn the_message_names_everything_it_authorises() {
        assert_eq!(
            message("bc1qx", "https://ntfy.sh/me", 1_764_000_000),
            "pool alerts for bc1qx: webhook \"https://ntfy.sh/me\" at 1764000000"
        );
    }

    #[test]
    fn bip322_test_vector_verifies_and_a_changed_message_does_not() {
        // BIP 322's own vector: "Hello World" signed by this address.
        let address = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l";
        let signature = "AkcwRAIgZRfIY3p7/DoVTty6YZbWS71bc5Vct9p9Fia83eRmw2QCICK/ENGfwLtptFluMGs2KsqoNSk89pO7F29zJLUx9a/sASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=";
        assert!(signed_by(address, "Hello World", signature));
        assert!(!signed_by(address, "Hello World!", signature));
        assert!(!signed_by(
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            "Hello World",
            signature
        ));
    }
}
