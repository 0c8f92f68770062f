//! Remediation, verified by re-simulation: end-to-end tests of `preflight
//! run` on a handler over its threshold because a single-replica database
//! fails often, and on one that is not.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, UInt64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The database process crashes every 10 minutes on average and takes about
/// 20 s to come back; with one replica, a crash fails every request for that
/// long, so the handler misses its 99.5% success rate in about one campaign
/// in five (its threshold, at medium criticality, is 0.05).
const FLAKY: &str = r#"
name: flaky-db
seed: 11
campaigns: 150
horizon: 2m
resources:
  - { id: api, type: service, replicas: 2, concurrency: 32, criticality: medium,
      service_time: { dist: lognormal, median: 1ms, sigma: 0.3 }, failure_modes: [] }
  - { id: db, type: database, replicas: 1, concurrency: 16, criticality: medium,
      service_time: { dist: exponential, mean: 2ms },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 10m },
                         repair: { dist: lognormal, median: 20s, sigma: 0.4 } } ] }
dependencies:
  - { from: api, to: db, network: { latency: { dist: constant, value: 1ms } } }
handlers:
  - id: api-handler
    runs_on: api
    operations:
      - name: read
        steps: [ { call: db, timeout: 100ms } ]
    slo: { success_rate: 0.995 }
workload:
  - { handler: api-handler, arrivals: { process: poisson, rate: 50/s } }
"#;

