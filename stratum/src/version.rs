//! Block version and BIP 310 version rolling.

use thiserror::Error;

crate::hex::be_hex_u32!(
    /// A block header version.
    Version
);
crate::hex::be_hex_u32!(
    /// The bits of the version a miner may roll (BIP 310).
    VersionMask
);
crate::hex::be_hex_u32!(
    /// The sixth `mining.submit` parameter: the rolled bits.
    VersionBits
);

impl VersionMask {
    /// The mask pools offer by default: bits 13 to 28 (BIP 320).
    pub const POOL_DEFAULT: VersionMask = VersionMask(0x1fff_e000);
    pub const NONE: VersionMask = VersionMask(0);

    /// What the pool answers to `mining.configure`: its own mask restricted
    /// to what the miner asked for (ESP-Miner asks for `ffffffff`).
    pub fn negotiate(pool: VersionMask, requested: VersionMask) -> VersionMask {
        VersionMask(pool.0 & requested.0)
    }

    pub fn count_ones(self) -> u32 {
        self.0.count_ones()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("version bits {bits:08x} fall outside the negotiated mask {mask:08x}")]
pub struct VersionBitsOutsideMask {
    pub bits: u32,
    pub mask: u32,
}

impl VersionBits {
    /// The header version for a share: `(job & !mask) | (bits & mask)`.
    ///
    /// Miners send either only the rolled bits (cgminer, BIP 310) or the
    /// rolled bits XORed with the job version (ESP-Miner); a few send the
    /// whole rolled version. All agree when nothing outside the mask is set
    /// beyond what the job itself carries, so anything else is refused.
    pub fn apply(self, job: Version, mask: VersionMask) -> Result<Version, VersionBitsOutsideMask> {
        let outside = self.0 & !mask.0;
        if outside != 0 && outside != job.0 & !mask.0 {
            return Err(VersionBitsOutsideMask {
                bits: self.0,
                mask: mask.0,
            });
        }
        Ok(Version((job.0 & !mask.0) | (self.0 & mask.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_intersects() {
        let asked = VersionMask::from_wire("ffffffff").unwrap();
        assert_eq!(
            VersionMask::negotiate(VersionMask::POOL_DEFAULT, asked),
            VersionMask(0x1fffe000)
        );
        assert_eq!(
            VersionMask::negotiate(VersionMask::POOL_DEFAULT, VersionMask(0x00ffff00)),
            VersionMask(0x00ffe000)
        );
    }

    #[test]
    fn rolled_version_from_the_worked_share() {
        let version = VersionBits(0x00002000)
            .apply(Version(0x20000000), VersionMask(0x1fffe000))
            .unwrap();
        assert_eq!(version, Version(0x20002000));
    }

    #[test]
    fn full_version_form_is_accepted() {
        let version = VersionBits(0x20002000)
            .apply(Version(0x20000000), VersionMask(0x1fffe000))
            .unwrap();
        assert_eq!(version, Version(0x20002000));
    }

    #[test]
    fn bits_outside_the_mask_are_refused() {
        assert_eq!(
            VersionBits(0x00000001).apply(Version(0x20000000), VersionMask(0x1fffe000)),
            Err(VersionBitsOutsideMask {
                bits: 1,
                mask: 0x1fffe000
            })
        );
        // Without negotiation nothing may roll.
        assert!(VersionBits(0x2000)
            .apply(Version(0x20000000), VersionMask::NONE)
            .is_err());
        assert_eq!(
            VersionBits(0).apply(Version(0x20000000), VersionMask::NONE),
            Ok(Version(0x20000000))
        );
    }
}
