//! Miners' webhooks reach only the public internet.
//!
//! The pool sends a miner's alerts from inside the operator's network, to a
//! URL a stranger chose. Unguarded, that URL could name bitcoind's RPC, a
//! cloud metadata service or an admin page on the LAN (server-side request
//! forgery). So a miner's webhook must name a public host, which is checked
//! when it is set and again at every delivery:
//!
//! - an address written in the URL must be public;
//! - a name is resolved here and every non-public answer dropped before
//!   the connection is made, so a DNS answer that changes between the
//!   check and the connection (rebinding) gains nothing;
//! - redirects are not followed (a public host could answer 307 to
//!   `http://127.0.0.1:8332/`), and no proxy from the environment is used.
//!
//! The operator's own webhooks are not restricted: they chose them.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Why a miner's webhook is refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Refused {
    #[error("not a URL: {0}")]
    Malformed(String),
    #[error("the webhook must be an https:// URL")]
    Scheme,
    #[error("the URL names no host")]
    NoHost,
    #[error("{0} is not a public address")]
    Private(IpAddr),
    #[error("{host} resolves only to non-public addresses ({first})")]
    ResolvesPrivate { host: String, first: IpAddr },
    #[error("{host} does not resolve: {reason}")]
    Unresolved { host: String, reason: String },
}

/// Whether `ip` is reachable on the public internet: not loopback,
/// private, link-local, shared (CGNAT), documentation, benchmarking,
/// multicast or reserved space, nor an IPv6 form of such an IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let reserved = a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space, RFC 6598
        || (a == 169 && b == 254) // link-local, cloud metadata services
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking, RFC 2544
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // Forms that carry an IPv4 address are as public as that address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let embedded = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(segments[6], segments[7])); // NAT64
    }
    if segments[0] == 0x2002 {
        return is_public_v4(embedded(segments[1], segments[2])); // 6to4
    }
    let reserved = ip.is_unspecified()
        || ip.is_loopback()
        || segments[..6] == [0; 6] // IPv4-compatible (deprecated)
        || (segments[0] & 0xfe00) == 0xfc00 // unique local
        || (segments[0] & 0xffc0) == 0xfe80 // link-local
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (segments[0] & 0xff00) == 0xff00 // multicast
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo: reaches IPv4 space
        || segments[..4] == [0x0100, 0, 0, 0]; // discard-only
    !reserved
}

/// A miner's webhook as written: the scheme allowed, a host, and no
/// non-public address literal. Names are checked by [`check_resolves`].
pub fn check_url(webhook: &str, allow_http: bool, allow_private: bool) -> Result<(), Refused> {
    let url =
        reqwest::Url::parse(webhook).map_err(|error| Refused::Malformed(error.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err(Refused::Scheme),
    }
    match url.host() {
        None => Err(Refused::NoHost),
        Some(_) if allow_private => Ok(()),
        Some(url::Host::Ipv4(v4)) if !is_public_v4(v4) => Err(Refused::Private(v4.into())),
        Some(url::Host::Ipv6(v6)) if !is_public_v6(v6) => Err(Refused::Private(v6.into())),
        Some(_) => Ok(()),
    }
}

/// How long a lookup may take when a miner sets a webhook.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Resolves a webhook's host now, so a miner hears at once that a name
/// leads nowhere public (deliveries check again: answers change).
pub async fn check_resolves(webhook: &str) -> Result<(), Refused> {
    let url =
        reqwest::Url::parse(webhook).map_err(|error| Refused::Malformed(error.to_string()))?;
    let Some(url::Host::Domain(host)) = url.host() else {
        return Ok(()); // an address literal: check_url judged it
    };
    public_addresses(host).await.map(drop)
}

async fn public_addresses(host: &str) -> Result<Vec<SocketAddr>, Refused> {
    let unresolved = |reason: String| Refused::Unresolved {
        host: host.to_string(),
        reason,
    };
    let found: Vec<SocketAddr> =
        tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, 0)))
            .await
            .map_err(|_| unresolved("lookup timed out".into()))?
            .map_err(|error| unresolved(error.to_string()))?
            .collect();
    let public: Vec<SocketAddr> = found
        .iter()
        .copied()
        .filter(|address| is_public(address.ip()))
        .collect();
    match (public.is_empty(), found.first()) {
        (false, _) => Ok(public),
        (true, Some(first)) => Err(Refused::ResolvesPrivate {
            host: host.to_string(),
            first: first.ip(),
        }),
        (true, None) => Err(unresolved("no addresses".into())),
    }
}

/// reqwest's resolver for miners' webhooks: public answers only.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses = public_addresses(&host).await?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client for miners' webhooks; with `allow_private` (a pool whose
/// miners' receivers sit on its LAN) only the redirect and proxy rules hold.
pub(super) fn miner_client(
    timeout: Duration,
    allow_private: bool,
) -> reqwest::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("pool/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if allow_private {
        builder.build()
    } else {
        builder.dns_resolver(Arc::new(PublicOnly)).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_non_public_addresses() {
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} is public");
        }
        for private in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "100::1",
        ] {
            assert!(
                !is_public(private.parse().unwrap()),
                "{private} is not public"
            );
        }
    }

    #[test]
    fn urls_are_judged_by_scheme_and_address_literal() {
        assert_eq!(check_url("https://ntfy.sh/me", false, false), Ok(()));
        assert_eq!(check_url("https://8.8.8.8/hook", false, false), Ok(()));
        assert_eq!(
            check_url("http://ntfy.sh/me", false, false),
            Err(Refused::Scheme)
        );
        assert_eq!(check_url("http://ntfy.sh/me", true, false), Ok(()));
        assert_eq!(
            check_url("ftp://ntfy.sh/me", true, true),
            Err(Refused::Scheme)
        );
        assert!(matches!(
            check_url("ntfy.sh/me", false, false),
            Err(Refused::Malformed(_))
        ));
        for literal in [
            "https://127.0.0.1:8332/",
            "https://[::1]/",
            "https://[::ffff:7f00:1]/",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/",
            // Shorthand forms the URL parser reads as 127.0.0.1.
            "https://2130706433/",
            "https://0x7f.1/",
            "https://127.1/",
        ] {
            assert!(
                matches!(check_url(literal, false, false), Err(Refused::Private(_))),
                "{literal} is refused"
            );
        }
        assert_eq!(check_url("https://127.0.0.1:8443/", false, true), Ok(()));
    }

    #[tokio::test]
    async fn a_name_for_loopback_is_refused_when_set_and_when_delivering() {
        // "localhost" resolves to loopback without any network.
        let refused = check_resolves("https://localhost:9/hook").await;
        assert!(
            matches!(refused, Err(Refused::ResolvesPrivate { ref host, .. }) if host == "localhost"),
            "{refused:?}"
        );
        let error = PublicOnly
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("no address for the connection");
        assert!(error.to_string().contains("non-public"), "{error}");
        // An address literal is judged by check_url, not by a lookup.
        assert_eq!(check_resolves("https://8.8.8.8/").await, Ok(()));
    }
}
