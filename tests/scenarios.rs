//! Predicted injection scenarios (`scenarios.parquet`) and live injection
//! with rollback in natural campaigns (`events.parquet`), through the binary.

use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type, UInt64Type};

mod common;
use common::{LIVE, preflight, write};

fn read(path: &Path) -> RecordBatch {
    common::read_parquet(path)
}

fn strings(b: &RecordBatch, col: &str) -> Vec<String> {
    let a = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("column {col}"));
    let a = arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8).unwrap();
    let a = a.as_string::<i32>();
    (0..a.len()).map(|i| a.value(i).to_string()).collect()
}

fn floats(b: &RecordBatch, col: &str) -> Vec<f64> {
    let a = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("column {col}"));
    a.as_primitive::<Float64Type>().values().to_vec()
}

#[test]
fn targeted_mode_ranks_predicted_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "live.yaml", LIVE);
    let out = dir.path().join("run");
    let o = preflight(&[
        "run",
        file.to_str().unwrap(),
        "--mode",
        "targeted",
        "--campaigns",
        "2",
        "--scenario-campaigns",
        "3",
        "--threads",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("predicted injection scenarios"), "{stdout}");
    let b = read(&out.join("scenarios.parquet"));
    let ids = strings(&b, "scenario_id");
    // error_code and latency_spike on db: typical, long and all-replicas each.
    assert_eq!(ids.len(), 6, "{ids:?}");
    let ranks: Vec<i32> = b
        .column_by_name("rank")
        .unwrap()
        .as_primitive::<Int32Type>()
        .values()
        .to_vec();
    assert_eq!(ranks, (1..=6).collect::<Vec<i32>>());
    let (l, i, s) = (
        floats(&b, "likelihood"),
        floats(&b, "impact"),
        floats(&b, "score"),
    );
    for k in 0..ids.len() {
        assert!((s[k] - l[k] * i[k]).abs() <= 1e-12 * s[k].abs().max(1.0));
        assert!((0.0..=1.0).contains(&l[k]), "likelihood {}", l[k]);
        if k > 0 {
            assert!(s[k - 1] >= s[k], "ranked by score");
        }
    }
    // The 503 on every request of one replica of two: half the traffic fails.
    let k = ids
        .iter()
        .position(|x| x == "db-error-code")
        .expect("typical 503");
    let rate = floats(&b, "error_rate_during")[k];
    assert!((rate - 0.5).abs() < 0.05, "error rate while on: {rate}");
    let sev = strings(&b, "severity");
    // Half the traffic fails: the rule's boundary between high and critical
    // (error rate ≥ 0.5) lies inside the estimate's noise, so the severity
    // must follow the measured rate, whichever side it fell on.
    let want = if rate >= 0.5 { "critical" } else { "high" };
    assert_eq!(
        sev[k], want,
        "error rate {rate}: ≥ 0.5 is critical, ≥ 0.1 high"
    );
    let all = ids.iter().position(|x| x == "db-error-code-all").unwrap();
    // Every replica fails every request: all fail but the few already in
    // service at the onset (2 ms of service at 100 requests/s: about one
    // in a thousand of the window's requests at most).
    let all_rate = floats(&b, "error_rate_during")[all];
    assert!((0.999..=1.0).contains(&all_rate), "{all_rate}");
    // The 1 ms latency spike barely matters.
    let lat = ids.iter().position(|x| x == "db-latency-spike").unwrap();
    assert_eq!(sev[lat], "low");
    assert!(floats(&b, "impact")[lat] < floats(&b, "impact")[k]);
    // Abort thresholds lie strictly between the healthy steady state (its
    // one-second 99.9th percentile) and the SLO's breach level (error rate
    // 0.001, p99 500 ms), and say so; the same for every scenario, since
    // both bounds belong to the system, not to the fault.
    let (herr, hp99) = (
        floats(&b, "healthy_error_rate_high"),
        floats(&b, "healthy_latency_p99_high_ms"),
    );
    let (aerr, ap99) = (
        floats(&b, "abort_error_rate"),
        floats(&b, "abort_latency_p99_ms"),
    );
    for k in 0..ids.len() {
        assert!(
            herr[k] < aerr[k] && aerr[k] < 0.001,
            "{} < {} < 0.001",
            herr[k],
            aerr[k]
        );
        assert!(
            hp99[k] < ap99[k] && ap99[k] < 500.0,
            "{} < {} < 500",
            hp99[k],
            ap99[k]
        );
        // The healthy p99 of a 2 ms constant service is a few ms.
        assert!(hp99[k] > 1.0 && hp99[k] < 50.0, "{}", hp99[k]);
    }
    assert!(
        strings(&b, "abort_error_rate_basis")
            .iter()
            .all(|x| x == "between")
    );
    assert!(
        strings(&b, "abort_latency_p99_basis")
            .iter()
            .all(|x| x == "between")
    );
    // The injection's parameters are columns.
    let (frac, code, added) = (
        opt_floats(&b, "error_fraction"),
        b.column_by_name("status_code")
            .unwrap()
            .as_primitive::<Int32Type>()
            .clone(),
        opt_floats(&b, "added_latency_ms"),
    );
    assert_eq!((frac[k], code.value(k)), (Some(1.0), 503));
    assert_eq!(added[k], None);
    assert_eq!(added[lat], Some(1.0), "the spike adds 1 ms");
    assert!(code.is_null(lat) && frac[lat].is_none());
    let plans = strings(&b, "rollback_plan");
    assert!(
        plans[k].contains("503") && plans[k].contains("db"),
        "{}",
        plans[k]
    );
    let dur = floats(&b, "duration_s");
    assert!((dur[k] - 90.0).abs() < 1.0, "median repair: {}", dur[k]);
}

