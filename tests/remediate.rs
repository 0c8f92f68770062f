//! Remediation, verified by re-simulation: end-to-end tests of `preflight
//! run` on a handler over its threshold because a single-replica database
//! fails often, and on one that is not.

use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

mod common;
use common::{preflight, write};

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
            let c = b.column_by_name(name).unwrap().as_primitive::<Int64Type>();
            c.values().iter().map(|&v| v as u64).collect::<Vec<u64>>()
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
    ("campaigns", DataType::Int64),
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
    let loaded = sim_engine::scenario::load(&pasted).unwrap();
    let variants = sim_engine::prepare::prepare_variants(&loaded, "add-replica-db").unwrap();
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
    let loaded = sim_engine::scenario::load(&pasted).unwrap();
    let variants = sim_engine::prepare::prepare_variants(&loaded, "all").unwrap();
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

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn manifest_phases_add_up_to_the_whole_command() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "flaky.yaml", FLAKY);
    let out = tmp.path().join("run");
    run(&file, &out, "2", &[]);
    let m = manifest(&out);
    let wall = m["phases"]["wall_s"].as_object().expect("phases.wall_s");
    let names: Vec<&str> = wall.keys().map(|k| k.as_str()).collect();
    // Request level: no baseline or library; no injection profile: no scenarios.
    for p in ["load", "campaigns", "remediation", "write", "total"] {
        assert!(names.contains(&p), "{p} missing from {names:?}");
    }
    assert!(!names.contains(&"library") && !names.contains(&"scenarios"));
    // `order`: the phases as they ran (`total` is not one).
    assert_eq!(
        m["phases"]["order"],
        serde_json::json!(["load", "campaigns", "remediation", "write"])
    );
    let total = wall["total"].as_f64().unwrap();
    let sum: f64 = wall
        .iter()
        .filter(|(k, _)| *k != "total")
        .map(|(_, v)| v.as_f64().unwrap())
        .sum();
    // Each phase is rounded to the millisecond.
    assert!(
        (sum - total).abs() < 0.001 * names.len() as f64,
        "{sum} vs {total}"
    );
    assert!(wall.values().all(|v| v.as_f64().unwrap() >= 0.0));
    // wall_time_s is the whole command, not the campaigns alone.
    let wall_time = m["wall_time_s"].as_f64().unwrap();
    assert!((wall_time - total).abs() < 0.001, "{wall_time} vs {total}");
    assert!(wall["remediation"].as_f64().unwrap() > 0.0);
    assert!(
        wall_time
            > wall["campaigns"].as_f64().unwrap() + wall["remediation"].as_f64().unwrap() - 0.002
    );
    if cfg!(target_os = "linux") {
        let cpu = m["phases"]["cpu_s"]
            .as_object()
            .expect("phases.cpu_s on Linux");
        assert_eq!(
            cpu.keys().collect::<Vec<_>>(),
            wall.keys().collect::<Vec<_>>()
        );
        assert!(cpu["total"].as_f64().unwrap() > 0.0);
    }
    // Remediation's own phases, and its campaigns as the candidates ran them.
    let r = &m["remediation"];
    let rw = r["phases"]["wall_s"]
        .as_object()
        .expect("remediation.phases");
    for p in ["candidates", "campaigns", "total"] {
        assert!(rw.contains_key(p), "{p} missing from {rw:?}");
    }
    let simulated: u64 = r["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["campaigns_simulated"].as_u64().unwrap())
        .sum();
    assert_eq!(r["campaigns_run"].as_u64(), Some(simulated));
}

