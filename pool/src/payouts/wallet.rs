//! The pool's wallet, as a payout needs it: send many outputs in one
//! transaction with a comment, and find a transaction by that comment.

use crate::config::{BitcoindConfig, Network, PayoutConfig};
use crate::ledger::accounts::PayoutLine;
use crate::template::bitcoind::{NodeRpc, RpcError};
use bitcoin::Amount;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WalletError {
    /// The wallet answered and did not send: the batch can be cancelled.
    #[error("the wallet refused: {0}")]
    Refused(String),
    /// No answer, or one that cannot be read: the payment may or may not
    /// exist, and only looking for it later can tell.
    #[error("the wallet did not answer clearly: {0}")]
    Unclear(String),
}

/// What the wallet knows of a payment it sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PaymentStatus {
    /// Blocks on top of it, counting its own; 0 unconfirmed; negative when
    /// a conflicting transaction is in the chain, that one's depth.
    pub confirmations: i64,
    /// The transaction that replaced it, and the one it replaced (Core's
    /// `bumpfee`): the same payment.
    pub replaced_by: Option<String>,
    pub replaces: Option<String>,
    /// Abandoned by the operator (`abandontransaction`).
    pub abandoned: bool,
}

pub trait Wallet: Send + Sync {
    /// The txids of the wallet's transactions whose comment is `comment`,
    /// oldest first: the payment, and any fee-bumped replacement of it
    /// (which keeps the comment).
    fn find_payments<'a>(
        &'a self,
        comment: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, WalletError>>;

    /// The status of transaction `txid`; `None` if the wallet has no such
    /// transaction.
    fn payment_status<'a>(
        &'a self,
        txid: &'a str,
    ) -> BoxFuture<'a, Result<Option<PaymentStatus>, WalletError>>;

    /// Pays every line in one transaction carrying `comment`; its txid.
    fn send_many<'a>(
        &'a self,
        lines: &'a [PayoutLine],
        comment: &'a str,
    ) -> BoxFuture<'a, Result<String, WalletError>>;
}

/// A Bitcoin Core wallet over RPC (`/wallet/<name>` when named).
#[derive(Debug)]
pub struct BitcoindWallet {
    rpc: Arc<NodeRpc>,
    fee_from_miners: bool,
    conf_target: u32,
}

/// How far back `listtransactions` looks for an unfinished batch: the
/// batch is the newest payment when a run is cut short, so this is ample.
const RECENT_TRANSACTIONS: u32 = 1_000;

impl BitcoindWallet {
    /// The wallet `payout.wallet` of `node`, paying as `payout` says.
    pub fn new(
        node: &BitcoindConfig,
        network: Network,
        payout: &PayoutConfig,
    ) -> Result<BitcoindWallet, WalletError> {
        let mut node = node.clone();
        if !payout.wallet.is_empty() {
            node.url = format!(
                "{}/wallet/{}",
                node.url.trim_end_matches('/'),
                payout.wallet
            );
        }
        let rpc = NodeRpc::new(&node, network, Duration::from_secs(120))
            .map_err(|error| WalletError::Refused(error.to_string()))?;
        Ok(BitcoindWallet {
            rpc: Arc::new(rpc),
            fee_from_miners: payout.fee_from_miners,
            conf_target: payout.conf_target,
        })
    }

    async fn call(&self, method: &'static str, params: Vec<Value>) -> Result<Value, RpcError> {
        self.rpc
            .run(method, move |client| {
                bitcoincore_rpc::RpcApi::call::<Value>(client, method, &params)
            })
            .await
    }
}

/// An answer from the wallet itself (a node error, bad credentials) means
/// the call did nothing; anything else leaves it open.
fn classify(error: RpcError) -> WalletError {
    match error {
        RpcError::Node { .. }
        | RpcError::BadCredentials { .. }
        | RpcError::Forbidden { .. }
        | RpcError::CookieUnreadable { .. }
        | RpcError::CookieMalformed { .. } => WalletError::Refused(error.to_string()),
        RpcError::Unreachable { ref reason, .. } if reason.contains("connection refused") => {
            WalletError::Refused(error.to_string())
        }
        other => WalletError::Unclear(other.to_string()),
    }
}

