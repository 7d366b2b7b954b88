//! The double-SHA256 kernels this CPU can run, found here with
//! `is_x86_feature_detected!`, apart from the `stratum` crate's own
//! dispatch: a kernel test can then tell a kernel left out because the CPU
//! lacks it (a skip, recorded) from one the dispatch wrongly left out (a
//! failure).

use crate::Service;

/// Each kernel by its `stratum` name, with the CPU features it needs.
pub const KERNELS: [(&str, &[&str]); 4] = [
    ("portable", &[]),
    ("sha-ni", &["sha", "sse4.1", "ssse3"]),
    ("avx2", &["avx2"]),
    ("avx512", &["avx512f", "avx512bw"]),
];

#[cfg(target_arch = "x86_64")]
fn detected(feature: &str) -> bool {
    // The macro takes only literals.
    match feature {
        "sha" => std::arch::is_x86_feature_detected!("sha"),
        "sse4.1" => std::arch::is_x86_feature_detected!("sse4.1"),
        "ssse3" => std::arch::is_x86_feature_detected!("ssse3"),
        "avx2" => std::arch::is_x86_feature_detected!("avx2"),
        "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
        "avx512bw" => std::arch::is_x86_feature_detected!("avx512bw"),
        other => panic!("no detection for the CPU feature {other:?}"),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detected(_feature: &str) -> bool {
    false
}

/// The features `kernel` needs that this CPU lacks (empty: it can run it).
/// Panics for a name not in [`KERNELS`].
pub fn missing_features(kernel: &str) -> Vec<&'static str> {
    let (_, features) = KERNELS
        .iter()
        .find(|(name, _)| *name == kernel)
        .unwrap_or_else(|| panic!("no kernel is called {kernel:?}"));
    features
        .iter()
        .copied()
        .filter(|feature| !detected(feature))
        .collect()
}

/// The kernels of [`KERNELS`] a test must run on this CPU: every one the
/// CPU supports. The others are recorded as skipped (for `suite`). Panics
/// when `offered` (the dispatch's verdict on a kernel) disagrees with the
/// CPU: a kernel withheld on a CPU that has its features is a bug, not a
/// skip.
pub fn kernels_to_run(suite: &str, offered: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let mut run = Vec::new();
    for (name, _) in KERNELS {
        let missing = missing_features(name);
        match (missing.is_empty(), offered(name)) {
            (true, true) => run.push(name),
            (true, false) => {
                panic!("the CPU has every feature of the {name} kernel, but it is not offered")
            }
            (false, true) => {
                panic!("the {name} kernel is offered on a CPU without {missing:?}")
            }
            (false, false) => crate::skip(
                suite,
                Service::Cpu,
                &format!("the {name} kernel needs {}", missing.join(", ")),
            ),
        }
    }
    run
}

/// Which kernels a test ran; [`KernelRuns::finish`] fails the test if one
/// the CPU supports is not among them.
#[derive(Debug)]
pub struct KernelRuns {
    expected: Vec<&'static str>,
    ran: Vec<&'static str>,
}

impl KernelRuns {
    /// Expects every kernel of `expected` (from [`kernels_to_run`]) to run.
    pub fn new(expected: &[&'static str]) -> KernelRuns {
        KernelRuns {
            expected: expected.to_vec(),
            ran: Vec::new(),
        }
    }

    pub fn ran(&mut self, kernel: &'static str) {
        if !self.ran.contains(&kernel) {
            self.ran.push(kernel);
        }
    }

    /// Panics unless every expected kernel ran; returns those that did.
    pub fn finish(self) -> Vec<&'static str> {
        let left_out: Vec<&str> = self
            .expected
            .iter()
            .copied()
            .filter(|kernel| !self.ran.contains(kernel))
            .collect();
        assert!(
            left_out.is_empty(),
            "kernels this CPU supports did not run: {left_out:?} (ran {:?})",
            self.ran
        );
        self.ran
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_needs_nothing() {
        assert!(missing_features("portable").is_empty());
    }

    #[test]
    #[should_panic(expected = "no kernel is called")]
    fn unknown_kernels_are_refused() {
        missing_features("md5");
    }

    #[test]
    fn runs_check_every_expected_kernel() {
        let mut runs = KernelRuns::new(&["portable", "avx2"]);
        runs.ran("avx2");
        runs.ran("portable");
        runs.ran("portable");
        assert_eq!(runs.finish(), ["avx2", "portable"]);
    }

    #[test]
    #[should_panic(expected = "did not run: [\"avx2\"]")]
    fn a_kernel_left_out_fails() {
        let mut runs = KernelRuns::new(&["portable", "avx2"]);
        runs.ran("portable");
        runs.finish();
    }

    #[test]
    #[should_panic(expected = "but it is not offered")]
    fn a_supported_kernel_withheld_fails() {
        // Portable runs everywhere: a dispatch that withholds it is wrong.
        kernels_to_run("test-skip/cpu", |name| name != "portable");
    }
}