#[test]
fn live_profile_rolls_back_and_logs_events() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "live.yaml", LIVE);
    let out = dir.path().join("run");
    let run = |threads: &str, out: &Path| {
        preflight(&[
            "run",
            file.to_str().unwrap(),
            "--events",
            "--scenario-campaigns",
            "2",
            "--threads",
            threads,
            "--out",
            out.to_str().unwrap(),
            "-q",
        ])
    };
    let o = run("2", &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ev = read(&out.join("events.parquet"));
    let kinds = strings(&ev, "kind");
    for k in ["inject", "breach", "rollback", "end", "recover"] {
        assert!(kinds.iter().any(|x| x == k), "no {k} event in {kinds:?}");
    }
    // Every rollback comes detection (5 s) + hold (10 s) after its breach.
    let times = floats(&ev, "time_s");
    let camps: Vec<i64> = ev
        .column_by_name("campaign")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    let mut checked = 0;
    for i in 0..kinds.len() {
        if kinds[i] != "rollback" {
            continue;
        }
        let b = (0..i)
            .rev()
            .find(|&j| kinds[j] == "breach" && camps[j] == camps[i])
            .expect("a breach before the rollback");
        let gap = times[i] - times[b];
        assert!(
            (gap - 15.0).abs() <= 1.0 + 1e-9,
            "rollback {gap} s after the breach"
        );
        checked += 1;
    }
    assert!(checked > 0);
    // The detail's values are typed columns too, null where a kind has none.
    let opt = |col: &str| {
        let a = ev.column_by_name(col).unwrap();
        let f = a.as_primitive::<Float64Type>();
        (0..f.len())
            .map(|i| (!f.is_null(i)).then(|| f.value(i)))
            .collect::<Vec<_>>()
    };
    let (rate, hold, delay, breach) = (
        opt("error_rate"),
        opt("hold_s"),
        opt("detection_delay_s"),
        opt("breach_s"),
    );
    for i in 0..kinds.len() {
        match kinds[i].as_str() {
            // abort_when: error_rate 0.2 for 10 s, detection 5 s.
            "breach" => assert!(rate[i].is_some_and(|r| r > 0.2), "{:?}", rate[i]),
            "rollback" => {
                assert_eq!((hold[i], delay[i]), (Some(10.0), Some(5.0)));
                assert!(breach[i].is_some_and(|b| b <= times[i]));
            }
            _ => assert!(rate[i].is_none() && hold[i].is_none()),
        }
    }
    let targets = strings(&ev, "target");
    assert!(targets.iter().all(|t| t == "db"));
    // The campaigns count their rollbacks.
    let c = read(&out.join("campaigns.parquet"));
    let rollbacks: i32 = c
        .column_by_name("rollbacks")
        .unwrap()
        .as_primitive::<Int32Type>()
        .values()
        .iter()
        .sum();
    assert_eq!(rollbacks as usize, checked);
    // Same rows with one thread.
    let out1 = dir.path().join("run1");
    let o = run("1", &out1);
    assert!(o.status.success());
    assert_eq!(read(&out1.join("events.parquet")), ev);
}

