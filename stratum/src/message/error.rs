//! Why a line could not be read, and which request it was.

use super::error_code::{ErrorCode, ErrorReply};
use super::id::Id;
use super::response::Response;
use crate::difficulty::InvalidDifficulty;
use crate::extranonce::ExtranonceError;
use crate::hex::HexError;
use crate::username::UsernameError;
use serde_json::Value;
use thiserror::Error;

/// How much of an offending input an error repeats: enough to recognise it
/// in a log, not enough to let a miner flood the log.
const ECHO_CHARS: usize = 40;

/// A line that is not a message we understand.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// The request id if it could be read, else `Null`.
    pub id: Id,
    /// The method if it could be read.
    pub method: Option<String>,
    pub kind: ErrorKind,
}

impl ParseError {
    pub(crate) fn bare(kind: ErrorKind) -> ParseError {
        ParseError {
            id: Id::Null,
            method: None,
            kind,
        }
    }

    /// The Stratum error code to answer with.
    pub fn code(&self) -> ErrorCode {
        match self.kind {
            ErrorKind::Username { .. } => ErrorCode::UnauthorizedWorker,
            _ => ErrorCode::Other,
        }
    }

    /// The error answer `[code, "why", null]` for the request, or `None`
    /// when it carried no id (a notification, or an id we could not read).
    pub fn reply(&self) -> Option<Response> {
        if self.id.is_null() {
            return None;
        }
        let reply = ErrorReply::new(self.code(), self.to_string());
        Some(Response::error(self.id.clone(), reply))
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.method {
            // Only known method names get this far, so they need no quoting.
            Some(method) => write!(f, "{}: {}", truncate(method), self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for ParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

/// What was wrong with a line or one of its fields.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ErrorKind {
    #[error("line of {len} bytes is longer than {max}")]
    TooLong { len: usize, max: usize },
    #[error("not UTF-8 (invalid byte at offset {valid_up_to})")]
    InvalidUtf8 { valid_up_to: usize },
    #[error("not JSON ({reason}): {input}")]
    NotJson { reason: String, input: String },
    #[error("not a JSON object: {input}")]
    NotAnObject { input: String },
    #[error("id must be a number, a string or null, got {got}")]
    BadId { got: String },
    #[error("method must be a string, got {got}")]
    MethodNotString { got: String },
    #[error("params must be an array, got {got}")]
    ParamsNotArray { got: String },
    #[error("neither a method nor a result")]
    NoMethodOrResult,
    #[error("expected {expected} params, got {got}")]
    ParamCount { expected: &'static str, got: usize },
    #[error("{field}: expected {expected}, got {got}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("{field} {value}: {source}")]
    Hex {
        field: &'static str,
        value: String,
        source: HexError,
    },
    #[error("{field} {value}: expected {expected} hex digits, got {got}")]
    HexLength {
        field: &'static str,
        value: String,
        expected: &'static str,
        got: usize,
    },
    #[error("{field} {value}: {source}")]
    Extranonce {
        field: &'static str,
        value: String,
        source: ExtranonceError,
    },
    #[error("user {value}: {source}")]
    Username {
        value: String,
        source: UsernameError,
    },
    #[error("{field}: {source}")]
    Difficulty {
        field: &'static str,
        source: InvalidDifficulty,
    },
    #[error("{field}: {value} is outside {range}")]
    OutOfRange {
        field: &'static str,
        value: String,
        range: &'static str,
    },
}

/// A quoted, truncated copy of untrusted text for an error message.
pub(crate) fn echo(text: &str) -> String {
    let cut = truncate(text);
    if cut.len() < text.len() {
        format!("{cut:?}...")
    } else {
        format!("{text:?}")
    }
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(ECHO_CHARS) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

/// A truncated JSON rendering of an untrusted value.
pub(crate) fn echo_value(value: &Value) -> String {
    let text = value.to_string();
    let cut = truncate(&text);
    if cut.len() < text.len() {
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_truncates_on_a_char_boundary() {
        let long = "é".repeat(100);
        let echoed = echo(&long);
        assert!(echoed.len() < 100, "{echoed}");
        assert!(echoed.ends_with("..."));
        assert_eq!(echo("ab"), "\"ab\"");
        assert_eq!(echo_value(&Value::from(5)), "5");
    }

    #[test]
    fn reply_carries_the_id_and_code() {
        let error = ParseError {
            id: Id::from(4),
            method: Some("mining.authorize".into()),
            kind: ErrorKind::Username {
                value: echo(""),
                source: UsernameError::Empty,
            },
        };
        assert_eq!(
            error.reply().unwrap().to_line(),
            "{\"id\":4,\"result\":null,\"error\":[24,\"mining.authorize: user \\\"\\\": empty username\",null]}\n"
        );
        assert_eq!(ParseError::bare(ErrorKind::NoMethodOrResult).reply(), None);
    }
}
