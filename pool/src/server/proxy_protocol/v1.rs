//! Version 1: one line of US-ASCII text before the miner's bytes,
//! `PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n`: protocol, source
//! and destination address, source and destination port, separated by
//! single spaces. `PROXY UNKNOWN` may be followed by anything up to CRLF.

use super::{expect_prefix, Parsed, ProxyHeader, ProxyHeaderError, Version, V1_MAX_LEN};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// How every v1 line begins.
pub(super) const PREFIX: &[u8] = b"PROXY ";

#[derive(Debug, Clone, Copy)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn protocol(self) -> &'static str {
        match self {
            Family::V4 => "TCP4",
            Family::V6 => "TCP6",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

pub(super) fn parse(bytes: &[u8]) -> Result<Parsed, ProxyHeaderError> {
    expect_prefix(bytes, PREFIX)?;
    let Some(end) = line_end(bytes)? else {
        return Ok(Parsed::Incomplete);
    };
    // Printable ASCII up to `end`, one char a byte.
    let line: String = bytes[..end].iter().copied().map(char::from).collect();
    let fields: Vec<&str> = line.split(' ').collect();
    // The prefix makes it at least two fields.
    let source = match fields.get(1).copied().unwrap_or_default() {
        // The sender could not fill the line: whatever follows is ignored.
        "UNKNOWN" => None,
        "TCP4" => Some(source(&fields, Family::V4)?),
        "TCP6" => Some(source(&fields, Family::V6)?),
        protocol => {
            return Err(ProxyHeaderError::V1Protocol {
                protocol: protocol.to_string(),
            })
        }
    };
    Ok(Parsed::Complete(ProxyHeader {
        version: Version::V1,
        source,
        length: end + 2,
    }))
}

/// Where the line's CRLF begins, once it is there. Before it only
/// printable ASCII is allowed (so a lone CR or LF is refused at once), and
/// it must end within [`V1_MAX_LEN`] bytes.
fn line_end(bytes: &[u8]) -> Result<Option<usize>, ProxyHeaderError> {
    let window = &bytes[..bytes.len().min(V1_MAX_LEN)];
    for (at, &byte) in window.iter().enumerate() {
        match byte {
            b' '..=b'~' => {}
            b'\r' => match window.get(at + 1) {
                Some(b'\n') => return Ok(Some(at)),
                Some(&byte) => return Err(ProxyHeaderError::V1Byte { at: at + 1, byte }),
                None => break,
            },
            byte => return Err(ProxyHeaderError::V1Byte { at, byte }),
        }
    }
    if window.len() == V1_MAX_LEN {
        Err(ProxyHeaderError::V1TooLong)
    } else {
        Ok(None)
    }
}

/// The source address and port of a `TCP4` or `TCP6` line, after checking
/// every field (a line with a bad destination is no more trusted).
fn source(fields: &[&str], family: Family) -> Result<SocketAddr, ProxyHeaderError> {
    let [_, _, source, destination, source_port, destination_port] = fields else {
        return Err(ProxyHeaderError::V1FieldCount {
            protocol: family.protocol(),
            fields: fields.len(),
        });
    };
    let ip = address(source, "source address", family)?;
    address(destination, "destination address", family)?;
    let port = port(source_port, "source port")?;
    self::port(destination_port, "destination port")?;
    Ok(SocketAddr::new(ip, port))
}

fn address(text: &str, field: &'static str, family: Family) -> Result<IpAddr, ProxyHeaderError> {
    // The standard parsers refuse leading zeros in IPv4, as the spec does.
    let parsed = match family {
        Family::V4 => text.parse::<Ipv4Addr>().map(IpAddr::V4),
        Family::V6 => text.parse::<Ipv6Addr>().map(IpAddr::V6),
    };
    parsed.map_err(|_| ProxyHeaderError::V1Address {
        field,
        family: family.name(),
        text: text.to_string(),
    })
}

/// A decimal port, 0 to 65535, with no leading zero.
fn port(text: &str, field: &'static str) -> Result<u16, ProxyHeaderError> {
    let canonical = (1..=5).contains(&text.len())
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical
        .then(|| text.parse::<u16>().ok())
        .flatten()
        .ok_or_else(|| ProxyHeaderError::V1Port {
            field,
            text: text.to_string(),
        })
}
