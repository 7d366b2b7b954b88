//! Reading and writing one method's params: the shared rules (liberal hex,
//! numbers that arrive as strings) so every method applies them alike.

use super::error::{echo, echo_value, ErrorKind};
use super::id::Id;
use super::json::CallWriter;
use crate::difficulty::Difficulty;
use crate::hex::HexError;
use serde_json::Value;

/// A method's params, read from and written to the wire.
pub(crate) trait Method: Sized {
    const NAME: &'static str;

    fn from_params(params: &[Value]) -> Result<Self, ErrorKind>;

    fn write_params(&self, call: &mut CallWriter);

    fn call_line(&self, id: &Id) -> String {
        let mut call = CallWriter::new(id, Self::NAME);
        self.write_params(&mut call);
        call.finish()
    }
}

static MISSING: Value = Value::Null;

/// The param at `index`, `null` when absent: trailing optional params may be
/// left out or sent as null, and both mean "not given".
pub(crate) fn at(params: &[Value], index: usize) -> &Value {
    params.get(index).unwrap_or(&MISSING)
}

pub(crate) fn count(
    params: &[Value],
    min: usize,
    max: usize,
    expected: &'static str,
) -> Result<(), ErrorKind> {
    if (min..=max).contains(&params.len()) {
        Ok(())
    } else {
        Err(ErrorKind::ParamCount {
            expected,
            got: params.len(),
        })
    }
}

pub(crate) fn wrong_type(field: &'static str, expected: &'static str, got: &Value) -> ErrorKind {
    ErrorKind::WrongType {
        field,
        expected,
        got: echo_value(got),
    }
}

pub(crate) fn string<'a>(value: &'a Value, field: &'static str) -> Result<&'a str, ErrorKind> {
    value
        .as_str()
        .ok_or_else(|| wrong_type(field, "a string", value))
}

pub(crate) fn optional_string<'a>(
    value: &'a Value,
    field: &'static str,
) -> Result<Option<&'a str>, ErrorKind> {
    match value {
        Value::Null => Ok(None),
        other => string(other, field).map(Some),
    }
}

/// A hex field decoded by one of the field types' `from_wire`.
pub(crate) fn hex<T>(
    value: &Value,
    field: &'static str,
    from_wire: impl FnOnce(&str) -> Result<T, HexError>,
) -> Result<T, ErrorKind> {
    let text = string(value, field)?;
    from_wire(text).map_err(|source| ErrorKind::Hex {
        field,
        value: echo(text),
        source,
    })
}

/// Bytes of a byte string (coinbase parts): odd hex cannot be bytes.
pub(crate) fn hex_bytes(value: &Value, field: &'static str) -> Result<Vec<u8>, ErrorKind> {
    let text = string(value, field)?;
    if !text.len().is_multiple_of(2) {
        return Err(hex_length(field, text, "an even number of"));
    }
    crate::hex::decode_vec(text).map_err(|source| ErrorKind::Hex {
        field,
        value: echo(text),
        source,
    })
}

/// A 32-byte hash in any of its byte orders: short hex is not a number
/// missing its leading zeros, it is a broken field.
pub(crate) fn hash<T>(
    value: &Value,
    field: &'static str,
    from_wire: impl FnOnce(&str) -> Result<T, HexError>,
) -> Result<T, ErrorKind> {
    let text = string(value, field)?;
    if text.len() != 64 {
        return Err(hex_length(field, text, "64"));
    }
    hex(value, field, from_wire)
}

fn hex_length(field: &'static str, text: &str, expected: &'static str) -> ErrorKind {
    ErrorKind::HexLength {
        field,
        value: echo(text),
        expected,
        got: text.len(),
    }
}

/// A JSON number, or a string holding one (some proxies quote numbers).
pub(crate) fn number(value: &Value, field: &'static str) -> Result<f64, ErrorKind> {
    let parsed = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| wrong_type(field, "a number", value))
}

pub(crate) fn difficulty(value: &Value, field: &'static str) -> Result<Difficulty, ErrorKind> {
    Difficulty::new(number(value, field)?).map_err(|source| ErrorKind::Difficulty { field, source })
}

/// A whole number in `0..=max` (an integer, a whole float or a quoted one).
pub(crate) fn unsigned(
    value: &Value,
    field: &'static str,
    max: u64,
    range: &'static str,
) -> Result<u64, ErrorKind> {
    if let Some(whole) = value.as_u64() {
        if whole <= max {
            return Ok(whole);
        }
    } else {
        let float = number(value, field)?;
        if float.fract() == 0.0 && (0.0..=max as f64).contains(&float) {
            return Ok(float as u64);
        }
    }
    Err(ErrorKind::OutOfRange {
        field,
        value: echo_value(value),
        range,
    })
}

/// Writes a difficulty as miners expect it: `512`, not `512.0`.
pub(crate) fn write_difficulty(call: &mut CallWriter, difficulty: Difficulty) {
    call.raw(&difficulty.to_wire());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_read_liberally() {
        assert_eq!(number(&json!(512), "d"), Ok(512.0));
        assert_eq!(number(&json!("0.5"), "d"), Ok(0.5));
        assert!(matches!(
            number(&json!([1]), "d"),
            Err(ErrorKind::WrongType { .. })
        ));
        assert_eq!(unsigned(&json!(8), "n", 16, "0..=16"), Ok(8));
        assert_eq!(unsigned(&json!(8.0), "n", 16, "0..=16"), Ok(8));
        assert_eq!(unsigned(&json!("8"), "n", 16, "0..=16"), Ok(8));
        assert!(matches!(
            unsigned(&json!(17), "n", 16, "0..=16"),
            Err(ErrorKind::OutOfRange { .. })
        ));
        assert!(matches!(
            unsigned(&json!(-1), "n", 16, "0..=16"),
            Err(ErrorKind::OutOfRange { .. })
        ));
        assert!(matches!(
            unsigned(&json!(1.5), "n", 16, "0..=16"),
            Err(ErrorKind::OutOfRange { .. })
        ));
    }

    #[test]
    fn difficulty_must_be_positive() {
        assert!(difficulty(&json!(0.001), "d").is_ok());
        for bad in [json!(0), json!(-5), json!("NaN"), json!("inf")] {
            assert!(
                matches!(difficulty(&bad, "d"), Err(ErrorKind::Difficulty { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn fixed_width_bytes() {
        assert_eq!(hex_bytes(&json!("0a0b"), "c"), Ok(vec![10, 11]));
        assert_eq!(hex_bytes(&json!(""), "c"), Ok(vec![]));
        assert!(matches!(
            hex_bytes(&json!("abc"), "c"),
            Err(ErrorKind::HexLength { .. })
        ));
        assert!(matches!(
            hex_bytes(&json!("zz"), "c"),
            Err(ErrorKind::Hex { .. })
        ));
        let decode = crate::hex::decode_32;
        assert_eq!(hash(&json!("11".repeat(32)), "h", decode), Ok([0x11; 32]));
        assert!(matches!(
            hash(&json!("00"), "h", decode),
            Err(ErrorKind::HexLength { .. })
        ));
        assert!(matches!(
            hash(&json!("x".repeat(64)), "h", decode),
            Err(ErrorKind::Hex { .. })
        ));
    }

    #[test]
    fn missing_params_read_as_null() {
        let params = [json!("a")];
        assert_eq!(optional_string(at(&params, 0), "x"), Ok(Some("a")));
        assert_eq!(optional_string(at(&params, 3), "x"), Ok(None));
        assert!(string(at(&params, 3), "x").is_err());
    }
}
