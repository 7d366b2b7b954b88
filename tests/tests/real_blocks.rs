//! Real blocks (mainnet, testnet3, regtest, signet) checked with our
//! double-SHA256 core, merkle code, job and share assembly, against
//! rust-bitcoin's parsing and its own consensus checks.
//!
//! Every expected value comes from the vectors or from rust-bitcoin, never
//! from our own code: each block's coinbase is cut into coinb1 ‖ extranonce1
//! ‖ extranonce2 ‖ coinb2 at many places, as if a pool had built it, and the
//! share validator must then find the block's own hash.

use bitcoin::consensus::encode;
use bitcoin::hashes::Hash;
use bitcoin::Block;
use stratum::message::{Notify, ServerMessage};
use stratum::{
    merkle, Extranonce1, Extranonce2, Job, JobId, NBits, Nonce, Ntime, PrevHash, Sha256d, Share,
    ShareValidator, Target, Version, VersionBits, VersionMask,
};
use tests::{
    each_engine, load_block_hex, load_block_raw, load_testnet_blocks, non_witness_bytes,
    read_vector_json, sha2_sha256d, unhex, unhex_32_display,
};

/// The pool's default version-rolling mask (BIP 320 bits).
const MASK: VersionMask = VersionMask(0x1fff_e000);

/// testnet3's BIP 34 activation height (Bitcoin Core's chainparams).
const TESTNET3_BIP34_HEIGHT: u64 = 21_111;

/// Everything a block is checked for; `bip34_height` when its coinbase must
/// carry one.
fn check_block(block: &Block, what: &str, bip34_height: Option<u64>) {
    check_with_rust_bitcoin(block, what, bip34_height);
    let reference = Reference::of(block);
    each_engine(test_skip::suite!(), |engine| {
        let engine = *engine;
        let what = format!("{what} [{}]", engine.implementation());
        check_txids(&engine, block, &reference, &what);
        check_merkle(&engine, &reference, &what);
        check_header_hash(&engine, &reference, &what);
        check_targets_at_the_boundary(&engine, block, &reference, &what);
        sweep_coinbase_splits(&engine, block, &reference, &what);
    });
}

/// What rust-bitcoin says about a block, in internal byte order.
struct Reference {
    txids: Vec<[u8; 32]>,
    wtxids: Vec<[u8; 32]>,
    /// Non-witness serializations (txid preimages).
    stripped: Vec<Vec<u8>>,
    /// Full serializations (wtxid preimages).
    full: Vec<Vec<u8>>,
    header: [u8; 80],
    block_hash: [u8; 32],
    merkle_root: [u8; 32],
    network_target_be: [u8; 32],
}

impl Reference {
    fn of(block: &Block) -> Reference {
        let header: [u8; 80] = encode::serialize(&block.header)
            .try_into()
            .expect("an 80-byte header");
        Reference {
            txids: block
                .txdata
                .iter()
                .map(|tx| tx.compute_txid().to_byte_array())
                .collect(),
            wtxids: block
                .txdata
                .iter()
                .map(|tx| tx.compute_wtxid().to_byte_array())
                .collect(),
            stripped: block.txdata.iter().map(non_witness_bytes).collect(),
            full: block.txdata.iter().map(encode::serialize).collect(),
            header,
            block_hash: block.block_hash().to_byte_array(),
            merkle_root: block.header.merkle_root.to_byte_array(),
            network_target_be: block.header.target().to_be_bytes(),
        }
    }
}

