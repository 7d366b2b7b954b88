//! What a miner sends: requests, and answers to the pool's own requests.

use super::error::{ErrorKind, ParseError};
use super::id::Id;
use super::json::{read_envelope, CallWriter, Envelope};
use super::params::Method;
use super::response::Response;
use super::{Authorize, Configure, Submit, Subscribe, SuggestDifficulty, SuggestTarget};
use serde_json::Value;

const EXTRANONCE_SUBSCRIBE: &str = "mining.extranonce.subscribe";
const GET_TRANSACTIONS: &str = "mining.get_transactions";
/// ESP-Miner answers `mining.ping` with a request of this name, not a result.
const PONG: &str = "pong";

/// One line from a miner.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    Request(ClientRequest),
    /// An answer to `mining.ping` or `client.get_version`.
    Response(Response),
}

/// A request from a miner.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRequest {
    /// `Null` for a notification, which gets no answer.
    pub id: Id,
    pub method: ClientMethod,
}

/// The methods a pool understands, and every other one as `Unknown`.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMethod {
    Subscribe(Subscribe),
    Authorize(Authorize),
    Configure(Configure),
    Submit(Submit),
    SuggestDifficulty(SuggestDifficulty),
    SuggestTarget(SuggestTarget),
    /// NiceHash's request for `mining.set_extranonce`; params are ignored.
    ExtranonceSubscribe,
    /// Old miners ask for the job's transactions; params are ignored.
    GetTransactions,
    /// ESP-Miner's answer to `mining.ping`.
    Pong,
    /// Not a parse error: the pool answers it with an error and keeps the miner.
    Unknown {
        method: String,
        params: Vec<Value>,
    },
}

impl ClientMessage {
    /// Reads one line (without its `\n`). Never panics, whatever the bytes.
    pub fn parse(line: &[u8]) -> Result<ClientMessage, ParseError> {
        match read_envelope(line)? {
            Envelope::Response { id, result, error } => Ok(ClientMessage::Response(
                Response::from_parts(id, result, error),
            )),
            Envelope::Call { id, method, params } => {
                match ClientMethod::from_call(method, params) {
                    Ok(method) => Ok(ClientMessage::Request(ClientRequest { id, method })),
                    Err((method, kind)) => Err(ParseError {
                        id,
                        method: Some(method),
                        kind,
                    }),
                }
            }
        }
    }

    pub fn to_line(&self) -> String {
        match self {
            ClientMessage::Request(request) => request.to_line(),
            ClientMessage::Response(response) => response.to_line(),
        }
    }
}

impl ClientRequest {
    pub fn new(id: impl Into<Id>, method: ClientMethod) -> ClientRequest {
        ClientRequest {
            id: id.into(),
            method,
        }
    }

    /// Sent with a null id: the miner expects no answer.
    pub fn is_notification(&self) -> bool {
        self.id.is_null()
    }

    /// The line as firmware writes it: `{"id":..,"method":..,"params":[..]}`.
    pub fn to_line(&self) -> String {
        let id = &self.id;
        match &self.method {
            ClientMethod::Subscribe(subscribe) => subscribe.call_line(id),
            ClientMethod::Authorize(authorize) => authorize.call_line(id),
            ClientMethod::Configure(configure) => configure.call_line(id),
            ClientMethod::Submit(submit) => submit.call_line(id),
            ClientMethod::SuggestDifficulty(suggest) => suggest.call_line(id),
            ClientMethod::SuggestTarget(suggest) => suggest.call_line(id),
            ClientMethod::Unknown { method, params } => {
                let mut call = CallWriter::new(id, method);
                params.iter().for_each(|param| call.value(param));
                call.finish()
            }
            ClientMethod::ExtranonceSubscribe
            | ClientMethod::GetTransactions
            | ClientMethod::Pong => CallWriter::new(id, self.method.name()).finish(),
        }
    }
}

impl ClientMethod {
    pub fn name(&self) -> &str {
        match self {
            ClientMethod::Subscribe(_) => Subscribe::NAME,
            ClientMethod::Authorize(_) => Authorize::NAME,
            ClientMethod::Configure(_) => Configure::NAME,
            ClientMethod::Submit(_) => Submit::NAME,
            ClientMethod::SuggestDifficulty(_) => SuggestDifficulty::NAME,
            ClientMethod::SuggestTarget(_) => SuggestTarget::NAME,
            ClientMethod::ExtranonceSubscribe => EXTRANONCE_SUBSCRIBE,
            ClientMethod::GetTransactions => GET_TRANSACTIONS,
            ClientMethod::Pong => PONG,
            ClientMethod::Unknown { method, .. } => method,
        }
    }

    /// On failure, hands the method name back for the error.
    fn from_call(method: String, params: Vec<Value>) -> Result<ClientMethod, (String, ErrorKind)> {
        let parsed = match method.as_str() {
            Subscribe::NAME => Subscribe::from_params(&params).map(ClientMethod::Subscribe),
            Authorize::NAME => Authorize::from_params(&params).map(ClientMethod::Authorize),
            Configure::NAME => Configure::from_params(&params).map(ClientMethod::Configure),
            Submit::NAME => Submit::from_params(&params).map(ClientMethod::Submit),
            SuggestDifficulty::NAME => {
                SuggestDifficulty::from_params(&params).map(ClientMethod::SuggestDifficulty)
            }
            SuggestTarget::NAME => {
                SuggestTarget::from_params(&params).map(ClientMethod::SuggestTarget)
            }
            EXTRANONCE_SUBSCRIBE => Ok(ClientMethod::ExtranonceSubscribe),
            GET_TRANSACTIONS => Ok(ClientMethod::GetTransactions),
            PONG => Ok(ClientMethod::Pong),
            _ => return Ok(ClientMethod::Unknown { method, params }),
        };
        parsed.map_err(|kind| (method, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(line: &str) -> ClientRequest {
        match ClientMessage::parse(line.as_bytes()) {
            Ok(ClientMessage::Request(request)) => request,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn null_id_is_a_notification() {
        assert!(
            request(r#"{"id":null,"method":"mining.extranonce.subscribe","params":[]}"#)
                .is_notification()
        );
        assert!(request(r#"{"method":"pong"}"#).is_notification());
        assert!(!request(r#"{"id":0,"method":"pong"}"#).is_notification());
    }

    #[test]
    fn unknown_methods_keep_id_and_params() {
        let unknown = request(r#"{"id":"x","method":"mining.capabilities","params":[{"a":1}]}"#);
        assert_eq!(unknown.id, Id::from("x"));
        assert_eq!(unknown.method.name(), "mining.capabilities");
        assert_eq!(
            unknown.to_line(),
            "{\"id\":\"x\",\"method\":\"mining.capabilities\",\"params\":[{\"a\":1}]}\n"
        );
    }

    #[test]
    fn errors_name_method_and_id() {
        let error = ClientMessage::parse(br#"{"id":4,"method":"mining.submit","params":["w"]}"#)
            .unwrap_err();
        assert_eq!(error.id, Id::from(4));
        assert_eq!(error.method.as_deref(), Some("mining.submit"));
        assert_eq!(
            error.to_string(),
            "mining.submit: expected 5 or 6 params, got 1"
        );
    }
}
