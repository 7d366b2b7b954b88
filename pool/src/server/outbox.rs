//! A session's outgoing lines: a bounded queue that the session's own task
//! writes to the miner's socket, as many lines per write as the socket
//! takes.
//!
//! There is no writer task and no channel: an idle miner's outgoing half
//! costs a few words (the queue frees its buffer once empty), a new block
//! reaches a miner with one task wake-up rather than two, and a burst of
//! answers leaves in one `writev` rather than one `write` each.
//!
//! The queue is bounded. A session never waits on it: it stops reading a
//! miner whose answers back up, holds its own work until the queue is
//! written out, and drops a miner whose socket takes nothing for
//! [`WRITE_STALL`], so one miner that stops reading cannot hold up anything
//! shared.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lines a miner may have waiting: a few dozen answers (a session stops
/// reading a miner whose answers back up, and its own work waits for the
/// queue to be written, so nothing fills it).
pub(crate) const CAPACITY: usize = 64;

/// A socket that takes no byte for this long while lines wait belongs to a
/// miner that stopped reading.
pub(crate) const WRITE_STALL: Duration = Duration::from_secs(30);

/// Lines handed to one `writev`: beyond this a write is as long as the
/// socket buffer takes anyway.
const SLICES: usize = 64;

/// A line for one miner: its own (an answer), or one every session shares
/// (a job's notify, serialized once per job rather than copied per miner:
/// a new block reaches thousands of queues as a reference count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    Own(String),
    Shared(Arc<str>),
}

impl Line {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Line::Own(line) => line,
            Line::Shared(line) => line,
        }
    }
}

impl From<String> for Line {
    fn from(line: String) -> Line {
        Line::Own(line)
    }
}

impl From<&Arc<str>> for Line {
    fn from(line: &Arc<str>) -> Line {
        Line::Shared(Arc::clone(line))
    }
}

/// The queue holds [`CAPACITY`] lines already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

#[derive(Debug, Default)]
pub(crate) struct Outbox {
    lines: VecDeque<Line>,
    /// Bytes of the first line already written.
    written: usize,
    /// Since when lines have waited on a socket that took nothing.
    stalled_since: Option<Instant>,
}