#[test]
fn remediation_campaigns_follow_the_sequential_rule_and_leave_the_base_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "flaky.yaml", FLAKY);
    let (on, off) = (tmp.path().join("on"), tmp.path().join("off"));
    run(&file, &on, "2", &["--campaigns", "600"]);
    run(&file, &off, "2", &["--campaigns", "600", "--no-remediate"]);
    // The base's rows do not depend on remediation.
    for f in ["campaigns", "handlers", "risk"] {
        let bytes = |d: &Path| std::fs::read(d.join(format!("{f}.parquet"))).unwrap();
        assert_eq!(bytes(&on), bytes(&off), "{f}.parquet");
    }
    let m = manifest(&on);
    let q = &m["remediation"]["sequential"];
    assert_eq!(
        (q["first"].as_u64(), q["max"].as_u64(), q["stages"].as_u64()),
        (Some(256), Some(600), Some(3))
    );
    let z = q["z"].as_f64().unwrap();
    assert!((z - 2.3940).abs() < 1e-3, "95% over 3 looks: {z}");

    let (_, b) = read(&on.join("remediations.parquet"));
    let names = strs(&b, "variant");
    let campaigns = u64s(&b, "campaigns");
    assert!(
        campaigns.iter().all(|n| [256, 512, 600].contains(n)),
        "{campaigns:?}"
    );
    // The replica halves the risk or better: decided on the first stage.
    let i = names.iter().position(|n| n == "add-replica-db").unwrap();
    assert_eq!(campaigns[i], 256);
    // A candidate that stopped early was decided: its 95% interval (narrower
    // than the stopping one) excludes zero or lies within ±δ, half the gap
    // between the base's risk (150: 0.18 over all 600) and the threshold.
    let (_, risk) = read(&on.join("risk.parquet"));
    let (base, threshold) = (f64s(&risk, "risk")[0], f64s(&risk, "threshold")[0]);
    let delta = (base - threshold) / 2.0;
    let (lo, hi) = (f64s(&b, "risk_diff_low"), f64s(&b, "risk_diff_high"));
    for k in 0..names.len() {
        if campaigns[k] < 600 {
            assert!(
                hi[k] < 0.0 || lo[k] > 0.0 || (-delta < lo[k] && hi[k] < delta),
                "{} stopped at {} undecided: [{}, {}], δ {delta}",
                names[k],
                campaigns[k],
                lo[k],
                hi[k]
            );
        }
        // Before and after are on the same campaigns: the base's risk on
        // the first `campaigns`, which is risk.parquet's when that is all.
        let before = f64s(&b, "risk_before")[k];
        if campaigns[k] == 600 {
            assert_eq!(before, base);
        }
        let after = f64s(&b, "risk_after")[k];
        assert!((f64s(&b, "risk_diff")[k] - (after - before)).abs() < 1e-12);
    }
    let sum = |key: &str| -> u64 {
        m["remediation"]["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c[key].as_u64().unwrap())
            .sum()
    };
    let (paired, simulated) = (sum("campaigns"), sum("campaigns_simulated"));
    assert_eq!(campaigns.iter().sum::<u64>(), paired);
    // campaigns_run counts the campaigns simulated; the others were the
    // base's (they did not exercise the change).
    assert_eq!(m["remediation"]["campaigns_run"].as_u64(), Some(simulated));
    assert!(simulated <= paired && paired < 600 * names.len() as u64);
}

/// Two callees with faults of their own: a change to one of them cannot
/// reach the other's episodes.
const TWO_CALLEES: &str = r#"
name: two-callees
seed: 5
horizon: 1d
resources:
  - { id: api, type: service, replicas: 2, concurrency: 64, criticality: medium,
      service_time: { dist: lognormal, median: 1ms, sigma: 0.3 }, failure_modes: [] }
  - { id: db, type: database, replicas: 1, concurrency: 8, criticality: medium,
      service_time: { dist: lognormal, median: 5ms, sigma: 0.5 },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 8h },
                         repair: { dist: lognormal, median: 2m, sigma: 0.5 } } ] }
  - { id: cache, type: cache, concurrency: 16, criticality: medium,
      service_time: { dist: constant, value: 1ms },
      failure_modes: [ { mode: error_code, time_between: { dist: exponential, mean: 8h },
                         repair: { dist: lognormal, median: 2m, sigma: 0.5 },
                         injection_parameters: { code: 503, error_fraction: 0.5 } } ] }
handlers:
  - id: h
    runs_on: api
    operations:
      - name: read
        steps:
          - { call: db, timeout: 200ms }
          - { call: cache, timeout: 100ms }
    slo: { success_rate: 0.9995 }
workload:
  - { handler: h, arrivals: { process: poisson, rate: 20/s } }
"#;

