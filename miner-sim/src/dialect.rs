//! The three miners we imitate, line for line.
//!
//! Each dialect writes its requests exactly as the firmware does (spacing,
//! key order, ids), because pools break on exactly these differences:
//! cgminer puts `params` first in a submit, cpuminer writes `"id":4` with no
//! space, ESP-Miner (Bitaxe) writes compact JSON. The shapes come from
//! `vectors/miner-dialects/*.jsonl`.

use std::fmt;
use std::str::FromStr;
use stratum::message::Id;
use stratum::{Difficulty, Extranonce2, Nonce, Ntime, VersionBits, VersionMask};
use thiserror::Error;

/// A family of mining firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// cgminer 4.11 (the base of most ASIC firmware): waits for each answer.
    Cgminer,
    /// ESP-Miner on a Bitaxe: pipelines configure, subscribe and authorize.
    Bitaxe,
    /// pooler's cpuminer 2.5.1: no version rolling, every submit has id 4.
    Cpuminer,
}

/// How a dialect renders the version bits of a rolled header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionBitsForm {
    /// BIP 310: the rolled bits, `rolled & mask` (cgminer).
    Bip310,
    /// ESP-Miner: `rolled_version ^ job_version`, with the ASIC's rolled
    /// version `job_version | bits`. Equal to BIP 310 only when the job's
    /// version has no bits inside the mask.
    XorJobVersion,
}

/// The fields of a `mining.submit`, as the miner writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitParams {
    pub worker: String,
    /// Echoed exactly as the pool wrote it in `mining.notify`.
    pub job_id: String,
    pub extranonce2: Extranonce2,
    pub ntime: Ntime,
    pub nonce: Nonce,
    /// `None` writes 5 params.
    pub version_bits: Option<VersionBits>,
}

