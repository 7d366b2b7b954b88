//! Bitcoin Core nodes as a template source (being written).
