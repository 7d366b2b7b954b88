//! Simulated Stratum V1 miners that really hash.
//!
//! Filled in by the miner-side issue; the crate exists now so the workspace
//! has its final shape.