impl SubmitParams {
    /// The params as JSON texts, in protocol order.
    pub fn json_params(&self) -> Vec<String> {
        let mut params = vec![
            json_str(&self.worker),
            json_str(&self.job_id),
            json_str(&self.extranonce2.to_wire()),
            json_str(&self.ntime.to_wire()),
            json_str(&self.nonce.to_wire()),
        ];
        if let Some(bits) = self.version_bits {
            params.push(json_str(&bits.to_wire()));
        }
        params
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown dialect {0:?} (cgminer, bitaxe, cpuminer)")]
pub struct UnknownDialect(pub String);

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Cgminer, Dialect::Bitaxe, Dialect::Cpuminer];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Cgminer => "cgminer",
            Dialect::Bitaxe => "bitaxe",
            Dialect::Cpuminer => "cpuminer",
        }
    }

    /// The first param of `mining.subscribe`.
    pub fn user_agent(self) -> &'static str {
        match self {
            Dialect::Cgminer => "cgminer/4.11.1",
            Dialect::Bitaxe => "bitaxe/BM1370/v2.9.0",
            Dialect::Cpuminer => "cpuminer/2.5.1",
        }
    }

    /// The answer to `client.get_version`.
    pub fn version_string(self) -> &'static str {
        match self {
            Dialect::Cgminer => "cgminer/4.11.1",
            Dialect::Bitaxe => "v2.9.0",
            Dialect::Cpuminer => "cpuminer/2.5.1",
        }
    }

    /// The id of the first request; later ones count up from it.
    pub fn first_id(self) -> u64 {
        match self {
            Dialect::Cgminer => 0,
            Dialect::Bitaxe | Dialect::Cpuminer => 1,
        }
    }

    /// Whether it asks for version rolling with `mining.configure` (mask `ffffffff`).
    pub fn sends_configure(self) -> bool {
        matches!(self, Dialect::Cgminer | Dialect::Bitaxe)
    }

    /// Whether configure, subscribe and authorize go out without waiting
    /// for answers.
    pub fn pipelines_handshake(self) -> bool {
        matches!(self, Dialect::Bitaxe)
    }

    /// The difficulty suggested after authorize when the config says nothing.
    pub fn default_suggest_difficulty(self) -> Option<f64> {
        match self {
            Dialect::Bitaxe => Some(1000.0),
            Dialect::Cgminer | Dialect::Cpuminer => None,
        }
    }

    /// Whether it sends `mining.suggest_difficulty` at all.
    pub fn suggests_difficulty(self) -> bool {
        matches!(self, Dialect::Cgminer | Dialect::Bitaxe)
    }

    /// cpuminer writes every submit with id 4.
    pub fn fixed_submit_id(self) -> Option<u64> {
        match self {
            Dialect::Cpuminer => Some(4),
            Dialect::Cgminer | Dialect::Bitaxe => None,
        }
    }

    /// How version bits are written, or `None` when it never rolls versions.
    pub fn version_bits_form(self) -> Option<VersionBitsForm> {
        match self {
            Dialect::Cgminer => Some(VersionBitsForm::Bip310),
            Dialect::Bitaxe => Some(VersionBitsForm::XorJobVersion),
            Dialect::Cpuminer => None,
        }
    }

    /// ESP-Miner writes the 6th param even when nothing was negotiated;
    /// cgminer only when version rolling was granted.
    pub fn always_sends_version_bits(self) -> bool {
        matches!(self, Dialect::Bitaxe)
    }

    /// Whether it drops a `mining.notify` whose job id it has seen before.
    pub fn drops_repeated_job_ids(self) -> bool {
        matches!(self, Dialect::Bitaxe)
    }

    /// Whether it applies `mining.set_extranonce`.
    pub fn handles_set_extranonce(self) -> bool {
        matches!(self, Dialect::Bitaxe)
    }

    fn style(self) -> Style {
        match self {
            Dialect::Bitaxe => Style::COMPACT,
            Dialect::Cgminer | Dialect::Cpuminer => Style::SPACED,
        }
    }

    /// `mining.configure` asking for version rolling with `mask`.
    pub fn configure_line(self, id: u64, mask: VersionMask) -> String {
        let style = self.style();
        let options = format!(
            "{{{}{}{}}}",
            json_str("version-rolling.mask"),
            style.colon,
            json_str(&mask.to_wire())
        );
        let params = [format!("[{}]", json_str("version-rolling")), options];
        self.request(&Id::from(id), "mining.configure", &params)
    }

    /// `mining.subscribe` with the user agent, or with no params at all
    /// (cpuminer's retry after an error answer).
    pub fn subscribe_line(self, id: u64, with_agent: bool) -> String {
        let params: Vec<String> = if with_agent {
            vec![json_str(self.user_agent())]
        } else {
            Vec::new()
        };
        self.request(&Id::from(id), "mining.subscribe", &params)
    }

    pub fn authorize_line(self, id: u64, user: &str, password: &str) -> String {
        let params = [json_str(user), json_str(password)];
        self.request(&Id::from(id), "mining.authorize", &params)
    }

    /// cgminer only knows integers; ESP-Miner writes whatever it was given.
    pub fn suggest_difficulty_line(self, id: u64, difficulty: Difficulty) -> String {
        let value = match self {
            Dialect::Cgminer => format!("{}", difficulty.as_f64().round().max(1.0) as u64),
            Dialect::Bitaxe | Dialect::Cpuminer => difficulty.to_wire(),
        };
        self.request(&Id::from(id), "mining.suggest_difficulty", &[value])
    }

    pub fn extranonce_subscribe_line(self, id: u64) -> String {
        self.request(&Id::from(id), "mining.extranonce.subscribe", &[])
    }

    pub fn submit_line(self, id: u64, submit: &SubmitParams) -> String {
        self.submit_line_with(id, &submit.json_params())
    }

    /// A submit with params given as JSON texts (malformed ones included).
    pub fn submit_line_with(self, id: u64, params: &[String]) -> String {
        let style = self.style();
        let list = style.list(params);
        match self {
            Dialect::Bitaxe => self.request(&Id::from(id), "mining.submit", params),
            Dialect::Cgminer => {
                format!("{{\"params\": {list}, \"id\": {id}, \"method\": \"mining.submit\"}}\n")
            }
            // Sic: no space after the colon of the id.
            Dialect::Cpuminer => {
                format!("{{\"method\": \"mining.submit\", \"params\": {list}, \"id\":{id}}}\n")
            }
        }
    }

    /// The answer to `mining.ping`: a `pong` method (ESP-Miner), a `"pong"`
    /// result (cgminer), or nothing (cpuminer does not know the method).
    pub fn pong_line(self, ping_id: &Id) -> Option<String> {
        match self {
            Dialect::Bitaxe => Some(self.request(ping_id, "pong", &[])),
            Dialect::Cgminer => Some(self.answer(ping_id, &json_str("pong"))),
            Dialect::Cpuminer => None,
        }
    }

    /// The answer to `client.get_version`.
    pub fn version_answer_line(self, id: &Id) -> String {
        self.answer(id, &json_str(self.version_string()))
    }

    /// `{"id":..,"method":..,"params":[..]}` in the dialect's spacing.
    pub fn request(self, id: &Id, method: &str, params: &[String]) -> String {
        let style = self.style();
        let Style { colon, sep } = style;
        format!(
            "{{\"id\"{colon}{id}{sep}\"method\"{colon}{method}{sep}\"params\"{colon}{params}}}\n",
            method = json_str(method),
            params = style.list(params),
        )
    }

    fn answer(self, id: &Id, result: &str) -> String {
        let Style { colon, sep } = self.style();
        format!("{{\"id\"{colon}{id}{sep}\"result\"{colon}{result}{sep}\"error\"{colon}null}}\n")
    }
}

