//! `mining.submit(worker, job_id, extranonce2, ntime, nonce[, version_bits])`.

use super::error::{echo, ErrorKind};
use super::json::CallWriter;
use super::params::{self, Method};
use crate::extranonce::Extranonce2;
use crate::job_id::JobId;
use crate::nonce::Nonce;
use crate::ntime::Ntime;
use crate::version::VersionBits;
use serde_json::Value;

/// A share. Hex fields shorter than their width are left-padded, because
/// some miners drop leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    /// The name the miner authorized with, as sent.
    pub worker: String,
    pub job_id: JobId,
    pub extranonce2: Extranonce2,
    pub ntime: Ntime,
    pub nonce: Nonce,
    /// Present when version rolling was negotiated (6 params).
    pub version_bits: Option<VersionBits>,
}

impl Method for Submit {
    const NAME: &'static str = "mining.submit";

    fn from_params(params: &[Value]) -> Result<Submit, ErrorKind> {
        params::count(params, 5, 6, "5 or 6")?;
        let extranonce2 = params::string(params::at(params, 2), "extranonce2")?;
        Ok(Submit {
            worker: params::string(params::at(params, 0), "worker")?.to_string(),
            job_id: params::hex(params::at(params, 1), "job_id", JobId::from_wire)?,
            extranonce2: Extranonce2::from_wire(extranonce2).map_err(|source| {
                ErrorKind::Extranonce {
                    field: "extranonce2",
                    value: echo(extranonce2),
                    source,
                }
            })?,
            ntime: params::hex(params::at(params, 3), "ntime", Ntime::from_wire)?,
            nonce: params::hex(params::at(params, 4), "nonce", Nonce::from_wire)?,
            version_bits: match params::at(params, 5) {
                Value::Null => None,
                bits => Some(params::hex(bits, "version_bits", VersionBits::from_wire)?),
            },
        })
    }

    fn write_params(&self, call: &mut CallWriter) {
        call.str(&self.worker);
        call.str(&self.job_id.to_wire());
        call.hex(self.extranonce2.as_bytes());
        call.str(&self.ntime.to_wire());
        call.str(&self.nonce.to_wire());
        if let Some(bits) = self.version_bits {
            call.str(&bits.to_wire());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Id;
    use serde_json::json;

    fn parse(params: Value) -> Result<Submit, ErrorKind> {
        Submit::from_params(params.as_array().unwrap())
    }

    #[test]
    fn short_hex_is_left_padded() {
        let submit = parse(json!(["w", "1a2b3c4d", "1", "6b060d97", "795a5", "2000"])).unwrap();
        assert_eq!(submit.job_id, JobId(0x1a2b_3c4d));
        assert_eq!(submit.extranonce2.as_bytes(), &[1]);
        assert_eq!(submit.nonce, Nonce(0x0007_95a5));
        assert_eq!(submit.version_bits, Some(VersionBits(0x2000)));
        assert_eq!(
            submit.call_line(&Id::from(4)),
            "{\"id\":4,\"method\":\"mining.submit\",\"params\":[\"w\",\"1a2b3c4d\",\"01\",\"6b060d97\",\"000795a5\",\"00002000\"]}\n"
        );
    }

    #[test]
    fn null_version_bits_mean_none() {
        let submit = parse(json!(["w", "1", "00", "1", "1", null])).unwrap();
        assert_eq!(submit.version_bits, None);
    }

    #[test]
    fn bad_fields_are_named() {
        let field_of = |params: Value| match parse(params) {
            Err(
                ErrorKind::Hex { field, .. }
                | ErrorKind::WrongType { field, .. }
                | ErrorKind::Extranonce { field, .. },
            ) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field_of(json!(["w", "zz", "00", "1", "1"])), "job_id");
        assert_eq!(field_of(json!(["w", 7, "00", "1", "1"])), "job_id");
        assert_eq!(field_of(json!(["w", "1", "0g", "1", "1"])), "extranonce2");
        assert_eq!(field_of(json!(["w", "1", "00", "123456789", "1"])), "ntime");
        assert_eq!(field_of(json!(["w", "1", "00", "1", ""])), "nonce");
        assert_eq!(
            field_of(json!(["w", "1", "00", "1", "1", true])),
            "version_bits"
        );
        assert_eq!(field_of(json!([null, "1", "00", "1", "1"])), "worker");
        assert!(matches!(
            parse(json!(["w", "1", "00", "1"])),
            Err(ErrorKind::ParamCount { got: 4, .. })
        ));
        assert!(matches!(
            parse(json!(["w", "1", "00", "1", "1", "1", "1"])),
            Err(ErrorKind::ParamCount { got: 7, .. })
        ));
    }
}
