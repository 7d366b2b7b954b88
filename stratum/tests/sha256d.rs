//! Every SHA-256 implementation, forced one by one, against the `sha2` crate.
//! Every kernel the CPU supports (by `is_x86_feature_detected!`, asked
//! apart from the crate's dispatch) runs; the others are recorded as
//! skipped by `test_skip`, never passed over in silence.

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use stratum::sha256d::{Implementation, Sha256d};
use test_skip::cpu::{kernels_to_run, KernelRuns};

fn reference(data: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(data)).into()
}

/// The kernels this CPU supports, as the CPU says.
fn kernels() -> Vec<&'static str> {
    kernels_to_run(test_skip::suite!(), |name| {
        Implementation::from_name(name)
            .unwrap_or_else(|| panic!("stratum has no kernel {name}"))
            .is_available()
    })
}

/// One engine per kernel of [`kernels`], each forced by name.
fn engines() -> Vec<Sha256d> {
    kernels()
        .into_iter()
        .map(|name| {
            Sha256d::by_name(name).unwrap_or_else(|error| panic!("{name} is supported: {error}"))
        })
        .collect()
}

/// Runs `check` with every engine; fails if a kernel the CPU supports
/// did not run.
fn each_engine(mut check: impl FnMut(&Sha256d)) {
    let mut runs = KernelRuns::new(&kernels());
    for engine in engines() {
        check(&engine);
        runs.ran(engine.implementation().name());
    }
    runs.finish();
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
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

#[test]
fn forcing_by_name_matches_the_cpu() {
    // A kernel the CPU lacks is refused by name and recorded as skipped
    // (by `kernels`); one it has is given, and is the one asked for.
    let supported = kernels();
    for implementation in Implementation::ALL {
        match Sha256d::by_name(implementation.name()) {
            Ok(engine) => {
                assert!(
                    supported.contains(&implementation.name()),
                    "{implementation}"
                );
                assert_eq!(engine.implementation(), implementation);
            }
            Err(error) => {
                assert!(!supported.contains(&implementation.name()), "{error}");
                assert_eq!(
                    error,
                    stratum::sha256d::SelectError::Unavailable(implementation)
                );
            }
        }
    }
    let names: Vec<&str> = Implementation::available()
        .into_iter()
        .map(Implementation::name)
        .collect();
    assert_eq!(names, supported, "the dispatch offers what the CPU has");
    assert_eq!(
        Sha256d::by_name("md5"),
        Err(stratum::sha256d::SelectError::Unknown("md5".into()))
    );
    assert!(supported.contains(&"portable"));
}

#[test]
fn every_length_from_0_to_300() {
    each_engine(|engine| {
        for len in 0..300 {
            let data = bytes(len as u64, len);
            assert_eq!(
                engine.hash(&data),
                reference(&data),
                "{} at length {len}",
                engine.implementation()
            );
        }
    });
}

#[test]
fn ragged_batches() {
    each_engine(|engine| {
        for batch_size in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 100] {
            let messages: Vec<Vec<u8>> = (0..batch_size)
                .map(|index| bytes(1000 + index as u64, (index * 37 + batch_size * 11) % 700))
                .collect();
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let mut out = vec![[0u8; 32]; batch_size];
            engine.hash_batch(&refs, &mut out);
            for (message, digest) in messages.iter().zip(&out) {
                assert_eq!(
                    *digest,
                    reference(message),
                    "{} batch of {batch_size}, message of {} bytes",
                    engine.implementation(),
                    message.len()
                );
            }
        }
    });
}

#[test]
fn merkle_node_batches_of_every_size_up_to_40() {
    each_engine(|engine| {
        for count in 0..40 {
            let blocks: Vec<[u8; 64]> = (0..count)
                .map(|index| bytes(5000 + index as u64, 64).try_into().unwrap())
                .collect();
            let mut out = vec![[0u8; 32]; count];
            engine.hash_64_batch(&blocks, &mut out);
            for (block, digest) in blocks.iter().zip(&out) {
                assert_eq!(*digest, reference(block), "{}", engine.implementation());
                assert_eq!(engine.hash_64(block), reference(block));
            }
        }
    });
}

#[test]
fn header_batches_share_a_midstate() {
    let portable = Sha256d::by_name("portable").unwrap();
    each_engine(|engine| {
        let header: [u8; 80] = bytes(77, 80).try_into().unwrap();
        let first: &[u8; 64] = header[..64].try_into().unwrap();
        let midstate = engine.midstate(first);
        assert_eq!(
            midstate,
            portable.midstate(first),
            "{}",
            engine.implementation()
        );
        for count in [1, 2, 5, 16, 17, 64, 70] {
            let tails: Vec<[u8; 16]> = (0..count as u32)
                .map(|nonce| {
                    let mut tail: [u8; 16] = header[64..].try_into().unwrap();
                    tail[12..].copy_from_slice(&nonce.to_le_bytes());
                    tail
                })
                .collect();
            let mut out = vec![[0u8; 32]; count];
            engine.hash_header_batch(&midstate, &tails, &mut out);
            for (tail, digest) in tails.iter().zip(&out) {
                let mut full = header;
                full[64..].copy_from_slice(tail);
                assert_eq!(*digest, reference(&full), "{}", engine.implementation());
                assert_eq!(engine.hash_header(&midstate, tail), reference(&full));
                assert_eq!(engine.hash_80(&full), reference(&full));
            }
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_messages(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        for engine in engines() {
            prop_assert_eq!(engine.hash(&data), reference(&data), "{}", engine.implementation());
        }
    }

    #[test]
    fn random_ragged_batches(
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..40)
    ) {
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        for engine in engines() {
            let mut out = vec![[0u8; 32]; messages.len()];
            engine.hash_batch(&refs, &mut out);
            for (message, digest) in messages.iter().zip(&out) {
                prop_assert_eq!(*digest, reference(message), "{}", engine.implementation());
            }
        }
    }

    #[test]
    fn random_merkle_nodes(halves in proptest::collection::vec(any::<[u8; 32]>(), 0..80)) {
        let blocks: Vec<[u8; 64]> = halves
            .chunks(2)
            .map(|pair| {
                let mut block = [0u8; 64];
                block[..32].copy_from_slice(&pair[0]);
                block[32..].copy_from_slice(pair.last().unwrap());
                block
            })
            .collect();
        for engine in engines() {
            let mut out = vec![[0u8; 32]; blocks.len()];
            engine.hash_64_batch(&blocks, &mut out);
            for (block, digest) in blocks.iter().zip(&out) {
                prop_assert_eq!(*digest, reference(block), "{}", engine.implementation());
            }
        }
    }

    #[test]
    fn random_headers(header in proptest::collection::vec(any::<u8>(), 80..=80), count in 1usize..40) {
        let header: [u8; 80] = header.try_into().unwrap();
        for engine in engines() {
            let midstate = engine.midstate(header[..64].try_into().unwrap());
            let tails: Vec<[u8; 16]> = (0..count)
                .map(|index| {
                    let mut tail: [u8; 16] = header[64..].try_into().unwrap();
                    tail[0] ^= index as u8;
                    tail
                })
                .collect();
            let mut out = vec![[0u8; 32]; count];
            engine.hash_header_batch(&midstate, &tails, &mut out);
            for (tail, digest) in tails.iter().zip(&out) {
                let mut full = header;
                full[64..].copy_from_slice(tail);
                prop_assert_eq!(*digest, reference(&full), "{}", engine.implementation());
            }
        }
    }
}
