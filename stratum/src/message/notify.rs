//! `mining.notify`: a job.

use super::error::ErrorKind;
use super::id::Id;
use super::json::CallWriter;
use super::params::{self, Method};
use crate::job_id::JobId;
use crate::nbits::NBits;
use crate::ntime::Ntime;
use crate::prevhash::PrevHash;
use crate::version::Version;
use serde_json::Value;

/// A job: everything a miner needs to build headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub job_id: JobId,
    pub prevhash: PrevHash,
    /// Coinbase up to the extranonces.
    pub coinb1: Vec<u8>,
    /// Coinbase after the extranonces.
    pub coinb2: Vec<u8>,
    /// Hashes in internal byte order, written as they are.
    pub merkle_branch: Vec<[u8; 32]>,
    pub version: Version,
    pub nbits: NBits,
    pub ntime: Ntime,
    /// Whether earlier jobs are void (a new block).
    pub clean_jobs: bool,
}

impl Notify {
    /// The line, written once per job and sent to every miner.
    pub fn to_line(&self) -> String {
        self.call_line(&Id::Null)
    }
}

impl Method for Notify {
    const NAME: &'static str = "mining.notify";

    fn from_params(params: &[Value]) -> Result<Notify, ErrorKind> {
        params::count(params, 9, 9, "9")?;
        let Value::Array(branch) = params::at(params, 4) else {
            return Err(params::wrong_type(
                "merkle_branch",
                "an array",
                params::at(params, 4),
            ));
        };
        let clean_jobs = match params::at(params, 8) {
            Value::Bool(clean) => *clean,
            other => return Err(params::wrong_type("clean_jobs", "a boolean", other)),
        };
        Ok(Notify {
            job_id: params::hex(params::at(params, 0), "job_id", JobId::from_wire)?,
            prevhash: params::hash(params::at(params, 1), "prevhash", PrevHash::from_wire)?,
            coinb1: params::hex_bytes(params::at(params, 2), "coinb1")?,
            coinb2: params::hex_bytes(params::at(params, 3), "coinb2")?,
            merkle_branch: branch
                .iter()
                .map(|hash| params::hash(hash, "merkle_branch", crate::hex::decode_32))
                .collect::<Result<_, _>>()?,
            version: params::hex(params::at(params, 5), "version", Version::from_wire)?,
            nbits: params::hex(params::at(params, 6), "nbits", NBits::from_wire)?,
            ntime: params::hex(params::at(params, 7), "ntime", Ntime::from_wire)?,
            clean_jobs,
        })
    }

    fn write_params(&self, call: &mut CallWriter) {
        call.str(&self.job_id.to_wire());
        call.str(&self.prevhash.to_wire());
        call.hex(&self.coinb1);
        call.hex(&self.coinb2);
        let branch = call.next();
        branch.reserve(self.merkle_branch.len() * 67 + 2);
        branch.push('[');
        for (index, hash) in self.merkle_branch.iter().enumerate() {
            if index > 0 {
                branch.push(',');
            }
            branch.push('"');
            crate::hex::encode_into(hash, branch);
            branch.push('"');
        }
        branch.push(']');
        call.str(&self.version.to_wire());
        call.str(&self.nbits.to_wire());
        call.str(&self.ntime.to_wire());
        call.raw(if self.clean_jobs { "true" } else { "false" });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Notify {
        Notify {
            job_id: JobId(0x1a2b_3c4d),
            prevhash: PrevHash([7; 32]),
            coinb1: vec![1, 2],
            coinb2: vec![],
            merkle_branch: vec![[0xab; 32], [0; 32]],
            version: Version(0x2000_0000),
            nbits: NBits(0x207f_ffff),
            ntime: Ntime(0x6b06_0d97),
            clean_jobs: true,
        }
    }

    #[test]
    fn params_in_protocol_order() {
        let line = sample().to_line();
        assert!(
            line.starts_with("{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"1a2b3c4d\",")
        );
        assert!(line.ends_with(",\"20000000\",\"207fffff\",\"6b060d97\",true]}\n"));
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["params"][2], json!("0102"));
        assert_eq!(value["params"][3], json!(""));
        assert_eq!(value["params"][4][0], json!("ab".repeat(32)));
        assert_eq!(
            Notify::from_params(value["params"].as_array().unwrap()),
            Ok(sample())
        );
    }

    #[test]
    fn malformed() {
        let line = sample().to_line();
        let value: Value = serde_json::from_str(&line).unwrap();
        let params = value["params"].as_array().unwrap().clone();
        let with = |index: usize, replacement: Value| {
            let mut params = params.clone();
            params[index] = replacement;
            Notify::from_params(&params)
        };
        assert!(with(1, json!("00")).is_err());
        assert!(with(2, json!("abc")).is_err());
        assert!(with(4, json!("ab")).is_err());
        assert!(with(4, json!(["ab"])).is_err());
        assert!(with(8, json!(1)).is_err());
        assert!(Notify::from_params(&params[..8]).is_err());
    }
}
