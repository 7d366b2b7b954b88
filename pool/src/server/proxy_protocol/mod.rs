//! The PROXY protocol header (HAProxy's, versions 1 and 2) a TCP load
//! balancer puts before a miner's first byte, so the pool sees the miner's
//! address rather than the balancer's.
//!
//! Sans-io: [`parse`] reads the bytes received so far and says whether they
//! are a complete header, the start of one, or not a header at all; it
//! never touches a socket. [`HeaderDecoder`] keeps the bytes between reads
//! and hands back what followed the header (the miner's first Stratum
//! bytes). [`read`] is the thin async shell that reads a socket into it.
//!
//! Spec: <https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt>.
//! What this receiver does where the spec leaves a choice:
//! - Bytes that cannot begin a header are refused as soon as they arrive,
//!   as is a v1 line with a byte other than printable ASCII before its CRLF.
//! - v1 `UNKNOWN`, v2 `LOCAL`, and v2 `PROXY` with an unspecified family
//!   or protocol, or over a UNIX stream, give no address: the connection's
//!   own peer is used (the spec's fallback).
//! - v2 `PROXY` over a datagram protocol (UDP) is refused: a Stratum
//!   connection is a stream, so the sender is misconfigured.
//! - A v2 address block (TLVs included) of more than
//!   [`MAX_V2_ADDRESS_BLOCK`] bytes is refused; TLVs are skipped.
//!
//! Files: `v1` (the text line), `v2` (the binary header), `read` (the
//! socket side), `tests`.

pub mod read;
mod v1;
mod v2;

use std::net::SocketAddr;
use thiserror::Error;

/// The longest v1 line, CRLF included (`PROXY UNKNOWN` with two IPv6
/// addresses and two ports).
pub const V1_MAX_LEN: usize = 107;
/// The v2 header before its address block: signature, version and
/// command, family and protocol, length.
pub const V2_FIXED_LEN: usize = 16;
/// The longest v2 address block accepted, TLVs included. Balancers send
/// 12 or 36 bytes of addresses and a few small TLVs (AWS's endpoint id,
/// a unique id of at most 128 bytes); more is not a header worth holding.
pub const MAX_V2_ADDRESS_BLOCK: usize = 512;
/// The most bytes any header accepted here takes: [`parse`] of this many
/// bytes is never [`Parsed::Incomplete`].
pub const MAX_HEADER_LEN: usize = V2_FIXED_LEN + MAX_V2_ADDRESS_BLOCK;

/// Which version of the protocol a header was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl Version {
    /// The label logs use.
    pub fn name(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }
}

/// A complete, valid header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    pub version: Version,
    /// The miner's address and port. `None` (v1 `UNKNOWN`, v2 `LOCAL` or
    /// an unspecified family): use the connection's own peer address.
    pub source: Option<SocketAddr>,
    /// Bytes the header took; what follows is the miner's.
    pub length: usize,
}

/// What the bytes received so far are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// The start of a valid header: more bytes are needed.
    Incomplete,
    Complete(ProxyHeader),
}

