//! Line framing (being written).
