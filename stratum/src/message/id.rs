//! JSON-RPC request ids, echoed back exactly as the miner sent them.

use serde_json::{Number, Value};

/// A request id. Miners use numbers (cpuminer sends 4 for every submit),
/// some proxies strings; `null` marks a notification that wants no answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Id {
    #[default]
    Null,
    /// Kept as serde_json read it, so `7` goes back as `7`, `7.0` as `7.0`.
    Number(Number),
    String(String),
}

impl Id {
    pub fn is_null(&self) -> bool {
        matches!(self, Id::Null)
    }

    /// `None` for ids JSON-RPC does not allow (booleans, arrays, objects).
    pub(crate) fn from_value(value: &Value) -> Option<Id> {
        match value {
            Value::Null => Some(Id::Null),
            Value::Number(number) => Some(Id::Number(number.clone())),
            Value::String(text) => Some(Id::String(text.clone())),
            _ => None,
        }
    }

    pub(crate) fn write_json(&self, out: &mut String) {
        match self {
            Id::Null => out.push_str("null"),
            Id::Number(number) => out.push_str(&number.to_string()),
            Id::String(text) => super::json::write_str(out, text),
        }
    }
}

impl From<u64> for Id {
    fn from(value: u64) -> Id {
        Id::Number(value.into())
    }
}

impl From<&str> for Id {
    fn from(value: &str) -> Id {
        Id::String(value.to_string())
    }
}

impl From<String> for Id {
    fn from(value: String) -> Id {
        Id::String(value)
    }
}

/// The JSON text of the id.
impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        self.write_json(&mut out);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_verbatim() {
        let cases = [("7", "7"), ("7.0", "7.0"), ("-1", "-1"), ("null", "null")];
        for (text, expected) in cases {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(Id::from_value(&value).unwrap().to_string(), expected);
        }
        assert_eq!(Id::from("a\"b").to_string(), r#""a\"b""#);
        assert_eq!(Id::from_value(&Value::Bool(true)), None);
    }
}
