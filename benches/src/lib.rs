//! Criterion benchmarks live in `benches/benches/`; this library holds the
//! inputs they share.
