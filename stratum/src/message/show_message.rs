//! `client.show_message(text)`: a message for the miner's operator.

use super::error::ErrorKind;
use super::id::Id;
use super::json::CallWriter;
use super::params::{self, Method};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowMessage {
    pub message: String,
}

impl ShowMessage {
    pub fn to_line(&self) -> String {
        self.call_line(&Id::Null)
    }
}

impl Method for ShowMessage {
    const NAME: &'static str = "client.show_message";

    fn from_params(params: &[Value]) -> Result<ShowMessage, ErrorKind> {
        params::count(params, 1, 1, "1")?;
        Ok(ShowMessage {
            message: params::string(params::at(params, 0), "message")?.to_string(),
        })
    }

    fn write_params(&self, call: &mut CallWriter) {
        call.str(&self.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let show = ShowMessage {
            message: "say \"hi\"\n".into(),
        };
        assert_eq!(
            show.to_line(),
            "{\"id\":null,\"method\":\"client.show_message\",\"params\":[\"say \\\"hi\\\"\\n\"]}\n"
        );
    }
}
