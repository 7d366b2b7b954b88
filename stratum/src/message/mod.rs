//! Stratum V1 messages (being written).
