use super::*;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn opts(input: PathBuf) -> FitOptions {
    FitOptions {
        input,
        ..Default::default()
    }
}

fn message(r: Result<FitReport, Error>) -> String {
    let e = r.expect_err("bad input must be refused");
    assert!(matches!(e, crate::Error::Input(_)), "{e}");
    e.to_string()
}

const GOOD: &str = "\
resource,resource_type,mode,start,end,cause
db-1,database,process_crash,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,disk
db-1,database,process_crash,2024-01-03T00:00:00Z,2024-01-03T00:30:00Z,
db-1,database,process_crash,2024-01-03T00:00:00Z,2024-01-03T00:30:00Z,
db-2,database,process_crash,2024-01-02T00:00:00Z,2024-01-02T02:00:00Z,
db-2,database,process_crash,2024-01-05T00:00:00Z,,
db-2,database,process_crash,2024-01-06T00:00:00Z,2024-01-06T00:10:00Z,
";

#[test]
fn samples_censor_the_time_after_the_last_failure_and_count_simultaneous_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(write(&dir, "h.csv", GOOD));
    o.to = Some("2024-01-10T00:00:00Z".into());
    let r = fit_history(&o).unwrap();
    assert_eq!(r.groups.len(), 1);
    let g = &r.groups[0].sample;
    assert_eq!(g.key(), "resource_type=database, mode=process_crash");
    assert_eq!(g.simultaneous, 1);
    assert_eq!(g.resources, 2);
    let day = 86_400.0;
    let between: Vec<(f64, bool)> = g
        .between
        .iter()
        .map(|(_, o)| (o.value / day, o.censored))
        .collect();
    assert_eq!(
        between,
        vec![
            (2.0, false),
            (7.0, true),
            (3.0, false),
            (1.0, false),
            (4.0, true)
        ]
    );
    // db-2's open incident of Jan 5 is censored at the window's end.
    let open: Vec<f64> = g
        .repair
        .iter()
        .filter(|(_, o)| o.censored)
        .map(|(_, o)| o.value / day)
        .collect();
    assert_eq!(open, vec![5.0]);
    assert_eq!(g.repair.len(), 5);
}

#[test]
fn up_times_run_from_the_repair_to_the_next_failure() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(write(&dir, "h.csv", GOOD));
    o.to = Some("2024-01-10T00:00:00Z".into());
    o.between = Between::Up;
    let r = fit_history(&o).unwrap();
    let g = &r.groups[0].sample;
    let hour = 3600.0;
    let between: Vec<(f64, bool)> = g
        .between
        .iter()
        .map(|(_, o)| ((o.value / hour * 1e6).round() / 1e6, o.censored))
        .collect();
    // db-1: down Jan 1 00:00-01:00, next failure Jan 3 00:00 (47 h up), then
    // repaired 00:30 and up until the window's end (7 d - 30 min, censored).
    // db-2: repaired Jan 2 02:00, fails Jan 5 00:00 (70 h), which never
    // ends, so the next interval runs start to start (1 d); repaired Jan 6
    // 00:10 and up until the end (4 d - 10 min, censored).
    assert_eq!(
        between,
        vec![
            (47.0, false),
            (7.0 * 24.0 - 0.5, true),
            (70.0, false),
            (24.0, false),
            (95.833333, true)
        ]
    );
}

#[test]
fn the_yaml_is_what_the_scenario_format_accepts() {
    #[derive(serde::Deserialize)]
    struct Doc {
        resource_failure_modes: Vec<ResourceTypeFailureModes>,
    }
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("resource,resource_type,mode,start,end\n");
    // Two resources, irregular gaps, repairs of varying length.
    let gaps = [3.0, 17.0, 1.0, 40.0, 9.0, 2.5, 12.0, 30.0, 5.0, 0.7];
    for (r, res) in ["a", "b"].iter().enumerate() {
        let mut t = 1_700_000_000.0;
        for (i, g) in gaps.iter().enumerate() {
            t += g * 3600.0 * (1.0 + r as f64 * 0.3);
            let rep = 600.0 * (1.0 + (i % 4) as f64);
            let _ = writeln!(
                text,
                "{res},cache,latency_spike,{},{}",
                history::format_time(t),
                history::format_time(t + rep)
            );
        }
    }
    let o = opts(write(&dir, "h.csv", &text));
    let report = fit_history(&o).unwrap();
    let (y, notes) = yaml(&report);
    assert!(notes.is_empty(), "{notes:?}");
    let doc: Doc = serde_saphyr::from_str(&y).unwrap_or_else(|e| panic!("{e}\n{y}"));
    assert_eq!(doc.resource_failure_modes.len(), 1);
    let e = &doc.resource_failure_modes[0];
    assert_eq!(e.resource_type, ResourceType::Cache);
    assert_eq!(e.failure_modes[0].mode, FailureMode::LatencySpike);
    // The written distribution is the best fit, to six significant digits.
    let best = report.groups[0].between.as_ref().unwrap().best().dist;
    let m = e.failure_modes[0].time_between.mean_secs().unwrap();
    assert!(
        (m / best.mean() - 1.0).abs() < 1e-4,
        "{m} vs {}",
        best.mean()
    );
    // The table is all comments.
    assert!(table(&report).lines().all(|l| l.starts_with('#')));
}