fn check_with_rust_bitcoin(block: &Block, what: &str, bip34_height: Option<u64>) {
    assert!(!block.txdata.is_empty(), "{what}: no transactions");
    assert!(
        block.txdata[0].is_coinbase(),
        "{what}: first tx is no coinbase"
    );
    assert!(block.check_merkle_root(), "{what}: merkle root");
    assert!(
        block.check_witness_commitment(),
        "{what}: witness commitment"
    );
    if let Some(height) = bip34_height {
        assert_eq!(
            block.bip34_block_height().expect("a BIP 34 height"),
            height,
            "{what}: BIP 34 height"
        );
    }
    let header = &block.header;
    header
        .validate_pow(header.target())
        .unwrap_or_else(|error| panic!("{what}: proof of work: {error}"));

    // Our compact-target decoding against rust-bitcoin's, in both byte orders.
    let ours = NBits(header.bits.to_consensus())
        .to_target()
        .unwrap_or_else(|error| panic!("{what}: nbits: {error}"));
    assert_eq!(
        ours.to_be_bytes(),
        header.target().to_be_bytes(),
        "{what}: NBits::to_target"
    );
    let mut ours_le = ours.to_be_bytes();
    ours_le.reverse();
    assert_eq!(ours_le, header.target().to_le_bytes(), "{what}: target LE");
    // ... and our comparison agrees with rust-bitcoin's on the block itself.
    assert!(ours.is_met_by(&block.block_hash().to_byte_array()));
}

/// Every txid with `hash_batch` (all at once, ragged lengths), a sample with
/// `hash`, and the wtxids too.
fn check_txids(engine: &Sha256d, block: &Block, reference: &Reference, what: &str) {
    // The helper's stripping is right (checked with sha2, not our core).
    assert_eq!(sha2_sha256d(&reference.stripped[0]), reference.txids[0]);

    let messages: Vec<&[u8]> = reference.stripped.iter().map(Vec::as_slice).collect();
    let mut txids = vec![[0u8; 32]; messages.len()];
    engine.hash_batch(&messages, &mut txids);
    for (index, (ours, theirs)) in txids.iter().zip(&reference.txids).enumerate() {
        assert_eq!(
            ours,
            theirs,
            "{what}: hash_batch txid of tx {index} ({} bytes)",
            messages[index].len()
        );
    }

    let messages: Vec<&[u8]> = reference.full.iter().map(Vec::as_slice).collect();
    let mut wtxids = vec![[0u8; 32]; messages.len()];
    engine.hash_batch(&messages, &mut wtxids);
    assert_eq!(wtxids, reference.wtxids, "{what}: hash_batch wtxids");

    // Odd sub-batches too, so lanes are left empty and lengths mix.
    for len in [1, 3, 7, 15, 17, 33] {
        let len = len.min(reference.stripped.len());
        let from = reference.stripped.len() - len;
        let messages: Vec<&[u8]> = reference.stripped[from..]
            .iter()
            .map(Vec::as_slice)
            .collect();
        let mut out = vec![[0u8; 32]; len];
        engine.hash_batch(&messages, &mut out);
        assert_eq!(out, reference.txids[from..], "{what}: batch of {len}");
    }

    let count = block.txdata.len();
    let largest = (0..count)
        .max_by_key(|&index| reference.stripped[index].len())
        .expect("transactions");
    let sample = (0..count)
        .step_by(37)
        .chain([1.min(count - 1), count - 1, largest]);
    for index in sample {
        assert_eq!(
            engine.hash(&reference.stripped[index]),
            reference.txids[index],
            "{what}: hash txid of tx {index}"
        );
    }
}

fn check_merkle(engine: &Sha256d, reference: &Reference, what: &str) {
    assert_eq!(
        merkle::root(engine, &reference.txids),
        Some(reference.merkle_root),
        "{what}: merkle::root"
    );
    let branch = merkle::coinbase_branch(engine, &reference.txids[1..]);
    let expected_depth = (reference.txids.len() as f64).log2().ceil() as usize;
    assert_eq!(branch.len(), expected_depth, "{what}: branch depth");
    assert_eq!(
        merkle::root_from_branch(engine, &reference.txids[0], &branch),
        reference.merkle_root,
        "{what}: root from the coinbase branch"
    );
    if reference.txids.len() > 1 {
        assert_eq!(branch[0], reference.txids[1], "{what}: first sibling");
    }
}