/// `sendmany`'s amounts: BTC as JSON numbers, which print as the exact
/// decimal of a whole number of satoshis.
fn amounts(lines: &[PayoutLine]) -> Value {
    let mut map = serde_json::Map::new();
    for line in lines {
        map.insert(
            line.address.clone(),
            json!(Amount::from_sat(line.amount_sat).to_btc()),
        );
    }
    Value::Object(map)
}

/// `gettransaction`'s answer as a status; `None` if it has no
/// confirmation count.
fn status_of(answer: &Value) -> Option<PaymentStatus> {
    Some(PaymentStatus {
        confirmations: answer.get("confirmations")?.as_i64()?,
        replaced_by: answer
            .get("replaced_by_txid")
            .and_then(Value::as_str)
            .map(str::to_string),
        replaces: answer
            .get("replaces_txid")
            .and_then(Value::as_str)
            .map(str::to_string),
        abandoned: answer
            .get("details")
            .and_then(Value::as_array)
            .is_some_and(|details| {
                details
                    .iter()
                    .any(|detail| detail.get("abandoned") == Some(&Value::Bool(true)))
            }),
    })
}

/// `sendmany`'s parameters: the amounts, the batch id as comment, who pays
/// the fee (every output's address, or none: the wallet), replace-by-fee
/// on, and the confirmation target.
fn send_many_params(
    lines: &[PayoutLine],
    comment: &str,
    fee_from_miners: bool,
    conf_target: u32,
) -> Vec<Value> {
    let subtract_from: Vec<&str> = if fee_from_miners {
        lines.iter().map(|line| line.address.as_str()).collect()
    } else {
        Vec::new()
    };
    vec![
        json!(""),
        amounts(lines),
        json!(1),
        json!(comment),
        json!(subtract_from),
        json!(true),
        json!(conf_target),
    ]
}

/// The txids of the `listtransactions` entries carrying `comment`, in
/// their order, each once.
fn txids_with_comment(listed: &Value, comment: &str) -> Vec<String> {
    let mut txids: Vec<String> = Vec::new();
    for entry in listed.as_array().into_iter().flatten() {
        let carries = entry.get("comment").and_then(Value::as_str) == Some(comment);
        if let (true, Some(txid)) = (carries, entry.get("txid").and_then(Value::as_str)) {
            if !txids.iter().any(|known| known == txid) {
                txids.push(txid.to_string());
            }
        }
    }
    txids
}

impl BitcoindWallet {
    /// What `pool check` says of the payout wallet: its name and balance,
    /// or why it cannot pay.
    pub async fn probe(&self) -> Result<String, String> {
        let info = self
            .call("getwalletinfo", Vec::new())
            .await
            .map_err(|error| match error {
                RpcError::Node { code: -18, .. } | RpcError::Node { code: -19, .. } => format!(
                    "{}: {error} (create or load the pool's wallet: bitcoin-cli createwallet or loadwallet, \
                     and name it in payout.wallet)",
                    self.rpc.url
                ),
                other => other.to_string(),
            })?;
        let name = info["walletname"].as_str().unwrap_or_default();
        let btc = |value: &Value| value.as_f64().and_then(|btc| Amount::from_btc(btc).ok());
        // Core 30 dropped getwalletinfo's `balance`; getbalances (Core
        // 0.19 on) has it, split by maturity. Older nodes lack getbalances.
        let (spendable, immature) = match self.call("getbalances", Vec::new()).await {
            Ok(balances) => (
                btc(&balances["mine"]["trusted"]),
                btc(&balances["mine"]["immature"]),
            ),
            Err(RpcError::Node { code: -32601, .. }) => (btc(&info["balance"]), None),
            Err(error) => return Err(error.to_string()),
        };
        let spendable = spendable
            .ok_or_else(|| format!("the node's wallet {name:?} reports no balance: {info}"))?;
        let immature = immature
            .filter(|amount| *amount > Amount::ZERO)
            .map(|amount| format!(" ({} sat immature)", amount.to_sat()))
            .unwrap_or_default();
        Ok(format!(
            "wallet {name:?} on {}, balance {} sat{immature}",
            self.rpc.url,
            spendable.to_sat()
        ))
    }
}

