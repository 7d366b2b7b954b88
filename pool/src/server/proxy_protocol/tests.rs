use super::*;
use proptest::prelude::*;
#[path = "../../../tests/support/proxy_header.rs"]
mod proxy_header;
use proxy_header::{tcp_block, tlv, v2};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

// ---- headers as balancers write them -----------------------------------------------

/// The spec's own example (section 2.1), before an HTTP request.
const SPEC_V1: &[u8] = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";

/// What HAProxy's `send-proxy-v2` writes for the spec's example connection
/// (192.168.0.1:56324 to 192.168.0.11:443), byte by byte.
const HAPROXY_V2_TCP4: &[u8] = &[
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, // signature
    0x21, // version 2, PROXY
    0x11, // AF_INET, STREAM
    0x00, 0x0c, // 12 bytes follow
    192, 168, 0, 1, // source address
    192, 168, 0, 11, // destination address
    0xdc, 0x04, // source port 56324
    0x01, 0xbb, // destination port 443
];

/// A health check HAProxy makes with `check-send-proxy` and v2: LOCAL,
/// AF_UNSPEC, nothing follows.
const HAPROXY_V2_LOCAL: &[u8] = &[
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00,
];

fn v4(text: &str) -> SocketAddr {
    text.parse().expect("a socket address")
}

fn complete(bytes: &[u8]) -> ProxyHeader {
    match parse(bytes) {
        Ok(Parsed::Complete(header)) => header,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
    }
}

fn refused(bytes: &[u8]) -> ProxyHeaderError {
    match parse(bytes) {
        Err(error) => error,
        other => panic!("{:?} accepted: {other:?}", String::from_utf8_lossy(bytes)),
    }
}

/// Feeds `bytes` one at a time: every byte but the last needs more, the
/// last completes the header.
fn byte_by_byte(bytes: &[u8]) -> ProxyHeader {
    let mut decoder = HeaderDecoder::new();
    for (at, byte) in bytes.iter().enumerate() {
        match decoder.push(&[*byte]) {
            Ok(Decoded::NeedMore) if at + 1 < bytes.len() => {}
            Ok(Decoded::Header { header, rest }) if at + 1 == bytes.len() => {
                assert!(rest.is_empty());
                return header;
            }
            other => panic!("byte {at} of {}: {other:?}", bytes.len()),
        }
    }
    panic!("no header from {} bytes", bytes.len())
}

// ---- version 1 ----------------------------------------------------------------------

#[test]
fn v1_tcp4_spec_example_and_the_request_after_it() {
    let mut stream = SPEC_V1.to_vec();
    stream.extend_from_slice(b"GET / HTTP/1.1\r\n");
    let mut decoder = HeaderDecoder::new();
    let Ok(Decoded::Header { header, rest }) = decoder.push(&stream) else {
        panic!("no header");
    };
    assert_eq!(
        header,
        ProxyHeader {
            version: Version::V1,
            source: Some(v4("192.168.0.1:56324")),
            length: SPEC_V1.len(),
        }
    );
    assert_eq!(rest, b"GET / HTTP/1.1\r\n");
    assert_eq!(decoder.received(), 0, "the decoder gave everything back");
    assert_eq!(byte_by_byte(SPEC_V1), header);
}

#[test]
fn v1_tcp6_in_every_spelling_the_standard_parser_reads() {
    for (line, source) in [
        (
            "PROXY TCP6 2001:db8::1 2001:db8::2 3333 3333\r\n",
            "[2001:db8::1]:3333",
        ),
        (
            "PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 ::1 65535 0\r\n",
            "[2001:db8::1]:65535",
        ),
        (
            "PROXY TCP6 ::ffff:203.0.113.7 ::1 1 2\r\n",
            "[::ffff:203.0.113.7]:1",
        ),
    ] {
        let header = complete(line.as_bytes());
        assert_eq!(header.source, Some(source.parse().unwrap()), "{line}");
        assert_eq!(header.length, line.len());
        assert_eq!(byte_by_byte(line.as_bytes()), header);
    }
}

#[test]
fn v1_unknown_gives_no_address_whatever_follows_it() {
    for line in [
        "PROXY UNKNOWN\r\n",
        "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
        "PROXY UNKNOWN what the sender could not say\r\n",
    ] {
        let header = complete(line.as_bytes());
        assert_eq!(header.source, None);
        assert_eq!(header.length, line.len());
    }
}

