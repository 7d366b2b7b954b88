//! The framer gives the same lines however the bytes are chunked, and the
//! same as splitting the whole input at once.

use proptest::prelude::*;
use stratum::framer::LineFramer;

/// What framing the whole input means: every `\n`-terminated piece longer
/// than `max` is one error, shorter ones lose a trailing `\r` and are
/// skipped when empty; an unterminated tail only counts once it is too long.
fn reference(input: &[u8], max: usize) -> Vec<Result<Vec<u8>, ()>> {
    let pieces: Vec<&[u8]> = input.split(|&byte| byte == b'\n').collect();
    let (tail, complete) = pieces
        .split_last()
        .expect("split yields at least one piece");
    let mut out = Vec::new();
    for piece in complete {
        if piece.len() > max {
            out.push(Err(()));
            continue;
        }
        let line = piece.strip_suffix(b"\r").unwrap_or(piece);
        if !line.is_empty() {
            out.push(Ok(line.to_vec()));
        }
    }
    if tail.len() > max {
        out.push(Err(()));
    }
    out
}

fn framed(input: &[u8], max: usize, chunk_sizes: &[usize]) -> Vec<Result<Vec<u8>, ()>> {
    let mut framer = LineFramer::new(max);
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = chunk_sizes.iter().cycle();
    while !rest.is_empty() {
        let size = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        let (chunk, after) = rest.split_at(size);
        rest = after;
        framer.push(chunk);
        assert!(framer.buffered_len() <= max + chunk.len());
        while let Some(item) = framer.next_line() {
            out.push(item.map(<[u8]>::to_vec).map_err(|_| ()));
        }
        assert!(framer.buffered_len() <= max);
    }
    out
}

/// Lines short and long, with and without `\r`, and empty ones.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => any::<u8>().prop_filter("newline", |&byte| byte != b'\n'),
        1 => Just(b'\r'),
    ];
    let line = proptest::collection::vec(byte, 0..48);
    (proptest::collection::vec(line, 0..20), any::<bool>()).prop_map(|(lines, terminated)| {
        let mut out = lines.join(&b'\n');
        if terminated {
            out.push(b'\n');
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn chunking_does_not_matter(
        input in stream(),
        max in 1usize..40,
        chunk_sizes in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let expected = reference(&input, max);
        prop_assert_eq!(framed(&input, max, &chunk_sizes), expected.clone());
        prop_assert_eq!(framed(&input, max, &[input.len().max(1)]), expected.clone());
        prop_assert_eq!(framed(&input, max, &[1]), expected);
    }
}

#[test]
fn large_input_in_small_chunks_is_linear() {
    // 20 MB of 100-byte lines through 7-byte chunks: a quadratic framer
    // would not finish in the test's lifetime.
    let line = [b'a'; 99];
    let mut input = Vec::with_capacity(20_000_000);
    while input.len() < 20_000_000 {
        input.extend_from_slice(&line);
        input.push(b'\n');
    }
    let started = std::time::Instant::now();
    let mut framer = LineFramer::new(1000);
    let mut count = 0;
    for chunk in input.chunks(7) {
        framer.push(chunk);
        while let Some(item) = framer.next_line() {
            assert_eq!(item.unwrap().len(), 99);
            count += 1;
        }
    }
    assert_eq!(count, 200_000);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}
