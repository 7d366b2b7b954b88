//! The pool's wallet, as a payout needs it: send many outputs in one
//! transaction with a comment, and find a transaction by that comment.

use crate::config::{BitcoindConfig, Network};
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

pub trait Wallet: Send + Sync {
    /// The txid of the wallet transaction whose comment is `comment`.
    fn find_payment<'a>(
        &'a self,
        comment: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, WalletError>>;

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
}

/// How far back `listtransactions` looks for an unfinished batch: the
/// batch is the newest payment when a run is cut short, so this is ample.
const RECENT_TRANSACTIONS: u32 = 1_000;

impl BitcoindWallet {
    pub fn new(
        node: &BitcoindConfig,
        network: Network,
        wallet: &str,
    ) -> Result<BitcoindWallet, WalletError> {
        let mut node = node.clone();
        if !wallet.is_empty() {
            node.url = format!("{}/wallet/{wallet}", node.url.trim_end_matches('/'));
        }
        let rpc = NodeRpc::new(&node, network, Duration::from_secs(120))
            .map_err(|error| WalletError::Refused(error.to_string()))?;
        Ok(BitcoindWallet { rpc: Arc::new(rpc) })
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

/// The txid of a `listtransactions` entry carrying `comment`.
fn txid_with_comment(listed: &Value, comment: &str) -> Option<String> {
    listed.as_array()?.iter().find_map(|entry| {
        (entry.get("comment")?.as_str()? == comment)
            .then(|| entry.get("txid")?.as_str().map(str::to_string))
            .flatten()
    })
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
                    "{error} (create or load the pool's wallet: bitcoin-cli createwallet or loadwallet, \
                     and name it in payout.wallet)"
                ),
                other => other.to_string(),
            })?;
        let name = info["walletname"].as_str().unwrap_or_default();
        let balance = info["balance"]
            .as_f64()
            .and_then(|btc| Amount::from_btc(btc).ok())
            .ok_or_else(|| format!("getwalletinfo answered without a balance: {info}"))?;
        Ok(format!(
            "wallet {name:?} on {}, balance {} sat",
            self.rpc.url,
            balance.to_sat()
        ))
    }
}

impl Wallet for BitcoindWallet {
    fn find_payment<'a>(
        &'a self,
        comment: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, WalletError>> {
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
            Ok(txid_with_comment(&listed, comment))
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
                    vec![json!(""), amounts(lines), json!(1), json!(comment)],
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
        let listed = json!([
            {"category": "receive", "txid": "aa", "comment": "other"},
            {"category": "send", "txid": "bb", "comment": "pool-payout-1"},
            {"category": "send", "txid": "cc"},
        ]);
        assert_eq!(
            txid_with_comment(&listed, "pool-payout-1"),
            Some("bb".to_string())
        );
        assert_eq!(txid_with_comment(&listed, "pool-payout-2"), None);
    }
}