#[test]
fn v1_is_at_most_107_bytes() {
    // The spec's worst case is exactly 107 bytes.
    let worst = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_eq!(worst.len(), V1_MAX_LEN);
    assert_eq!(complete(worst.as_bytes()).length, V1_MAX_LEN);
    // One byte more, refused once the 107th byte is not the LF.
    let longer = worst.replace("65535\r", "65535 \r");
    assert_eq!(
        refused(&longer.as_bytes()[..V1_MAX_LEN]),
        ProxyHeaderError::V1TooLong
    );
    // A line that never ends: refused at its 107th byte, not before.
    let mut endless = b"PROXY UNKNOWN ".to_vec();
    endless.resize(300, b'x');
    assert_eq!(
        parse(&endless[..V1_MAX_LEN - 1]),
        Ok(Parsed::Incomplete),
        "106 bytes may still end"
    );
    assert_eq!(refused(&endless[..V1_MAX_LEN]), ProxyHeaderError::V1TooLong);
    endless.truncate(V1_MAX_LEN - 1);
    endless.push(b'\r');
    assert_eq!(
        refused(&endless),
        ProxyHeaderError::V1TooLong,
        "a CR at byte 107 leaves no room for the LF"
    );
}

#[test]
fn v1_malformed_lines() {
    let cases: &[(&str, ProxyHeaderError)] = &[
        (
            "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
            ProxyHeaderError::V1Protocol {
                protocol: "TCP5".into(),
            },
        ),
        (
            "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
            ProxyHeaderError::V1Protocol {
                protocol: "tcp4".into(),
            },
        ),
        (
            "PROXY \r\n",
            ProxyHeaderError::V1Protocol {
                protocol: String::new(),
            },
        ),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            ProxyHeaderError::V1FieldCount {
                protocol: "TCP4",
                fields: 5,
            },
        ),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            ProxyHeaderError::V1FieldCount {
                protocol: "TCP4",
                fields: 7,
            },
        ),
        (
            "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
            ProxyHeaderError::V1FieldCount {
                protocol: "TCP4",
                fields: 7,
            },
        ),
        (
            "PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            ProxyHeaderError::V1Address {
                field: "source address",
                family: "IPv4",
                text: "::1".into(),
            },
        ),
        (
            "PROXY TCP6 ::1 5.6.7.8 1 2\r\n",
            ProxyHeaderError::V1Address {
                field: "destination address",
                family: "IPv6",
                text: "5.6.7.8".into(),
            },
        ),
        (
            "PROXY TCP4 192.168.0.01 5.6.7.8 1 2\r\n",
            ProxyHeaderError::V1Address {
                field: "source address",
                family: "IPv4",
                text: "192.168.0.01".into(),
            },
        ),
        (
            "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
            ProxyHeaderError::V1Address {
                field: "source address",
                family: "IPv4",
                text: "1.2.3.256".into(),
            },
        ),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
            ProxyHeaderError::V1Port {
                field: "source port",
                text: "65536".into(),
            },
        ),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
            ProxyHeaderError::V1Port {
                field: "destination port",
                text: "99999".into(),
            },
        ),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
            ProxyHeaderError::V1Port {
                field: "source port",
                text: "080".into(),
            },
        ),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
            ProxyHeaderError::V1Port {
                field: "source port",
                text: "-1".into(),
            },
        ),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            ProxyHeaderError::V1Port {
                field: "source port",
                text: "+1".into(),
            },
        ),
        (
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n",
            ProxyHeaderError::V1Port {
                field: "destination port",
                text: String::new(),
            },
        ),
    ];
    for (line, error) in cases {
        assert_eq!(&refused(line.as_bytes()), error, "{line:?}");
        // Refused once the CRLF is there, not before.
        let unfinished = &line.as_bytes()[..line.len() - 1];
        assert_eq!(parse(unfinished), Ok(Parsed::Incomplete), "{line:?}");
    }
    // Port 0 and the largest port are ports.
    assert_eq!(
        complete(b"PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n").source,
        Some(v4("1.2.3.4:0"))
    );
}

