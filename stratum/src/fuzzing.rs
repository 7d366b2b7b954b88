//! Bodies of the fuzz targets, shared by the AFL binaries in `fuzz/` and the
//! replay tests in `tests/fuzz_regressions.rs`.
//!
//! They live in the library (hidden from the docs) rather than in `fuzz/`
//! so the ordinary test suite replays crashes and the seed corpus through
//! the very same code without AFL installed, and so the `fuzz/` crate
//! stays a thin `main` per target. Each function panics when an oracle
//! fails, which AFL records as a crash.

use crate::framer::{LineFramer, LineTooLong, DEFAULT_MAX_LINE_LEN, ECHO_BYTES};
use crate::message::{ClientMessage, ParseError, ServerMessage};

/// How the first two bytes of a framer input are read.
const HEADER_LEN: usize = 2;

/// Framer then parsers: the bytes after a two-byte header are a stream a
/// peer sent, pushed in chunks; every line that comes out is parsed both as
/// a miner's and as a pool's line.
///
/// Header byte 0 picks the maximum line length (below 128: the default,
/// else 2 to 256 bytes, so over-long lines are reachable), byte 1 the chunk
/// size (1 to 256 bytes).
///
/// Checks: the framer yields exactly the lines a plain split on `\n` gives
/// (one trailing `\r` stripped, empty lines skipped, each over-long line
/// one error echoing its own first bytes), never a line over the maximum or
/// with a newline, and never holds more than the maximum plus one chunk;
/// a message that parses writes one line that parses back to the same
/// value; an error with an id gives an answer a miner reads back.
pub fn framer_and_messages(data: &[u8]) {
    if data.len() < HEADER_LEN {
        return;
    }
    let max_line_len = match data[0] {
        0..=127 => DEFAULT_MAX_LINE_LEN,
        byte => usize::from(byte - 127) * 2,
    };
    let chunk_len = usize::from(data[1]) + 1;
    let stream = &data[HEADER_LEN..];

    let mut framer = LineFramer::new(max_line_len);
    let mut framed = Vec::new();
    for chunk in stream.chunks(chunk_len) {
        framer.push(chunk);
        while let Some(item) = framer.next_line() {
            framed.push(item.map(<[u8]>::to_vec));
        }
        assert!(
            framer.buffered_len() <= max_line_len + chunk_len,
            "framer holds {} bytes (max line {max_line_len}, chunk {chunk_len})",
            framer.buffered_len()
        );
    }
    let expected = expected_lines(stream, max_line_len);
    assert_eq!(framed.len(), expected.len(), "{framed:?} vs {expected:?}");
    for (got, want) in framed.iter().zip(&expected) {
        match (got, want) {
            (Ok(line), Ok(want)) => assert_eq!(line, want),
            (Err(error), Err(line)) => check_echo(error, line, max_line_len),
            _ => panic!("{got:?} where {want:?} was due"),
        }
    }

    for line in framed.iter().filter_map(|item| item.as_ref().ok()) {
        assert!(line.len() <= max_line_len && !line.contains(&b'\n'));
        check_client_line(line);
        check_server_line(line);
    }
}

/// What the framer must yield for `stream`, from a plain split on `\n`.
/// An over-long line's error echo is judged apart ([`check_echo`]): how
/// much of the line it holds depends on how the chunks fell.
fn expected_lines(stream: &[u8], max_line_len: usize) -> Vec<Result<Vec<u8>, &[u8]>> {
    let mut segments: Vec<&[u8]> = stream.split(|&byte| byte == b'\n').collect();
    // The last segment has no newline yet: only its length can be judged.
    let partial = segments.pop().unwrap_or_default();
    let mut expected = Vec::new();
    for segment in segments {
        if segment.len() > max_line_len {
            expected.push(Err(segment));
            continue;
        }
        let line = segment.strip_suffix(b"\r").unwrap_or(segment);
        if !line.is_empty() {
            expected.push(Ok(line.to_vec()));
        }
    }
    if partial.len() > max_line_len {
        expected.push(Err(partial));
    }
    expected
}

/// An over-long line's error echoes the line's first bytes, and only its
/// own: at most [`ECHO_BYTES`], at least what the framer had to hold to
/// know the line was too long (one byte over the maximum).
fn check_echo(error: &LineTooLong, line: &[u8], max_line_len: usize) {
    assert_eq!(error.max, max_line_len);
    let most = line.len().min(ECHO_BYTES);
    let least = most.min(max_line_len + 1);
    assert!(
        (least..=most).any(|len| String::from_utf8_lossy(&line[..len]) == error.start),
        "echo {:?} of the line {:?}",
        error.start,
        String::from_utf8_lossy(line)
    );
}

/// A miner's line: the pool's reading of it, and its answer to errors.
pub fn check_client_line(line: &[u8]) {
    match ClientMessage::parse(line) {
        Ok(message) => {
            let written = message.to_line();
            let again = ClientMessage::parse(single_line(&written));
            assert_eq!(again.as_ref(), Ok(&message), "rewritten as {written:?}");
        }
        Err(error) => check_error_reply(&error),
    }
}

/// A pool's line, as a miner reads it.
pub fn check_server_line(line: &[u8]) {
    match ServerMessage::parse(line) {
        Ok(message) => {
            let written = message.to_line();
            let again = ServerMessage::parse(single_line(&written));
            assert_eq!(again.as_ref(), Ok(&message), "rewritten as {written:?}");
        }
        Err(error) => {
            // Display must not panic either: the pool logs every error.
            let _ = error.to_string();
        }
    }
}

/// The pool answers a broken request that has an id; the miner must be
/// able to read that answer as an error for the same id.
fn check_error_reply(error: &ParseError) {
    let Some(reply) = error.reply() else {
        assert!(error.id.is_null(), "no reply to {error:?}");
        return;
    };
    let written = reply.to_line();
    match ServerMessage::parse(single_line(&written)) {
        Ok(ServerMessage::Response(read)) => {
            assert_eq!(read.id, error.id, "reply {written:?}");
            assert_eq!(read.result.as_ref().err(), reply.result.as_ref().err());
        }
        other => panic!("reply {written:?} read back as {other:?}"),
    }
}

/// `line` without its `\n`, checking it is exactly one line.
fn single_line(line: &str) -> &[u8] {
    let body = line
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{line:?} has no trailing newline"));
    assert!(!body.contains('\n'), "{line:?} is more than one line");
    body.as_bytes()
}
