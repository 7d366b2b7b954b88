//! How a test of this workspace says it did not run.
//!
//! A test that cannot run here (no PostgreSQL, no Chromium, no bitcoind, a
//! CPU without one of the SIMD kernels) calls [`skip!`] and returns. The
//! skip is never silent:
//!
//! - it is written straight to the terminal's stderr, past cargo's output
//!   capture (which hides what a passing test prints);
//! - it is appended, as `suite<TAB>reason`, to the skip log in the directory
//!   `POOL_TEST_SKIP_DIR` names, which `./test.sh` sets and sums up in its
//!   last line, `skipped: ...`;
//! - it panics instead when `POOL_TEST_REQUIRE` (a comma-separated list of
//!   [`Service`] names) names the service: `.ci/run` installs PostgreSQL and
//!   Chromium and sets `POOL_TEST_REQUIRE=postgres,chromium`, so there a
//!   test that would skip for want of them fails.
//!
//! ```
//! use test_skip::{skip, Service};
//!
//! fn postgres_url() -> Option<String> {
//!     let Ok(url) = std::env::var("POOL_TEST_POSTGRES_URL") else {
//!         skip!(Service::Postgres, "POOL_TEST_POSTGRES_URL is not set");
//!         return None;
//!     };
//!     Some(url)
//! }
//! # let _ = postgres_url;
//! ```

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub mod cpu;

/// Names the services a run requires: a test that would skip for want of
/// one of them panics instead.
pub const REQUIRE_ENV: &str = "POOL_TEST_REQUIRE";
/// The directory of the skip log (`./test.sh` sets it under `target/`).
pub const SKIP_DIR_ENV: &str = "POOL_TEST_SKIP_DIR";
/// The skip log's file name in that directory: one `suite<TAB>reason` line
/// per skipped test.
pub const SKIP_LOG: &str = "skipped.tsv";

/// What a skipped test lacked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// A PostgreSQL server (`POOL_TEST_POSTGRES_URL`).
    Postgres,
    /// A headless Chromium (`POOL_TEST_CHROMIUM` or on the PATH).
    Chromium,
    /// A real Bitcoin Core (`BITCOIND_EXE`).
    Bitcoind,
    /// A CPU feature one of the SHA-256 kernels needs.
    Cpu,
}

impl Service {
    pub const ALL: [Service; 4] = [
        Service::Postgres,
        Service::Chromium,
        Service::Bitcoind,
        Service::Cpu,
    ];

    /// Its name in `POOL_TEST_REQUIRE` and in the skip log.
    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::Chromium => "chromium",
            Service::Bitcoind => "bitcoind",
            Service::Cpu => "cpu",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `POOL_TEST_REQUIRE` names `service`.
pub fn required(service: Service) -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|list| requires(&list, service))
}

/// Whether the comma-separated `list` names `service` (spaces and case ignored).
pub fn requires(list: &str, service: Service) -> bool {
    list.split(',')
        .any(|name| name.trim().eq_ignore_ascii_case(service.name()))
}

/// Records that the calling test does not run, and why; see the crate
/// docs. `suite` names the test binary (`package/target`, as [`skip!`]
/// fills it in). Panics if `POOL_TEST_REQUIRE` names `service`.
pub fn skip(suite: &str, service: Service, reason: &str) {
    // libtest runs each test on a thread named after it.
    let current = std::thread::current();
    let test = current.name().unwrap_or("?");
    let require = std::env::var(REQUIRE_ENV).unwrap_or_default();
    let dir = std::env::var_os(SKIP_DIR_ENV)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from);
    record(
        suite,
        test,
        service,
        reason,
        &require,
        dir.as_deref(),
        &mut std::io::stderr().lock(),
    );
}

fn record(
    suite: &str,
    test: &str,
    service: Service,
    reason: &str,
    require: &str,
    dir: Option<&Path>,
    terminal: &mut dyn Write,
) {
    if requires(require, service) {
        panic!(
            "{suite}: {test} cannot run ({service}: {reason}), and {REQUIRE_ENV} requires {service}"
        );
    }
    let reason = format!("{service}: {reason}");
    // Once per test: a proptest or a loop may ask many times.
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let first = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .insert(format!("{suite}\t{test}\t{reason}"));
    if !first {
        return;
    }
    // Straight to the file descriptor (`eprintln!` would be captured), in
    // one write so that it stays one line among the harness's.
    let message = one_line(&format!("SKIPPED {suite} {test}: {reason}")) + "\n";
    let _ = terminal.write_all(message.as_bytes());
    let Some(dir) = dir else {
        return;
    };
    let path = dir.join(SKIP_LOG);
    let line = format!("{}\t{}\n", one_line(suite), one_line(&reason));
    // One write of a short line in append mode: whole lines, also when
    // several test processes or threads append at once.
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?
            .write_all(line.as_bytes())
    });
    if let Err(error) = written {
        panic!("cannot record the skip in {}: {error}", path.display());
    }
}

/// Tabs and newlines would break the log's lines.
fn one_line(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

/// The calling test binary as a suite: `package/target` (`pool/ledger`,
/// `stratum/sha256d`; `pool/pool` for the library's unit tests).
#[macro_export]
macro_rules! suite {
    () => {
        concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_CRATE_NAME"))
    };
}

/// Skips the calling test: [`skip`] for this test binary's [`suite!`],
/// with the reason formatted.
#[macro_export]
macro_rules! skip {
    ($service:expr, $($reason:tt)+) => {
        $crate::skip($crate::suite!(), $service, &format!($($reason)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_require_list_names_services() {
        assert!(requires("postgres,chromium", Service::Postgres));
        assert!(requires(" Postgres , chromium", Service::Chromium));
        assert!(!requires("postgres,chromium", Service::Bitcoind));
        assert!(!requires("", Service::Postgres));
        assert!(!requires("postgresql", Service::Postgres));
    }

    #[test]
    fn names_are_distinct() {
        let names: HashSet<&str> = Service::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), Service::ALL.len());
    }

    fn scratch(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("test-skip-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_skip_is_logged_once_per_test() {
        let dir = scratch("log");
        let mut terminal = Vec::new();
        for _ in 0..3 {
            let (dir, out) = (Some(dir.as_path()), &mut terminal);
            record("a/b", "t1", Service::Postgres, "no server", "", dir, out);
        }
        let (dir_, out) = (Some(dir.as_path()), &mut terminal);
        record(
            "a/b",
            "t2",
            Service::Postgres,
            "no\tserver",
            "chromium",
            dir_,
            out,
        );
        let log = std::fs::read_to_string(dir.join(SKIP_LOG)).unwrap();
        assert_eq!(log, "a/b\tpostgres: no server\na/b\tpostgres: no server\n");
        assert_eq!(
            String::from_utf8(terminal).unwrap(),
            "SKIPPED a/b t1: postgres: no server\nSKIPPED a/b t2: postgres: no server\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[should_panic(expected = "POOL_TEST_REQUIRE requires chromium")]
    fn a_required_service_fails_instead() {
        let dir = scratch("required");
        let require = "postgres,chromium";
        let (dir, out) = (Some(dir.as_path()), &mut Vec::new());
        record(
            "a/c",
            "t",
            Service::Chromium,
            "none found",
            require,
            dir,
            out,
        );
    }

    #[test]
    fn log_fields_stay_on_one_line() {
        assert_eq!(one_line("a\tb\nc\r"), "a b c ");
    }
}
