//! Stratum V1 without I/O: the messages miners and pools exchange, line
//! framing, targets and difficulty, jobs and share assembly, and the
//! double-SHA256 core that checks shares.
//!
//! Nothing here opens a socket or spawns a task: the pool, the simulated
//! miners and anyone's proxy drive it with the bytes they already have.

pub mod difficulty;
pub mod extranonce;
pub mod framer;
/// Fuzz target bodies (see `fuzz/README.md`); not part of the API.
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod hex;
pub mod job;
pub mod job_id;
pub mod merkle;
pub mod message;
pub mod nbits;
pub mod nonce;
pub mod ntime;
pub mod prevhash;
pub mod sha256d;
pub mod share;
pub mod target;
pub mod u256;
pub mod username;
pub mod version;

pub use difficulty::Difficulty;
pub use extranonce::{Extranonce1, Extranonce2};
pub use job::Job;
pub use job_id::JobId;
pub use nbits::NBits;
pub use nonce::Nonce;
pub use ntime::Ntime;
pub use prevhash::PrevHash;
pub use sha256d::{sha256d, Implementation, Midstate, Sha256d};
pub use share::{Share, ShareCheck, ShareValidator};
pub use target::Target;
pub use u256::U256;
pub use username::Username;
pub use version::{Version, VersionBits, VersionMask};
