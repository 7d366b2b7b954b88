//! What the fuzzers found and started from, replayed through the same
//! target bodies the AFL binaries run (`pool::fuzzing`), so the ordinary
//! suite keeps every crash fixed without AFL installed. See fuzz/README.md.

use pool::fuzzing;
use std::path::{Path, PathBuf};

/// Every file of `fuzz/<folder>`, sorted by name.
fn inputs(folder: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(folder);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a fuzz input");
            (path, bytes)
        })
        .collect()
}

/// Replays every input of the folders; at least `min` of them.
fn replay(folders: &[&str], target: fn(&[u8]), min: usize) {
    let mut replayed = 0;
    for folder in folders {
        for (path, bytes) in inputs(folder) {
            // A panic is preceded by the name of the input that caused it.
            eprintln!("replaying {}", path.display());
            target(&bytes);
            replayed += 1;
        }
    }
    assert!(replayed >= min, "only {replayed} inputs");
}

fn replay_one(path: &str, target: fn(&[u8])) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(path);
    let bytes = std::fs::read(&file).unwrap_or_else(|error| panic!("{path}: {error}"));
    target(&bytes);
}

#[test]
fn config_seeds_and_corpus_pass_every_check() {
    replay(&["seeds/config", "corpus/config"], fuzzing::config, 5);
}

#[test]
fn template_seeds_and_corpus_pass_every_check() {
    replay(&["seeds/template", "corpus/template"], fuzzing::template, 4);
}

/// Invalid UTF-8 inside an unknown field: the typed decoder skips it, a
/// JSON value refuses it. The template decodes; only the harness's field
/// comparison has nothing to compare with (it used to expect a value).
#[test]
fn template_with_invalid_utf8_in_an_unknown_field_decodes() {
    replay_one(
        "regressions/template/invalid-utf8-in-unknown-field.json",
        fuzzing::template,
    );
}

/// Transaction fees above `coinbasevalue` (bitcoind's 6-segwit template
/// with coinbasevalue 4000 sat, fees 4696): once made `JobManager::on_template`
/// panic computing `coinbase_value - fees`; now the template checks refuse
/// it before the job manager sees it.
#[test]
fn template_whose_fees_exceed_the_coinbase_value_is_refused() {
    let path = "regressions/template/fees-exceed-coinbase-value.json";
    replay_one(path, fuzzing::template);
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(path);
    let json = serde_json::from_slice(&std::fs::read(file).expect("the input")).expect("JSON");
    let template = pool::template::Template::from_gbt_json(json).expect("it decodes");
    let rules = pool::template::check::ChainRules::regtest();
    let refusal = pool::template::check::check(&template, &rules, template.curtime)
        .expect_err("refused at the door");
    assert_eq!(
        refusal.reason(),
        pool::template::RefusalReason::FeesExceedValue,
        "{refusal}"
    );
}

#[test]
fn proxy_header_seeds_pass_every_check() {
    replay(&["seeds/proxy_header"], fuzzing::proxy_header, 17);
}

#[test]
fn session_seeds_and_corpus_pass_every_check() {
    replay(&["seeds/session", "corpus/session"], fuzzing::session, 10);
}

/// What a seed of the session target made of the pool.
fn session(seed: &str) -> fuzzing::SessionReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds/session")
        .join(seed);
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{seed}: {error}"));
    fuzzing::session_report(&bytes)
}

fn refused(report: &fuzzing::SessionReport, code: i64) -> u64 {
    report.refused.get(&code).copied().unwrap_or(0)
}

/// Issue 10's replay, through the harness: nine shares, a lower
/// difficulty suggested, the same nine under the new job id.
#[test]
fn session_seed_replay_after_a_suggestion_is_refused() {
    let report = session("replay-after-suggestion");
    assert_eq!(report.answered_true, 9, "{report:?}");
    assert_eq!(refused(&report, 22), 9, "{report:?}");
    assert_eq!(report.shares_written, 9, "{report:?}");
}

