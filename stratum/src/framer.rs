//! Line framing: bytes as they arrive in, one complete line at a time out.
//!
//! Stratum is one JSON message per `\n`-terminated line. A peer that never
//! sends a newline must not make us buffer without bound, so lines have a
//! hard maximum; an over-long line is reported once and skipped up to its
//! newline, after which framing carries on (the connection decides whether
//! to keep the peer).

use thiserror::Error;

/// Miners never need more than a few KiB (a notify with a long merkle
/// branch is about 1 KiB); 16 KiB leaves room without inviting abuse.
pub const DEFAULT_MAX_LINE_LEN: usize = 16 * 1024;

/// How many bytes of an over-long line its error repeats.
pub(crate) const ECHO_BYTES: usize = 32;

/// A line longer than the framer's maximum was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line longer than {max} bytes skipped (it began {start:?})")]
pub struct LineTooLong {
    pub max: usize,
    /// The first bytes of the line, lossily decoded, for the log.
    pub start: String,
}

/// Splits a byte stream into lines.
///
/// Drain it with [`LineFramer::next_line`] until `None` after every
/// [`LineFramer::push`]; it then holds at most one partial line of at most
/// `max_line_len` bytes, so it never buffers more than that plus one chunk.
#[derive(Debug, Clone)]
pub struct LineFramer {
    max_line_len: usize,
    buffer: Vec<u8>,
    /// Where the next line begins in `buffer`; bytes before it are consumed.
    line_start: usize,
    /// Where the search for `\n` resumes, so no byte is scanned twice.
    scan_from: usize,
    /// Skipping the rest of an over-long line until its newline.
    discarding: bool,
}

impl Default for LineFramer {
    fn default() -> LineFramer {
        LineFramer::new(DEFAULT_MAX_LINE_LEN)
    }
}

impl LineFramer {
    /// `max_line_len` counts the bytes before the `\n` (a `\r` included).
    pub fn new(max_line_len: usize) -> LineFramer {
        LineFramer {
            max_line_len,
            buffer: Vec::new(),
            line_start: 0,
            scan_from: 0,
            discarding: false,
        }
    }

    pub fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// Bytes held: the unread lines and the partial one.
    pub fn buffered_len(&self) -> usize {
        self.buffer.len() - self.line_start
    }

    /// Gives back memory held from an earlier long line when nothing is
    /// buffered: an idle connection then holds no buffer at all.
    pub fn release_spare(&mut self) {
        if self.line_start == self.buffer.len() && !self.discarding {
            self.buffer = Vec::new();
            self.line_start = 0;
            self.scan_from = 0;
        }
    }

    /// Bytes allocated for buffering, used or not.
    pub fn capacity(&self) -> usize {
        self.buffer.capacity()
    }

    /// Adds bytes as they arrived, in chunks of any size.
    pub fn push(&mut self, mut chunk: &[u8]) {
        if self.discarding {
            match chunk.iter().position(|&byte| byte == b'\n') {
                Some(newline) => {
                    self.discarding = false;
                    chunk = &chunk[newline + 1..];
                }
                None => return,
            }
        }
        if self.line_start > 0 {
            // Moves at most one partial line, once per push: linear overall.
            self.buffer.drain(..self.line_start);
            self.scan_from -= self.line_start;
            self.line_start = 0;
        }
        self.buffer.extend_from_slice(chunk);
    }

