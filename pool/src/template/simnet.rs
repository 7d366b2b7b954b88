//! The simulated chain (being written).
