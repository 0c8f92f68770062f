//! What the integration tests share: running the `preflight` binary built
//! for this test run, from the repository root (so bundled scenarios and
//! datasets are found by their relative paths), and reading its output.
#![allow(dead_code)] // each test file uses the helpers it needs

use std::path::{Path, PathBuf};
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

/// Writes `text` as the file `name` in `dir` and returns its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A small, fast scenario with failures frequent enough to matter.
pub const SMALL: &str = r#"
name: small
seed: 5
campaigns: 6
horizon: 2m
resources:
  - { id: api, type: service, replicas: 2, concurrency: 16, health_check: 2s,
      service_time: { dist: lognormal, median: 2ms, sigma: 0.4 },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 3m },
                         repair: { dist: lognormal, median: 20s, sigma: 0.5 } } ] }
  - { id: db, type: database, concurrency: 8, service_time: { dist: exponential, mean: 3ms },
      failure_modes: [ { mode: latency_spike, time_between: { dist: weibull, shape: 0.8, scale: 4m },
                         repair: { dist: constant, value: 30s },
                         injection_parameters: { added: { dist: constant, value: 80ms } } } ] }
dependencies:
  - { from: api, to: db, network: { latency: { dist: constant, value: 1ms }, loss: 0.001 } }
handlers:
  - id: api-handler
    runs_on: api
    operations:
      - name: read
        steps: [ { call: db, timeout: 50ms, retry: { max_attempts: 3, backoff: exponential, base: 5ms, jitter: full } } ]
    slo: { success_rate: 0.999, latency_p99: 60ms }
workload:
  - { handler: api-handler, arrivals: { process: poisson, rate: 100/s } }
injections:
  - { id: db-down, target: db, mode: dependency_failure, at: 30s, duration: 20s }
variants:
  - { name: patient, set: { "handlers[api-handler].operations[read].steps[0].timeout": 200ms } }
"#;

/// A database that fails often, behind a service, with a live-injection profile.
pub const LIVE: &str = r#"
name: live
seed: 3
campaigns: 8
horizon: 10m
resources:
  - { id: api, type: service, replicas: 2, concurrency: 32,
      service_time: { dist: constant, value: 1ms }, failure_modes: [] }
  - { id: db, type: database, replicas: 2, concurrency: 32, service_time: { dist: constant, value: 2ms },
      failure_modes: [
        { mode: error_code, time_between: { dist: exponential, mean: 2h },
          repair: { dist: lognormal, median: 90s, sigma: 0.3 },
          injection_parameters: { code: 503, error_fraction: 1.0 } },
        { mode: latency_spike, time_between: { dist: exponential, mean: 50h },
          repair: { dist: constant, value: 60s },
          injection_parameters: { added: { dist: constant, value: 1ms } } } ] }
handlers:
  - id: front
    runs_on: api
    operations:
      - { name: get, steps: [ { call: db, timeout: 1s } ] }
    slo: { success_rate: 0.999, latency_p99: 500ms }
workload:
  - { handler: front, arrivals: { process: poisson, rate: 100/s } }
failure_injection_profile:
  enabled: true
  injection_frequency: 2m
  severity_threshold: medium
  rollback_policy: abort
  abort_when: { error_rate: 0.2, for: 10s }
  detection_delay: 5s
risk: { window: 30d }
"#;

/// A Parquet file, all its row groups in one batch.
pub fn read_parquet(path: &Path) -> arrow::array::RecordBatch {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<arrow::array::RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| panic!("{}: no batch", path.display()));
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}
