//! Bodies of the fuzz targets on the pool's own parsers, shared by the AFL
//! binaries in `fuzz/` and the replay tests in `tests/fuzz_regressions.rs`.
//!
//! They live in the library (hidden from the docs) so the ordinary test
//! suite replays crashes and the seed corpus through the very same code
//! without AFL installed, and the `fuzz/` crate stays a thin `main` per
//! target. Each function panics when an oracle fails, which AFL records as
//! a crash.

mod proxy_header;
mod session;

pub use proxy_header::proxy_header;
pub use session::{session, session_report, SessionReport};

use crate::config::{Config, PayoutMode};
use crate::jobs::{JobManager, JobSettings};
use crate::template::check::{check, ChainRules};
use crate::template::Template;
use bitcoin::consensus::deserialize;
use bitcoin::hashes::Hash as _;
use bitcoin::{Amount, ScriptBuf, Transaction};
use bitcoincore_rpc::json::GetBlockTemplateResult;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stratum::message::ServerMessage;

/// Separates the TOML text from the environment, and one variable from the next.
const ENV_SEPARATOR: char = '\0';

/// The config loader: the input is TOML text, then optionally a NUL and
/// `NAME=value` variables separated by NULs (the environment).
///
/// Checks: loading never panics; a config that loads also validates, is
/// written back to TOML and loads from that text alone to the same value;
/// with no environment, loading succeeds exactly when the typed TOML parse
/// and validation both do.
pub fn config(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        // The loader reads a file with read_to_string: not UTF-8 is an I/O error.
        return;
    };
    let (text, vars) = input.split_once(ENV_SEPARATOR).unwrap_or((input, ""));
    let env: Vec<(String, String)> = vars
        .split(ENV_SEPARATOR)
        .filter(|var| !var.is_empty())
        .map(|var| {
            let (name, value) = var.split_once('=').unwrap_or((var, ""));
            (name.to_string(), value.to_string())
        })
        .collect();

    let loaded = Config::from_toml_str(text, env.clone());
    if env.is_empty() {
        let typed = toml::from_str::<Config>(text);
        let valid = typed.as_ref().is_ok_and(|config| config.validate().is_ok());
        assert_eq!(loaded.is_ok(), valid, "load {loaded:?} vs typed {typed:?}");
    }
    let config = match loaded {
        Ok(config) => config,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    if let Err(error) = config.validate() {
        panic!("loaded but does not validate: {error}");
    }
    // What validates, the server is built from.
    let _ = crate::server::ServerSettings::from_config(&config);
    let written = toml::to_string(&config)
        .unwrap_or_else(|error| panic!("a loaded config does not write as TOML: {error}"));
    match Config::from_toml_str(&written, Vec::new()) {
        Ok(again) => assert_eq!(again, config, "written as {written:?}"),
        Err(error) => panic!("written as {written:?}, which does not load: {error}"),
    }
}

