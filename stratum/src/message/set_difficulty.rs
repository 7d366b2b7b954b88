//! `mining.set_difficulty(d)`: the share difficulty for the jobs that follow.

use super::error::ErrorKind;
use super::id::Id;
use super::json::CallWriter;
use super::params::{self, Method};
use crate::difficulty::Difficulty;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetDifficulty {
    pub difficulty: Difficulty,
}

impl SetDifficulty {
    pub fn to_line(&self) -> String {
        self.call_line(&Id::Null)
    }
}

impl Method for SetDifficulty {
    const NAME: &'static str = "mining.set_difficulty";

    fn from_params(params: &[Value]) -> Result<SetDifficulty, ErrorKind> {
        params::count(params, 1, 1, "1")?;
        Ok(SetDifficulty {
            difficulty: params::difficulty(params::at(params, 0), "difficulty")?,
        })
    }

    fn write_params(&self, call: &mut CallWriter) {
        params::write_difficulty(call, self.difficulty);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_have_no_fraction() {
        let set = |value| {
            SetDifficulty {
                difficulty: Difficulty::new(value).unwrap(),
            }
            .to_line()
        };
        assert_eq!(
            set(512.0),
            "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[512]}\n"
        );
        assert_eq!(
            set(0.0001),
            "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[0.0001]}\n"
        );
    }
}