#[test]
fn v1_ends_with_crlf_and_nothing_else() {
    let line = |end: &str| format!("PROXY TCP4 1.2.3.4 5.6.7.8 1 2{end}");
    assert_eq!(
        refused(line("\n").as_bytes()),
        ProxyHeaderError::V1Byte {
            at: 30,
            byte: b'\n'
        },
        "a lone LF"
    );
    assert_eq!(
        refused(line("\rX").as_bytes()),
        ProxyHeaderError::V1Byte { at: 31, byte: b'X' },
        "a CR without its LF"
    );
    assert_eq!(
        parse(line("\r").as_bytes()),
        Ok(Parsed::Incomplete),
        "a CR waits for its LF"
    );
    assert_eq!(
        refused("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n".as_bytes()),
        ProxyHeaderError::V1Byte {
            at: 18,
            byte: b'\t'
        },
    );
    assert_eq!(
        refused("PROXY UNKNOWN é\r\n".as_bytes()),
        ProxyHeaderError::V1Byte { at: 14, byte: 0xc3 },
        "refused at the byte, before the CRLF"
    );
}

// ---- version 2 ----------------------------------------------------------------------

#[test]
fn v2_proxy_ipv4_as_haproxy_sends_it() {
    let header = complete(HAPROXY_V2_TCP4);
    assert_eq!(
        header,
        ProxyHeader {
            version: Version::V2,
            source: Some(v4("192.168.0.1:56324")),
            length: 28,
        }
    );
    assert_eq!(byte_by_byte(HAPROXY_V2_TCP4), header);
    let (family, block) = tcp_block(v4("192.168.0.1:56324"), v4("192.168.0.11:443"));
    assert_eq!(
        v2(1, family, &block),
        HAPROXY_V2_TCP4,
        "the test encoder agrees"
    );
}

#[test]
fn v2_proxy_ipv6() {
    let source: SocketAddr = "[2001:db8::7]:40000".parse().unwrap();
    let (family, block) = tcp_block(source, "[2001:db8::1]:3333".parse().unwrap());
    assert_eq!((family, block.len()), (0x21, 36));
    let bytes = v2(1, family, &block);
    let header = complete(&bytes);
    assert_eq!(header.source, Some(source));
    assert_eq!(header.length, 16 + 36);
    assert_eq!(byte_by_byte(&bytes), header);
}

#[test]
fn v2_local_uses_the_connection_and_skips_any_block() {
    let header = complete(HAPROXY_V2_LOCAL);
    assert_eq!(header.source, None);
    assert_eq!(header.length, 16);
    assert_eq!(byte_by_byte(HAPROXY_V2_LOCAL), header);
    // "must not assume zero is presented for LOCAL connections": a block,
    // even one whose family byte is unassigned, is skipped.
    let (_, block) = tcp_block(v4("10.0.0.1:1"), v4("10.0.0.2:2"));
    for family in [0x11, 0x00, 0xff] {
        let header = complete(&v2(0, family, &block));
        assert_eq!((header.source, header.length), (None, 28), "{family:#x}");
    }
}

#[test]
fn v2_tlvs_are_skipped_and_what_follows_is_the_miners() {
    let (family, mut block) = tcp_block(v4("203.0.113.7:50000"), v4("10.0.0.2:3333"));
    // AWS's VPC endpoint id (type 0xEA, subtype 1), a unique id, a NOOP.
    block.extend(tlv(0xea, b"\x01vpce-08d2bf15fac5001c9"));
    block.extend(tlv(0x05, &[7; 128]));
    block.extend(tlv(0x04, b""));
    let header_bytes = v2(1, family, &block);
    let mut stream = header_bytes.clone();
    let subscribe = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n";
    stream.extend_from_slice(subscribe);
    let mut decoder = HeaderDecoder::new();
    let Ok(Decoded::Header { header, rest }) = decoder.push(&stream) else {
        panic!("no header");
    };
    assert_eq!(header.source, Some(v4("203.0.113.7:50000")));
    assert_eq!(header.length, header_bytes.len());
    assert_eq!(rest, subscribe);
    assert_eq!(byte_by_byte(&header_bytes), header);
}

