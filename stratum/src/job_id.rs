//! Job identifiers: never reused, not even across a restart, because
//! ESP-Miner drops a notify whose id it has already seen.

use crate::hex::HexError;

/// A job id, sent as lowercase hex without leading zeros.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct JobId(pub u64);

impl JobId {
    pub fn from_wire(text: &str) -> Result<JobId, HexError> {
        let mut bytes = [0u8; 8];
        crate::hex::decode_right_aligned(text, &mut bytes)?;
        Ok(JobId(u64::from_be_bytes(bytes)))
    }

    pub fn to_wire(self) -> String {
        format!("{:x}", self.0)
    }

    /// The id after this one.
    pub fn next(self) -> JobId {
        JobId(self.0.wrapping_add(1))
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_roundtrip() {
        assert_eq!(JobId::from_wire("1a2b3c4d"), Ok(JobId(0x1a2b3c4d)));
        assert_eq!(JobId(0x1a2b3c4d).to_wire(), "1a2b3c4d");
        assert_eq!(
            JobId::from_wire(&JobId(u64::MAX).to_wire()),
            Ok(JobId(u64::MAX))
        );
        assert!(JobId::from_wire("not-hex").is_err());
        assert!(JobId::from_wire("").is_err());
        assert!(JobId::from_wire("11112222333344445").is_err());
    }
}