#[test]
fn failure_points_add_candidates_where_failure_modes_are_silent() {
    // `db` has no failure mode, one replica, and is called without a
    // timeout: `analyze` flags it, so it gets a crash and a hang candidate.
    let yaml = r#"
name: points
horizon: 1m
resources:
  - { id: api, type: service, replicas: 2, service_time: { dist: constant, value: 1ms }, failure_modes: [] }
  - { id: db, type: database, service_time: { dist: constant, value: 2ms }, failure_modes: [] }
handlers:
  - id: front
    runs_on: api
    operations:
      - { name: get, steps: [ { call: db } ] }
    slo: { success_rate: 0.99 }
workload:
  - { handler: front, arrivals: { process: poisson, rate: 50/s } }
"#;
    let s: sim_models::spec::Scenario = serde_saphyr::from_str(yaml).unwrap();
    let m = sim_models::compile::compile(&s, &[], &sim_models::compile::Empirical::new()).unwrap();
    let (aug, cands) = sim_engine::predict::all_candidates(&m, 30.0 * 86_400.0);
    let ids: Vec<&str> = cands.iter().map(|c| c.fault.id.as_str()).collect();
    assert!(ids.contains(&"db-process-crash-point"), "{ids:?}");
    assert!(ids.contains(&"db-latency-spike-point"), "{ids:?}");
    for c in &cands {
        assert_eq!(c.source, "failure_point");
        assert_eq!(c.likelihood, 0.0);
        assert!(c.fault.effect < aug.effects.len());
        assert!(!c.failure_points.is_empty());
    }
    // The copy only adds effects.
    assert_eq!(aug.effects.len(), m.effects.len() + cands.len());
    assert_eq!(aug.faults.len(), m.faults.len());
}

/// A cache behind a fallback: while it is down, requests succeed degraded.
const CACHED: &str = r#"
name: cached
seed: 4
campaigns: 3
horizon: 2m
resources:
  - { id: api, type: service, replicas: 2, concurrency: 32,
      service_time: { dist: constant, value: 1ms }, failure_modes: [] }
  - { id: cache, type: cache, replicas: 1, concurrency: 32,
      service_time: { dist: constant, value: 1ms }, failure_modes: [] }
dependencies: [ { from: api, to: cache } ]
handlers:
  - id: front
    runs_on: api
    operations:
      - { name: get, steps: [ { call: cache, timeout: 50ms, fallback: cached } ] }
    slo: { success_rate: 0.99 }
workload:
  - { handler: front, arrivals: { process: poisson, rate: 50/s } }
injections:
  - { id: cache-down, target: cache, mode: process_crash, at: 30s, duration: 30s }
"#;

