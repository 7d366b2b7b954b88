//! The pool server as a library: the `pool` binary and the tests drive it.

pub mod block;
pub mod check;
pub mod coinbase;
pub mod config;
pub mod extranonce;
pub mod jobs;
pub mod template;