#[test]
fn v2_unspecified_families_and_unix_streams_use_the_connection() {
    // AF_UNSPEC, an unspecified protocol over INET, a UNIX stream.
    for (family, block) in [
        (0x00, Vec::new()),
        (0x10, vec![1; 12]),
        (0x01, vec![2; 4]),
        (0x31, vec![b'/'; 216]),
    ] {
        let header = complete(&v2(1, family, &block));
        assert_eq!(header.source, None, "{family:#x}");
        assert_eq!(header.length, 16 + block.len());
    }
}

#[test]
fn v2_malformed_headers() {
    let (_, tcp4) = tcp_block(v4("1.2.3.4:1"), v4("5.6.7.8:2"));
    let with = |at: usize, byte: u8| {
        let mut bytes = HAPROXY_V2_TCP4.to_vec();
        bytes[at] = byte;
        bytes
    };
    let cases: Vec<(Vec<u8>, ProxyHeaderError)> = vec![
        (
            with(6, 0x0b),
            ProxyHeaderError::NoSignature { at: 6, byte: 0x0b },
        ),
        (
            with(11, 0x0d),
            ProxyHeaderError::NoSignature { at: 11, byte: 0x0d },
        ),
        (with(12, 0x11), ProxyHeaderError::V2Version { version: 1 }),
        (with(12, 0x31), ProxyHeaderError::V2Version { version: 3 }),
        (with(12, 0x22), ProxyHeaderError::V2Command { command: 2 }),
        (with(12, 0x2f), ProxyHeaderError::V2Command { command: 0xf }),
        (with(13, 0x41), ProxyHeaderError::V2Family { byte: 0x41 }),
        (with(13, 0x13), ProxyHeaderError::V2Family { byte: 0x13 }),
        (with(13, 0xff), ProxyHeaderError::V2Family { byte: 0xff }),
        (with(13, 0x12), ProxyHeaderError::V2Datagram { byte: 0x12 }),
        (with(13, 0x22), ProxyHeaderError::V2Datagram { byte: 0x22 }),
        (with(13, 0x32), ProxyHeaderError::V2Datagram { byte: 0x32 }),
        (
            // An IPv4 block announced as IPv6.
            with(13, 0x21),
            ProxyHeaderError::V2Truncated {
                byte: 0x21,
                length: 12,
                needed: 36,
            },
        ),
        (
            v2(1, 0x11, &tcp4[..8]),
            ProxyHeaderError::V2Truncated {
                byte: 0x11,
                length: 8,
                needed: 12,
            },
        ),
        (
            v2(1, 0x31, &[0; 100]),
            ProxyHeaderError::V2Truncated {
                byte: 0x31,
                length: 100,
                needed: 216,
            },
        ),
        (
            v2(1, 0x11, &[0; MAX_V2_ADDRESS_BLOCK + 1]),
            ProxyHeaderError::V2TooLong {
                length: MAX_V2_ADDRESS_BLOCK + 1,
            },
        ),
        (
            with(14, 0xff),
            ProxyHeaderError::V2TooLong { length: 0xff0c },
        ),
    ];
    for (bytes, error) in &cases {
        assert_eq!(&refused(bytes), error, "{bytes:02x?}");
        // Each field is refused as soon as it arrives: the 16 fixed bytes
        // are enough, whatever the block.
        assert_eq!(&refused(&bytes[..16]), error, "{bytes:02x?}");
    }
    // The largest block accepted is accepted.
    let mut largest = tcp4.clone();
    largest.extend(tlv(0x04, &[0; MAX_V2_ADDRESS_BLOCK - 12 - 3]));
    let header = complete(&v2(1, 0x11, &largest));
    assert_eq!(header.length, MAX_HEADER_LEN);
}

#[test]
fn truncated_headers_need_more_at_every_length() {
    let (family, block) = tcp_block(
        "[2001:db8::7]:40000".parse().unwrap(),
        "[2001:db8::1]:3333".parse().unwrap(),
    );
    for header in [
        SPEC_V1.to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        HAPROXY_V2_TCP4.to_vec(),
        HAPROXY_V2_LOCAL.to_vec(),
        v2(1, family, &block),
    ] {
        for end in 0..header.len() {
            assert_eq!(
                parse(&header[..end]),
                Ok(Parsed::Incomplete),
                "{:02x?}",
                &header[..end]
            );
        }
    }
}

// ---- neither ------------------------------------------------------------------------

