//! `mining.configure` (BIP 310): extensions the miner wants, and the answer.

use super::error::ErrorKind;
use super::json::{write_str, CallWriter};
use super::params::{self, Method};
use crate::difficulty::Difficulty;
use crate::version::VersionMask;
use serde_json::{Map, Value};

const VERSION_ROLLING: &str = "version-rolling";
const MINIMUM_DIFFICULTY: &str = "minimum-difficulty";
const SUBSCRIBE_EXTRANONCE: &str = "subscribe-extranonce";

/// The extensions a miner asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Configure {
    pub version_rolling: Option<VersionRollingRequest>,
    /// `minimum-difficulty` with its `minimum-difficulty.value`.
    pub minimum_difficulty: Option<Difficulty>,
    pub subscribe_extranonce: bool,
    /// Names of extensions we do not know, which the answer leaves out.
    pub unknown: Vec<String>,
}

/// The `version-rolling` extension's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VersionRollingRequest {
    /// The bits the miner wants to roll (ESP-Miner asks for `ffffffff`).
    pub mask: Option<VersionMask>,
    pub min_bit_count: Option<u32>,
}

impl VersionRollingRequest {
    /// The mask to intersect with the pool's: a miner that names none
    /// takes whatever the pool offers.
    pub fn requested_mask(&self) -> VersionMask {
        self.mask.unwrap_or(VersionMask(u32::MAX))
    }
}

impl Method for Configure {
    const NAME: &'static str = "mining.configure";

    fn from_params(params: &[Value]) -> Result<Configure, ErrorKind> {
        params::count(params, 1, 2, "1 or 2")?;
        let Value::Array(names) = params::at(params, 0) else {
            return Err(params::wrong_type(
                "extensions",
                "an array",
                params::at(params, 0),
            ));
        };
        let empty = Map::new();
        let options = match params::at(params, 1) {
            Value::Object(options) => options,
            Value::Null => &empty,
            other => return Err(params::wrong_type("extension params", "an object", other)),
        };
        let option = |key: &str| options.get(key).unwrap_or(&Value::Null);
        let mut configure = Configure::default();
        for name in names {
            match params::string(name, "extension name")? {
                VERSION_ROLLING => {
                    let mask = match option("version-rolling.mask") {
                        Value::Null => None,
                        mask => Some(params::hex(
                            mask,
                            "version-rolling.mask",
                            VersionMask::from_wire,
                        )?),
                    };
                    let min_bit_count = match option("version-rolling.min-bit-count") {
                        Value::Null => None,
                        count => Some(params::unsigned(
                            count,
                            "version-rolling.min-bit-count",
                            32,
                            "0..=32",
                        )? as u32),
                    };
                    configure.version_rolling = Some(VersionRollingRequest {
                        mask,
                        min_bit_count,
                    });
                }
                MINIMUM_DIFFICULTY => {
                    configure.minimum_difficulty = match option("minimum-difficulty.value") {
                        Value::Null => None,
                        value => Some(params::difficulty(value, "minimum-difficulty.value")?),
                    }
                }
                SUBSCRIBE_EXTRANONCE => configure.subscribe_extranonce = true,
                other => configure.unknown.push(other.to_string()),
            }
        }
        Ok(configure)
    }

    fn write_params(&self, call: &mut CallWriter) {
        let mut names = Vec::new();
        let mut options = String::from("{");
        let mut option = |key: &str, json: &str| {
            if options.len() > 1 {
                options.push(',');
            }
            write_str(&mut options, key);
            options.push(':');
            options.push_str(json);
        };
        if let Some(rolling) = &self.version_rolling {
            names.push(VERSION_ROLLING);
            if let Some(mask) = rolling.mask {
                option("version-rolling.mask", &format!("\"{}\"", mask.to_wire()));
            }
            if let Some(count) = rolling.min_bit_count {
                option("version-rolling.min-bit-count", &count.to_string());
            }
        }
        if let Some(difficulty) = self.minimum_difficulty {
            names.push(MINIMUM_DIFFICULTY);
            option("minimum-difficulty.value", &difficulty.to_wire());
        }
        if self.subscribe_extranonce {
            names.push(SUBSCRIBE_EXTRANONCE);
        }
        names.extend(self.unknown.iter().map(String::as_str));
        options.push('}');
        let list = call.next();
        list.push('[');
        for (index, name) in names.iter().enumerate() {
            if index > 0 {
                list.push(',');
            }
            write_str(list, name);
        }
        list.push(']');
        call.raw(&options);
    }
}

/// The pool's answer to `mining.configure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfigureResult {
    /// The negotiated mask, or `None` for `"version-rolling": false`.
    pub version_rolling: Option<VersionMask>,
    /// Whether `minimum-difficulty` was accepted; `None` leaves it out.
    pub minimum_difficulty: Option<bool>,
    /// Whether `subscribe-extranonce` was accepted; `None` leaves it out.
    pub subscribe_extranonce: Option<bool>,
}

