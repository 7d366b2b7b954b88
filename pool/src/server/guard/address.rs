//! Which addresses count as one miner's, and the allow-list's ranges.
//!
//! An IPv4 address is one host. An IPv6 host usually holds a whole /64
//! (SLAAC, privacy addresses), so limits and bans apply to the /64: a ban
//! on one address of it would be dodged by taking the next. An IPv4 address
//! mapped into IPv6 (a dual-stack listener on `[::]`) is the IPv4 address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use thiserror::Error;

/// The unit limits and bans apply to: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostKey {
    V4(Ipv4Addr),
    /// The first 64 bits of the address.
    V6Prefix64(u64),
}

impl HostKey {
    pub fn of(ip: IpAddr) -> HostKey {
        match canonical(ip) {
            IpAddr::V4(v4) => HostKey::V4(v4),
            IpAddr::V6(v6) => HostKey::V6Prefix64((u128::from(v6) >> 64) as u64),
        }
    }
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostKey::V4(v4) => write!(f, "{v4}"),
            HostKey::V6Prefix64(prefix) => {
                write!(f, "{}/64", Ipv6Addr::from(u128::from(*prefix) << 64))
            }
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// An address or a CIDR range: `10.0.0.7`, `10.0.0.0/8`, `2001:db8::/32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IpRangeError {
    #[error("not an IP address or CIDR range (like 10.0.0.0/8 or 2001:db8::/32)")]
    Syntax,
    #[error("prefix /{prefix} is longer than the address's {bits} bits")]
    PrefixTooLong { prefix: u8, bits: u8 },
    #[error("has bits set past its /{prefix} prefix: did you mean {suggestion}?")]
    HostBits { prefix: u8, suggestion: String },
}

impl IpRange {
    pub fn parse(text: &str) -> Result<IpRange, IpRangeError> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = canonical(address.parse().map_err(|_| IpRangeError::Syntax)?);
        let bits = bits_of(network);
        let prefix = match prefix {
            None => bits,
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits.parse().map_err(|_| IpRangeError::Syntax)?
            }
            Some(_) => return Err(IpRangeError::Syntax),
        };
        // A mapped address came with an IPv6 prefix: /120 of it is a /24.
        let prefix = match (address.parse::<IpAddr>(), network) {
            (Ok(IpAddr::V6(_)), IpAddr::V4(_)) if text.contains('/') => {
                prefix.checked_sub(96).ok_or(IpRangeError::Syntax)?
            }
            _ => prefix,
        };
        if prefix > bits {
            return Err(IpRangeError::PrefixTooLong { prefix, bits });
        }
        let range = IpRange { network, prefix };
        let masked = range.masked(network);
        if masked != network {
            return Err(IpRangeError::HostBits {
                prefix,
                suggestion: format!("{masked}/{prefix}"),
            });
        }
        Ok(range)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        bits_of(ip) == bits_of(self.network) && self.masked(ip) == self.network
    }

    /// `ip` with the bits past the prefix cleared.
    fn masked(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn bits_of(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_contain_their_addresses_only() {
        let lan = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(lan.contains(ip("10.255.1.2")));
        assert!(!lan.contains(ip("11.0.0.1")));
        assert!(lan.contains(ip("::ffff:10.1.2.3")), "mapped IPv4");
        assert!(!lan.contains(ip("::a01:203")), "IPv6, not mapped");
        let single = IpRange::parse("192.0.2.7").unwrap();
        assert!(single.contains(ip("192.0.2.7")));
        assert!(!single.contains(ip("192.0.2.8")));
        let v6 = IpRange::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        let everything = IpRange::parse("0.0.0.0/0").unwrap();
        assert!(everything.contains(ip("203.0.113.9")));
        assert!(IpRange::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        let mapped = IpRange::parse("::ffff:10.0.0.0/104").unwrap();
        assert_eq!(mapped, lan);
        assert_eq!(lan.to_string(), "10.0.0.0/8");
    }

    #[test]
    fn bad_ranges_say_what_is_wrong() {
        assert_eq!(IpRange::parse("ten.0.0.0/8"), Err(IpRangeError::Syntax));
        assert_eq!(IpRange::parse("10.0.0.0/"), Err(IpRangeError::Syntax));
        assert_eq!(IpRange::parse("10.0.0.0/-1"), Err(IpRangeError::Syntax));
        assert_eq!(
            IpRange::parse("10.0.0.0/33"),
            Err(IpRangeError::PrefixTooLong {
                prefix: 33,
                bits: 32
            })
        );
        assert_eq!(
            IpRange::parse("10.1.2.3/8"),
            Err(IpRangeError::HostBits {
                prefix: 8,
                suggestion: "10.0.0.0/8".into()
            })
        );
        assert!(IpRange::parse("2001:db8::1/32").is_err());
    }

    #[test]
    fn ipv6_hosts_are_their_64_prefix() {
        let a = HostKey::of(ip("2001:db8:1:2::1"));
        let b = HostKey::of(ip("2001:db8:1:2:ffff::9"));
        let other = HostKey::of(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(
            HostKey::of(ip("::ffff:192.0.2.1")),
            HostKey::of(ip("192.0.2.1"))
        );
        assert_eq!(HostKey::of(ip("192.0.2.1")).to_string(), "192.0.2.1");
    }
}
