//! The config loader; see `pool::fuzzing::config`.
fn main() {
    afl::fuzz!(|data: &[u8]| pool::fuzzing::config(data));
}