fn check_header_hash(engine: &Sha256d, reference: &Reference, what: &str) {
    assert_eq!(
        engine.hash_80(&reference.header),
        reference.block_hash,
        "{what}: hash_80"
    );
    assert_eq!(
        engine.hash(&reference.header),
        reference.block_hash,
        "{what}: hash of the header"
    );
    let first: [u8; 64] = reference.header[..64].try_into().expect("64 bytes");
    let tail: [u8; 16] = reference.header[64..].try_into().expect("16 bytes");
    assert_eq!(
        engine.hash_header(&engine.midstate(&first), &tail),
        reference.block_hash,
        "{what}: midstate + hash_header"
    );
}

/// The coinbase, cut as a pool would have cut it.
#[derive(Clone, Copy, Debug)]
struct Split {
    start: usize,
    extranonce1_len: usize,
    extranonce2_len: usize,
}

/// Deterministic cuts over the whole coinbase: at every start position, every
/// extranonce1 length (0..=8) with an extranonce2 length (1..=16) that
/// cycles (clamped so coinb2 may be empty); and the full grid of both
/// lengths at a few start positions.
fn splits(len: usize) -> Vec<Split> {
    let mut out = Vec::new();
    for start in 0..len {
        for extranonce1_len in 0..=Extranonce1::MAX_LEN {
            let Some(room) = len.checked_sub(start + extranonce1_len) else {
                continue;
            };
            if room == 0 {
                continue;
            }
            let wanted = 1 + (start * 7 + extranonce1_len * 3) % Extranonce2::MAX_LEN;
            out.push(Split {
                start,
                extranonce1_len,
                extranonce2_len: wanted.min(room),
            });
        }
    }
    let grid_starts = [
        0,
        42,
        len / 2,
        len.saturating_sub(Extranonce1::MAX_LEN + 16),
    ];
    for start in grid_starts {
        for extranonce1_len in 0..=Extranonce1::MAX_LEN {
            for extranonce2_len in 1..=Extranonce2::MAX_LEN {
                if start + extranonce1_len + extranonce2_len <= len {
                    out.push(Split {
                        start,
                        extranonce1_len,
                        extranonce2_len,
                    });
                }
            }
        }
    }
    out
}

/// A notify sent and read back as a line, as a miner would receive it.
fn through_the_wire(notify: &Notify) -> Notify {
    let line = notify.to_line();
    assert!(line.ends_with('\n'));
    match ServerMessage::parse(line.trim_end().as_bytes()) {
        Ok(ServerMessage::Notify(parsed)) => parsed,
        other => panic!("notify line {line:?} read back as {other:?}"),
    }
}

fn header_fields(block: &Block) -> (PrevHash, Version, NBits, Ntime, Nonce) {
    let header = &block.header;
    (
        PrevHash(header.prev_blockhash.to_byte_array()),
        Version(header.version.to_consensus() as u32),
        NBits(header.bits.to_consensus()),
        Ntime(header.time),
        Nonce(header.nonce),
    )
}

