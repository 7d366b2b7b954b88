//! Lines over TCP: the only code here that touches the socket.
//!
//! Reading is cancel-safe (a `select!` may drop it between bytes without
//! losing any), so the miner can wait on the pool, its hasher and its stop
//! signal at once. A slow reader reads a few bytes at a time on a schedule.

use crate::counters::MinerCounters;
use crate::misbehaviour::SLOW_READ_BYTES;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use stratum::framer::LineFramer;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpSocket;
use tokio::time::Instant;

/// The receive buffer asked for by a miner that reads slowly or not at
/// all, like an ESP32's small TCP window: the pool's queue fills sooner.
const SMALL_RECEIVE_BUFFER: u32 = 4096;

#[derive(Debug, Error)]
pub(crate) enum ConnectionError {
    #[error("the pool closed the connection")]
    Closed,
    #[error("{0}")]
    Io(#[from] io::Error),
}

pub(crate) struct Connection {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    framer: LineFramer,
    buffer: Box<[u8]>,
    slow_reader: Option<Duration>,
    next_read_at: Instant,
    counters: Arc<MinerCounters>,
}

impl Connection {
    pub async fn connect(
        pool: SocketAddr,
        slow_reader: Option<Duration>,
        small_receive_buffer: bool,
        counters: Arc<MinerCounters>,
    ) -> io::Result<Connection> {
        let socket = match pool {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if small_receive_buffer {
            socket.set_recv_buffer_size(SMALL_RECEIVE_BUFFER)?;
        }
        let stream = socket.connect(pool).await?;
        stream.set_nodelay(true)?;
        let (reader, writer) = stream.into_split();
        Ok(Connection {
            reader,
            writer,
            framer: LineFramer::default(),
            buffer: vec![0u8; 16 * 1024].into_boxed_slice(),
            slow_reader,
            next_read_at: Instant::now(),
            counters,
        })
    }

    /// The next line from the pool, without its newline. Over-long lines
    /// are counted as protocol errors and skipped. Cancel-safe.
    pub async fn read_line(&mut self) -> Result<Vec<u8>, ConnectionError> {
        loop {
            while let Some(item) = self.framer.next_line() {
                match item {
                    Ok(line) => {
                        MinerCounters::bump(&self.counters.lines_received);
                        return Ok(line.to_vec());
                    }
                    Err(too_long) => {
                        MinerCounters::bump(&self.counters.protocol_errors);
                        tracing::debug!(error = %too_long, "over-long line from the pool");
                    }
                }
            }
            let limit = match self.slow_reader {
                Some(interval) => {
                    // The deadline survives cancellation, so a busy miner
                    // still reads on schedule.
                    tokio::time::sleep_until(self.next_read_at).await;
                    self.next_read_at = Instant::now() + interval;
                    SLOW_READ_BYTES
                }
                None => self.buffer.len(),
            };
            let read = self.reader.read(&mut self.buffer[..limit]).await?;
            if read == 0 {
                return Err(ConnectionError::Closed);
            }
            self.framer.push(&self.buffer[..read]);
        }
    }

    /// Writes one or more whole lines.
    pub async fn write(&mut self, lines: &str) -> Result<(), ConnectionError> {
        self.writer.write_all(lines.as_bytes()).await?;
        let count = lines.bytes().filter(|byte| *byte == b'\n').count() as u64;
        self.counters
            .lines_sent
            .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}
