//! The PROXY protocol header parser; see `pool::fuzzing::proxy_header`.
fn main() {
    afl::fuzz!(|data: &[u8]| pool::fuzzing::proxy_header(data));
}