impl Wallet for BitcoindWallet {
    fn find_payments<'a>(
        &'a self,
        comment: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, WalletError>> {
        Box::pin(async move {
            let listed = self
                .call(
                    "listtransactions",
                    vec![
                        json!("*"),
                        json!(RECENT_TRANSACTIONS),
                        json!(0),
                        json!(true),
                    ],
                )
                .await
                .map_err(|error| WalletError::Unclear(error.to_string()))?;
            if !listed.is_array() {
                return Err(WalletError::Unclear(format!(
                    "listtransactions answered {listed}"
                )));
            }
            Ok(txids_with_comment(&listed, comment))
        })
    }

    fn payment_status<'a>(
        &'a self,
        txid: &'a str,
    ) -> BoxFuture<'a, Result<Option<PaymentStatus>, WalletError>> {
        Box::pin(async move {
            let answer = match self.call("gettransaction", vec![json!(txid)]).await {
                Ok(answer) => answer,
                // "Invalid or non-wallet transaction id"
                Err(RpcError::Node { code: -5, .. }) => return Ok(None),
                Err(error) => return Err(WalletError::Unclear(error.to_string())),
            };
            status_of(&answer)
                .map(Some)
                .ok_or_else(|| WalletError::Unclear(format!("gettransaction answered {answer}")))
        })
    }

    fn send_many<'a>(
        &'a self,
        lines: &'a [PayoutLine],
        comment: &'a str,
    ) -> BoxFuture<'a, Result<String, WalletError>> {
        Box::pin(async move {
            let answer = self
                .call(
                    "sendmany",
                    send_many_params(lines, comment, self.fee_from_miners, self.conf_target),
                )
                .await
                .map_err(classify)?;
            match answer.as_str() {
                Some(txid) if txid.len() == 64 => Ok(txid.to_string()),
                _ => Err(WalletError::Unclear(format!("sendmany answered {answer}"))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendmany_signals_rbf_with_the_target_and_who_pays_the_fee() {
        let lines = [
            PayoutLine {
                address: "bcrt1qa".into(),
                amount_sat: 50_000,
            },
            PayoutLine {
                address: "bcrt1qb".into(),
                amount_sat: 70_000,
            },
        ];
        let pool_pays = send_many_params(&lines, "pool-payout-1", false, 6);
        assert_eq!(
            Value::Array(pool_pays),
            json!(["", {"bcrt1qa": 0.0005, "bcrt1qb": 0.0007}, 1, "pool-payout-1", [], true, 6])
        );
        let miners_pay = send_many_params(&lines, "pool-payout-1", true, 2);
        assert_eq!(miners_pay[4], json!(["bcrt1qa", "bcrt1qb"]));
        assert_eq!(miners_pay[6], json!(2));
    }

    #[test]
    fn a_status_is_read_from_gettransaction() {
        // Fields as Bitcoin Core's gettransaction names them.
        let answer = json!({
            "amount": -0.001, "confirmations": -3, "txid": "bb",
            "replaced_by_txid": "cc", "replaces_txid": "aa", "comment": "pool-payout-1",
            "details": [{"category": "send", "abandoned": true}],
        });
        assert_eq!(
            status_of(&answer),
            Some(PaymentStatus {
                confirmations: -3,
                replaced_by: Some("cc".into()),
                replaces: Some("aa".into()),
                abandoned: true,
            })
        );
        assert_eq!(status_of(&json!({"txid": "bb"})), None);
    }

    #[test]
    fn amounts_are_exact_btc_decimals() {
        let lines = [
            PayoutLine {
                address: "a".into(),
                amount_sat: 12_345,
            },
            PayoutLine {
                address: "b".into(),
                amount_sat: 2_099_999_997_690_000,
            },
            PayoutLine {
                address: "c".into(),
                amount_sat: 100_000_001,
            },
        ];
        assert_eq!(
            amounts(&lines).to_string(),
            r#"{"a":0.00012345,"b":20999999.9769,"c":1.00000001}"#
        );
    }

    #[test]
    fn a_batch_is_found_by_its_comment() {
        // A sendmany lists one entry per output: one txid, several times.
        let listed = json!([
            {"category": "receive", "txid": "aa", "comment": "other"},
            {"category": "send", "txid": "bb", "comment": "pool-payout-1"},
            {"category": "send", "txid": "bb", "comment": "pool-payout-1"},
            {"category": "send", "txid": "cc"},
        ]);
        assert_eq!(txids_with_comment(&listed, "pool-payout-1"), ["bb"]);
        assert!(txids_with_comment(&listed, "pool-payout-2").is_empty());
    }
}