/// Separators: ESP-Miner writes compact JSON, cgminer and cpuminer write
/// `", "` and `": "` (jansson's and printf's habits).
#[derive(Clone, Copy)]
struct Style {
    colon: &'static str,
    sep: &'static str,
}

impl Style {
    const COMPACT: Style = Style {
        colon: ":",
        sep: ",",
    };
    const SPACED: Style = Style {
        colon: ": ",
        sep: ", ",
    };

    fn list(self, items: &[String]) -> String {
        format!("[{}]", items.join(self.sep))
    }
}

/// A JSON string literal.
pub(crate) fn json_str(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(text: &str) -> Result<Dialect, UnknownDialect> {
        match text.to_ascii_lowercase().as_str() {
            "cgminer" => Ok(Dialect::Cgminer),
            "bitaxe" | "esp-miner" | "esp_miner" => Ok(Dialect::Bitaxe),
            "cpuminer" => Ok(Dialect::Cpuminer),
            _ => Err(UnknownDialect(text.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stratum::message::{
        Authorize, ClientMethod, ClientRequest, Configure, Subscribe, SuggestDifficulty,
        VersionRollingRequest,
    };
    use stratum::Username;

    /// ESP-Miner's compact lines are the stratum crate's own wire form.
    #[test]
    fn bitaxe_matches_the_stratum_crate() {
        let line = |id: u64, method| ClientRequest::new(id, method).to_line();
        let bitaxe = Dialect::Bitaxe;
        assert_eq!(
            bitaxe.configure_line(1, VersionMask(u32::MAX)),
            line(
                1,
                ClientMethod::Configure(Configure {
                    version_rolling: Some(VersionRollingRequest {
                        mask: Some(VersionMask(u32::MAX)),
                        min_bit_count: None
                    }),
                    ..Configure::default()
                })
            )
        );
        assert_eq!(
            bitaxe.subscribe_line(2, true),
            line(
                2,
                ClientMethod::Subscribe(Subscribe {
                    user_agent: Some("bitaxe/BM1370/v2.9.0".into()),
                    session_id: None
                })
            )
        );
        assert_eq!(
            bitaxe.authorize_line(3, "addr.w", "x"),
            line(
                3,
                ClientMethod::Authorize(Authorize {
                    username: Username::parse("addr.w").unwrap(),
                    password: Some("x".into())
                })
            )
        );
        let half = Difficulty::new(0.5).unwrap();
        assert_eq!(
            bitaxe.suggest_difficulty_line(4, half),
            line(
                4,
                ClientMethod::SuggestDifficulty(SuggestDifficulty { difficulty: half })
            )
        );
        assert_eq!(
            bitaxe.extranonce_subscribe_line(5),
            line(5, ClientMethod::ExtranonceSubscribe)
        );
        assert_eq!(
            bitaxe.pong_line(&Id::from(9)).unwrap(),
            line(9, ClientMethod::Pong)
        );
    }

    #[test]
    fn cgminer_suggests_integers() {
        let line = Dialect::Cgminer.suggest_difficulty_line(3, Difficulty::new(511.6).unwrap());
        assert_eq!(
            line,
            "{\"id\": 3, \"method\": \"mining.suggest_difficulty\", \"params\": [512]}\n"
        );
    }

    #[test]
    fn names_roundtrip() {
        for dialect in Dialect::ALL {
            assert_eq!(dialect.name().parse::<Dialect>(), Ok(dialect));
        }
        assert!("antminer".parse::<Dialect>().is_err());
    }
}
