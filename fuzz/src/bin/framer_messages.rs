//! The line framer and both message parsers; see `stratum::fuzzing`.
fn main() {
    afl::fuzz!(|data: &[u8]| stratum::fuzzing::framer_and_messages(data));
}
