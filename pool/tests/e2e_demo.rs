//! `pool demo --duration 60`, the binary as a user runs it: it ends by
//! itself with its summary line, having found a block, and exits 0.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

const DURATION_SECS: u64 = 60;
/// The demo's own minute plus start-up and shutdown, with room to spare.
const LIMIT: Duration = Duration::from_secs(120);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_finds_a_block_and_ends_with_its_summary() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pool"));
    command
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
    assert!(rejected <= accepted, "{last}");
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
