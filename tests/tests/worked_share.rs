//! The worked share in `vectors/worked-share-regtest.json` (computed with
//! Python's hashlib from a real Bitcoin Core regtest template), rebuilt from
//! the wire lines a pool and a miner exchange, with every implementation of
//! our core, and cross-checked against the template it came from.

use bitcoin::consensus::encode;
use bitcoin::hashes::Hash;
use bitcoin::{block, Block, Transaction};
use serde_json::{json, Value};
use stratum::message::{ClientMessage, ClientMethod, Notify, ServerMessage, Submit};
use stratum::{
    merkle, Difficulty, Extranonce1, Job, NBits, PrevHash, Share, ShareValidator, Target, Version,
    VersionMask,
};
use tests::{
    each_engine, engines, f64_parts, load_block_hex, read_vector_json, sha2_sha256d, unhex,
    unhex_32, unhex_32_display, Wide,
};

struct Worked {
    json: Value,
    notify: Notify,
    submit: Submit,
    extranonce1: Extranonce1,
    mask: VersionMask,
}

impl Worked {
    fn load() -> Worked {
        let json = read_vector_json("worked-share-regtest.json");
        let notify_line = json!({
            "id": null,
            "method": "mining.notify",
            "params": json["notify_params"],
        })
        .to_string();
        let notify = match ServerMessage::parse(notify_line.as_bytes()) {
            Ok(ServerMessage::Notify(notify)) => notify,
            other => panic!("{notify_line}: {other:?}"),
        };
        let submit_line = json!({
            "id": 4,
            "method": "mining.submit",
            "params": json["submit_params"],
        })
        .to_string();
        let submit = match ClientMessage::parse(submit_line.as_bytes()) {
            Ok(ClientMessage::Request(request)) => match request.method {
                ClientMethod::Submit(submit) => submit,
                other => panic!("{submit_line}: {other:?}"),
            },
            other => panic!("{submit_line}: {other:?}"),
        };
        let extranonce1 = Extranonce1::from_wire(json["extranonce1"].as_str().expect("en1"))
            .expect("extranonce1");
        let mask = VersionMask::from_wire(json["negotiated_version_mask"].as_str().expect("mask"))
            .expect("mask");
        Worked {
            json,
            notify,
            submit,
            extranonce1,
            mask,
        }
    }

    fn str(&self, key: &str) -> &str {
        self.json[key]
            .as_str()
            .unwrap_or_else(|| panic!("worked share: no string {key}"))
    }

    fn bytes(&self, key: &str) -> Vec<u8> {
        unhex(self.str(key), key)
    }

    fn hash(&self, key: &str) -> [u8; 32] {
        unhex_32(self.str(key), key)
    }

    fn flag(&self, key: &str) -> bool {
        self.json[key]
            .as_bool()
            .unwrap_or_else(|| panic!("worked share: no boolean {key}"))
    }

    fn share(&self) -> Share {
        Share {
            extranonce1: self.extranonce1,
            extranonce2: self.submit.extranonce2,
            ntime: self.submit.ntime,
            nonce: self.submit.nonce,
            version_bits: self.submit.version_bits,
        }
    }

    fn share_target(&self) -> Target {
        let difficulty = self.json["set_difficulty"]
            .as_f64()
            .expect("set_difficulty");
        Target::from_difficulty(Difficulty::new(difficulty).expect("difficulty"))
    }
}

#[test]
fn the_wire_lines_read_as_written() {
    let worked = Worked::load();
    let params = &worked.json["notify_params"];
    assert_eq!(worked.notify.job_id.to_wire(), params[0].as_str().unwrap());
    assert_eq!(
        worked.notify.prevhash.to_wire(),
        params[1].as_str().unwrap()
    );
    assert_eq!(
        worked.notify.merkle_branch.len(),
        params[4].as_array().unwrap().len()
    );
    assert_eq!(worked.notify.version.to_wire(), params[5].as_str().unwrap());
    assert_eq!(worked.notify.nbits.to_wire(), params[6].as_str().unwrap());
    assert_eq!(worked.notify.ntime.to_wire(), params[7].as_str().unwrap());
    assert!(worked.notify.clean_jobs);
    // What we would send is what the file says a pool sends.
    let ours: Value = serde_json::from_str(&worked.notify.to_line()).unwrap();
    assert_eq!(&ours["params"], params);

    let submit = &worked.json["submit_params"];
    assert_eq!(worked.submit.worker, submit[0].as_str().unwrap());
    assert_eq!(worked.submit.job_id, worked.notify.job_id);
    assert_eq!(
        worked.submit.extranonce2.len() as u64,
        worked.json["extranonce2_size"].as_u64().unwrap()
    );
    assert_eq!(
        worked
            .submit
            .version_bits
            .map(|bits| bits.to_wire())
            .as_deref(),
        submit[5].as_str()
    );
    assert_eq!(worked.mask, VersionMask::POOL_DEFAULT);
}