fn sweep_coinbase_splits(engine: &Sha256d, block: &Block, reference: &Reference, what: &str) {
    let coinbase = &reference.stripped[0];
    let branch = merkle::coinbase_branch(engine, &reference.txids[1..]);
    let network_target = Target::from_be_bytes(&reference.network_target_be);
    let (prevhash, version, nbits, ntime, nonce) = header_fields(block);
    // A small cache, so eviction happens during the sweep.
    let mut validator = ShareValidator::new(*engine, 64);
    let mut next_job = 0x5eed_0000_u64;
    let mut new_job = |coinb1: &[u8], coinb2: &[u8], job_version: Version| {
        next_job += 1;
        let notify = Notify {
            job_id: JobId(next_job),
            prevhash,
            coinb1: coinb1.to_vec(),
            coinb2: coinb2.to_vec(),
            merkle_branch: branch.clone(),
            version: job_version,
            nbits,
            ntime,
            clean_jobs: true,
        };
        let parsed = through_the_wire(&notify);
        assert_eq!(parsed, notify, "{what}: notify wire roundtrip");
        Job::new(parsed).expect("valid nbits")
    };

    let all = splits(coinbase.len());
    assert!(all.len() > coinbase.len(), "{what}: too few splits");
    for split in all {
        let Split {
            start,
            extranonce1_len,
            extranonce2_len,
        } = split;
        let en2_start = start + extranonce1_len;
        let end = en2_start + extranonce2_len;
        let what = format!("{what} {split:?} of a {}-byte coinbase", coinbase.len());
        let extranonce1 = Extranonce1::from_bytes(&coinbase[start..en2_start]).expect("≤ 8 bytes");
        let extranonce2 = Extranonce2::from_bytes(&coinbase[en2_start..end]).expect("≤ 16 bytes");
        let share = Share {
            extranonce1,
            extranonce2,
            ntime,
            nonce,
            version_bits: None,
        };

        // Plain job: the header's own version.
        let job = new_job(&coinbase[..start], &coinbase[end..], version);
        assert_eq!(job.network_target(), &network_target, "{what}");
        assert_eq!(
            &job.coinbase(&extranonce1, &extranonce2),
            coinbase,
            "{what}"
        );
        let root = job.merkle_root(engine, &extranonce1, &extranonce2);
        assert_eq!(root, reference.merkle_root, "{what}: Job::merkle_root");
        assert_eq!(
            job.header(&root, version, ntime, nonce),
            reference.header,
            "{what}: Job::header"
        );
        let check = validator
            .validate(&job, &share, VersionMask::NONE, &network_target)
            .expect("no version bits");
        assert_eq!(check.hash, reference.block_hash, "{what}: share hash");
        assert_eq!(check.version, version, "{what}");
        assert!(check.meets_share_target, "{what}: share target");
        assert!(check.meets_network_target, "{what}: network target");
        // Again: the cached root and midstate give the same answer.
        let again = validator
            .validate(&job, &share, VersionMask::NONE, &network_target)
            .expect("no version bits");
        assert_eq!(again, check, "{what}: from the cache");

        // Another nonce on the cached midstate: a different hash, judged
        // against the network target as rust-bitcoin judges that header.
        let other_nonce = Nonce(nonce.0.wrapping_add(1 + start as u32));
        let other = validator
            .validate(
                &job,
                &Share {
                    nonce: other_nonce,
                    ..share
                },
                VersionMask::NONE,
                &network_target,
            )
            .expect("no version bits");
        let mut other_header = block.header;
        other_header.nonce = other_nonce.0;
        assert_eq!(
            other.hash,
            other_header.block_hash().to_byte_array(),
            "{what}: other nonce"
        );
        assert_ne!(other.hash, check.hash);
        assert_eq!(
            other.meets_network_target,
            other_header.validate_pow(other_header.target()).is_ok(),
            "{what}: other nonce against the network target"
        );

        // Version rolling: the job carries the version without the rolled
        // bits, the miner sends them back in mining.submit.
        let rolling_job = new_job(
            &coinbase[..start],
            &coinbase[end..],
            Version(version.0 & !MASK.0),
        );
        let rolled = Share {
            version_bits: Some(VersionBits(version.0 & MASK.0)),
            ..share
        };
        assert_eq!(
            rolling_job.rolled_version(rolled.version_bits, MASK),
            Ok(version),
            "{what}: rolled version"
        );
        let check = validator
            .validate(&rolling_job, &rolled, MASK, &network_target)
            .expect("bits inside the mask");
        assert_eq!(
            check.hash, reference.block_hash,
            "{what}: rolled share hash"
        );
        assert_eq!(check.version, version, "{what}: rolled version");
        assert!(
            check.meets_share_target && check.meets_network_target,
            "{what}"
        );
    }
}

