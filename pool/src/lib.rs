//! The pool server as a library: the `pool` binary and the tests drive it.

pub mod alerts;
pub mod app;
pub mod audit;
pub mod block;
pub mod check;
pub mod clock;
pub mod coinbase;
pub mod config;
pub mod demo;
pub mod extranonce;
/// Fuzz target bodies (see `fuzz/README.md`); not part of the API.
#[doc(hidden)]
pub mod fuzzing;
pub mod jobs;
pub mod latency;
pub mod ledger;
pub mod payouts;
pub mod server;
pub mod template;
pub mod vardiff;
pub mod web;
