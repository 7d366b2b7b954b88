//! `mining.set_extranonce(extranonce1, extranonce2_size)`: new extranonce
//! space for miners that sent `mining.extranonce.subscribe`.

use super::error::{echo, ErrorKind};
use super::id::Id;
use super::json::CallWriter;
use super::params::{self, Method};
use crate::extranonce::{Extranonce1, MAX_EXTRANONCE2};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetExtranonce {
    pub extranonce1: Extranonce1,
    pub extranonce2_size: usize,
}

impl SetExtranonce {
    pub fn to_line(&self) -> String {
        self.call_line(&Id::Null)
    }
}

impl Method for SetExtranonce {
    const NAME: &'static str = "mining.set_extranonce";

    fn from_params(params: &[Value]) -> Result<SetExtranonce, ErrorKind> {
        params::count(params, 2, 2, "2")?;
        let text = params::string(params::at(params, 0), "extranonce1")?;
        let extranonce1 = Extranonce1::from_wire(text).map_err(|source| ErrorKind::Extranonce {
            field: "extranonce1",
            value: echo(text),
            source,
        })?;
        let size = params::unsigned(
            params::at(params, 1),
            "extranonce2_size",
            MAX_EXTRANONCE2 as u64,
            "0..=16",
        )?;
        Ok(SetExtranonce {
            extranonce1,
            extranonce2_size: size as usize,
        })
    }

    fn write_params(&self, call: &mut CallWriter) {
        call.hex(self.extranonce1.as_bytes());
        call.raw(&self.extranonce2_size.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn line() {
        let set = SetExtranonce {
            extranonce1: Extranonce1::from_wire("f000000b").unwrap(),
            extranonce2_size: 8,
        };
        assert_eq!(
            set.to_line(),
            "{\"id\":null,\"method\":\"mining.set_extranonce\",\"params\":[\"f000000b\",8]}\n"
        );
        assert!(SetExtranonce::from_params(&[json!("f000000b"), json!(99)]).is_err());
        assert!(SetExtranonce::from_params(&[json!(1), json!(4)]).is_err());
    }
}