#[test]
fn requests_a_fallback_serves_are_counted_as_degraded() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "cached.yaml", CACHED);
    let out = dir.path().join("run");
    let o = preflight(&[
        "run",
        file.to_str().unwrap(),
        "--mode",
        "both",
        "--no-remediate",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for table in ["campaigns.parquet", "handlers.parquet"] {
        let b = read(&out.join(table));
        let modes = strings(&b, "mode");
        let degraded = b
            .column_by_name("degraded")
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        let requests = b
            .column_by_name("requests")
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec();
        for ((m, d), r) in modes.iter().zip(&degraded).zip(&requests) {
            if m == "natural" {
                // No fault at all: nothing degraded.
                assert_eq!(*d, 0, "{table}");
            } else {
                // 30 s of a 2-minute horizon without the cache, at 50/s.
                assert!(*d > 1000 && d < r, "{table}: {d} of {r}");
            }
        }
    }
    // One handler: its rows follow the campaigns' one for one, and carry
    // the campaign's seed.
    let seeds = |table: &str| u64s(&read(&out.join(table)), "seed");
    assert_eq!(seeds("handlers.parquet"), seeds("campaigns.parquet"));
}

/// A payment API run by a third party, called with a fallback.
const EXTERNAL: &str = r#"
name: external
seed: 2
campaigns: 2
horizon: 2m
resources:
  - { id: api, type: service, replicas: 2, concurrency: 32,
      service_time: { dist: constant, value: 1ms }, failure_modes: [] }
  - { id: payments, type: external_api, replicas: 3, concurrency: 64,
      service_time: { dist: constant, value: 20ms },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 20h },
                         repair: { dist: constant, value: 60s } } ] }
dependencies: [ { from: api, to: payments } ]
handlers:
  - id: checkout
    runs_on: api
    operations:
      - { name: pay, steps: [ { call: payments, timeout: 200ms, fallback: cached } ] }
    slo: { success_rate: 0.999 }
workload:
  - { handler: checkout, arrivals: { process: poisson, rate: 20/s } }
"#;

#[test]
fn an_external_api_is_rolled_back_by_stopping_the_experiment_not_by_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "external.yaml", EXTERNAL);
    let out = dir.path().join("run");
    let o = preflight(&[
        "run",
        file.to_str().unwrap(),
        "--mode",
        "targeted",
        "--scenario-campaigns",
        "2",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let b = read(&out.join("scenarios.parquet"));
    let (targets, plans) = (strings(&b, "target"), strings(&b, "rollback_plan"));
    let mut seen = 0;
    for (t, p) in targets.iter().zip(&plans) {
        if t != "payments" {
            continue;
        }
        seen += 1;
        assert!(
            p.starts_with("Stop the experiment: remove the fault injected on calls to payments"),
            "{p}"
        );
        assert!(
            !p.contains("restart every") && !p.contains("restart replica"),
            "{p}"
        );
        assert!(!p.contains("out of rotation"), "{p}");
        assert!(
            p.contains("`checkout` serves degraded through its fallback"),
            "{p}"
        );
    }
    assert!(seen > 0, "{targets:?}");
}

/// A count (`Int64`) or a seed (`UInt64`) column as `u64`.
fn u64s(b: &RecordBatch, col: &str) -> Vec<u64> {
    let a = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("column {col}"));
    arrow::compute::cast(a, &DataType::UInt64)
        .unwrap()
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec()
}

fn opt_floats(b: &RecordBatch, col: &str) -> Vec<Option<f64>> {
    let a = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("column {col}"));
    let f = a.as_primitive::<Float64Type>();
    (0..f.len())
        .map(|i| (!f.is_null(i)).then(|| f.value(i)))
        .collect()
}

