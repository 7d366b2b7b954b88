//! What a test's pool logs, captured: every test file that includes this
//! installs one subscriber writing info and up into [`LOGS`].

#![allow(dead_code)] // each test file uses its own part

use std::sync::Mutex;

pub static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

pub struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every test's pool logs (info and up) into [`LOGS`].
pub fn capture_logs() {
    let _ = tracing_subscriber::fmt()
        .with_writer(|| Capture)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
}

/// The captured lines that contain every one of `parts`.
pub fn log_lines_with(parts: &[&str]) -> Vec<String> {
    let logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&logs)
        .lines()
        .filter(|line| parts.iter().all(|part| line.contains(part)))
        .map(str::to_string)
        .collect()
}
