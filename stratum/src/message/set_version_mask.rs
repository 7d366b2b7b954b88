//! `mining.set_version_mask(mask)`: the bits the miner may roll from now on,
//! sent after the configure answer.

use super::error::ErrorKind;
use super::id::Id;
use super::json::CallWriter;
use super::params::{self, Method};
use crate::version::VersionMask;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetVersionMask {
    pub mask: VersionMask,
}

impl SetVersionMask {
    pub fn to_line(&self) -> String {
        self.call_line(&Id::Null)
    }
}

impl Method for SetVersionMask {
    const NAME: &'static str = "mining.set_version_mask";

    fn from_params(params: &[Value]) -> Result<SetVersionMask, ErrorKind> {
        params::count(params, 1, 1, "1")?;
        Ok(SetVersionMask {
            mask: params::hex(params::at(params, 0), "mask", VersionMask::from_wire)?,
        })
    }

    fn write_params(&self, call: &mut CallWriter) {
        call.str(&self.mask.to_wire());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line() {
        let set = SetVersionMask {
            mask: VersionMask(0x1fff_e000),
        };
        assert_eq!(
            set.to_line(),
            "{\"id\":null,\"method\":\"mining.set_version_mask\",\"params\":[\"1fffe000\"]}\n"
        );
        assert!(SetVersionMask::from_params(&[Value::from("1fffe0001")]).is_err());
    }
}