#[test]
fn missing_mapped_column_names_the_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(write(&dir, "h.csv", GOOD));
    o.col = vec!["resource=nodenum".into()];
    let m = message(fit_history(&o));
    assert!(m.contains("h.csv"), "{m}");
    assert!(m.contains("--col resource=nodenum"), "{m}");
    assert!(m.contains("no column `nodenum`"), "{m}");

    let o = opts(write(&dir, "n.csv", "who,start\nx,2024-01-01\n"));
    let m = message(fit_history(&o));
    assert!(m.contains("no `resource` column"), "{m}");
}

#[test]
fn unparsable_time_names_line_column_and_expected_form() {
    let dir = tempfile::tempdir().unwrap();
    let text = "resource,start,end\na,2024-01-01T00:00:00Z,\na,1/2/2024 10:00,\n";
    let o = opts(write(&dir, "h.csv", text));
    let m = message(fit_history(&o));
    assert!(m.contains("h.csv: line 3: column `start`"), "{m}");
    assert!(m.contains("cannot read `1/2/2024 10:00` as a time"), "{m}");
    assert!(m.contains("RFC 3339"), "{m}");

    let mut o = opts(write(&dir, "h2.csv", text));
    o.time_format = Some("%m/%d/%Y %H:%M".into());
    let m = message(fit_history(&o));
    assert!(m.contains("line 2"), "{m}");
    assert!(m.contains("--time-format `%m/%d/%Y %H:%M`"), "{m}");
}

#[test]
fn end_before_start_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = "resource,start,end\na,2024-01-02T00:00:00Z,2024-01-01T00:00:00Z\n";
    let m = message(fit_history(&opts(write(&dir, "h.csv", text))));
    assert!(m.contains("line 2: column `end`"), "{m}");
    assert!(m.contains("before the start"), "{m}");
}

#[test]
fn empty_selection_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(write(&dir, "h.csv", GOOD));
    o.filter = vec!["mode=disk_error".into()];
    let m = message(fit_history(&o));
    assert!(m.contains("empty selection"), "{m}");
    assert!(m.contains("--filter mode=disk_error"), "{m}");

    let o = opts(write(&dir, "e.csv", "resource,start,end\n"));
    assert!(message(fit_history(&o)).contains("empty selection"));

    let mut o = opts(write(&dir, "f.csv", GOOD));
    o.filter = vec!["System=20".into()];
    let m = message(fit_history(&o));
    assert!(m.contains("--filter System"), "{m}");
}

#[test]
fn bad_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(write(&dir, "h.csv", GOOD));
    o.type_map = vec!["cluster=mainframe".into()];
    assert!(message(fit_history(&o)).contains("not a resource type"));
    let mut o = opts(write(&dir, "h.csv", GOOD));
    o.col = vec!["resource".into()];
    assert!(message(fit_history(&o)).contains("expected NAME=VALUE"));
    let mut o = opts(write(&dir, "h.csv", GOOD));
    o.col = vec!["node=resource".into()];
    assert!(message(fit_history(&o)).contains("not a column preflight reads"));
    let o = opts(write(&dir, "h.txt", GOOD));
    assert!(message(fit_history(&o)).contains(".csv or .parquet"));
    let o = opts(dir.path().join("missing.csv"));
    assert!(message(fit_history(&o)).contains("missing.csv"));
}

#[test]
fn parquet_histories_read_like_csv() {
    use arrow::array::{StringArray, TimestampSecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("host", DataType::Utf8, false),
        Field::new("t0", DataType::Timestamp(TimeUnit::Second, None), false),
        Field::new("t1", DataType::Timestamp(TimeUnit::Second, None), true),
    ]));
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["a", "a", "a"])),
            Arc::new(TimestampSecondArray::from(vec![0, 86_400, 3 * 86_400])),
            Arc::new(TimestampSecondArray::from(vec![
                Some(600),
                None,
                Some(3 * 86_400 + 60),
            ])),
        ],
    )
    .unwrap();
    let f = std::fs::File::create(&path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let mut o = opts(path);
    o.col = vec!["resource=host".into(), "start=t0".into(), "end=t1".into()];
    o.to = Some("1970-01-05".into());
    let r = fit_history(&o).unwrap();
    let g = &r.groups[0].sample;
    let between: Vec<f64> = g.between.iter().map(|(_, o)| o.value).collect();
    assert_eq!(between, vec![86_400.0, 2.0 * 86_400.0, 86_400.0]);
    assert_eq!(g.repair.len(), 3);
}