/// Share-target comparison at the exact boundary: a target equal to the
/// hash is met, one below it is not.
fn check_targets_at_the_boundary(
    engine: &Sha256d,
    block: &Block,
    reference: &Reference,
    what: &str,
) {
    let coinbase = &reference.stripped[0];
    let (prevhash, version, nbits, ntime, nonce) = header_fields(block);
    let job = Job::new(Notify {
        job_id: JobId(1),
        prevhash,
        coinb1: coinbase.clone(),
        coinb2: Vec::new(),
        merkle_branch: merkle::coinbase_branch(engine, &reference.txids[1..]),
        version,
        nbits,
        ntime,
        clean_jobs: false,
    })
    .expect("valid nbits");
    let share = Share {
        extranonce1: Extranonce1::from_bytes(&[]).expect("empty"),
        extranonce2: Extranonce2::from_bytes(&[]).expect("empty"),
        ntime,
        nonce,
        version_bits: None,
    };
    let mut hash_be = reference.block_hash;
    hash_be.reverse();
    let exact = Target::from_be_bytes(&hash_be);
    let mut below_be = hash_be;
    for byte in below_be.iter_mut().rev() {
        let (value, borrow) = byte.overflowing_sub(1);
        *byte = value;
        if !borrow {
            break;
        }
    }
    let below = Target::from_be_bytes(&below_be);
    let mut validator = ShareValidator::new(*engine, 4);
    let at = validator
        .validate(&job, &share, VersionMask::NONE, &exact)
        .expect("no version bits");
    assert_eq!(
        at.hash, reference.block_hash,
        "{what}: whole coinbase as coinb1"
    );
    assert!(
        at.meets_share_target,
        "{what}: a target equal to the hash is met"
    );
    let under = validator
        .validate(&job, &share, VersionMask::NONE, &below)
        .expect("no version bits");
    assert!(
        !under.meets_share_target,
        "{what}: target one below the hash"
    );
    assert!(under.meets_network_target, "{what}");
}

#[test]
fn mainnet_block_413567() {
    let block = load_block_raw("block413567.raw");
    assert!(block.txdata.len() > 1000, "{} txs", block.txdata.len());
    check_block(&block, "block413567", Some(413_567));
}

#[test]
fn regtest_block_mined_by_core_with_30_transactions() {
    let block = load_block_hex("block-regtest-30tx.hex");
    let info = read_vector_json("block-regtest-30tx.json");
    let hash = unhex_32_display(info["hash"].as_str().expect("hash"), "hash");
    assert_eq!(block.block_hash().to_byte_array(), hash);
    assert_eq!(
        block.txdata.len() as u64,
        info["nTx"].as_u64().expect("nTx")
    );
    let height = info["height"].as_u64().expect("height");
    assert_eq!(height, 109);
    check_block(&block, "block-regtest-30tx", Some(height));
}