#[test]
fn a_miner_speaking_stratum_at_once_is_refused_at_its_first_byte() {
    let subscribe = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n";
    assert_eq!(
        refused(&subscribe[..1]),
        ProxyHeaderError::NoSignature { at: 0, byte: b'{' }
    );
    assert_eq!(
        refused(b"PRONTO"),
        ProxyHeaderError::NoSignature { at: 3, byte: b'N' }
    );
    assert_eq!(
        refused(b"PROXY:"),
        ProxyHeaderError::NoSignature { at: 5, byte: b':' }
    );
    assert_eq!(
        refused(b"\r\n\r\nGET"),
        ProxyHeaderError::NoSignature { at: 4, byte: b'G' }
    );
    assert_eq!(parse(b""), Ok(Parsed::Incomplete));
    assert_eq!(parse(b"PROX"), Ok(Parsed::Incomplete));
    let mut decoder = HeaderDecoder::new();
    assert_eq!(decoder.push(b"PRO"), Ok(Decoded::NeedMore));
    assert_eq!(decoder.room(), MAX_HEADER_LEN - 3);
    assert!(decoder.push(b"TON").is_err());
}

#[test]
fn errors_say_what_was_wrong() {
    let error = refused(b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n");
    assert_eq!(
        error.to_string(),
        "v1 line: source port \"65536\" is not a port (0 to 65535, no leading zero)"
    );
    let error = refused(&v2(1, 0x11, &[0; 600]));
    assert_eq!(
        error.to_string(),
        "v2 header: an address block of 600 bytes, more than the 512 accepted"
    );
}

// ---- the socket side ----------------------------------------------------------------

#[tokio::test]
async fn read_header_hands_back_what_followed_and_bounds_its_reads() {
    use tokio::io::AsyncWriteExt;
    let (mut balancer, mut pool) = tokio::io::duplex(64);
    let limit = Duration::from_secs(5);
    let sending = tokio::spawn(async move {
        // Split where a slow path might split it: inside the signature.
        balancer.write_all(&HAPROXY_V2_TCP4[..5]).await.unwrap();
        balancer.write_all(&HAPROXY_V2_TCP4[5..]).await.unwrap();
        balancer.write_all(b"{\"id\":1}\n").await.unwrap();
        balancer
    });
    let received = read::read_header(&mut pool, limit).await.expect("a header");
    assert_eq!(received.header.source, Some(v4("192.168.0.1:56324")));
    // What followed came in the same read or is still in the pipe.
    let mut rest = received.rest;
    let balancer = sending.await.unwrap();
    drop(balancer);
    tokio::io::AsyncReadExt::read_to_end(&mut pool, &mut rest)
        .await
        .unwrap();
    assert_eq!(rest, b"{\"id\":1}\n");
}

#[tokio::test]
async fn read_header_failures() {
    use read::HeaderFailure;
    use tokio::io::AsyncWriteExt;
    let limit = Duration::from_millis(50);
    // Garbage.
    let (mut balancer, mut pool) = tokio::io::duplex(64);
    balancer.write_all(b"{\"id\":1}\n").await.unwrap();
    let failure = read::read_header(&mut pool, limit).await.unwrap_err();
    assert!(
        matches!(
            failure,
            HeaderFailure::Malformed(ProxyHeaderError::NoSignature { at: 0, .. })
        ),
        "{failure:?}"
    );
    // Closed halfway.
    let (mut balancer, mut pool) = tokio::io::duplex(64);
    balancer.write_all(&SPEC_V1[..10]).await.unwrap();
    drop(balancer);
    let failure = read::read_header(&mut pool, limit).await.unwrap_err();
    assert!(
        matches!(failure, HeaderFailure::Closed { received: 10 }),
        "{failure:?}"
    );
    // Silent past the limit (a paused clock would not show the real timer;
    // 50 ms is short).
    let (_balancer, mut pool) = tokio::io::duplex(64);
    let failure = read::read_header(&mut pool, limit).await.unwrap_err();
    assert!(
        matches!(failure, HeaderFailure::TimedOut { received: 0, .. }),
        "{failure:?}"
    );
    assert_eq!(failure.received(), Some(0));
}

// ---- properties ---------------------------------------------------------------------

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|octets| IpAddr::V4(Ipv4Addr::from(octets))),
        any::<[u8; 16]>().prop_map(|octets| IpAddr::V6(Ipv6Addr::from(octets))),
    ]
}

