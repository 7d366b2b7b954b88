//! Reward schemes as pure functions over integer satoshis.
//!
//! Filled in by the payouts issue (PPS, FPPS, PPLNS, SOLO); the crate exists
//! now so the workspace has its final shape.