/// The file's own values are consistent (checked with sha2 and
/// rust-bitcoin, not with our code), so agreeing with them means something.
#[test]
fn the_vector_is_self_consistent() {
    let worked = Worked::load();
    let coinbase = worked.bytes("coinbase_hex");
    assert_eq!(
        sha2_sha256d(&coinbase),
        worked.hash("coinbase_txid_internal_order")
    );
    let tx: Transaction = encode::deserialize(&coinbase).expect("a transaction");
    assert!(tx.is_coinbase());
    assert_eq!(
        tx.compute_txid().to_byte_array(),
        worked.hash("coinbase_txid_internal_order")
    );
    let header_bytes = worked.bytes("header_hex");
    assert_eq!(
        sha2_sha256d(&header_bytes),
        worked.hash("hash_internal_order")
    );
    let header: block::Header = encode::deserialize(&header_bytes).expect("a header");
    assert_eq!(
        header.block_hash().to_string(),
        worked.str("block_hash_display_order")
    );
    assert_eq!(
        header.merkle_root.to_byte_array(),
        worked.hash("merkle_root_internal_order")
    );
    assert_eq!(
        format!("{:08x}", header.version.to_consensus()),
        worked.str("header_version")
    );
    assert_eq!(
        header.validate_pow(header.target()).is_ok(),
        worked.flag("meets_network_target")
    );
}

#[test]
fn the_worked_share_with_every_implementation() {
    let worked = Worked::load();
    let share = worked.share();
    let share_target = worked.share_target();
    let expected_version = Version::from_wire(worked.str("header_version")).unwrap();
    let expected_header = worked.bytes("header_hex");
    let expected_hash = worked.hash("hash_internal_order");
    each_engine(test_skip::suite!(), |engine| {
        let engine = *engine;
        let what = engine.implementation().name();
        let job = Job::new(worked.notify.clone()).expect("valid nbits");
        assert_eq!(job.id(), worked.submit.job_id);

        let coinbase = job.coinbase(&share.extranonce1, &share.extranonce2);
        assert_eq!(coinbase, worked.bytes("coinbase_hex"), "{what}: coinbase");
        assert_eq!(
            engine.hash(&coinbase),
            worked.hash("coinbase_txid_internal_order"),
            "{what}: coinbase txid"
        );
        let mut batch = [[0u8; 32]; 3];
        engine.hash_batch(
            &[coinbase.as_slice(), &coinbase[1..], coinbase.as_slice()],
            &mut batch,
        );
        assert_eq!(
            batch[0],
            worked.hash("coinbase_txid_internal_order"),
            "{what}"
        );
        assert_eq!(batch[2], batch[0], "{what}");

        let root = job.merkle_root(&engine, &share.extranonce1, &share.extranonce2);
        assert_eq!(
            root,
            worked.hash("merkle_root_internal_order"),
            "{what}: merkle root"
        );
        let version = job
            .rolled_version(share.version_bits, worked.mask)
            .expect("bits inside the mask");
        assert_eq!(version, expected_version, "{what}: header version");
        let header = job.header(&root, version, share.ntime, share.nonce);
        assert_eq!(header.as_slice(), expected_header, "{what}: header");
        assert_eq!(engine.hash_80(&header), expected_hash, "{what}: hash_80");

        let mut validator = ShareValidator::new(engine, 16);
        for attempt in ["cold", "cached"] {
            let check = validator
                .validate(&job, &share, worked.mask, &share_target)
                .expect("bits inside the mask");
            assert_eq!(check.hash, expected_hash, "{what} {attempt}: hash");
            let mut display = check.hash;
            display.reverse();
            assert_eq!(
                hex::encode(display),
                worked.str("block_hash_display_order"),
                "{what} {attempt}: display hash"
            );
            assert_eq!(check.version, expected_version, "{what} {attempt}");
            assert_eq!(
                check.meets_share_target,
                worked.flag("meets_share_target"),
                "{what} {attempt}: share target"
            );
            assert_eq!(
                check.meets_network_target,
                worked.flag("meets_network_target"),
                "{what} {attempt}: network target"
            );
        }

        // Without the negotiated mask the version bits are refused.
        assert!(validator
            .validate(&job, &share, VersionMask::NONE, &share_target)
            .is_err());
    });
}