    /// The next complete line without its `\n` and trailing `\r`, skipping
    /// empty lines; an error, once, for a line over the maximum; `None`
    /// when more bytes are needed.
    pub fn next_line(&mut self) -> Option<Result<&[u8], LineTooLong>> {
        loop {
            let unscanned = &self.buffer[self.scan_from..];
            let Some(offset) = unscanned.iter().position(|&byte| byte == b'\n') else {
                self.scan_from = self.buffer.len();
                if self.buffer.len() - self.line_start <= self.max_line_len {
                    return None;
                }
                let error = self.too_long(self.line_start, self.buffer.len());
                self.buffer.clear();
                self.line_start = 0;
                self.scan_from = 0;
                self.discarding = true;
                return Some(Err(error));
            };
            let start = self.line_start;
            let newline = self.scan_from + offset;
            self.line_start = newline + 1;
            self.scan_from = newline + 1;
            if newline - start > self.max_line_len {
                return Some(Err(self.too_long(start, newline)));
            }
            let line = &self.buffer[start..newline];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.is_empty() {
                // Re-borrow through self so the returned slice's lifetime is &mut self's.
                let end = start + line.len();
                return Some(Ok(&self.buffer[start..end]));
            }
        }
    }

    /// The error for the line at `start`, echoing none of the bytes past
    /// its `end` (the lines after it are not its bytes).
    fn too_long(&self, start: usize, end: usize) -> LineTooLong {
        let end = (start + ECHO_BYTES).min(end);
        LineTooLong {
            max: self.max_line_len,
            start: String::from_utf8_lossy(&self.buffer[start..end]).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(framer: &mut LineFramer) -> Vec<Result<Vec<u8>, LineTooLong>> {
        let mut out = Vec::new();
        while let Some(item) = framer.next_line() {
            out.push(item.map(<[u8]>::to_vec));
        }
        out
    }

    #[test]
    fn strips_newlines_and_skips_empty_lines() {
        let mut framer = LineFramer::new(100);
        framer.push(b"a\r\n\n\r\nbc");
        assert_eq!(drain(&mut framer), vec![Ok(b"a".to_vec())]);
        framer.push(b"d\n");
        assert_eq!(drain(&mut framer), vec![Ok(b"bcd".to_vec())]);
        assert_eq!(framer.buffered_len(), 0);
    }

    #[test]
    fn over_long_line_errors_once_then_recovers() {
        let mut framer = LineFramer::new(4);
        framer.push(b"12345");
        let items = drain(&mut framer);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].as_ref().unwrap_err().start, "12345");
        framer.push(b"6789");
        assert_eq!(drain(&mut framer), vec![]);
        assert_eq!(framer.buffered_len(), 0);
        framer.push(b"0\nok\n");
        assert_eq!(drain(&mut framer), vec![Ok(b"ok".to_vec())]);
    }

    #[test]
    fn complete_over_long_line_in_one_chunk() {
        let mut framer = LineFramer::new(4);
        framer.push(b"1234\n12345\nabcd\r\n");
        let items = drain(&mut framer);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0], Ok(b"1234".to_vec()));
        assert!(items[1].is_err());
        // The limit counts the `\r`, whichever way the chunks fall.
        assert!(items[2].is_err());
        // Each error echoes its own line, not the lines after it.
        assert_eq!(items[1].as_ref().unwrap_err().start, "12345");
        assert_eq!(items[2].as_ref().unwrap_err().start, "abcd\r");
    }

    #[test]
    fn an_idle_framer_releases_its_buffer_but_keeps_a_partial_line() {
        let mut framer = LineFramer::new(64);
        framer.push(&[b'x'; 60]);
        framer.push(b"\nab");
        assert_eq!(drain(&mut framer).len(), 1);
        framer.release_spare();
        assert!(framer.capacity() > 0, "the partial line stays");
        framer.push(b"c\n");
        assert_eq!(drain(&mut framer), vec![Ok(b"abc".to_vec())]);
        framer.release_spare();
        assert_eq!(framer.capacity(), 0);
        framer.push(b"d\n");
        assert_eq!(drain(&mut framer), vec![Ok(b"d".to_vec())]);
    }

    #[test]
    fn buffer_stays_bounded() {
        let mut framer = LineFramer::new(64);
        for _ in 0..10_000 {
            framer.push(&[b'x'; 7]);
            drain(&mut framer);
            assert!(framer.buffered_len() <= 64 + 7);
        }
    }
}
