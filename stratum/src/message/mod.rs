//! Stratum V1 messages: one line of JSON in, a typed value out, and back.
//!
//! Two directions, two entry points each:
//! - the pool reads miners with [`ClientMessage::parse`] and answers with
//!   [`Response::to_line`] and [`ServerMessage::to_line`];
//! - a miner (or a proxy's upstream half) reads the pool with
//!   [`ServerMessage::parse`] and writes with [`ClientMessage::to_line`].
//!
//! Parsing is liberal (either key order, short hex, null ids, unknown
//! methods) and never panics; every failure is a [`ParseError`] that keeps
//! the request id when it could be read, so the pool can still answer.
//! Writing is strict: compact JSON, keys in the order firmware expects, one
//! `\n`-terminated line.

mod authorize;
mod client;
mod configure;
mod error;
mod error_code;
mod id;
mod json;
mod notify;
mod params;
mod reconnect;
mod response;
mod server;
mod set_difficulty;
mod set_extranonce;
mod set_version_mask;
mod show_message;
mod submit;
mod subscribe;
mod suggest;

pub use authorize::{Authorize, PasswordOptions};
pub use client::{ClientMessage, ClientMethod, ClientRequest};
pub use configure::{Configure, ConfigureResult, VersionRollingRequest};
pub use error::{ErrorKind, ParseError};
pub use error_code::{ErrorCode, ErrorReply};
pub use id::Id;
pub use notify::Notify;
pub use reconnect::Reconnect;
pub use response::Response;
pub use server::ServerMessage;
pub use set_difficulty::SetDifficulty;
pub use set_extranonce::SetExtranonce;
pub use set_version_mask::SetVersionMask;
pub use show_message::ShowMessage;
pub use submit::Submit;
pub use subscribe::{Subscribe, SubscribeResult};
pub use suggest::{SuggestDifficulty, SuggestTarget};

/// The longest line the parsers look at. It sits above the framer's default
/// (16 KiB) so a pool may raise that, and bounds what serde_json allocates.
pub const MAX_LINE_LEN: usize = 64 * 1024;
