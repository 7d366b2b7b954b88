//! What a pool sends: answers, jobs and instructions.

use super::error::ParseError;
use super::id::Id;
use super::json::{read_envelope, CallWriter, Envelope};
use super::params::Method;
use super::response::Response;
use super::{Notify, Reconnect, SetDifficulty, SetExtranonce, SetVersionMask, ShowMessage};
use serde_json::Value;

const PING: &str = "mining.ping";
const GET_VERSION: &str = "client.get_version";

/// One line from a pool. Notifications are written with a null id; the id
/// a pool put on one is not kept, because nothing answers it.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    Response(Response),
    Notify(Notify),
    SetDifficulty(SetDifficulty),
    SetVersionMask(SetVersionMask),
    SetExtranonce(SetExtranonce),
    Reconnect(Reconnect),
    ShowMessage(ShowMessage),
    /// Answered with a `pong` method (ESP-Miner) or a `"pong"` result (cgminer).
    Ping {
        id: Id,
    },
    /// Answered with the miner's version string as the result.
    GetVersion {
        id: Id,
    },
    Unknown {
        id: Id,
        method: String,
        params: Vec<Value>,
    },
}

impl ServerMessage {
    /// Reads one line (without its `\n`). Never panics, whatever the bytes.
    pub fn parse(line: &[u8]) -> Result<ServerMessage, ParseError> {
        let (id, method, params) = match read_envelope(line)? {
            Envelope::Response { id, result, error } => {
                return Ok(ServerMessage::Response(Response::from_parts(
                    id, result, error,
                )))
            }
            Envelope::Call { id, method, params } => (id, method, params),
        };
        let parsed = match method.as_str() {
            Notify::NAME => Notify::from_params(&params).map(ServerMessage::Notify),
            SetDifficulty::NAME => {
                SetDifficulty::from_params(&params).map(ServerMessage::SetDifficulty)
            }
            SetVersionMask::NAME => {
                SetVersionMask::from_params(&params).map(ServerMessage::SetVersionMask)
            }
            SetExtranonce::NAME => {
                SetExtranonce::from_params(&params).map(ServerMessage::SetExtranonce)
            }
            Reconnect::NAME => Reconnect::from_params(&params).map(ServerMessage::Reconnect),
            ShowMessage::NAME => ShowMessage::from_params(&params).map(ServerMessage::ShowMessage),
            PING => return Ok(ServerMessage::Ping { id }),
            GET_VERSION => return Ok(ServerMessage::GetVersion { id }),
            _ => return Ok(ServerMessage::Unknown { id, method, params }),
        };
        parsed.map_err(|kind| ParseError {
            id,
            method: Some(method),
            kind,
        })
    }

    /// The line, keys in the order `id, method, params` (or `id, result, error`).
    pub fn to_line(&self) -> String {
        match self {
            ServerMessage::Response(response) => response.to_line(),
            ServerMessage::Notify(notify) => notify.to_line(),
            ServerMessage::SetDifficulty(set) => set.to_line(),
            ServerMessage::SetVersionMask(set) => set.to_line(),
            ServerMessage::SetExtranonce(set) => set.to_line(),
            ServerMessage::Reconnect(reconnect) => reconnect.to_line(),
            ServerMessage::ShowMessage(show) => show.to_line(),
            ServerMessage::Ping { id } => CallWriter::new(id, PING).finish(),
            ServerMessage::GetVersion { id } => CallWriter::new(id, GET_VERSION).finish(),
            ServerMessage::Unknown { id, method, params } => {
                let mut call = CallWriter::new(id, method);
                params.iter().for_each(|param| call.value(param));
                call.finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ErrorKind;

    #[test]
    fn requests_keep_their_id() {
        let ping = ServerMessage::parse(br#"{"id":9,"method":"mining.ping","params":[]}"#).unwrap();
        assert_eq!(ping, ServerMessage::Ping { id: Id::from(9) });
        assert_eq!(
            ping.to_line(),
            "{\"id\":9,\"method\":\"mining.ping\",\"params\":[]}\n"
        );
        let version = ServerMessage::parse(br#"{"id":"v","method":"client.get_version"}"#).unwrap();
        assert_eq!(version, ServerMessage::GetVersion { id: Id::from("v") });
    }

    #[test]
    fn bad_notification_is_a_typed_error() {
        let error =
            ServerMessage::parse(br#"{"id":null,"method":"mining.set_difficulty","params":[-1]}"#)
                .unwrap_err();
        assert!(matches!(error.kind, ErrorKind::Difficulty { .. }));
        assert_eq!(error.reply(), None);
    }

    #[test]
    fn unknown_is_kept() {
        let line = "{\"id\":null,\"method\":\"mining.set_goal\",\"params\":[\"x\",1]}\n";
        let parsed = ServerMessage::parse(line.trim_end().as_bytes()).unwrap();
        assert!(
            matches!(&parsed, ServerMessage::Unknown { method, .. } if method == "mining.set_goal")
        );
        assert_eq!(parsed.to_line(), line);
    }
}
