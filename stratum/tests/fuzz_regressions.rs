//! What the fuzzers found and started from, replayed through the same
//! target body the AFL binary runs (`stratum::fuzzing`), so the ordinary
//! suite keeps every crash fixed without AFL installed. See fuzz/README.md.

use std::path::{Path, PathBuf};
use stratum::fuzzing::framer_and_messages;

/// Every file of `fuzz/<folder>`, sorted by name.
fn inputs(folder: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(folder);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a fuzz input");
            (path, bytes)
        })
        .collect()
}

#[test]
fn seeds_and_corpus_pass_every_check() {
    let mut replayed = 0;
    for folder in ["seeds/framer_messages", "corpus/framer_messages"] {
        for (path, bytes) in inputs(folder) {
            // A panic names the input through this frame's message.
            eprintln!("replaying {}", path.display());
            framer_and_messages(&bytes);
            replayed += 1;
        }
    }
    assert!(replayed >= 30, "only {replayed} inputs");
}

fn replay_one(name: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions/framer_messages")
        .join(name);
    let bytes = std::fs::read(&file).unwrap_or_else(|error| panic!("{name}: {error}"));
    framer_and_messages(&bytes);
}

/// Max line 2, a line over it followed by another: the first error echoed
/// the second line's bytes too (the echo ran past the newline).
#[test]
fn over_long_line_echo_stops_at_its_newline() {
    replay_one("echo-ran-into-the-next-line");
}

/// A line found too long before its newline arrived echoes only the bytes
/// that had arrived: fewer than 32, but more than the maximum.
#[test]
fn over_long_line_still_arriving_echoes_what_arrived() {
    replay_one("echo-of-a-line-still-arriving");
}