#[test]
fn target_math_agrees_with_the_vector() {
    let worked = Worked::load();
    let hash = worked.hash("hash_internal_order");
    let mut hash_be = hash;
    hash_be.reverse();
    let hash_number = Wide::from_be_bytes(&hash_be);

    // Share target. Ours is exact: floor(diff1 / d), d the binary value of
    // the f64 0.0001. The file's came from Python's `diff1 / 0.0001`, float
    // division rounded to 53 bits, so only agreement to ~2^-53 relative can
    // be asked of it; 2^-50 leaves room.
    let ours = worked.share_target();
    let theirs_be = unhex_32(worked.str("share_target_hex"), "share_target_hex");
    let ours_number = Wide::from_be_bytes(&ours.to_be_bytes());
    let theirs_number = Wide::from_be_bytes(&theirs_be);
    assert!(
        ours_number.abs_diff(theirs_number).shifted_left(50) <= theirs_number,
        "share target {ours} vs {} differ by more than 2^-50",
        worked.str("share_target_hex")
    );
    // Exactness, checked in wide integers: ours*m <= diff1*2^k < (ours+1)*m
    // where d = m / 2^k.
    let difficulty = worked.json["set_difficulty"].as_f64().unwrap();
    let (mantissa, exponent) = f64_parts(difficulty);
    assert!(exponent < 0, "a difficulty below 2^52");
    let diff1 = Wide::from_u64(0xffff).shifted_left(208);
    let scaled = diff1.shifted_left(exponent.unsigned_abs());
    assert!(ours_number.mul_u64(mantissa) <= scaled, "target too big");
    assert!(
        scaled < ours_number.plus(Wide::from_u64(1)).mul_u64(mantissa),
        "target too small"
    );
    assert_eq!(Target::DIFF1.to_be_bytes(), {
        let mut be = [0u8; 32];
        be[4] = 0xff;
        be[5] = 0xff;
        be
    });

    // Both target checks: ours, the file's target, and a plain comparison
    // of the hash as a little-endian number all agree with the file.
    let meets_share = worked.flag("meets_share_target");
    assert_eq!(ours.is_met_by(&hash), meets_share);
    assert_eq!(
        Target::from_be_bytes(&theirs_be).is_met_by(&hash),
        meets_share
    );
    assert_eq!(hash_number <= theirs_number, meets_share);

    let meets_network = worked.flag("meets_network_target");
    let network = worked.notify.nbits.to_target().expect("valid nbits");
    assert_eq!(network.is_met_by(&hash), meets_network);
    let template = read_vector_json("gbt-regtest-30tx.json");
    let template_target = unhex_32(template["target"].as_str().unwrap(), "target");
    assert_eq!(network.to_be_bytes(), template_target);
    assert_eq!(
        hash_number <= Wide::from_be_bytes(&template_target),
        meets_network
    );
    let job = Job::new(worked.notify.clone()).unwrap();
    assert_eq!(job.network_target(), &network);
}

#[test]
fn the_notify_matches_its_template() {
    let worked = Worked::load();
    let template = read_vector_json("gbt-regtest-30tx.json");
    let field = |name: &str| template[name].as_str().unwrap_or_else(|| panic!("{name}"));

    let previous = field("previousblockhash");
    assert_eq!(
        worked.notify.prevhash.to_wire(),
        PrevHash::from_display_hex(previous).unwrap().to_wire()
    );
    assert_eq!(
        worked.notify.prevhash.0,
        unhex_32_display(previous, "previousblockhash")
    );
    assert_eq!(
        worked.notify.version.0 as u64,
        template["version"].as_u64().unwrap()
    );
    assert_eq!(
        worked.notify.nbits,
        NBits::from_wire(field("bits")).unwrap()
    );
    assert_eq!(
        worked.notify.ntime.0 as u64,
        template["curtime"].as_u64().unwrap()
    );
    assert!(worked.notify.ntime.0 as u64 >= template["mintime"].as_u64().unwrap());

    // The branch from the template's txids, with every implementation.
    let txids: Vec<[u8; 32]> = template["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tx| unhex_32_display(tx["txid"].as_str().unwrap(), "txid"))
        .collect();
    assert_eq!(txids.len(), 30);
    each_engine(test_skip::suite!(), |engine| {
        let engine = *engine;
        assert_eq!(
            merkle::coinbase_branch(&engine, &txids),
            worked.notify.merkle_branch,
            "{}: branch",
            engine.implementation()
        );
    });

    // The block Core mined on this template holds the same transactions in
    // the same order: the branch from rust-bitcoin's txids is the same too.
    let mined = load_block_hex("block-regtest-30tx.hex");
    let mined_txids: Vec<[u8; 32]> = mined.txdata[1..]
        .iter()
        .map(|tx| tx.compute_txid().to_byte_array())
        .collect();
    assert_eq!(
        merkle::coinbase_branch(&engines(test_skip::suite!())[0], &mined_txids),
        worked.notify.merkle_branch
    );

    // coinb2 carries the witness commitment script.
    let commitment = unhex(field("default_witness_commitment"), "commitment");
    assert!(worked
        .notify
        .coinb2
        .windows(commitment.len())
        .any(|window| window == commitment.as_slice()));

    // The coinbase pays no more than the template allows, carries the
    // template's witness commitment and the BIP 34 height.
    let coinbase: Transaction =
        encode::deserialize(&worked.bytes("coinbase_hex")).expect("a transaction");
    let paid: u64 = coinbase
        .output
        .iter()
        .map(|output| output.value.to_sat())
        .sum();
    assert!(paid <= template["coinbasevalue"].as_u64().unwrap());
    assert!(coinbase
        .output
        .iter()
        .any(|output| output.script_pubkey.as_bytes() == commitment.as_slice()));
    let header: block::Header = encode::deserialize(&worked.bytes("header_hex")).expect("a header");
    let block = Block {
        header,
        txdata: vec![coinbase],
    };
    assert_eq!(
        block.bip34_block_height().expect("a BIP 34 height"),
        template["height"].as_u64().unwrap()
    );
}