impl ConfigureResult {
    /// `{"version-rolling":true,"version-rolling.mask":"1fffe000"}`, the
    /// form cgminer and ESP-Miner read.
    pub fn to_value(&self) -> Value {
        let mut result = Map::new();
        result.insert(
            VERSION_ROLLING.into(),
            self.version_rolling.is_some().into(),
        );
        if let Some(mask) = self.version_rolling {
            result.insert("version-rolling.mask".into(), mask.to_wire().into());
        }
        if let Some(accepted) = self.minimum_difficulty {
            result.insert(MINIMUM_DIFFICULTY.into(), accepted.into());
        }
        if let Some(accepted) = self.subscribe_extranonce {
            result.insert(SUBSCRIBE_EXTRANONCE.into(), accepted.into());
        }
        Value::Object(result)
    }

    /// Reads a pool's answer; version rolling counts only with a mask to roll.
    pub fn from_value(result: &Value) -> Result<ConfigureResult, ErrorKind> {
        let Value::Object(fields) = result else {
            return Err(params::wrong_type("configure result", "an object", result));
        };
        let granted = fields.get(VERSION_ROLLING).and_then(Value::as_bool) == Some(true);
        let version_rolling = match fields.get("version-rolling.mask") {
            Some(mask) if granted => Some(params::hex(
                mask,
                "version-rolling.mask",
                VersionMask::from_wire,
            )?),
            _ => None,
        };
        Ok(ConfigureResult {
            version_rolling,
            minimum_difficulty: fields.get(MINIMUM_DIFFICULTY).and_then(Value::as_bool),
            subscribe_extranonce: fields.get(SUBSCRIBE_EXTRANONCE).and_then(Value::as_bool),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Id;
    use serde_json::json;

    fn parse(params: Value) -> Result<Configure, ErrorKind> {
        Configure::from_params(params.as_array().unwrap())
    }

    #[test]
    fn bitaxe_asks_for_every_bit() {
        let configure =
            parse(json!([["version-rolling"], {"version-rolling.mask": "ffffffff"}])).unwrap();
        let rolling = configure.version_rolling.unwrap();
        assert_eq!(rolling.mask, Some(VersionMask(0xffff_ffff)));
        assert_eq!(rolling.min_bit_count, None);
    }

    #[test]
    fn other_extensions() {
        let configure = parse(json!([
            ["minimum-difficulty", "subscribe-extranonce", "info", "version-rolling"],
            {"minimum-difficulty.value": 0.5, "version-rolling.min-bit-count": 2, "info.connection-url": "x"}
        ]))
        .unwrap();
        assert_eq!(configure.minimum_difficulty, Difficulty::new(0.5).ok());
        assert!(configure.subscribe_extranonce);
        assert_eq!(configure.unknown, vec!["info".to_string()]);
        let rolling = configure.version_rolling.unwrap();
        assert_eq!(rolling.requested_mask(), VersionMask(u32::MAX));
        assert_eq!(rolling.min_bit_count, Some(2));
        assert_eq!(parse(json!([[]])), Ok(Configure::default()));
    }

    #[test]
    fn bad_params() {
        assert!(parse(json!([{}, {}])).is_err());
        assert!(parse(json!([[1], {}])).is_err());
        assert!(parse(json!([["version-rolling"], []])).is_err());
        assert!(parse(json!([["version-rolling"], {"version-rolling.mask": "xyz"}])).is_err());
        assert!(
            parse(json!([["version-rolling"], {"version-rolling.min-bit-count": "many"}])).is_err()
        );
        assert!(parse(json!([["minimum-difficulty"], {"minimum-difficulty.value": -1}])).is_err());
    }

    #[test]
    fn writes_like_cgminer() {
        let configure = Configure {
            version_rolling: Some(VersionRollingRequest {
                mask: Some(VersionMask(0xffff_ffff)),
                min_bit_count: Some(2),
            }),
            ..Configure::default()
        };
        assert_eq!(
            configure.call_line(&Id::from(0)),
            "{\"id\":0,\"method\":\"mining.configure\",\"params\":[[\"version-rolling\"],{\"version-rolling.mask\":\"ffffffff\",\"version-rolling.min-bit-count\":2}]}\n"
        );
    }

    #[test]
    fn results() {
        let granted = ConfigureResult {
            version_rolling: Some(VersionMask(0x1fff_e000)),
            ..ConfigureResult::default()
        };
        assert_eq!(
            granted.to_value(),
            json!({"version-rolling": true, "version-rolling.mask": "1fffe000"})
        );
        assert_eq!(
            ConfigureResult::from_value(&granted.to_value()),
            Ok(granted)
        );
        let refused = ConfigureResult::default();
        assert_eq!(refused.to_value(), json!({"version-rolling": false}));
        assert_eq!(
            ConfigureResult::from_value(&json!({"version-rolling": true})),
            Ok(refused)
        );
        assert!(ConfigureResult::from_value(&json!(null)).is_err());
    }
}
