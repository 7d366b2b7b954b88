//! The session state machine; see `pool::fuzzing::session`.
fn main() {
    afl::fuzz!(|data: &[u8]| pool::fuzzing::session(data));
}
