//! Broken variants of real firmware lines: every one is a typed error that
//! keeps the request id when the line had a readable one, so the pool can
//! answer `[20, "...", null]` and keep the miner.

use serde_json::{json, Value};
use stratum::framer::{LineFramer, DEFAULT_MAX_LINE_LEN};
use stratum::message::{
    ClientMessage, ClientMethod, ErrorCode, ErrorKind, Id, ParseError, ServerMessage,
};

/// cgminer's submit, params first as it writes them.
const CGMINER_SUBMIT: &str = r#"{"params": ["bc1qexampleaddressxxxxxxxxxxxxxxxxxxxxxxxx.s9", "1a2b3c4d", "0000000000000001", "6b060d97", "000795a5", "00002000"], "id": 4, "method": "mining.submit"}"#;

fn with_params(line: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_str(line).unwrap();
    edit(&mut value);
    value.to_string().into_bytes()
}

fn client_error(line: &[u8]) -> ParseError {
    match ClientMessage::parse(line) {
        Err(error) => error,
        Ok(message) => panic!("{} parsed as {message:?}", String::from_utf8_lossy(line)),
    }
}

#[test]
fn numbers_where_strings_are_expected() {
    for index in 0..6 {
        let line = with_params(CGMINER_SUBMIT, |value| {
            value["params"][index] = json!(12345)
        });
        let error = client_error(&line);
        assert_eq!(error.id, Id::from(4), "param {index}");
        assert_eq!(error.method.as_deref(), Some("mining.submit"));
        assert!(
            matches!(error.kind, ErrorKind::WrongType { .. }),
            "param {index}: {error}"
        );
        let reply = error.reply().unwrap().to_line();
        let reply: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(reply["id"], json!(4));
        assert_eq!(reply["result"], Value::Null);
        assert_eq!(reply["error"][0], json!(20));
        assert!(reply["error"][1]
            .as_str()
            .unwrap()
            .contains("mining.submit"));
        assert_eq!(reply["error"][2], Value::Null);
    }
}

#[test]
fn bad_hex_names_the_field() {
    let line = with_params(CGMINER_SUBMIT, |value| {
        value["params"][4] = json!("00zz95a5")
    });
    let error = client_error(&line);
    assert_eq!(error.id, Id::from(4));
    assert!(
        matches!(error.kind, ErrorKind::Hex { field: "nonce", .. }),
        "{error}"
    );
    assert!(error.to_string().contains("00zz95a5"), "{error}");
}

#[test]
fn params_not_an_array_and_method_not_a_string() {
    let line = with_params(CGMINER_SUBMIT, |value| {
        value["params"] = json!({"worker": "x"})
    });
    let error = client_error(&line);
    assert_eq!(error.id, Id::from(4));
    assert!(
        matches!(error.kind, ErrorKind::ParamsNotArray { .. }),
        "{error}"
    );

    let line = with_params(CGMINER_SUBMIT, |value| value["method"] = json!(7));
    let error = client_error(&line);
    assert_eq!(error.id, Id::from(4));
    assert!(
        matches!(error.kind, ErrorKind::MethodNotString { .. }),
        "{error}"
    );

    let line = with_params(CGMINER_SUBMIT, |value| {
        value.as_object_mut().unwrap().remove("method");
    });
    assert_eq!(client_error(&line).kind, ErrorKind::NoMethodOrResult);
}

#[test]
fn too_many_and_too_few_params() {
    for count in [0, 4, 7] {
        let line = with_params(CGMINER_SUBMIT, |value| {
            value["params"] = Value::Array(vec![json!("1"); count]);
        });
        let error = client_error(&line);
        assert_eq!(
            error.kind,
            ErrorKind::ParamCount {
                expected: "5 or 6",
                got: count
            }
        );
        assert_eq!(error.id, Id::from(4));
    }
}

#[test]
fn not_json_and_not_objects() {
    for line in [
        &b"hello"[..],
        b"",
        b"{",
        b"[1,2]",
        b"\"mining.subscribe\"",
        b"null",
        b"{}x",
    ] {
        let error = client_error(line);
        assert!(
            matches!(
                error.kind,
                ErrorKind::NotJson { .. } | ErrorKind::NotAnObject { .. }
            ),
            "{error}"
        );
        assert_eq!(error.id, Id::Null);
        assert_eq!(error.reply(), None);
    }
}

