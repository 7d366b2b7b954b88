//! PROXY protocol v2 headers as a load balancer writes them, for the
//! parser's unit tests and the Stratum port's integration tests alike.

#![allow(dead_code)] // each test file uses its own part

use std::net::{IpAddr, SocketAddr};

/// The spec's 12-byte v2 signature.
pub const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// A v2 header: `command` (0 LOCAL, 1 PROXY), the family and protocol
/// byte, then `block` (addresses and TLVs).
pub fn v2(command: u8, family_protocol: u8, block: &[u8]) -> Vec<u8> {
    let mut bytes = SIGNATURE.to_vec();
    bytes.push(0x20 | command);
    bytes.push(family_protocol);
    let length = u16::try_from(block.len()).expect("a block a header can hold");
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(block);
    bytes
}

/// The address block of a TCP connection from `source` to `destination`
/// (both of one family): what `send-proxy-v2` sends.
pub fn tcp_block(source: SocketAddr, destination: SocketAddr) -> (u8, Vec<u8>) {
    let mut block = Vec::new();
    let family_protocol = match (source.ip(), destination.ip()) {
        (IpAddr::V4(from), IpAddr::V4(to)) => {
            block.extend_from_slice(&from.octets());
            block.extend_from_slice(&to.octets());
            0x11
        }
        (IpAddr::V6(from), IpAddr::V6(to)) => {
            block.extend_from_slice(&from.octets());
            block.extend_from_slice(&to.octets());
            0x21
        }
        _ => panic!("one family for both ends"),
    };
    block.extend_from_slice(&source.port().to_be_bytes());
    block.extend_from_slice(&destination.port().to_be_bytes());
    (family_protocol, block)
}

/// A TLV: type, 16-bit length, value.
pub fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut bytes = vec![kind];
    bytes.extend_from_slice(&(value.len() as u16).to_be_bytes());
    bytes.extend_from_slice(value);
    bytes
}
