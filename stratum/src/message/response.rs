//! Answers: `{"id":..,"result":..,"error":..}` in both directions.

use super::configure::ConfigureResult;
use super::error_code::{ErrorCode, ErrorReply};
use super::id::Id;
use super::subscribe::SubscribeResult;
use serde_json::Value;

/// An answer to a request. The result stays JSON because only the asker
/// knows (by id) which request it answers; the `*Result` types read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: Id,
    pub result: Result<Value, ErrorReply>,
}

impl Response {
    pub fn ok(id: Id, result: Value) -> Response {
        Response {
            id,
            result: Ok(result),
        }
    }

    pub fn error(id: Id, error: ErrorReply) -> Response {
        Response {
            id,
            result: Err(error),
        }
    }

    /// An error answer with the code's usual message.
    pub fn error_code(id: Id, code: ErrorCode) -> Response {
        Response::error(id, ErrorReply::from_code(code))
    }

    /// `true` or `false`: authorize, submit, extranonce.subscribe, suggest_difficulty.
    pub fn boolean(id: Id, value: bool) -> Response {
        Response::ok(id, Value::Bool(value))
    }

    pub fn subscribe(id: Id, result: &SubscribeResult) -> Response {
        Response::ok(id, result.to_value())
    }

    pub fn configure(id: Id, result: &ConfigureResult) -> Response {
        Response::ok(id, result.to_value())
    }

    /// Reads the parts of an answer; an error that is present wins over any result.
    pub(crate) fn from_parts(id: Id, result: Value, error: Value) -> Response {
        match error {
            Value::Null => Response::ok(id, result),
            error => Response::error(id, ErrorReply::from_value(&error)),
        }
    }

    /// The line, keys in the order `id, result, error` that firmware expects.
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(64);
        out.push_str("{\"id\":");
        self.id.write_json(&mut out);
        out.push_str(",\"result\":");
        match &self.result {
            Ok(result) => {
                out.push_str(&result.to_string());
                out.push_str(",\"error\":null}\n");
            }
            Err(error) => {
                out.push_str("null,\"error\":");
                error.write_json(&mut out);
                out.push_str("}\n");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines() {
        assert_eq!(
            Response::boolean(Id::from(4), true).to_line(),
            "{\"id\":4,\"result\":true,\"error\":null}\n"
        );
        assert_eq!(
            Response::error_code(Id::from("a"), ErrorCode::Duplicate).to_line(),
            "{\"id\":\"a\",\"result\":null,\"error\":[22,\"Duplicate share\",null]}\n"
        );
    }

    #[test]
    fn error_wins_over_result() {
        let response = Response::from_parts(Id::from(1), json!(true), json!([23, "low", null]));
        assert_eq!(
            response.result,
            Err(ErrorReply::new(ErrorCode::LowDifficulty, "low"))
        );
        let response = Response::from_parts(Id::from(1), json!("pong"), Value::Null);
        assert_eq!(response.result, Ok(json!("pong")));
    }
}