/// Incident rows for `resource` of `rtype` (`mode`), at irregular gaps from
/// `t0` (hours), with repairs of 10–40 minutes.
fn rows(resource: &str, rtype: &str, mode: &str, t0: f64, scale: f64) -> String {
    let gaps = [
        3.0, 17.0, 1.0, 40.0, 9.0, 2.5, 12.0, 30.0, 5.0, 0.7, 22.0, 6.0,
    ];
    let mut t = 1_700_000_000.0 + t0 * 3600.0;
    let mut out = String::new();
    for (i, g) in gaps.iter().enumerate() {
        t += g * 3600.0 * scale;
        let rep = 600.0 * (1.0 + (i % 4) as f64);
        let _ = writeln!(
            out,
            "{resource},{rtype},{mode},{},{}",
            history::format_time(t),
            history::format_time(t + rep)
        );
    }
    out
}

const REFIT_SCENARIO: &str = r#"
name: refit
horizon: 1m
resources:
  - { id: api, type: compute, service_time: { dist: constant, value: 1ms } }
  - { id: db, type: database, service_time: { dist: constant, value: 1ms },
      failure_modes: [ { mode: process_crash, time_between: { dist: exponential, mean: 1000h },
                         repair: { dist: constant, value: 1h } } ] }
handlers:
  - { id: h, runs_on: api, operations: [ { name: get, steps: [ { call: db, timeout: 1s } ] } ] }
workload:
  - { handler: h, arrivals: { process: poisson, rate: 1/s } }
historical_faults: incidents.csv
"#;

#[test]
fn historical_faults_replace_matching_modes_by_resource_then_type() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("resource,resource_type,mode,start,end\n");
    csv += &rows("api", "", "process_crash", 0.0, 1.0);
    // Another compute host the scenario does not name: pooled by its type.
    csv += &rows("host-9", "compute", "process_crash", 5.0, 1.3);
    // The database's own rows; the row's type is ignored (the scenario's wins).
    csv += &rows("db", "storage", "process_crash", 2.0, 2.0);
    // A mode the scenario format does not know: left out.
    csv += &rows("api", "compute", "fan_failure", 0.0, 1.0);
    write(&dir, "incidents.csv", &csv);
    let path = write(&dir, "s.yaml", REFIT_SCENARIO);
    let loaded = crate::scenario::load(&path).unwrap();
    let (s, refit) = refit_scenario(&loaded.scenario, &path, loaded.file_access).unwrap();
    let notes = refit.notes.join("\n");
    assert!(notes.contains("fan_failure"), "{notes}");

    // db: fitted from its own rows only.
    let db_rows: Vec<&str> = csv.lines().filter(|l| l.starts_with("db,")).collect();
    let db = s.resources.iter().find(|r| r.id == "db").unwrap();
    let spec = &db.failure_modes.as_ref().unwrap()[0];
    assert_ne!(
        spec.time_between,
        loaded.scenario.resources[1].failure_modes.as_ref().unwrap()[0].time_between
    );
    let db_mean = spec.time_between.mean_secs().unwrap();
    // 11 gaps between 12 failures, 2× the base pattern, plus one censored tail.
    assert_eq!(db_rows.len(), 12);
    assert!(db_mean > 10.0 * 3600.0, "{db_mean}");

    // compute: the built-in defaults copied in, process_crash refitted from
    // api + host-9, cpu_throttle left as it was.
    let defaults = crate::defaults::default_failure_modes();
    let d = defaults
        .iter()
        .find(|d| d.resource_type == ResourceType::Compute)
        .unwrap();
    let e = s
        .resource_failure_modes
        .iter()
        .find(|e| e.resource_type == ResourceType::Compute)
        .expect("compute entry added");
    assert_eq!(e.failure_modes.len(), d.failure_modes.len());
    for (got, def) in e.failure_modes.iter().zip(&d.failure_modes) {
        if got.mode == FailureMode::ProcessCrash {
            assert_ne!(got.time_between, def.time_between);
            assert_ne!(got.repair, def.repair);
            let m = got.repair.mean_secs().unwrap();
            assert!(m > 600.0 && m < 2400.0, "mean repair {m}");
        } else {
            assert_eq!(got, def);
        }
    }
    // The refitted scenario still compiles.
    let variants = crate::prepare::prepare_variants(&loaded, "all").unwrap();
    assert_eq!(variants.len(), 1);
}

#[test]
fn historical_faults_problems_name_the_scenario_and_the_history() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir,
        "incidents.csv",
        "resource,start,end\napi,2024-01-02T00:00:00Z,2024-01-01T00:00:00Z\n",
    );
    let path = write(&dir, "s.yaml", REFIT_SCENARIO);
    let loaded = crate::scenario::load(&path).unwrap();
    let Err(e) = crate::prepare::prepare_variants(&loaded, "all") else {
        panic!("a bad history is refused");
    };
    assert!(matches!(e, crate::Error::Input(_)), "{e}");
    assert!(
        e.to_string().contains("s.yaml: historical_faults:"),
        "{}",
        e.to_string()
    );
    assert!(
        e.to_string()
            .contains("incidents.csv: line 2: column `end`"),
        "{}",
        e.to_string()
    );

    std::fs::remove_file(dir.path().join("incidents.csv")).unwrap();
    let Err(e) = crate::prepare::prepare_variants(&loaded, "all") else {
        panic!("a missing history is refused");
    };
    assert!(e.to_string().contains("incidents.csv"), "{}", e.to_string());
}
