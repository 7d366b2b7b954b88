//! The JSON-RPC envelope: reading one line into id/method/params or
//! id/result/error, and writing calls with escaped strings in a fixed order.

use super::error::{echo, echo_value, ErrorKind, ParseError};
use super::id::Id;
use super::MAX_LINE_LEN;
use serde_json::Value;

/// One line, before its method's params are looked at.
#[derive(Debug)]
pub(crate) enum Envelope {
    Call {
        id: Id,
        method: String,
        params: Vec<Value>,
    },
    Response {
        id: Id,
        result: Value,
        error: Value,
    },
}

pub(crate) fn read_envelope(line: &[u8]) -> Result<Envelope, ParseError> {
    if line.len() > MAX_LINE_LEN {
        return Err(ParseError::bare(ErrorKind::TooLong {
            len: line.len(),
            max: MAX_LINE_LEN,
        }));
    }
    let text = std::str::from_utf8(line).map_err(|error| {
        ParseError::bare(ErrorKind::InvalidUtf8 {
            valid_up_to: error.valid_up_to(),
        })
    })?;
    // serde_json bounds nesting depth itself, so `[[[[...` cannot overflow the stack.
    let value: Value = serde_json::from_str(text).map_err(|error| {
        ParseError::bare(ErrorKind::NotJson {
            reason: error.to_string(),
            input: echo(text),
        })
    })?;
    let Value::Object(mut fields) = value else {
        return Err(ParseError::bare(ErrorKind::NotAnObject {
            input: echo(text),
        }));
    };
    let id_value = fields.remove("id").unwrap_or(Value::Null);
    let id = Id::from_value(&id_value).ok_or_else(|| {
        ParseError::bare(ErrorKind::BadId {
            got: echo_value(&id_value),
        })
    })?;
    let fail = |method: Option<String>, kind| ParseError {
        id: id.clone(),
        method,
        kind,
    };
    match fields.remove("method") {
        Some(Value::String(method)) => {
            let params = match fields.remove("params") {
                Some(Value::Array(params)) => params,
                // A method without params is still a call; absent and null mean none.
                Some(Value::Null) | None => Vec::new(),
                Some(other) => {
                    let kind = ErrorKind::ParamsNotArray {
                        got: echo_value(&other),
                    };
                    return Err(fail(Some(method), kind));
                }
            };
            Ok(Envelope::Call { id, method, params })
        }
        // `"method": null` on an answer is noise, not a call.
        Some(Value::Null) | None
            if fields.contains_key("result") || fields.contains_key("error") =>
        {
            Ok(Envelope::Response {
                result: fields.remove("result").unwrap_or(Value::Null),
                error: fields.remove("error").unwrap_or(Value::Null),
                id,
            })
        }
        None => Err(fail(None, ErrorKind::NoMethodOrResult)),
        Some(other) => Err(fail(
            None,
            ErrorKind::MethodNotString {
                got: echo_value(&other),
            },
        )),
    }
}

/// Appends `text` as a JSON string literal.
pub(crate) fn write_str(out: &mut String, text: &str) {
    out.push('"');
    let mut clean_from = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Every byte escaped is ASCII, so these slices cut on char boundaries.
        out.push_str(&text[clean_from..index]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{byte:04x}"));
        } else {
            out.push_str(escape);
        }
        clean_from = index + 1;
    }
    out.push_str(&text[clean_from..]);
    out.push('"');
}

/// Writes `{"id":..,"method":"..","params":[..]}\n`, the key order of
/// every firmware's own requests.
pub(crate) struct CallWriter {
    out: String,
    empty: bool,
}

impl CallWriter {
    pub(crate) fn new(id: &Id, method: &str) -> CallWriter {
        let mut out = String::with_capacity(128);
        out.push_str("{\"id\":");
        id.write_json(&mut out);
        out.push_str(",\"method\":");
        write_str(&mut out, method);
        out.push_str(",\"params\":[");
        CallWriter { out, empty: true }
    }