/// A valid header of any kind, and the source it names.
fn any_header() -> impl Strategy<Value = (Vec<u8>, Option<SocketAddr>)> {
    let tcp = (any_ip(), any::<u16>(), any::<[u8; 16]>(), any::<u16>());
    (tcp, 0..4u8, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(
        |((ip, port, other, other_port), kind, tlv_bytes)| {
            let source = SocketAddr::new(ip, port);
            let destination = match ip {
                IpAddr::V4(_) => SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::new(other[0], other[1], other[2], other[3])),
                    other_port,
                ),
                IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::from(other)), other_port),
            };
            match kind {
                0 => {
                    let protocol = if ip.is_ipv4() { "TCP4" } else { "TCP6" };
                    let line = format!(
                        "PROXY {protocol} {} {} {} {}\r\n",
                        source.ip(),
                        destination.ip(),
                        source.port(),
                        destination.port()
                    );
                    (line.into_bytes(), Some(source))
                }
                1 => (b"PROXY UNKNOWN\r\n".to_vec(), None),
                2 => {
                    let (family, mut block) = tcp_block(source, destination);
                    block.extend(tlv(0xe0, &tlv_bytes));
                    (v2(1, family, &block), Some(source))
                }
                _ => (v2(0, 0x00, &tlv_bytes), None),
            }
        },
    )
}

/// Feeds `bytes` in the chunks `cuts` makes; the first error, or the
/// header with everything after it (rest plus the chunks never pushed).
fn fed_in_chunks(
    bytes: &[u8],
    cuts: &[usize],
) -> Result<Option<(ProxyHeader, Vec<u8>)>, ProxyHeaderError> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    let mut decoder = HeaderDecoder::new();
    for pair in points.windows(2) {
        if let Decoded::Header { header, mut rest } = decoder.push(&bytes[pair[0]..pair[1]])? {
            rest.extend_from_slice(&bytes[pair[1]..]);
            return Ok(Some((header, rest)));
        }
    }
    Ok(None)
}

/// What parsing everything at once says, in the same shape.
fn all_at_once(bytes: &[u8]) -> Result<Option<(ProxyHeader, Vec<u8>)>, ProxyHeaderError> {
    Ok(match parse(bytes)? {
        Parsed::Incomplete => None,
        Parsed::Complete(header) => Some((header, bytes[header.length..].to_vec())),
    })
}

proptest! {
    #[test]
    fn every_header_reads_back_in_any_chunks(
        (header, source) in any_header(),
        after in proptest::collection::vec(any::<u8>(), 0..32),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let stream = [header.clone(), after.clone()].concat();
        let expected = ProxyHeader {
            version: if header[0] == b'P' { Version::V1 } else { Version::V2 },
            source,
            length: header.len(),
        };
        prop_assert_eq!(fed_in_chunks(&stream, &cuts), Ok(Some((expected, after))));
    }

    #[test]
    fn damaged_headers_never_panic_and_chunks_never_change_the_answer(
        (header, _) in any_header(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        keep in any::<usize>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut bytes = header;
        for (at, byte) in flips {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        bytes.truncate(keep % (bytes.len() + 1));
        let whole = all_at_once(&bytes);
        prop_assert_eq!(fed_in_chunks(&bytes, &cuts), whole.clone());
        if let Ok(Some((header, _))) = whole {
            prop_assert!(header.length <= MAX_HEADER_LEN);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_a_full_header_worth_is_always_decided(
        bytes in proptest::collection::vec(any::<u8>(), 0..700),
        start in 0..3u8,
    ) {
        // Most random bytes fail at once; starting them like a header
        // reaches the later checks.
        let bytes = match start {
            0 => bytes,
            1 => [b"PROXY ".to_vec(), bytes].concat(),
            _ => [v2::SIGNATURE.to_vec(), bytes].concat(),
        };
        let parsed = parse(&bytes);
        if let Ok(Parsed::Complete(header)) = parsed {
            prop_assert!(header.length <= bytes.len().min(MAX_HEADER_LEN));
        }
        if bytes.len() >= MAX_HEADER_LEN {
            prop_assert_ne!(parsed, Ok(Parsed::Incomplete));
        }
    }
}