/// A handbuilt block must extend the template it was built from.
fn check_built_from(block: &Block, template_name: &str) -> u64 {
    let template = read_vector_json(template_name);
    let field = |name: &str| {
        template[name]
            .as_str()
            .unwrap_or_else(|| panic!("{template_name}: {name}"))
    };
    assert_eq!(
        block.header.prev_blockhash.to_byte_array(),
        unhex_32_display(field("previousblockhash"), "previousblockhash")
    );
    assert_eq!(
        NBits(block.header.bits.to_consensus()),
        NBits::from_wire(field("bits")).expect("bits")
    );
    let txids: Vec<String> = block.txdata[1..]
        .iter()
        .map(|tx| tx.compute_txid().to_string())
        .collect();
    let template_txids: Vec<&str> = template["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .map(|tx| tx["txid"].as_str().expect("txid"))
        .collect();
    assert_eq!(txids, template_txids, "{template_name}: transactions");
    let paid: u64 = block.txdata[0]
        .output
        .iter()
        .map(|output| output.value.to_sat())
        .sum();
    assert!(paid <= template["coinbasevalue"].as_u64().expect("coinbasevalue"));
    let commitment = unhex(field("default_witness_commitment"), "commitment");
    assert!(
        block.txdata[0]
            .output
            .iter()
            .any(|output| output.script_pubkey.as_bytes() == commitment.as_slice()),
        "{template_name}: the coinbase carries the template's witness commitment"
    );
    template["height"].as_u64().expect("height")
}

#[test]
fn regtest_block_built_by_hand_with_6_segwit_transactions() {
    let block = load_block_hex("block-regtest-handbuilt-6segwit.hex");
    let height = check_built_from(&block, "gbt-regtest-6segwit.json");
    assert_eq!(height, 112);
    assert!(block.txdata[1..]
        .iter()
        .all(|tx| tx.input.iter().any(|input| !input.witness.is_empty())));
    check_block(&block, "block-regtest-handbuilt-6segwit", Some(height));
}

#[test]
fn signet51_block_built_by_hand_with_6_transactions() {
    let block = load_block_hex("block-signet51-handbuilt-6tx.hex");
    let height = check_built_from(&block, "gbt-signet51-6tx.json");
    check_block(&block, "block-signet51-handbuilt-6tx", Some(height));

    // The extranonce space exactly as the pool that built it laid it out:
    // extranonce1 f000000a, extranonce2 0000000000000001.
    let coinbase = non_witness_bytes(&block.txdata[0]);
    let extranonces = unhex("f000000a0000000000000001", "extranonces");
    let positions: Vec<usize> = coinbase
        .windows(extranonces.len())
        .enumerate()
        .filter(|(_, window)| *window == extranonces.as_slice())
        .map(|(position, _)| position)
        .collect();
    assert_eq!(positions.len(), 1, "the extranonce bytes appear once");
    let start = positions[0];
    let txids: Vec<[u8; 32]> = block
        .txdata
        .iter()
        .map(|tx| tx.compute_txid().to_byte_array())
        .collect();
    let (prevhash, version, nbits, ntime, nonce) = header_fields(&block);
    each_engine(test_skip::suite!(), |engine| {
        let engine = *engine;
        let job = Job::new(through_the_wire(&Notify {
            job_id: JobId(0xa),
            prevhash,
            coinb1: coinbase[..start].to_vec(),
            coinb2: coinbase[start + 12..].to_vec(),
            merkle_branch: merkle::coinbase_branch(&engine, &txids[1..]),
            version,
            nbits,
            ntime,
            clean_jobs: true,
        }))
        .expect("valid nbits");
        let share = Share {
            extranonce1: Extranonce1::from_wire("f000000a").expect("extranonce1"),
            extranonce2: Extranonce2::from_wire("0000000000000001").expect("extranonce2"),
            ntime,
            nonce,
            version_bits: None,
        };
        let check = ShareValidator::new(engine, 16)
            .validate(&job, &share, VersionMask::NONE, job.network_target())
            .expect("no version bits");
        assert_eq!(check.hash, block.block_hash().to_byte_array());
        assert!(check.meets_network_target);
    });
}

#[test]
fn testnet3_blocks_from_blockfilters_json() {
    let blocks = load_testnet_blocks();
    let heights: Vec<u64> = blocks.iter().map(|block| block.height).collect();
    assert_eq!(
        heights,
        [0, 2, 3, 15007, 49291, 180480, 926485, 987876, 1263442, 1414221]
    );
    for testnet in &blocks {
        let what = format!("testnet3 block {} ({})", testnet.height, testnet.notes);
        assert_eq!(
            testnet.block.block_hash().to_string(),
            testnet.hash_hex,
            "{what}"
        );
        let bip34 = (testnet.height >= TESTNET3_BIP34_HEIGHT).then_some(testnet.height);
        check_block(&testnet.block, &what, bip34);
    }
    // The row that says so really has witness data.
    assert!(blocks.iter().any(|testnet| testnet
        .block
        .txdata
        .iter()
        .any(|tx| tx.input.iter().any(|input| !input.witness.is_empty()))));
}