    /// The buffer, positioned for the next param's JSON text.
    pub(crate) fn next(&mut self) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        &mut self.out
    }

    pub(crate) fn str(&mut self, text: &str) {
        write_str(self.next(), text);
    }

    /// Hex needs no escaping, so it is written straight into the line.
    pub(crate) fn hex(&mut self, bytes: &[u8]) {
        let out = self.next();
        out.push('"');
        crate::hex::encode_into(bytes, out);
        out.push('"');
    }

    /// A param that is already JSON text (a number, `true`, `null`).
    pub(crate) fn raw(&mut self, json: &str) {
        self.next().push_str(json);
    }

    pub(crate) fn value(&mut self, value: &Value) {
        let text = value.to_string();
        self.raw(&text);
    }

    pub(crate) fn finish(mut self) -> String {
        self.out.push_str("]}\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        write_str(&mut out, text);
        out
    }

    #[test]
    fn strings_are_escaped_like_serde_json() {
        for text in [
            "plain",
            "q\"b\\s",
            "nl\ncr\rtab\t",
            "\u{0}\u{1f}\u{7f}",
            "é€😀",
            "",
        ] {
            assert_eq!(escaped(text), serde_json::to_string(text).unwrap());
        }
    }

    #[test]
    fn calls_keep_id_method_params_order() {
        let mut call = CallWriter::new(&Id::from(3), "m");
        call.str("a");
        call.raw("1");
        call.hex(&[0xab]);
        assert_eq!(
            call.finish(),
            "{\"id\":3,\"method\":\"m\",\"params\":[\"a\",1,\"ab\"]}\n"
        );
    }

    #[test]
    fn envelope_shapes() {
        let call = read_envelope(br#"{"params":[1],"id":"x","method":"m"}"#).unwrap();
        assert!(
            matches!(call, Envelope::Call { id: Id::String(_), ref params, .. } if params.len() == 1)
        );
        let answer =
            read_envelope(br#"{"id":5,"result":"pong","error":null,"method":null}"#).unwrap();
        assert!(matches!(answer, Envelope::Response { .. }));
        let bare = read_envelope(br#"{"method":"m"}"#).unwrap();
        assert!(
            matches!(bare, Envelope::Call { id: Id::Null, ref params, .. } if params.is_empty())
        );
    }

    #[test]
    fn envelope_errors_keep_the_id() {
        let error = read_envelope(br#"{"id":9,"method":"m","params":{"a":1}}"#).unwrap_err();
        assert_eq!(error.id, Id::from(9));
        assert!(matches!(error.kind, ErrorKind::ParamsNotArray { .. }));
        let error = read_envelope(br#"{"id":9,"method":7}"#).unwrap_err();
        assert_eq!(error.id, Id::from(9));
        assert!(matches!(error.kind, ErrorKind::MethodNotString { .. }));
        let error = read_envelope(br#"{"id":9}"#).unwrap_err();
        assert_eq!(error.kind, ErrorKind::NoMethodOrResult);
        let error = read_envelope(br#"{"id":[1],"method":"m"}"#).unwrap_err();
        assert!(matches!(error.kind, ErrorKind::BadId { .. }));
        let error = read_envelope(b"[1]").unwrap_err();
        assert!(matches!(error.kind, ErrorKind::NotAnObject { .. }));
        let error = read_envelope(b"\xff{}").unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidUtf8 { valid_up_to: 0 });
        let deep = "[".repeat(10_000);
        let error = read_envelope(deep.as_bytes()).unwrap_err();
        assert!(matches!(error.kind, ErrorKind::NotJson { .. }));
        let huge = vec![b' '; MAX_LINE_LEN + 1];
        assert!(matches!(
            read_envelope(&huge).unwrap_err().kind,
            ErrorKind::TooLong { .. }
        ));
    }
}