/// Issue 12, point 1: the headline risk is natural faults only and equals
/// the gate's; the injection programme's risk is its own figure, over
/// programme campaigns paired with the natural ones. Point 2: every output
/// names the span the risk covers.
#[test]
fn the_programme_risk_is_its_own_figure_and_the_headline_is_the_gates() {
    let dir = tempfile::tempdir().unwrap();
    // Live injections every minute that breach often: the programme adds risk.
    let text = LIVE.replace("injection_frequency: 2m", "injection_frequency: 1m");
    let file = write(dir.path(), "live.yaml", &text);
    let out = dir.path().join("run");
    let common = [
        "--campaigns",
        "24",
        "--seed",
        "11",
        "--threads",
        "2",
        // The gate may not grow past the run's campaigns.
        "--until-decided",
        "24",
    ];
    let mut args = vec![
        "run",
        "--no-remediate",
        file.to_str().unwrap(),
        "--events",
        "--scenario-campaigns",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(common);
    let o = preflight(&args);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains("with the injection programme running"),
        "{text}"
    );
    assert!(
        text.contains("risk = P(SLO breached within 10m, one campaign)"),
        "{text}"
    );
    assert!(
        text.contains("not per the scenario's risk.window of 30d"),
        "{text}"
    );

    // Natural and programme campaigns: the same seeds, campaign by campaign;
    // live injections (rollbacks) only in the programme's.
    let c = read(&out.join("campaigns.parquet"));
    let (modes, seeds, camp) = (strings(&c, "mode"), u64s(&c, "seed"), u64s(&c, "campaign"));
    let rollbacks: Vec<i32> = c
        .column_by_name("rollbacks")
        .unwrap()
        .as_primitive::<Int32Type>()
        .values()
        .to_vec();
    let of = |m: &str| -> Vec<usize> { (0..modes.len()).filter(|&i| modes[i] == m).collect() };
    let (natural, programme) = (of("natural"), of("programme"));
    assert_eq!((natural.len(), programme.len()), (24, 24), "{modes:?}");
    for (n, p) in natural.iter().zip(&programme) {
        assert_eq!((camp[*n], seeds[*n]), (camp[*p], seeds[*p]));
        assert_eq!(rollbacks[*n], 0, "no live injection in a natural campaign");
    }
    assert!(programme.iter().any(|&p| rollbacks[p] > 0), "{rollbacks:?}");

    let r = read(&out.join("risk.parquet"));
    let risk = floats(&r, "risk")[0];
    let prog = opt_floats(&r, "programme_risk")[0].expect("programme risk");
    let added = opt_floats(&r, "programme_added")[0].expect("added risk");
    let (lo, hi) = (
        opt_floats(&r, "programme_added_low")[0].unwrap(),
        opt_floats(&r, "programme_added_high")[0].unwrap(),
    );
    assert!(
        (added - (prog - risk)).abs() < 1e-12,
        "{added} {prog} {risk}"
    );
    assert!(lo <= added && added <= hi);
    assert!(prog > risk, "the programme adds breaches: {prog} vs {risk}");
    assert_eq!(floats(&r, "window_s"), vec![600.0]);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["risk_window_s"], 600.0);
    assert_eq!(m["scenario_risk_window_s"], 2_592_000.0);
    assert_eq!(m["programme"], true);
    assert!(
        m["risk_definition"]
            .as_str()
            .unwrap()
            .contains("within 10m, one campaign), natural faults only"),
        "{}",
        m["risk_definition"]
    );

    // The gate decides on the same natural campaigns: the same risk.
    let mut args = vec!["gate", file.to_str().unwrap(), "--json"];
    args.extend(common);
    let g = preflight(&args);
    let j: serde_json::Value = serde_json::from_slice(&g.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&g.stdout)));
    assert_eq!(j["handlers"][0]["risk"].as_f64(), Some(risk), "{j}");
    assert_eq!(j["handlers"][0]["campaigns"], 24);
    assert_eq!(j["window_s"], 600.0);
    assert_eq!(j["risk_window_s"], 2_592_000.0);
    assert!(
        j["window_note"].as_str().unwrap().contains("per 10m"),
        "{j}"
    );
}

/// Issue 12, point 4: a p99 objective below what the healthy system does
/// is breached in every campaign with no fault at all. The run says so,
/// with the healthy figures, marks it in risk.parquet, and remediation
/// tries capacity changes only.
#[test]
fn a_breach_without_any_fault_is_named_and_answered_with_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "tight.yaml",
        r#"