#[test]
fn invalid_utf8_is_a_typed_error() {
    let line = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"\xff\xfe\"]}";
    let valid_up_to = line.iter().position(|&byte| byte == 0xff).unwrap();
    assert_eq!(
        client_error(line).kind,
        ErrorKind::InvalidUtf8 { valid_up_to }
    );
    assert!(matches!(
        ServerMessage::parse(line).unwrap_err().kind,
        ErrorKind::InvalidUtf8 { .. }
    ));
}

#[test]
fn a_one_mebibyte_line() {
    let huge = format!(
        "{{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"{}\"]}}",
        "a".repeat(1 << 20)
    );
    let error = client_error(huge.as_bytes());
    assert!(matches!(error.kind, ErrorKind::TooLong { .. }), "{error}");
    assert!(matches!(
        ServerMessage::parse(huge.as_bytes()).unwrap_err().kind,
        ErrorKind::TooLong { .. }
    ));

    // The framer reports it once, holds no more than max + chunk, and
    // frames the line after it normally.
    let mut framer = LineFramer::default();
    let mut stream = huge.into_bytes();
    stream.extend_from_slice(
        b"\n{\"id\":2,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}\n",
    );
    let mut errors = 0;
    let mut lines = Vec::new();
    for chunk in stream.chunks(4096) {
        framer.push(chunk);
        assert!(framer.buffered_len() <= DEFAULT_MAX_LINE_LEN + 4096);
        while let Some(item) = framer.next_line() {
            match item {
                Ok(line) => lines.push(ClientMessage::parse(line).unwrap()),
                Err(error) => {
                    assert!(error.start.starts_with("{\"id\":1"), "{error}");
                    errors += 1;
                }
            }
        }
    }
    assert_eq!(errors, 1);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0].to_line(),
        "{\"id\":2,\"method\":\"mining.extranonce.subscribe\",\"params\":[]}\n"
    );
}

#[test]
fn unknown_method_is_a_request_carrying_its_id() {
    let line = br#"{"id": 17, "method": "mining.multi_version", "params": [1]}"#;
    let Ok(ClientMessage::Request(request)) = ClientMessage::parse(line) else {
        panic!("unknown method must parse");
    };
    assert_eq!(request.id, Id::from(17));
    assert!(matches!(
        &request.method,
        ClientMethod::Unknown { method, params } if method == "mining.multi_version" && params == &[json!(1)]
    ));
}

#[test]
fn suggest_difficulty_out_of_range() {
    for bad in [json!(0), json!(-512), json!("abc"), json!(null), json!([1])] {
        let line = json!({"id": 3, "method": "mining.suggest_difficulty", "params": [bad]});
        let error = client_error(line.to_string().as_bytes());
        assert_eq!(error.id, Id::from(3));
        assert!(
            matches!(
                error.kind,
                ErrorKind::Difficulty { .. } | ErrorKind::WrongType { .. }
            ),
            "{error}"
        );
    }
}

#[test]
fn a_bad_username_is_answered_as_unauthorized() {
    let line = br#"{"id":2,"method":"mining.authorize","params":["bad user","x"]}"#;
    let error = client_error(line);
    assert_eq!(error.code(), ErrorCode::UnauthorizedWorker);
    assert!(error.reply().unwrap().to_line().contains("[24,"));
}

#[test]
fn string_ids_are_echoed() {
    let line = br#"{"id":"a\"b","method":"mining.submit","params":[]}"#;
    let error = client_error(line);
    assert_eq!(error.id, Id::from("a\"b"));
    assert!(error
        .reply()
        .unwrap()
        .to_line()
        .starts_with("{\"id\":\"a\\\"b\","));
}

#[test]
fn bytes_that_are_not_a_line_at_all() {
    let mut noise = Vec::new();
    for byte in 0..=255u8 {
        noise.push(byte);
        // Neither parser may panic on any prefix of every byte value.
        let _ = ClientMessage::parse(&noise);
        let _ = ServerMessage::parse(&noise);
    }
    let deep = format!(
        "{{\"id\":1,\"method\":\"x\",\"params\":{}}}",
        "[".repeat(50_000)
    );
    assert!(matches!(
        client_error(deep.as_bytes()).kind,
        ErrorKind::NotJson { .. }
    ));
}
