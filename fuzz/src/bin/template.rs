//! getblocktemplate decoding and the jobs built from it; see `pool::fuzzing::template`.
fn main() {
    afl::fuzz!(|data: &[u8]| pool::fuzzing::template(data));
}
