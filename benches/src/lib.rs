//! Inputs the criterion benchmarks in `benches/benches/` share.

use stratum::sha256d::{Implementation, Sha256d};

/// Every implementation this CPU has, in a fixed order.
pub fn engines() -> Vec<Sha256d> {
    Implementation::available()
        .into_iter()
        .map(|implementation| Sha256d::new(implementation).expect("available"))
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift).
pub fn sample_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

pub fn sample_header() -> [u8; 80] {
    sample_bytes(80, 1).try_into().expect("80 bytes")
}

/// The last 16 bytes of `header` with the nonce counting up, as a miner rolls it.
pub fn nonce_tails(header: &[u8; 80], count: usize) -> Vec<[u8; 16]> {
    (0..count as u32)
        .map(|nonce| {
            let mut tail: [u8; 16] = header[64..].try_into().expect("16 bytes");
            tail[12..].copy_from_slice(&nonce.to_le_bytes());
            tail
        })
        .collect()
}

pub fn sample_nodes(count: usize) -> Vec<[u8; 64]> {
    (0..count)
        .map(|index| {
            sample_bytes(64, 100 + index as u64)
                .try_into()
                .expect("64 bytes")
        })
        .collect()
}

/// A job shaped like a mainnet one: a 250-byte coinbase (extranonces
/// included) and a 12-level merkle branch (2,000 to 4,000 transactions).
pub fn sample_job() -> stratum::Job {
    use stratum::message::Notify;
    stratum::Job::new(Notify {
        job_id: stratum::JobId(0x1a2b_3c4d),
        prevhash: stratum::PrevHash(sample_bytes(32, 7).try_into().expect("32 bytes")),
        coinb1: sample_bytes(60, 8),
        coinb2: sample_bytes(250 - 60 - 4 - 8, 9),
        merkle_branch: (0..12)
            .map(|level| sample_bytes(32, 20 + level).try_into().expect("32 bytes"))
            .collect(),
        version: stratum::Version(0x2000_0000),
        nbits: stratum::NBits(0x1702_3a04),
        ntime: stratum::Ntime(0x6740_0000),
        clean_jobs: true,
    })
    .expect("valid nbits")
}

/// A share on [`sample_job`] with a 4-byte extranonce1 and 8-byte extranonce2.
pub fn sample_share() -> stratum::Share {
    stratum::Share {
        extranonce1: stratum::Extranonce1::from_bytes(&[0xf0, 0, 0, 0x0a]).expect("4 bytes"),
        extranonce2: stratum::Extranonce2::from_bytes(&[0; 8]).expect("8 bytes"),
        ntime: stratum::Ntime(0x6740_0010),
        nonce: stratum::Nonce(0),
        version_bits: Some(stratum::VersionBits(0x2000)),
    }
}

pub mod load;