/// `getblocktemplate`'s answer as bitcoind sends it: JSON decoded as the
/// RPC client decodes it, then [`Template::from_gbt`], then jobs built from
/// the template in every payout mode.
///
/// Checks: nothing panics; a template that is accepted has the height,
/// coinbase value, bits, previous block and transaction count the JSON
/// said; a job built from it pays at most the coinbase value, carries the
/// height as Bitcoin Core's BIP 34 check reads it, and its notify reads
/// back to the same job.
pub fn template(data: &[u8]) {
    let Ok(gbt) = serde_json::from_slice::<GetBlockTemplateResult>(data) else {
        return;
    };
    // The typed decoder skips unknown fields without checking that their
    // strings are UTF-8, which a JSON value refuses: such an input is still
    // decoded, only its fields cannot be compared.
    let json = serde_json::from_slice::<serde_json::Value>(data).ok();
    let template = match Template::from_gbt(gbt) {
        Ok(template) => Arc::new(template),
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    if let Some(json) = &json {
        check_template_fields(&template, json);
    }
    // The pool's door: a template no chain's rules take is refused with its
    // reason (and never reaches the job manager); one that passes must
    // build jobs in every mode without an error.
    let passes = [
        crate::config::Network::Mainnet,
        crate::config::Network::Signet,
        crate::config::Network::Regtest,
    ]
    .into_iter()
    .any(|network| {
        let rules = ChainRules::for_network(network);
        match check(&template, &rules, template.curtime) {
            Ok(()) => true,
            Err(refusal) => {
                let _ = refusal.to_string();
                false
            }
        }
    });
    if !passes {
        return;
    }
    for mode in [
        PayoutMode::Pplns,
        PayoutMode::Pps,
        PayoutMode::Fpps,
        PayoutMode::Solo,
    ] {
        check_jobs(&template, mode);
    }
}

fn check_template_fields(template: &Template, json: &serde_json::Value) {
    assert_eq!(Some(u64::from(template.height)), json["height"].as_u64());
    // An absent coinbasevalue decodes as 0 (the RPC type's serde default).
    let coinbase_value = json.get("coinbasevalue").map_or(Some(0), |v| v.as_u64());
    assert_eq!(Some(template.coinbase_value.to_sat()), coinbase_value);
    let bits = json["bits"].as_str().map(str::to_ascii_lowercase);
    assert_eq!(Some(format!("{:08x}", template.nbits.0)), bits);
    let previous = json["previousblockhash"]
        .as_str()
        .map(str::to_ascii_lowercase);
    assert_eq!(Some(template.previous_block_hash.to_string()), previous);
    let transactions = json["transactions"].as_array().map(Vec::len);
    assert_eq!(Some(template.transactions.len()), transactions);
}

/// The pool's and a solo miner's output scripts (P2WPKH of fixed keys).
fn script(byte: u8) -> ScriptBuf {
    let hash = bitcoin::WPubkeyHash::from_byte_array([byte; 20]);
    ScriptBuf::new_p2wpkh(&hash)
}

fn check_jobs(template: &Arc<Template>, mode: PayoutMode) {
    let mut jobs = JobManager::new(JobSettings {
        tag: b"/fuzz/".to_vec(),
        extranonce2_size: 8,
        mode,
        pool_script: script(1),
        fee_basis_points: 100,
        stale_window: Duration::from_secs(120),
        fpps_fee_window: 10,
    });
    jobs.on_template(Arc::clone(template), Instant::now())
        .expect("a template that passed the checks makes jobs");
    let miner = script(2);
    let job = match jobs.current_job(Some(&miner)) {
        Ok(job) => job,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    assert_eq!(job.height(), template.height);
    let notify = job.job.notify();
    let line = job.notify_line();
    let body = line.strip_suffix('\n').expect("a notify is one line");
    match ServerMessage::parse(body.as_bytes()) {
        Ok(ServerMessage::Notify(read)) => assert_eq!(&read, notify),
        other => panic!("notify {line:?} read back as {other:?}"),
    }

    // The coinbase a miner assembles, with extranonce bytes filled in.
    let mut raw = notify.coinb1.clone();
    raw.extend_from_slice(&[0u8; crate::jobs::EXTRANONCE1_SIZE + 8]);
    raw.extend_from_slice(&notify.coinb2);
    let coinbase: Transaction = deserialize(&raw).expect("the coinbase deserializes");
    assert!(coinbase.is_coinbase());
    let paid = coinbase
        .output
        .iter()
        .try_fold(Amount::ZERO, |sum, output| sum.checked_add(output.value))
        .expect("coinbase outputs add up");
    assert!(paid <= template.coinbase_value, "pays {paid}");
    let script_sig = coinbase.input[0].script_sig.as_bytes();
    let height = core_height_push(template.height);
    assert!(
        script_sig.starts_with(&height),
        "scriptSig {script_sig:02x?} does not start with height {height:02x?}"
    );
}

/// `CScript() << height` as Bitcoin Core writes it and checks it (BIP 34):
/// OP_0, OP_1 to OP_16, else a minimal little-endian number push.
fn core_height_push(height: u32) -> Vec<u8> {
    match height {
        0 => vec![0x00],
        1..=16 => vec![0x50 + height as u8],
        _ => {
            let mut number: Vec<u8> = height.to_le_bytes().to_vec();
            while number.last() == Some(&0) {
                number.pop();
            }
            if number.last().is_some_and(|byte| byte & 0x80 != 0) {
                number.push(0);
            }
            let mut push = vec![number.len() as u8];
            push.extend(number);
            push
        }
    }
}
