//! The PROXY protocol header a load balancer puts before a miner's bytes
//! (`crate::server::proxy_protocol`).

use crate::server::proxy_protocol::{parse, Decoded, HeaderDecoder, Parsed, ProxyHeaderError};
use crate::server::proxy_protocol::{ProxyHeader, MAX_HEADER_LEN};

/// Longest error message: errors are logged, and repeat at most a v1
/// line's worth of what was sent.
const MAX_ERROR_TEXT: usize = 400;

/// Input: byte 0 is the size of the chunks the stream arrives in (0: all
/// at once); the rest is what a connection sent.
///
/// Checks: nothing panics; a header takes at most what was sent and at
/// most `MAX_HEADER_LEN` bytes, and that many bytes are always decided; a
/// header's own bytes parse to the same header, and every shorter prefix
/// of them needs more; the decoder fed in chunks gives the same answer as
/// one parse and hands back exactly the bytes after the header; an error's
/// message stays short.
pub fn proxy_header(data: &[u8]) {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let whole = parse(stream);
    match &whole {
        Ok(Parsed::Incomplete) => assert!(
            stream.len() < MAX_HEADER_LEN,
            "{} bytes undecided",
            stream.len()
        ),
        Ok(Parsed::Complete(header)) => {
            assert!(
                header.length <= stream.len().min(MAX_HEADER_LEN),
                "{header:?}"
            );
            let own = &stream[..header.length];
            assert_eq!(parse(own), Ok(Parsed::Complete(*header)));
            for end in 0..header.length {
                assert_eq!(parse(&own[..end]), Ok(Parsed::Incomplete), "prefix {end}");
            }
        }
        Err(error) => {
            let text = error.to_string();
            assert!(text.len() <= MAX_ERROR_TEXT, "{text}");
        }
    }
    let chunk = if chunk == 0 {
        stream.len().max(1)
    } else {
        usize::from(chunk)
    };
    let expected = whole.map(|parsed| match parsed {
        Parsed::Incomplete => None,
        Parsed::Complete(header) => Some((header, stream[header.length..].to_vec())),
    });
    assert_eq!(fed_in_chunks(stream, chunk), expected);
}

/// What a [`HeaderDecoder`] makes of `stream` pushed `chunk` bytes at a
/// time: the first error, or the header and every byte after it (its
/// `rest` and the chunks never pushed).
fn fed_in_chunks(
    stream: &[u8],
    chunk: usize,
) -> Result<Option<(ProxyHeader, Vec<u8>)>, ProxyHeaderError> {
    let mut decoder = HeaderDecoder::new();
    let mut pushed = 0;
    for piece in stream.chunks(chunk) {
        pushed += piece.len();
        if let Decoded::Header { header, mut rest } = decoder.push(piece)? {
            rest.extend_from_slice(&stream[pushed..]);
            return Ok(Some((header, rest)));
        }
    }
    Ok(None)
}