/// Why bytes are not a PROXY header. Each variant repeats at most a
/// v1 line's worth of what was sent (printable ASCII only).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProxyHeaderError {
    #[error("not a PROXY protocol header: the first bytes are neither \"PROXY \" nor the v2 signature (byte {byte:#04x} at {at})")]
    NoSignature { at: usize, byte: u8 },
    #[error("v1 line: byte {byte:#04x} at {at} (only printable ASCII, then CRLF)")]
    V1Byte { at: usize, byte: u8 },
    #[error("v1 line: no CRLF within the first {V1_MAX_LEN} bytes")]
    V1TooLong,
    #[error("v1 line: protocol {protocol:?} is not TCP4, TCP6 or UNKNOWN")]
    V1Protocol { protocol: String },
    #[error("v1 line: {fields} fields, a {protocol} line has 6 separated by single spaces")]
    V1FieldCount {
        protocol: &'static str,
        fields: usize,
    },
    #[error("v1 line: {field} {text:?} is not an {family} address")]
    V1Address {
        field: &'static str,
        family: &'static str,
        text: String,
    },
    #[error("v1 line: {field} {text:?} is not a port (0 to 65535, no leading zero)")]
    V1Port { field: &'static str, text: String },
    #[error("v2 header: version {version}, only 2 exists")]
    V2Version { version: u8 },
    #[error("v2 header: command {command:#x} is neither LOCAL (0) nor PROXY (1)")]
    V2Command { command: u8 },
    #[error("v2 header: family and protocol byte {byte:#04x} is not one the spec assigns")]
    V2Family { byte: u8 },
    #[error("v2 header: family and protocol byte {byte:#04x} is a datagram protocol, not a TCP connection")]
    V2Datagram { byte: u8 },
    #[error("v2 header: an address block of {length} bytes, more than the {MAX_V2_ADDRESS_BLOCK} accepted")]
    V2TooLong { length: usize },
    #[error("v2 header: an address block of {length} bytes cannot hold the {needed} bytes of addresses its family byte {byte:#04x} announces")]
    V2Truncated {
        byte: u8,
        length: usize,
        needed: usize,
    },
}

/// Reads the bytes a connection sent so far (from its first byte).
/// `Incomplete` while they are the start of a valid header; an error as
/// soon as they cannot be one. Bytes past the header are not looked at.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ProxyHeaderError> {
    match bytes.first() {
        None => Ok(Parsed::Incomplete),
        Some(&first) if first == v1::PREFIX[0] => v1::parse(bytes),
        Some(&first) if first == v2::SIGNATURE[0] => v2::parse(bytes),
        Some(&byte) => Err(ProxyHeaderError::NoSignature { at: 0, byte }),
    }
}

/// Where a prefix of `bytes` first differs from `expected`: an error
/// naming that byte, `Ok` while they agree as far as both go.
fn expect_prefix(bytes: &[u8], expected: &[u8]) -> Result<(), ProxyHeaderError> {
    match bytes
        .iter()
        .zip(expected)
        .position(|(got, want)| got != want)
    {
        Some(at) => Err(ProxyHeaderError::NoSignature {
            at,
            byte: bytes[at],
        }),
        None => Ok(()),
    }
}

/// What feeding bytes to a [`HeaderDecoder`] gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    NeedMore,
    Header {
        header: ProxyHeader,
        /// What came after the header: the miner's first bytes.
        rest: Vec<u8>,
    },
}

/// Collects a connection's first bytes until they make a header.
///
/// It holds at most [`MAX_HEADER_LEN`] bytes plus one pushed chunk: read
/// at most [`HeaderDecoder::room`] bytes at a time and it never holds more
/// than [`MAX_HEADER_LEN`].
#[derive(Debug, Default)]
pub struct HeaderDecoder {
    received: Vec<u8>,
}

impl HeaderDecoder {
    pub fn new() -> HeaderDecoder {
        HeaderDecoder::default()
    }

    /// Bytes a header may still need (0 only once it is decided).
    pub fn room(&self) -> usize {
        MAX_HEADER_LEN.saturating_sub(self.received.len())
    }

    /// Bytes received so far.
    pub fn received(&self) -> usize {
        self.received.len()
    }

    /// Adds `bytes` as they arrived. Once the header is complete, whatever
    /// followed it (in this push) comes back in `rest`; the decoder is then
    /// empty again.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Decoded, ProxyHeaderError> {
        self.received.extend_from_slice(bytes);
        match parse(&self.received)? {
            Parsed::Incomplete => Ok(Decoded::NeedMore),
            Parsed::Complete(header) => {
                let rest = self.received.split_off(header.length);
                self.received = Vec::new();
                Ok(Decoded::Header { header, rest })
            }
        }
    }
}

#[cfg(test)]
mod tests;
