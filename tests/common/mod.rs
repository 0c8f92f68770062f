//! What the integration tests share: running the `preflight` binary built
//! for this test run, from the repository root (so bundled scenarios and
//! datasets are found by their relative paths), and reading its output.
#![allow(dead_code)] // each test file uses the helpers it needs

use std::path::Path;
use std::process::{Command, Output};

/// The binary under test, run from the repository root.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_preflight"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Runs `preflight ARGS` from the repository root and waits for it.
pub fn preflight(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

/// Runs `preflight ARGS` from `dir`.
pub fn preflight_in(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// What the run printed on stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What the run printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