impl Outbox {
    pub(crate) fn new() -> Outbox {
        Outbox::default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines that can still be queued.
    pub(crate) fn room(&self) -> usize {
        CAPACITY - self.lines.len()
    }

    pub(crate) fn push(&mut self, line: Line) -> Result<(), Full> {
        if self.lines.len() >= CAPACITY {
            return Err(Full);
        }
        self.lines.push_back(line);
        Ok(())
    }

    /// Writes queued lines with `write` (a non-blocking `writev`) until the
    /// queue is empty or the socket would block; a partly written line
    /// keeps its place. `Ok(true)` when the queue is empty.
    pub(crate) fn write_with(
        &mut self,
        now: Instant,
        mut write: impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> io::Result<bool> {
        while !self.lines.is_empty() {
            let mut slices = [IoSlice::new(&[]); SLICES];
            let mut count = 0;
            for (at, line) in self.lines.iter().take(SLICES).enumerate() {
                let bytes = line.as_str().as_bytes();
                slices[at] = IoSlice::new(if at == 0 {
                    &bytes[self.written..]
                } else {
                    bytes
                });
                count += 1;
            }
            match write(&slices[..count]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(wrote) => {
                    self.consume(wrote);
                    self.stalled_since = None;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.stalled_since.get_or_insert(now);
                    return Ok(false);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        self.stalled_since = None;
        Ok(true)
    }

    /// `wrote` bytes left, from the front.
    fn consume(&mut self, mut wrote: usize) {
        while wrote > 0 {
            let Some(first) = self.lines.front() else {
                debug_assert!(false, "wrote more than was queued");
                return;
            };
            let left = first.as_str().len() - self.written;
            if wrote < left {
                self.written += wrote;
                return;
            }
            wrote -= left;
            self.written = 0;
            self.lines.pop_front();
        }
    }

    /// How long lines have waited on a socket that takes nothing.
    pub(crate) fn stalled_for(&self, now: Instant) -> Duration {
        self.stalled_since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// Gives the queue's buffer back once it is empty: an idle miner holds
    /// none between its jobs.
    pub(crate) fn release_spare(&mut self) {
        if self.lines.is_empty() {
            self.lines = VecDeque::new();
        }
    }

    /// Every queued line, as if written (tests and the fuzzer read what a
    /// miner would).
    pub(crate) fn take_all(&mut self) -> Vec<Line> {
        self.written = 0;
        self.stalled_since = None;
        self.lines.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line {
        Line::Own(text.to_string())
    }

    /// A socket that takes at most `per_call` bytes per call, and blocks
    /// once it has received `total`.
    struct Socket {
        per_call: usize,
        total: usize,
        received: Vec<u8>,
        calls: usize,
    }

    impl Socket {
        fn write(&mut self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            let mut wrote = 0;
            for slice in slices {
                let take = slice
                    .len()
                    .min(self.per_call - wrote)
                    .min(self.total - self.received.len());
                self.received.extend_from_slice(&slice[..take]);
                wrote += take;
            }
            if wrote == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(wrote)
        }
    }

    #[test]
    fn lines_leave_in_order_in_one_write_when_the_socket_takes_them() {
        let mut outbox = Outbox::new();
        for text in ["{\"id\":1}\n", "{\"id\":2}\n", "{\"id\":3}\n"] {
            outbox.push(line(text)).expect("room");
        }
        let mut socket = Socket {
            per_call: usize::MAX,
            total: usize::MAX,
            received: Vec::new(),
            calls: 0,
        };
        let now = Instant::now();
        assert_eq!(outbox.write_with(now, |s| socket.write(s)).ok(), Some(true));
        assert_eq!(socket.received, b"{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");
        assert_eq!(socket.calls, 1);
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_partly_written_line_resumes_where_it_stopped() {
        let mut outbox = Outbox::new();
        outbox.push(line("abcdef\n")).expect("room");
        outbox.push(line("ghij\n")).expect("room");
        let mut socket = Socket {
            per_call: 3,
            total: 4,
            received: Vec::new(),
            calls: 0,
        };
        let start = Instant::now();
        assert_eq!(
            outbox.write_with(start, |s| socket.write(s)).ok(),
            Some(false)
        );
        assert_eq!(socket.received, b"abcd");
        assert_eq!(outbox.lines.len(), 2);
        assert_eq!(outbox.stalled_for(start + WRITE_STALL), WRITE_STALL);
        socket.total = usize::MAX;
        let later = start + Duration::from_secs(1);
        assert_eq!(
            outbox.write_with(later, |s| socket.write(s)).ok(),
            Some(true)
        );
        assert_eq!(socket.received, b"abcdef\nghij\n");
        assert_eq!(outbox.stalled_for(later + WRITE_STALL), Duration::ZERO);
    }

    #[test]
    fn the_queue_is_bounded_and_frees_its_buffer_when_empty() {
        let mut outbox = Outbox::new();
        for n in 0..CAPACITY {
            outbox.push(line(&format!("{n}\n"))).expect("room");
        }
        assert_eq!(outbox.room(), 0);
        assert_eq!(outbox.push(line("one too many\n")), Err(Full));
        outbox.release_spare();
        assert_eq!(
            outbox.lines.len(),
            CAPACITY,
            "a queue with lines keeps them"
        );
        let taken = outbox.take_all();
        assert_eq!(taken.len(), CAPACITY);
        assert_eq!(taken[0].as_str(), "0\n");
        outbox.release_spare();
        assert_eq!(outbox.lines.capacity(), 0);
    }

    #[test]
    fn a_socket_error_is_returned_and_a_zero_write_is_one() {
        let mut outbox = Outbox::new();
        outbox.push(line("x\n")).expect("room");
        let now = Instant::now();
        let reset = outbox.write_with(now, |_| Err(io::ErrorKind::ConnectionReset.into()));
        assert_eq!(
            reset.map_err(|error| error.kind()),
            Err(io::ErrorKind::ConnectionReset)
        );
        let zero = outbox.write_with(now, |_| Ok(0));
        assert_eq!(
            zero.map_err(|error| error.kind()),
            Err(io::ErrorKind::WriteZero)
        );
        assert_eq!(outbox.lines.len(), 1, "nothing was lost");
    }
}