#[test]
fn sharing_the_base_episodes_gives_the_verdicts_of_simulating_everything() {
    use sim_engine::run::{CampaignModes, Discard, RunPlan, run_all};
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "two.yaml", TWO_CALLEES);
    let loaded = sim_engine::scenario::load(&file).unwrap();
    let variants = sim_engine::prepare::prepare_variants(&loaded, "base").unwrap();
    let plan = RunPlan {
        campaigns: 300,
        seed: 5,
        threads: 2,
        mode: CampaignModes::Natural,
        progress: false,
        two_scale: true,
        until_decided: None,
        decide_at: None,
        decide_z: sim_engine::risk::Z95,
        rare_event: None,
        independent_streams: false,
        live: None,
        events: false,
        kept_episodes_bytes: sim_engine::limits::KEPT_EPISODES_MAX_BYTES,
    };
    let mut report = run_all(&variants, &plan, &mut Discard).unwrap();
    assert!(report.risk[0].over_threshold, "{:?}", report.risk[0]);
    let shared =
        sim_engine::remediate::remediate(&loaded, &variants[0], &report, &plan, 8, None, None)
            .unwrap();
    // Without the base's library every candidate simulates everything.
    report.base_window = None;
    let alone =
        sim_engine::remediate::remediate(&loaded, &variants[0], &report, &plan, 8, None, None)
            .unwrap();
    assert_eq!(shared.verified.len(), alone.verified.len());
    let (mut reused, mut copied, mut episodes) = (0, 0, 0);
    for (s, a) in shared.verified.iter().zip(&alone.verified) {
        assert_eq!(a.episodes_shared, 0);
        episodes += s.episodes_shared;
        assert_eq!(s.candidate.name, a.candidate.name);
        let (ls, la) = (s.library.unwrap(), a.library.unwrap());
        assert_eq!(la.1, 0, "{}: nothing to share", a.candidate.name);
        assert_eq!(a.simulated, a.campaigns);
        reused += ls.1;
        copied += s.campaigns - s.simulated;
        // Exact for every change whose use the episodes record; timeout
        // changes share only classes they cannot reach (and the base's
        // margins), an approximation: the same verdicts here.
        use sim_engine::remediate::Kind;
        if matches!(s.candidate.kind, Kind::AddTimeout | Kind::TightenTimeout) {
            for (x, y) in s.outcomes.iter().zip(&a.outcomes) {
                let verdict = |d: (f64, f64, f64)| (d.2 < 0.0, d.1 > 0.0);
                assert_eq!(verdict(x.diff), verdict(y.diff), "{}", s.candidate.name);
            }
        } else {
            assert_eq!(s.outcomes, a.outcomes, "{}", s.candidate.name);
        }
        println!(
            "{}: {} of {} library episodes shared, {} of {} campaigns copied, {} episodes of the others taken",
            s.candidate.name,
            ls.1,
            ls.0 + ls.1,
            s.campaigns - s.simulated,
            s.campaigns,
            s.episodes_shared
        );
    }
    assert!(
        reused > 0 && copied > 0 && episodes > 0,
        "nothing shared: the test has no power"
    );
    // The base's episodes are kept within the bytes the plan allows: all
    // of them here; within a few KiB, the first campaigns' only; with none,
    // every episode is simulated. The verdicts are the same.
    let (bytes, kept) = report.base.as_ref().unwrap().kept();
    assert_eq!(kept, 300);
    assert!(bytes > 0 && bytes <= plan.kept_episodes_bytes);
    for room in [bytes / 3, 0] {
        let mut plan = plan.clone();
        plan.kept_episodes_bytes = room;
        let report = run_all(&variants, &plan, &mut Discard).unwrap();
        let (b, k) = report.base.as_ref().unwrap().kept();
        assert!(
            b <= room && k < 300,
            "{b} bytes of {k} campaigns kept in {room}"
        );
        assert_eq!(k == 0, room == 0);
        let less =
            sim_engine::remediate::remediate(&loaded, &variants[0], &report, &plan, 8, None, None)
                .unwrap();
        let taken: u64 = less.verified.iter().map(|v| v.episodes_shared).sum();
        assert!(
            taken <= episodes && (room > 0 || taken == 0),
            "{taken} of {episodes}"
        );
        for (x, s) in less.verified.iter().zip(&shared.verified) {
            assert_eq!(x.outcomes, s.outcomes, "{}", s.candidate.name);
        }
    }
}

