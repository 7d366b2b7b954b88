//! The pool server as a library: the `pool` binary and the tests drive it.

pub mod config;
pub mod template;
