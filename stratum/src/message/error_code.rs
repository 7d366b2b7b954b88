//! The error triple of a Stratum answer: `[code, "message", null]`.

use serde_json::Value;

/// Stratum V1 error codes, as cgminer and ckpool number them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 20: anything without a code of its own.
    Other,
    /// 21: the job is unknown or stale.
    JobNotFound,
    /// 22: the same share was already submitted.
    Duplicate,
    /// 23: the share does not meet the difficulty.
    LowDifficulty,
    /// 24: the worker is not authorized.
    UnauthorizedWorker,
    /// 25: the connection has not subscribed.
    NotSubscribed,
    /// A code some other pool uses; never one of 20 to 25.
    Unlisted(i64),
}

impl ErrorCode {
    pub fn code(self) -> i64 {
        match self {
            ErrorCode::Other => 20,
            ErrorCode::JobNotFound => 21,
            ErrorCode::Duplicate => 22,
            ErrorCode::LowDifficulty => 23,
            ErrorCode::UnauthorizedWorker => 24,
            ErrorCode::NotSubscribed => 25,
            ErrorCode::Unlisted(code) => code,
        }
    }

    pub fn from_code(code: i64) -> ErrorCode {
        match code {
            20 => ErrorCode::Other,
            21 => ErrorCode::JobNotFound,
            22 => ErrorCode::Duplicate,
            23 => ErrorCode::LowDifficulty,
            24 => ErrorCode::UnauthorizedWorker,
            25 => ErrorCode::NotSubscribed,
            other => ErrorCode::Unlisted(other),
        }
    }

    /// The message miners' logs usually show for the code.
    pub fn default_message(self) -> &'static str {
        match self {
            ErrorCode::Other | ErrorCode::Unlisted(_) => "Other/Unknown",
            ErrorCode::JobNotFound => "Job not found",
            ErrorCode::Duplicate => "Duplicate share",
            ErrorCode::LowDifficulty => "Low difficulty share",
            ErrorCode::UnauthorizedWorker => "Unauthorized worker",
            ErrorCode::NotSubscribed => "Not subscribed",
        }
    }
}

/// The `error` member of a failed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorReply {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorReply {
        ErrorReply {
            code,
            message: message.into(),
        }
    }

    /// The code with its usual message.
    pub fn from_code(code: ErrorCode) -> ErrorReply {
        ErrorReply::new(code, code.default_message())
    }

    pub(crate) fn write_json(&self, out: &mut String) {
        out.push('[');
        out.push_str(&self.code.code().to_string());
        out.push(',');
        super::json::write_str(out, &self.message);
        out.push_str(",null]");
    }

    /// Reads any shape pools use (`[code, msg, tb]`, `{"code", "message"}`,
    /// a bare string or number): an answer is never lost to its error format.
    pub(crate) fn from_value(value: &Value) -> ErrorReply {
        let code_of = |value: Option<&Value>| {
            value
                .and_then(Value::as_i64)
                .map_or(ErrorCode::Other, ErrorCode::from_code)
        };
        let message_of = |value: Option<&Value>| match value {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        match value {
            Value::Array(items) => {
                ErrorReply::new(code_of(items.first()), message_of(items.get(1)))
            }
            Value::Object(fields) => ErrorReply::new(
                code_of(fields.get("code")),
                message_of(fields.get("message")),
            ),
            Value::Number(_) => ErrorReply::new(code_of(Some(value)), ""),
            other => ErrorReply::new(ErrorCode::Other, message_of(Some(other))),
        }
    }
}

impl std::fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code.code(), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_roundtrip() {
        for code in 15..30 {
            assert_eq!(ErrorCode::from_code(code).code(), code);
        }
        assert_eq!(ErrorCode::from_code(23), ErrorCode::LowDifficulty);
    }

    #[test]
    fn writes_the_triple() {
        let mut out = String::new();
        ErrorReply::from_code(ErrorCode::JobNotFound).write_json(&mut out);
        assert_eq!(out, r#"[21,"Job not found",null]"#);
    }

    #[test]
    fn reads_every_shape() {
        let expect = ErrorReply::new(ErrorCode::Duplicate, "dup");
        assert_eq!(ErrorReply::from_value(&json!([22, "dup", null])), expect);
        assert_eq!(
            ErrorReply::from_value(&json!({"code": 22, "message": "dup"})),
            expect
        );
        assert_eq!(
            ErrorReply::from_value(&json!("boom")),
            ErrorReply::new(ErrorCode::Other, "boom")
        );
        assert_eq!(
            ErrorReply::from_value(&json!(-1)),
            ErrorReply::new(ErrorCode::Unlisted(-1), "")
        );
        assert_eq!(ErrorReply::from_value(&json!([])).code, ErrorCode::Other);
    }
}