#[test]
fn request_level_campaigns_that_did_not_exercise_a_change_are_the_base_s() {
    use sim_engine::remediate::{Kind, remediate};
    use sim_engine::run::{CampaignModes, Discard, RunPlan, run_all};
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "flaky.yaml", FLAKY);
    let loaded = sim_engine::scenario::load(&file).unwrap();
    let variants = sim_engine::prepare::prepare_variants(&loaded, "base").unwrap();
    let plan = RunPlan {
        campaigns: 300,
        seed: 11,
        threads: 2,
        mode: CampaignModes::Natural,
        progress: false,
        two_scale: false,
        until_decided: None,
        decide_at: None,
        decide_z: sim_engine::risk::Z95,
        rare_event: None,
        independent_streams: false,
        live: None,
        events: false,
        kept_episodes_bytes: 0,
    };
    let mut report = run_all(&variants, &plan, &mut Discard).unwrap();
    let shared = remediate(&loaded, &variants[0], &report, &plan, 8, None, None).unwrap();
    report.base.as_mut().unwrap().forget_usage();
    let alone = remediate(&loaded, &variants[0], &report, &plan, 8, None, None).unwrap();
    let mut copied = 0;
    for (s, a) in shared.verified.iter().zip(&alone.verified) {
        assert_eq!(s.candidate.name, a.candidate.name);
        assert_eq!(s.outcomes, a.outcomes, "{}", s.candidate.name);
        assert_eq!(a.simulated, a.campaigns);
        if matches!(s.candidate.kind, Kind::AddReplica) {
            assert_eq!(s.simulated, s.campaigns, "a replica adds a failure process");
        }
        copied += s.campaigns - s.simulated;
    }
    // Most campaigns see no crash of the db: a retry, breaker, fallback or
    // more concurrency changes nothing in them.
    assert!(
        copied > 0,
        "nothing taken from the base: the test has no power"
    );
}

fn bools(b: &[RecordBatch], name: &str) -> Vec<bool> {
    b.iter()
        .flat_map(|b| {
            let c = b.column_by_name(name).unwrap().as_boolean();
            (0..c.len()).map(|i| c.value(i)).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn remediation_rows_give_each_candidate_s_risk_from_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "flaky.yaml", FLAKY);
    let out = tmp.path().join("run");
    run(&file, &out, "2", &["--remediation-rows", "--quiet"]);
    let (_, rem) = read(&out.join("remediations.parquet"));
    let (_, h) = read(&out.join("handlers.parquet"));
    let (variant, mode, campaign, breached) = (
        strs(&h, "variant"),
        strs(&h, "mode"),
        u64s(&h, "campaign"),
        bools(&h, "slo_breached"),
    );
    // The base's natural rows, by campaign.
    let base: std::collections::BTreeMap<u64, bool> = (0..variant.len())
        .filter(|&i| mode[i] == "natural")
        .map(|i| (campaign[i], breached[i]))
        .collect();
    assert_eq!(base.len(), 150);
    let names = strs(&rem, "variant");
    let (campaigns, after) = (u64s(&rem, "campaigns"), f64s(&rem, "risk_after"));
    let mut simulated = 0;
    for (j, name) in names.iter().enumerate() {
        // The candidate's rows: its simulated campaigns, paired by index
        // and seed with the base's; the others are the base's exactly.
        let own: std::collections::BTreeMap<u64, bool> = (0..variant.len())
            .filter(|&i| variant[i] == *name)
            .map(|i| {
                assert_eq!(mode[i], "remediation");
                (campaign[i], breached[i])
            })
            .collect();
        assert!(own.keys().all(|k| *k < campaigns[j]), "{name}");
        simulated += own.len();
        let breaches = (0..campaigns[j])
            .filter(|k| *own.get(k).unwrap_or(&base[k]))
            .count();
        assert_eq!(
            breaches as f64 / campaigns[j] as f64,
            after[j],
            "{name}: risk_after from the rows"
        );
    }
    assert!(simulated > 0);
    // Without the flag: the same remediation, no candidate rows.
    let plain = tmp.path().join("plain");
    run(&file, &plain, "1", &["--quiet"]);
    let (_, rem2) = read(&plain.join("remediations.parquet"));
    assert_eq!(f64s(&rem2, "risk_after"), after);
    let (_, h2) = read(&plain.join("handlers.parquet"));
    assert!(strs(&h2, "mode").iter().all(|m| m == "natural"));
}