/// Forty shares at once make vardiff raise the difficulty; ten of them
/// again, on the old job and the reissued one.
#[test]
fn session_seed_replay_after_a_retarget_is_refused() {
    let report = session("replay-after-retarget");
    assert_eq!(report.answered_true, 40, "{report:?}");
    assert_eq!(refused(&report, 22), 10, "{report:?}");
    assert_eq!(report.shares_written, 40, "{report:?}");
}

/// The same miner on a second connection (resuming its extranonce1)
/// repeats three shares: the session cannot know them, the ledger can.
#[test]
fn session_seed_repeats_on_a_resumed_connection_stop_at_the_ledger() {
    let report = session("reconnect-resume");
    assert_eq!(report.connections, 2, "{report:?}");
    assert_eq!(report.answered_true, 3, "{report:?}");
    assert_eq!(report.duplicates_refused, 3, "{report:?}");
    assert_eq!(refused(&report, 22), 3, "{report:?}");
    assert_eq!(report.shares_written, 3, "{report:?}");
}

/// On a chain where half of all shares are blocks: each block is
/// submitted and recorded once, and its repeat (on a reissued job too)
/// is answered 22.
#[test]
fn session_seed_block_solutions_are_submitted_once() {
    let report = session("easy-blocks");
    assert!(report.blocks_submitted >= 1, "{report:?}");
    assert_eq!(report.blocks_written, report.blocks_submitted, "{report:?}");
    assert_eq!(refused(&report, 22), 3, "{report:?}");
    assert_eq!(report.answered_true, 6, "{report:?}");
}

/// A miner that stops reading while it submits 150 shares: the session
/// stops reading it at 64 pending answers instead of dropping it, and
/// every share is answered once it reads again.
#[test]
fn session_seed_deaf_flood_is_answered_in_full() {
    let report = session("deaf-flood");
    assert_eq!(report.answered_true, 150, "{report:?}");
    assert_eq!(report.shares_written, 150, "{report:?}");
}

/// Issue 11: three new blocks and two fee refreshes while the miner reads
/// nothing wait as one job, each replacing the last; when it reads again it
/// gets the newest job, still clean (blocks were replaced), not a backlog,
/// and is not dropped.
#[test]
fn session_seed_deaf_burst_gets_the_newest_job_only() {
    let report = session("deaf-burst");
    assert_eq!(report.work_coalesced, 4, "{report:?}");
    assert_eq!(
        report.jobs_read, 2,
        "the first job and the newest: {report:?}"
    );
    assert_eq!(report.clean_jobs_read, 2, "{report:?}");
    assert_eq!(report.slow_dropped, 0, "{report:?}");
    assert_eq!(report.connections, 1, "{report:?}");
}

/// An idle miner, given new work every 30 s for 10 minutes, keeps only
/// the jobs replaced within the stale window (120 s), not the last 32: its
/// memory does not grow with the pool's uptime. Its newest job still
/// takes shares.
#[test]
fn session_seed_idle_forgets_old_jobs() {
    let report = session("idle-forgets-old-jobs");
    assert_eq!(report.jobs_read, 21, "{report:?}");
    // At the last tick, four jobs had been replaced within 120 s and one
    // not yet; then the last refresh: six, where 21 were kept before.
    assert_eq!(report.jobs_remembered, 6, "{report:?}");
    let answered = report.answered_true + report.refused.values().sum::<u64>();
    assert_eq!(answered, 1, "{report:?}");
    assert_eq!(
        refused(&report, 21),
        0,
        "the newest job is known: {report:?}"
    );
}

/// A miner that never takes its waiting work is dropped after
/// `WORK_STALL`, not before.
#[test]
fn session_seed_deaf_stall_is_dropped_as_not_keeping_up() {
    let report = session("deaf-stall");
    assert_eq!(report.slow_dropped, 1, "{report:?}");
    assert_eq!(report.work_coalesced, 2, "{report:?}");
    assert_eq!(report.jobs_read, 1, "only the first job: {report:?}");
}