fn preflight(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn run(file: &Path, out: &Path, threads: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threads",
        threads,
    ];
    args.extend_from_slice(extra);
    let o = preflight(&args);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

fn read(path: &Path) -> (arrow::datatypes::SchemaRef, Vec<RecordBatch>) {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (schema, batches)
}

fn strs(b: &[RecordBatch], name: &str) -> Vec<String> {
    b.iter()
        .flat_map(|b| {
            let c = b.column_by_name(name).unwrap().as_string::<i32>();
            (0..c.len())
                .map(|i| c.value(i).to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn f64s(b: &[RecordBatch], name: &str) -> Vec<f64> {
    b.iter()
        .flat_map(|b| {
            let c = b
                .column_by_name(name)
                .unwrap()
                .as_primitive::<Float64Type>();
            c.values().to_vec()
        })
        .collect()
}

fn u64s(b: &[RecordBatch], name: &str) -> Vec<u64> {
    b.iter()
        .flat_map(|b| {
            let c = b.column_by_name(name).unwrap().as_primitive::<UInt64Type>();
            c.values().to_vec()
        })
        .collect()
}

/// The columns of `remediations.parquet`: the contract's and the documented additions.
const COLUMNS: [(&str, DataType); 17] = [
    ("variant", DataType::Utf8),
    ("target", DataType::Utf8),
    ("suggestion", DataType::Utf8),
    ("change", DataType::Utf8),
    ("risk_before", DataType::Float64),
    ("risk_after", DataType::Float64),
    ("handler", DataType::Utf8),
    ("kind", DataType::Utf8),
    ("risk_before_low", DataType::Float64),
    ("risk_before_high", DataType::Float64),
    ("risk_after_low", DataType::Float64),
    ("risk_after_high", DataType::Float64),
    ("risk_diff", DataType::Float64),
    ("risk_diff_low", DataType::Float64),
    ("risk_diff_high", DataType::Float64),
    ("campaigns", DataType::UInt64),
    ("relevance", DataType::Float64),
];

#[test]
fn adding_a_replica_is_proposed_simulated_and_lowers_the_risk() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "flaky.yaml", FLAKY);
    let out = tmp.path().join("run");
    let stdout = run(&file, &out, "2", &[]);

    let (schema, b) = read(&out.join("remediations.parquet"));
    for (name, ty) in COLUMNS {
        let f = schema
            .field_with_name(name)
            .unwrap_or_else(|_| panic!("remediations.parquet lacks {name}"));
        assert_eq!(f.data_type(), &ty, "{name}");
        assert!(!f.is_nullable(), "{name}");
    }
    let names = strs(&b, "variant");
    assert!(!names.is_empty() && names.len() <= 8, "{names:?}");
    assert!(strs(&b, "handler").iter().all(|h| h == "api-handler"));
    assert!(u64s(&b, "campaigns").iter().all(|c| *c == 150));
    let i = names
        .iter()
        .position(|n| n == "add-replica-db")
        .unwrap_or_else(|| panic!("no add-replica candidate in {names:?}"));
    assert_eq!(strs(&b, "kind")[i], "add_replica");
    assert_eq!(strs(&b, "target")[i], "db");
    assert_eq!(strs(&b, "change")[i], r#"{ "resources[db].replicas": 2 }"#);
    let col = |n: &str| f64s(&b, n)[i];
    let (before, after) = (col("risk_before"), col("risk_after"));
    println!(
        "add-replica-db: risk {before:.4} [{:.4}, {:.4}] -> {after:.4} [{:.4}, {:.4}], difference {:.4} [{:.4}, {:.4}]",
        col("risk_before_low"),
        col("risk_before_high"),
        col("risk_after_low"),
        col("risk_after_high"),
        col("risk_diff"),
        col("risk_diff_low"),
        col("risk_diff_high")
    );
    assert!(
        before > 0.05,
        "the base must be over its threshold: {before}"
    );
    assert!(after < before / 3.0, "{before} -> {after}");
    assert!((col("risk_diff") - (after - before)).abs() < 1e-12);
    // The paired interval excludes zero.
    assert!(col("risk_diff_high") < 0.0, "{}", col("risk_diff_high"));
    assert!(col("risk_before_low") <= before && before <= col("risk_before_high"));
    assert!(col("risk_after_low") <= after && after <= col("risk_after_high"));
    // Every row's before is the base's risk as risk.parquet has it.
    let (_, risk) = read(&out.join("risk.parquet"));
    assert_eq!(f64s(&risk, "risk"), vec![before]);
    assert!(f64s(&b, "risk_before").iter().all(|r| *r == before));

    // The summary prints the table and the best change, ready to paste.
    assert!(stdout.contains("remediation:"), "{stdout}");
    let at = stdout
        .find("best change for api-handler: risk ")
        .unwrap_or_else(|| panic!("no best change in\n{stdout}"));
    let block: String = stdout[at..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("variants:") || l.starts_with("  "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        block.starts_with("variants:\n  - name: add-replica-db\n"),
        "{block}"
    );

    // Round trip: the pasted block parses as a variant of the scenario,
    // applies and compiles, and sets what it says.
    let pasted = write(tmp.path(), "pasted.yaml", &format!("{FLAKY}{block}"));
    let o = preflight(&["validate", pasted.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 variants"));
    let loaded = preflight::scenario::load(&pasted).unwrap();
    let variants = preflight::commands::prepare_variants(&loaded, "add-replica-db").unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(variants[1].scenario.resources[1].replicas, 2);
    assert_eq!(variants[1].model.resources[1].replicas, 2);

    // Remediation campaigns are not the user's variants: not in the rows.
    let (_, campaigns) = read(&out.join("campaigns.parquet"));
    assert!(strs(&campaigns, "variant").iter().all(|v| v == "base"));
    assert_eq!(strs(&campaigns, "variant").len(), 150);
}

#[test]
fn every_pasted_candidate_applies_and_remediation_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "flaky.yaml", FLAKY);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run(&file, &a, "1", &["--campaigns", "60"]);
    run(&file, &b, "2", &["--campaigns", "60"]);
    let bytes = |d: &Path| std::fs::read(d.join("remediations.parquet")).unwrap();
    assert_eq!(bytes(&a), bytes(&b));

    // Each `change` is a `set:` mapping that parses and applies as is.
    let (_, rows) = read(&a.join("remediations.parquet"));
    let mut text = String::from(FLAKY);
    text.push_str("variants:\n");
    for (name, change) in strs(&rows, "variant").iter().zip(strs(&rows, "change")) {
        text.push_str(&format!("  - name: {name}\n    set: {change}\n"));
    }
    let pasted = write(tmp.path(), "all.yaml", &text);
    let loaded = preflight::scenario::load(&pasted).unwrap();
    let variants = preflight::commands::prepare_variants(&loaded, "all").unwrap();
    assert_eq!(variants.len(), 1 + strs(&rows, "variant").len());
}

#[test]
fn no_handler_over_its_threshold_writes_an_empty_table() {
    let tmp = tempfile::tempdir().unwrap();
    let healthy = FLAKY.replace(
        "failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 10m },\n                         repair: { dist: lognormal, median: 20s, sigma: 0.4 } } ] }",
        "failure_modes: [] }",
    );
    assert_ne!(healthy, FLAKY);
    let file = write(tmp.path(), "healthy.yaml", &healthy);
    let out = tmp.path().join("run");
    let stdout = run(&file, &out, "2", &["--campaigns", "20"]);
    assert!(stdout.contains("nothing to remediate"), "{stdout}");
    let (schema, b) = read(&out.join("remediations.parquet"));
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    for (name, _) in COLUMNS {
        assert!(schema.field_with_name(name).is_ok(), "{name}");
    }

    // Off with --no-remediate, and never for the gate.
    let flaky = write(tmp.path(), "flaky.yaml", FLAKY);
    let off = tmp.path().join("off");
    let stdout = run(&flaky, &off, "2", &["--campaigns", "20", "--no-remediate"]);
    assert!(!stdout.contains("remediation"), "{stdout}");
    assert!(!off.join("remediations.parquet").exists());
    let gate = tmp.path().join("gate");
    let o = preflight(&[
        "gate",
        flaky.to_str().unwrap(),
        "--campaigns",
        "20",
        "--out",
        gate.to_str().unwrap(),
    ]);
    assert!(o.status.code().is_some_and(|c| c <= 1));
    assert!(!gate.join("remediations.parquet").exists());
}
