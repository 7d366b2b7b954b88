//! `client.reconnect([host[, port[, wait]]])`: go away, and maybe come back elsewhere.

use super::error::ErrorKind;
use super::id::Id;
use super::json::CallWriter;
use super::params::{self, Method};
use serde_json::Value;

/// With no params the miner reconnects to the same pool.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconnect {
    pub host: Option<String>,
    pub port: Option<u16>,
    /// Seconds to wait before reconnecting.
    pub wait_secs: Option<u32>,
}

impl Reconnect {
    pub fn to_line(&self) -> String {
        self.call_line(&Id::Null)
    }
}

impl Method for Reconnect {
    const NAME: &'static str = "client.reconnect";

    fn from_params(params: &[Value]) -> Result<Reconnect, ErrorKind> {
        params::count(params, 0, 3, "0 to 3")?;
        // Ports arrive as numbers or strings (ckpool quotes them).
        let port = match params::at(params, 1) {
            Value::Null => None,
            port => Some(params::unsigned(port, "port", u16::MAX as u64, "0..=65535")? as u16),
        };
        let wait_secs = match params::at(params, 2) {
            Value::Null => None,
            wait => Some(params::unsigned(wait, "wait", u32::MAX as u64, "0..=4294967295")? as u32),
        };
        Ok(Reconnect {
            host: params::optional_string(params::at(params, 0), "host")?.map(str::to_string),
            port,
            wait_secs,
        })
    }

    /// Writes up to the last param given, with null for gaps before it.
    fn write_params(&self, call: &mut CallWriter) {
        let given = if self.wait_secs.is_some() {
            3
        } else if self.port.is_some() {
            2
        } else {
            usize::from(self.host.is_some())
        };
        if given >= 1 {
            match &self.host {
                Some(host) => call.str(host),
                None => call.raw("null"),
            }
        }
        if given >= 2 {
            call.raw(
                &self
                    .port
                    .map_or("null".to_string(), |port| port.to_string()),
            );
        }
        if given >= 3 {
            call.raw(
                &self
                    .wait_secs
                    .map_or("null".to_string(), |wait| wait.to_string()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms() {
        assert_eq!(
            Reconnect::default().to_line(),
            "{\"id\":null,\"method\":\"client.reconnect\",\"params\":[]}\n"
        );
        let elsewhere = Reconnect {
            host: Some("pool.example".into()),
            port: Some(3333),
            wait_secs: Some(5),
        };
        assert!(elsewhere.to_line().contains("[\"pool.example\",3333,5]"));
        let wait_only = Reconnect {
            wait_secs: Some(5),
            ..Reconnect::default()
        };
        assert!(wait_only.to_line().contains("[null,null,5]"));
        let parsed = Reconnect::from_params(&[json!("h"), json!("3333")]).unwrap();
        assert_eq!(parsed.port, Some(3333));
        assert!(Reconnect::from_params(&[json!("h"), json!(70000)]).is_err());
    }
}
