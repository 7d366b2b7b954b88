//! `mining.suggest_difficulty(d)` and `mining.suggest_target(hex)`: the
//! miner's wish for its share difficulty.

use super::error::ErrorKind;
use super::json::CallWriter;
use super::params::{self, Method};
use crate::difficulty::Difficulty;
use crate::target::Target;
use serde_json::Value;

/// A suggested difficulty: an integer (cgminer's 512, ESP-Miner's 1000) or
/// a float, fractions below 1 included (ESP32 lottery miners).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SuggestDifficulty {
    pub difficulty: Difficulty,
}

impl Method for SuggestDifficulty {
    const NAME: &'static str = "mining.suggest_difficulty";

    fn from_params(params: &[Value]) -> Result<SuggestDifficulty, ErrorKind> {
        params::count(params, 1, 1, "1")?;
        Ok(SuggestDifficulty {
            difficulty: params::difficulty(params::at(params, 0), "difficulty")?,
        })
    }

    fn write_params(&self, call: &mut CallWriter) {
        params::write_difficulty(call, self.difficulty);
    }
}

/// A suggested share target, as 64 big-endian hex digits (shorter is left-padded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuggestTarget {
    pub target: Target,
}

impl Method for SuggestTarget {
    const NAME: &'static str = "mining.suggest_target";

    fn from_params(params: &[Value]) -> Result<SuggestTarget, ErrorKind> {
        params::count(params, 1, 1, "1")?;
        let bytes = params::hex(params::at(params, 0), "target", crate::hex::decode_32)?;
        Ok(SuggestTarget {
            target: Target::from_be_bytes(&bytes),
        })
    }

    fn write_params(&self, call: &mut CallWriter) {
        call.hex(&self.target.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn suggest(param: Value) -> Result<f64, ErrorKind> {
        SuggestDifficulty::from_params(&[param]).map(|s| s.difficulty.as_f64())
    }

    #[test]
    fn integers_floats_and_fractions() {
        assert_eq!(suggest(json!(512)), Ok(512.0));
        assert_eq!(suggest(json!(1000.0)), Ok(1000.0));
        assert_eq!(suggest(json!(0.0001)), Ok(0.0001));
        assert_eq!(suggest(json!("0.5")), Ok(0.5));
    }

    #[test]
    fn non_positive_is_a_typed_error() {
        for bad in [json!(0), json!(-1), json!("NaN")] {
            assert!(matches!(suggest(bad), Err(ErrorKind::Difficulty { .. })));
        }
        assert!(matches!(
            suggest(json!(null)),
            Err(ErrorKind::WrongType { .. })
        ));
        assert!(matches!(
            SuggestDifficulty::from_params(&[]),
            Err(ErrorKind::ParamCount { .. })
        ));
    }

    #[test]
    fn target() {
        // Diff1 without its eight leading zero digits.
        let short = format!("ffff{}", "0".repeat(52));
        let parsed = SuggestTarget::from_params(&[json!(short)]).unwrap();
        assert_eq!(parsed.target, Target::DIFF1);
        assert!(SuggestTarget::from_params(&[json!("xyz")]).is_err());
    }
}
