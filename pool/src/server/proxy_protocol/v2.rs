//! Version 2: a binary header. A 12-byte signature, a byte of version (2)
//! and command (LOCAL or PROXY), a byte of address family and transport
//! protocol, a big-endian 16-bit length, then that many bytes: the
//! addresses and ports in network order, then TLVs (skipped here).

use super::{expect_prefix, Parsed, ProxyHeader, ProxyHeaderError, Version};
use super::{MAX_V2_ADDRESS_BLOCK, V2_FIXED_LEN};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// `\r\n\r\n\0\r\nQUIT\n`: no text protocol begins like this.
pub(super) const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

const VERSION: u8 = 2;
/// The balancer's own connection (a health check): no miner behind it.
const LOCAL: u8 = 0x0;
/// Relayed for a client whose addresses follow.
const PROXY: u8 = 0x1;

/// What the address block holds, from the family and protocol byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// LOCAL, an unspecified family or protocol: nothing to use.
    Ignored,
    /// TCP over IPv4: two addresses of 4 bytes, two ports.
    Tcp4,
    /// TCP over IPv6: two addresses of 16 bytes, two ports.
    Tcp6,
    /// A UNIX stream: two paths of 108 bytes, no address to use.
    UnixStream,
}

impl Block {
    /// For a PROXY command, from the family (high nibble) and protocol
    /// (low nibble) byte.
    fn of(byte: u8) -> Result<Block, ProxyHeaderError> {
        let (family, protocol) = (byte >> 4, byte & 0x0f);
        match (family, protocol) {
            (4.., _) | (_, 3..) => Err(ProxyHeaderError::V2Family { byte }),
            // UNSPEC: the spec's fallback is the connection's own address.
            (0, _) | (_, 0) => Ok(Block::Ignored),
            (_, 2) => Err(ProxyHeaderError::V2Datagram { byte }),
            (1, _) => Ok(Block::Tcp4),
            (2, _) => Ok(Block::Tcp6),
            _ => Ok(Block::UnixStream),
        }
    }

    /// Bytes of addresses the block must at least hold.
    fn needed(self) -> usize {
        match self {
            Block::Ignored => 0,
            Block::Tcp4 => 2 * 4 + 2 * 2,
            Block::Tcp6 => 2 * 16 + 2 * 2,
            Block::UnixStream => 2 * 108,
        }
    }

    /// The source address in `block` (checked to be at least
    /// [`Block::needed`] long, so never `None` for TCP).
    fn source(self, block: &[u8]) -> Option<SocketAddr> {
        let port = |at: usize| -> Option<u16> {
            let bytes: [u8; 2] = block.get(at..at + 2)?.try_into().ok()?;
            Some(u16::from_be_bytes(bytes))
        };
        match self {
            Block::Ignored | Block::UnixStream => None,
            Block::Tcp4 => {
                let ip: [u8; 4] = block.get(..4)?.try_into().ok()?;
                Some(SocketAddr::from((Ipv4Addr::from(ip), port(8)?)))
            }
            Block::Tcp6 => {
                let ip: [u8; 16] = block.get(..16)?.try_into().ok()?;
                Some(SocketAddr::from((Ipv6Addr::from(ip), port(32)?)))
            }
        }
    }
}

/// Each field is checked as soon as its byte is there.
pub(super) fn parse(bytes: &[u8]) -> Result<Parsed, ProxyHeaderError> {
    expect_prefix(bytes, &SIGNATURE)?;
    let Some(&version_command) = bytes.get(SIGNATURE.len()) else {
        return Ok(Parsed::Incomplete);
    };
    let version = version_command >> 4;
    if version != VERSION {
        return Err(ProxyHeaderError::V2Version { version });
    }
    let command = version_command & 0x0f;
    if command != LOCAL && command != PROXY {
        return Err(ProxyHeaderError::V2Command { command });
    }
    let Some(&family_protocol) = bytes.get(13) else {
        return Ok(Parsed::Incomplete);
    };
    // LOCAL: the family is ignored, the block skipped.
    let block = match command {
        PROXY => Block::of(family_protocol)?,
        _ => Block::Ignored,
    };
    let Some(&[high, low]) = bytes.get(14..V2_FIXED_LEN) else {
        return Ok(Parsed::Incomplete);
    };
    let length = usize::from(u16::from_be_bytes([high, low]));
    if length > MAX_V2_ADDRESS_BLOCK {
        return Err(ProxyHeaderError::V2TooLong { length });
    }
    if length < block.needed() {
        return Err(ProxyHeaderError::V2Truncated {
            byte: family_protocol,
            length,
            needed: block.needed(),
        });
    }
    let total = V2_FIXED_LEN + length;
    let Some(addresses) = bytes.get(V2_FIXED_LEN..total) else {
        return Ok(Parsed::Incomplete);
    };
    Ok(Parsed::Complete(ProxyHeader {
        version: Version::V2,
        source: block.source(addresses),
        length: total,
    }))
}
