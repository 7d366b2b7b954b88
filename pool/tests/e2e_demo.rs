//! `pool demo --duration 60`, the binary as a user runs it: it ends by
//! itself with its summary line, having found a block, and exits 0. Its
//! share log (debug lines of the share path) accounts for every rejection
//! the summary counts: in the demo only a share in flight when a block
//! changed the tip can be rejected, as stale.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

const DURATION_SECS: u64 = 60;
/// The demo's own minute plus start-up and shutdown, with room to spare.
const LIMIT: Duration = Duration::from_secs(120);
/// Quiet but for the share path's rejections and blocks.
const LOG_FILTER: &str = "warn,pool::server::session::submit=debug";

/// `demo: blocks found N, shares accepted M, rejected R` as (N, M, R).
fn summary(line: &str) -> Option<(u64, u64, u64)> {
    let rest = line.strip_prefix("demo: blocks found ")?;
    let (blocks, rest) = rest.split_once(", shares accepted ")?;
    let (accepted, rejected) = rest.split_once(", rejected ")?;
    Some((
        blocks.parse().ok()?,
        accepted.parse().ok()?,
        rejected.trim_end().parse().ok()?,
    ))
}

/// What the share path logged: each rejection's reason and the blocks
/// found, in order.
#[derive(Debug, Default, PartialEq)]
struct ShareLog {
    /// The reason of every `share rejected` line.
    rejections: Vec<String>,
    /// `share solves a block` lines before the first rejection.
    blocks_before_first_rejection: usize,
    blocks: usize,
}

/// Reads the demo's log lines (text format, colours or not).
fn share_log(stderr: &str) -> ShareLog {
    let mut log = ShareLog::default();
    for line in stderr.lines().map(without_colours) {
        if line.contains("share solves a block") {
            log.blocks += 1;
            if log.rejections.is_empty() {
                log.blocks_before_first_rejection += 1;
            }
        } else if line.contains("share rejected") {
            let reason = line
                .split_whitespace()
                .find_map(|field| field.strip_prefix("reason="))
                .unwrap_or_else(|| panic!("a rejection without its reason: {line}"));
            log.rejections.push(reason.trim_matches('"').to_string());
        }
    }
    log
}

/// `line` without ANSI colour sequences (`ESC [ ... m`).
fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_finds_a_block_and_ends_with_its_summary() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pool"));
    command
        .arg("--log-level")
        .arg(LOG_FILTER)
        .arg("demo")
        .arg("--duration")
        .arg(DURATION_SECS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("POOL_") {
            command.env_remove(name);
        }
    }
    let mut child = command.spawn().expect("start pool demo");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let mut out = String::new();
    let mut err = String::new();
    let run = async {
        let (read_out, read_err, status) = tokio::join!(
            stdout.read_to_string(&mut out),
            stderr.read_to_string(&mut err),
            child.wait()
        );
        read_out.expect("read stdout");
        read_err.expect("read stderr");
        status.expect("wait for pool demo")
    };
    let status = match tokio::time::timeout(LIMIT, run).await {
        Ok(status) => status,
        Err(_) => {
            let _ = child.kill().await;
            panic!("pool demo --duration {DURATION_SECS} still ran after {LIMIT:?}");
        }
    };
    let lines: Vec<&str> = out.lines().collect();
    let last = lines.last().copied().unwrap_or_default();
    let (blocks, accepted, rejected) = summary(last).unwrap_or_else(|| {
        panic!("the demo ends with its summary line; stdout:\n{out}\nstderr:\n{err}")
    });
    eprintln!("{last}");
    assert!(
        status.success(),
        "pool demo exited with {status}; stdout:\n{out}\nstderr:\n{err}"
    );
    assert!(blocks >= 1, "a block within a minute: {last}");
    assert!(accepted > 0, "{last}");
    // The demo's miners send only good shares: fresh work, at the job's
    // difficulty, with valid version bits and ntime. The one rejection the
    // pool may rightly give is stale (21): a share in flight when a block
    // (the demo's own: nothing else mines) replaced the tip, so never
    // before the first block. Each is logged once, as counted.
    let log = share_log(&err);
    eprintln!("{log:?}");
    assert_eq!(
        log.rejections.len() as u64,
        rejected,
        "every rejection counted is logged: {last}\n{err}"
    );
    assert!(
        log.rejections.iter().all(|reason| reason == "stale"),
        "only stale shares are rejected: {:?}",
        log.rejections
    );
    if !log.rejections.is_empty() {
        assert!(
            log.blocks_before_first_rejection >= 1,
            "a stale share before any block: {log:?}"
        );
    }
    assert!(
        log.blocks as u64 >= blocks,
        "every accepted block was found on the share path: {log:?}, {last}"
    );
}

#[test]
fn the_share_log_is_read_back() {
    let stderr = "\
        2025-01-01T00:00:00Z  INFO pool::server::session::submit: share solves a block height=3\n\
        \u{1b}[2m2025\u{1b}[0m \u{1b}[34mDEBUG\u{1b}[0m pool::server::session::submit: share rejected \
        \u{1b}[3msession\u{1b}[0m\u{1b}[2m=\u{1b}[0m4 reason=\"stale\" message=stale: job 9\n\
        DEBUG pool::server::session::submit: share rejected session=5 reason=duplicate message=x\n\
        INFO pool::server::session::submit: share solves a block height=4\n";
    assert_eq!(
        share_log(stderr),
        ShareLog {
            rejections: vec!["stale".into(), "duplicate".into()],
            blocks_before_first_rejection: 1,
            blocks: 2,
        }
    );
}

#[test]
fn the_summary_line_is_read_back() {
    assert_eq!(
        summary("demo: blocks found 12, shares accepted 345, rejected 6"),
        Some((12, 345, 6))
    );
    assert_eq!(
        summary("demo: blocks found x, shares accepted 1, rejected 0"),
        None
    );
}
