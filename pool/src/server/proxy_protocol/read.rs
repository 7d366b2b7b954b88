//! The socket side: a connection's header read within a time limit and
//! never more than a header's worth of bytes.

use super::{Decoded, HeaderDecoder, ProxyHeader, ProxyHeaderError, MAX_HEADER_LEN};
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};

/// A header and the bytes that came after it in the same reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub header: ProxyHeader,
    /// The miner's first bytes (at most [`MAX_HEADER_LEN`]).
    pub rest: Vec<u8>,
}

/// Why no header was read.
#[derive(Debug, Error)]
pub enum HeaderFailure {
    #[error(transparent)]
    Malformed(#[from] ProxyHeaderError),
    #[error("no complete header within {limit:?} ({received} bytes received)")]
    TimedOut { limit: Duration, received: usize },
    #[error("closed after {received} bytes, before the header ended")]
    Closed { received: usize },
    #[error("read failed after {received} bytes: {error}")]
    Io {
        received: usize,
        error: std::io::Error,
    },
}

impl HeaderFailure {
    /// Bytes the peer sent before it failed (0: it sent nothing).
    pub fn received(&self) -> Option<usize> {
        match self {
            HeaderFailure::Malformed(_) => None,
            HeaderFailure::TimedOut { received, .. }
            | HeaderFailure::Closed { received }
            | HeaderFailure::Io { received, .. } => Some(*received),
        }
    }
}

/// Reads the header `reader` starts with, within `limit`.
pub async fn read_header<R: AsyncRead + Unpin>(
    reader: &mut R,
    limit: Duration,
) -> Result<Received, HeaderFailure> {
    let mut decoder = HeaderDecoder::new();
    let mut chunk = [0u8; MAX_HEADER_LEN];
    let reading = async {
        loop {
            // Never past what a header may take: an undecided decoder has room.
            let room = decoder.room().clamp(1, MAX_HEADER_LEN);
            let count = match reader.read(&mut chunk[..room]).await {
                Ok(0) => {
                    return Err(HeaderFailure::Closed {
                        received: decoder.received(),
                    })
                }
                Ok(count) => count,
                Err(error) => {
                    return Err(HeaderFailure::Io {
                        received: decoder.received(),
                        error,
                    })
                }
            };
            if let Decoded::Header { header, rest } = decoder.push(&chunk[..count])? {
                return Ok(Received { header, rest });
            }
        }
    };
    match tokio::time::timeout(limit, reading).await {
        Ok(result) => result,
        Err(_) => Err(HeaderFailure::TimedOut {
            limit,
            received: decoder.received(),
        }),
    }
}
