//! `mining.subscribe([agent[, session]])` and its answer
//! `[[["mining.set_difficulty", id], ["mining.notify", id]], extranonce1, extranonce2_size]`.

use super::error::{echo, ErrorKind};
use super::json::CallWriter;
use super::params::{self, Method};
use crate::extranonce::{Extranonce1, MAX_EXTRANONCE2};
use serde_json::Value;

/// A subscription request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscribe {
    /// `cgminer/4.11.1`, `bitaxe/BM1370/v2.9.0`; some miners send null.
    pub user_agent: Option<String>,
    /// The notify subscription id of an earlier session, to resume it.
    pub session_id: Option<String>,
}

impl Method for Subscribe {
    const NAME: &'static str = "mining.subscribe";

    fn from_params(params: &[Value]) -> Result<Subscribe, ErrorKind> {
        // Some proxies append the host and port they were told to use; ignore them.
        params::count(params, 0, 4, "0 to 4")?;
        Ok(Subscribe {
            user_agent: params::optional_string(params::at(params, 0), "user agent")?
                .map(str::to_string),
            session_id: params::optional_string(params::at(params, 1), "session id")?
                .map(str::to_string),
        })
    }

    fn write_params(&self, call: &mut CallWriter) {
        match (&self.user_agent, &self.session_id) {
            (None, None) => {}
            (Some(agent), None) => call.str(agent),
            (agent, Some(session)) => {
                match agent {
                    Some(agent) => call.str(agent),
                    None => call.raw("null"),
                }
                call.str(session);
            }
        }
    }
}

/// The answer to `mining.subscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeResult {
    /// `(method, subscription id)` pairs, usually set_difficulty and notify.
    pub subscriptions: Vec<(String, String)>,
    pub extranonce1: Extranonce1,
    pub extranonce2_size: usize,
}

impl SubscribeResult {
    /// The usual answer: set_difficulty and notify under one subscription id.
    pub fn new(subscription_id: &str, extranonce1: Extranonce1, extranonce2_size: usize) -> Self {
        SubscribeResult {
            subscriptions: vec![
                (
                    "mining.set_difficulty".to_string(),
                    subscription_id.to_string(),
                ),
                ("mining.notify".to_string(), subscription_id.to_string()),
            ],
            extranonce1,
            extranonce2_size,
        }
    }

    /// The id to resume with: cpuminer takes the one paired with mining.notify.
    pub fn notify_subscription_id(&self) -> Option<&str> {
        self.subscriptions
            .iter()
            .find(|(method, _)| method == "mining.notify")
            .map(|(_, id)| id.as_str())
    }

    pub fn to_value(&self) -> Value {
        let pairs = self
            .subscriptions
            .iter()
            .map(|(method, id)| Value::from(vec![method.as_str(), id.as_str()]))
            .collect::<Vec<Value>>();
        Value::from(vec![
            Value::from(pairs),
            Value::from(self.extranonce1.to_wire()),
            Value::from(self.extranonce2_size),
        ])
    }

    /// Reads a pool's answer. The subscription list is taken as loosely as
    /// pools write it (a single pair, null, numeric ids); the extranonce
    /// fields must be right because every share depends on them.
    pub fn from_value(result: &Value) -> Result<SubscribeResult, ErrorKind> {
        let Some(items) = result.as_array().filter(|items| items.len() >= 3) else {
            return Err(params::wrong_type(
                "subscribe result",
                "[subscriptions, extranonce1, extranonce2_size]",
                result,
            ));
        };
        let extranonce1 = params::string(params::at(items, 1), "extranonce1")?;
        let extranonce1 =
            Extranonce1::from_wire(extranonce1).map_err(|source| ErrorKind::Extranonce {
                field: "extranonce1",
                value: echo(extranonce1),
                source,
            })?;
        let extranonce2_size = params::unsigned(
            params::at(items, 2),
            "extranonce2_size",
            MAX_EXTRANONCE2 as u64,
            "0..=16",
        )? as usize;
        Ok(SubscribeResult {
            subscriptions: subscriptions(params::at(items, 0)),
            extranonce1,
            extranonce2_size,
        })
    }
}

fn subscriptions(value: &Value) -> Vec<(String, String)> {
    let text = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    };
    let pair = |value: &Value| {
        let items = value.as_array()?;
        Some((text(items.first()?)?, text(items.get(1)?)?))
    };
    match value {
        Value::Array(items) if items.first().is_some_and(Value::is_string) => {
            pair(value).into_iter().collect()
        }
        Value::Array(items) => items.iter().filter_map(pair).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_result_firmware_expects() {
        let en1 = Extranonce1::from_wire("f000000a").unwrap();
        let result = SubscribeResult::new("ab12", en1, 8);
        assert_eq!(
            result.to_value().to_string(),
            r#"[[["mining.set_difficulty","ab12"],["mining.notify","ab12"]],"f000000a",8]"#
        );
        assert_eq!(
            SubscribeResult::from_value(&result.to_value()),
            Ok(result.clone())
        );
        assert_eq!(result.notify_subscription_id(), Some("ab12"));
    }

    #[test]
    fn loose_subscription_lists() {
        let single = json!([
            ["mining.notify", "ae6812eb4cd7735a302a8a9dd95cf71f"],
            "08000002",
            4
        ]);
        let result = SubscribeResult::from_value(&single).unwrap();
        assert_eq!(
            result.notify_subscription_id(),
            Some("ae6812eb4cd7735a302a8a9dd95cf71f")
        );
        assert_eq!(result.extranonce2_size, 4);
        let none = SubscribeResult::from_value(&json!([null, "", 8])).unwrap();
        assert!(none.subscriptions.is_empty() && none.extranonce1.is_empty());
        let numeric =
            SubscribeResult::from_value(&json!([[["mining.notify", 7]], "00", 4])).unwrap();
        assert_eq!(numeric.notify_subscription_id(), Some("7"));
    }

    #[test]
    fn bad_results() {
        assert!(SubscribeResult::from_value(&json!(true)).is_err());
        assert!(SubscribeResult::from_value(&json!([[], "zz", 4])).is_err());
        assert!(SubscribeResult::from_value(&json!([[], "00", 17])).is_err());
        assert!(SubscribeResult::from_value(&json!([[], "001122334455667788", 4])).is_err());
    }

    #[test]
    fn params_forms() {
        let parse = |params: Value| Subscribe::from_params(params.as_array().unwrap());
        assert_eq!(parse(json!([])), Ok(Subscribe::default()));
        assert_eq!(
            parse(json!([null, "s"])),
            Ok(Subscribe {
                user_agent: None,
                session_id: Some("s".into())
            })
        );
        assert!(matches!(
            parse(json!([1])),
            Err(ErrorKind::WrongType { .. })
        ));
        assert!(matches!(
            parse(json!([1, 2, 3, 4, 5])),
            Err(ErrorKind::ParamCount { .. })
        ));
    }
}