name: tight
seed: 1
campaigns: 12
horizon: 1m
resources:
  - { id: api, type: service, replicas: 2, concurrency: 16, service_time: { dist: constant, value: 1ms },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 100000h },
                         repair: { dist: constant, value: 1m } } ] }
  - { id: db, type: database, concurrency: 8, service_time: { dist: lognormal, median: 2ms, sigma: 0.5 },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 100000h },
                         repair: { dist: constant, value: 1m } } ] }
dependencies: [ { from: api, to: db } ]
handlers:
  - id: h
    runs_on: api
    operations: [ { name: get, steps: [ { call: db, timeout: 1s } ] } ]
    slo: { success_rate: 0.999, latency_p99: 2ms }
workload: [ { handler: h, arrivals: { process: poisson, rate: 50/s } } ]
"#,
    );
    let out = dir.path().join("run");
    let o = preflight(&[
        "run",
        file.to_str().unwrap(),
        "--variant",
        "base",
        "--threads",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains("the SLO is breached with no fault at all (12 of 12 fault-free campaigns"),
        "{text}"
    );
    assert!(text.contains("a capacity or objective problem"), "{text}");
    let r = read(&out.join("risk.parquet"));
    let flag = r
        .column_by_name("breached_without_faults")
        .unwrap()
        .as_boolean()
        .value(0);
    assert!(flag);
    assert_eq!(u64s(&r, "fault_free_campaigns"), vec![12]);
    assert_eq!(u64s(&r, "fault_free_breaches"), vec![12]);
    let rem = read(&out.join("remediations.parquet"));
    let kinds = strings(&rem, "kind");
    assert!(!kinds.is_empty(), "capacity changes are tried");
    assert!(
        kinds
            .iter()
            .all(|k| k == "add_replica" || k == "raise_concurrency"),
        "{kinds:?}"
    );
}

/// A fault and its `-long` form whose simulated parts are the same (both
/// past the 300 s a predicted scenario simulates) are one simulation: the
/// same campaigns, event for event; only the extrapolated rest differs.
#[test]
fn a_fault_and_its_long_form_past_the_cap_share_their_campaigns() {
    let dir = tempfile::tempdir().unwrap();
    // A 10-minute median repair: the typical injection (600 s) and the
    // long one are both simulated for 300 s.
    let yaml = LIVE.replace("median: 90s, sigma: 0.3", "median: 10m, sigma: 0.3");
    assert_ne!(yaml, LIVE);
    let file = write(dir.path(), "long.yaml", &yaml);
    let out = dir.path().join("run");
    let o = preflight(&[
        "run",
        file.to_str().unwrap(),
        "--mode",
        "targeted",
        "--campaigns",
        "1",
        "--scenario-campaigns",
        "3",
        "--threads",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = read(&out.join("scenarios.parquet"));
    let ids = strings(&s, "scenario_id");
    let at = |id: &str| {
        ids.iter()
            .position(|x| x == id)
            .unwrap_or_else(|| panic!("{id}: {ids:?}"))
    };
    let (typical, long) = (at("db-error-code"), at("db-error-code-long"));
    let dur = floats(&s, "duration_s");
    assert!(dur[typical] > 300.0 && dur[long] > dur[typical], "{dur:?}");
    let during = floats(&s, "error_rate_during");
    assert_eq!(during[typical], during[long]);
    // The longer rest, at the same error rate, is the larger impact.
    let impact = floats(&s, "impact");
    assert!(impact[long] > impact[typical], "{impact:?}");
    let c = read(&out.join("campaigns.parquet"));
    let (mode, scenario) = (strings(&c, "mode"), strings(&c, "scenario_id"));
    let (errors, events) = (u64s(&c, "errors"), u64s(&c, "events"));
    let rows = |id: &str| -> Vec<(u64, u64)> {
        (0..mode.len())
            .filter(|&r| mode[r] == "predicted" && scenario[r] == id)
            .map(|r| (errors[r], events[r]))
            .collect()
    };
    assert_eq!(rows("db-error-code").len(), 3);
    assert!(rows("db-error-code").iter().all(|r| r.0 > 0));
    assert_eq!(rows("db-error-code"), rows("db-error-code-long"));
}
