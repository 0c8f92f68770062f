//! Tests of loading: formats, positions, every problem at once, validation
//! rules, empirical files and variants.

use super::*;

const MINI: &str = "\
name: mini
resources:
  - id: api
    type: service
    replicas: 2
    service_time: { dist: constant, value: 1ms }
  - id: db
    type: database
    service_time: { dist: exponential, mean: 2ms }
handlers:
  - id: h
    runs_on: api
    operations:
      - name: read
        steps:
          - call: db
            timeout: 100ms
            retry: { max_attempts: 3, backoff: exponential, base: 10ms }
workload:
  - handler: h
    arrivals: { process: poisson, rate: 10/s }
variants:
  - name: two-dbs
    set: { \"resources[db].replicas\": 2 }
";

fn yaml(src: &str) -> Result<Loaded, LoadError> {
    load_bytes(src.as_bytes(), Format::Yaml, Path::new("t.yaml"))
}

/// The problems of `src`, which must fail to load.
fn problems(src: &str) -> Vec<Problem> {
    match yaml(src) {
        Ok(_) => panic!("expected problems in:\n{src}"),
        Err(e) => e.problems,
    }
}

/// Asserts that loading `src` reports a problem at `path` whose message
/// contains `fragment`.
#[track_caller]
fn assert_problem(src: &str, path: &str, fragment: &str) {
    let ps = problems(src);
    assert!(
        ps.iter()
            .any(|p| p.path == path && p.message.contains(fragment)),
        "no problem at `{path}` containing `{fragment}`; got:\n{}",
        LoadError {
            problems: ps.clone()
        }
    );
}

/// MINI with `from` replaced by `to` (which must occur).
fn mini_with(from: &str, to: &str) -> String {
    assert!(MINI.contains(from), "`{from}` not in MINI");
    MINI.replacen(from, to, 1)
}

// ---------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------

#[test]
fn mini_loads() {
    let l = yaml(MINI).expect("MINI is valid");
    assert_eq!(l.scenario.name, "mini");
    assert_eq!(l.source_hash.len(), 7 + 64);
    assert_eq!(l.source_hash, crate::provenance::sha256(MINI.as_bytes()));
    assert_ne!(l.source_hash, crate::provenance::sha256(b"other"));
    assert_eq!(&*l.source, MINI.as_bytes());
}

#[test]
fn spec_example_parses_but_reports_the_undeclared_checkout_resource() {
    let src = include_str!("../../../sim-models/src/spec/testdata/spec_example.yaml");
    let ps = problems(src);
    // `checkout` is used but never declared; that is the only kind of
    // problem, besides the history and telemetry files, which are not
    // beside the test.
    let (files, ps): (Vec<Problem>, Vec<Problem>) = ps
        .into_iter()
        .partition(|p| p.path == "historical_faults" || p.path == "telemetry");
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files.iter().all(|p| p.message.contains("No such file")),
        "{files:?}"
    );
    assert!(
        ps.iter().all(|p| p.message.contains("`checkout`")),
        "{}",
        LoadError {
            problems: ps.clone()
        }
    );
    assert!(ps.iter().any(|p| p.path == "handlers[0].runs_on"));
    assert!(ps.iter().any(|p| p.path == "dependencies[0].to"));
    // Declaring it makes the example load, variants included.
    let fixed = src.replacen(
        "resources:                  # things that can fail\n",
        "resources:                  # things that can fail\n  - { id: checkout, type: service, replicas: 2 }\n",
        1,
    );
    // (Without the history and telemetry files, not beside the test.)
    let fixed = fixed
        .replace("historical_faults:", "# historical_faults:")
        .replace("telemetry:", "# telemetry:");
    let l = yaml(&fixed).expect("the spec example with `checkout` declared");
    assert_eq!(l.scenario.variants.len(), 2);
}

#[test]
fn spec_paths_example_loads() {
    let src = format!(
        "name: stream\n{}",
        include_str!("../../../sim-models/src/spec/testdata/spec_paths.yaml")
    );
    let l = yaml(&src).expect("a paths-only scenario is valid");
    assert_eq!(l.scenario.paths.len(), 1);
}

#[test]
fn toml_and_json_equal_yaml() {
    let from_yaml = yaml(MINI).expect("yaml").scenario;
    let toml_src = r#"
name = "mini"

[[resources]]
id = "api"
type = "service"
replicas = 2
service_time = { dist = "constant", value = "1ms" }

[[resources]]
id = "db"
type = "database"
service_time = { dist = "exponential", mean = "2ms" }

[[handlers]]
id = "h"
runs_on = "api"

[[handlers.operations]]
name = "read"
steps = [
  { call = "db", timeout = "100ms", retry = { max_attempts = 3, backoff = "exponential", base = "10ms" } },
]

[[workload]]
handler = "h"
arrivals = { process = "poisson", rate = "10/s" }

[[variants]]
name = "two-dbs"
set = { "resources[db].replicas" = 2 }
"#;
    let from_toml = load_bytes(toml_src.as_bytes(), Format::Toml, Path::new("t.toml"))
        .expect("toml")
        .scenario;
    assert_eq!(from_yaml, from_toml);
    let json_src = serde_json::to_string_pretty(&from_yaml).expect("to json");
    let from_json = load_bytes(json_src.as_bytes(), Format::Json, Path::new("t.json"))
        .expect("json")
        .scenario;
    assert_eq!(from_yaml, from_json);
}

#[test]
fn format_from_extension() {
    assert_eq!(Format::from_path(Path::new("a.yaml")), Ok(Format::Yaml));
    assert_eq!(Format::from_path(Path::new("a.YML")), Ok(Format::Yaml));
    assert_eq!(Format::from_path(Path::new("a.toml")), Ok(Format::Toml));
    assert_eq!(Format::from_path(Path::new("a.json")), Ok(Format::Json));
    let e = Format::from_path(Path::new("a.txt")).expect_err("txt");
    assert!(e.contains("`.txt`") && e.contains(".yaml"), "{e}");
    assert!(Format::from_path(Path::new("scenario")).is_err());
}

#[test]
fn load_reads_files_and_reports_missing_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("mini.yaml");
    std::fs::write(&f, MINI).expect("write");
    let l = load(&f).expect("load");
    assert_eq!(l.file, f);
    let e = load(&dir.path().join("nope.yaml")).expect_err("missing file");
    let text = e.to_string();
    assert!(text.contains("nope.yaml: cannot read the file"), "{text}");
    let e = load(&dir.path().join("x.txt")).expect_err("bad extension");
    assert!(e.to_string().contains("unknown scenario format"), "{e}");
}

// ---------------------------------------------------------------------------
// Positions and messages
// ---------------------------------------------------------------------------

#[test]
fn display_has_file_line_column_and_path() {
    let src = mini_with("    replicas: 2\n", "    replicas: -1\n");
    let ps = problems(&src);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(
        ps[0].to_string(),
        "t.yaml:5:5: resources[0].replicas: expected a whole number, 0 or more, got -1"
    );
    let src = mini_with("    replicas: 2\n", "    replicas: 0\n");
    assert_eq!(
        problems(&src)[0].to_string(),
        "t.yaml:5:5: resources[0].replicas: must be at least 1, got 0"
    );
}

#[test]
fn unknown_field_line_and_suggestion() {
    let src = mini_with("    replicas: 2\n", "    replica: 2\n");
    let ps = problems(&src);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].path, "resources[0].replica");
    assert_eq!((ps[0].line, ps[0].column), (Some(5), Some(5)));
    assert!(
        ps[0].message.contains("did you mean `replicas`?"),
        "{}",
        ps[0]
    );
}

#[test]
fn deep_bad_value_line() {
    let src = mini_with("max_attempts: 3", "max_attempts: three");
    let ps = problems(&src);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(
        ps[0].path,
        "handlers[0].operations[0].steps[0].retry.max_attempts"
    );
    assert_eq!(ps[0].line, Some(18));
    assert!(
        ps[0].message.contains("expected a whole number"),
        "{}",
        ps[0]
    );
}

#[test]
fn toml_and_json_positions() {
    let toml_src = "name = \"x\"\n\n[[resources]]\nid = \"a\"\ntype = \"cache\"\nreplica = 2\n";
    let e = load_bytes(toml_src.as_bytes(), Format::Toml, Path::new("t.toml")).expect_err("typo");
    let p = &e.problems[0];
    assert_eq!(p.path, "resources[0].replica");
    assert_eq!(p.line, Some(6), "{p}");
    let json_src = "{\n  \"name\": \"x\",\n  \"resources\": [\n    { \"id\": \"a\", \"type\": \"cache\",\n      \"replicas\": \"two\" }\n  ]\n}\n";
    let e = load_bytes(json_src.as_bytes(), Format::Json, Path::new("t.json")).expect_err("bad");
    let p = &e.problems[0];
    assert_eq!(p.path, "resources[0].replicas");
    assert_eq!((p.line, p.column), (Some(5), Some(7)), "{p}");
}

#[test]
fn syntax_errors_have_positions() {
    for (src, format, line) in [
        ("name: x\nresources: [\n  { id: a\n", Format::Yaml, 4),
        ("name = \"x\"\nresources = [\n", Format::Toml, 3),
        ("{\n  \"name\": \"x\",\n  oops\n}\n", Format::Json, 3),
    ] {
        let e = load_bytes(src.as_bytes(), format, Path::new("f")).expect_err("syntax");
        assert_eq!(e.problems.len(), 1, "{e}");
        let p = &e.problems[0];
        assert!(
            p.line.is_some_and(|l| l <= line && l >= 2),
            "{format:?}: {p}"
        );
        assert!(!p.message.is_empty());
    }
}

#[test]
fn many_problems_at_once() {
    let src = "\
name: x
nmae: y
resources:
  - id: a
    type: cache
    replica: 2
  - id: b
    type: databse
    replicas: -1
  - { type: cache }
handlers:
  - id: h
    runs_on: a
    operations:
      - name: op
        steps:
          - call: b
            interval: 1s
          - call: b
            timeout: 5
          - { poll: b, interval: 1s, timeout: 1m }
  - id: h2
    runs_on: a
    operations: []
    slo: { success_rate: high }
";
    let ps = problems(src);
    let expect = [
        ("nmae", "did you mean `name`?"),
        ("resources[0].replica", "did you mean `replicas`?"),
        ("resources[1].type", "did you mean `database`?"),
        ("resources[1].replicas", "got -1"),
        ("resources[2]", "missing field `id`"),
        (
            "handlers[0].operations[0].steps[0].interval",
            "unknown field `interval` for a call step",
        ),
        (
            "handlers[0].operations[0].steps[1].timeout",
            "add a unit, e.g. `5s`",
        ),
        (
            "handlers[0].operations[0].steps[2]",
            "missing field `ready_after`",
        ),
        ("handlers[1].slo.success_rate", "expected a number"),
    ];
    for (path, frag) in expect {
        assert!(
            ps.iter()
                .any(|p| p.path == path && p.message.contains(frag)),
            "missing `{path}`: `{frag}` in:\n{}",
            LoadError {
                problems: ps.clone()
            }
        );
    }
    assert_eq!(
        ps.len(),
        expect.len(),
        "{}",
        LoadError {
            problems: ps.clone()
        }
    );
    // Sorted by line.
    let lines: Vec<usize> = ps.iter().filter_map(|p| p.line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

#[test]
fn missing_name_still_checks_the_rest() {
    let ps = problems("resources:\n  - { id: a, type: cach }\n");
    assert!(
        ps.iter()
            .any(|p| p.path.is_empty() && p.message.contains("missing field `name`"))
    );
    assert!(
        ps.iter()
            .any(|p| p.path == "resources[0].type" && p.message.contains("`cache`"))
    );
}

#[test]
fn empty_and_non_map_files() {
    assert_problem("", "", "empty");
    assert_problem("# only a comment\n", "", "empty");
    assert_problem("- a\n- b\n", "", "a scenario is a map");
    assert_problem("just text\n", "", "a scenario is a map");
    let e = load_bytes(&[0x6e, 0xff, 0xfe], Format::Yaml, Path::new("b.yaml")).expect_err("binary");
    assert!(e.to_string().contains("not UTF-8"), "{e}");
}

#[test]
fn duplicate_keys_are_reported() {
    let ps = problems("name: x\nname: y\n");
    assert!(!ps.is_empty());
    assert!(
        ps[0].message.to_lowercase().contains("duplicate"),
        "{}",
        ps[0]
    );
}

// ---------------------------------------------------------------------------
// Validation rules
// ---------------------------------------------------------------------------

#[test]
fn duplicate_ids() {
    assert_problem(
        &mini_with("  - id: db\n", "  - id: api\n"),
        "resources[1].id",
        "duplicate id `api`",
    );
    let src = format!(
        "{MINI}injections:\n  - {{ id: i, target: db, mode: process_crash, duration: 1m }}\n  - {{ id: i, target: db, mode: process_crash, duration: 1m }}\n"
    );
    assert_problem(&src, "injections[1].id", "duplicate id `i`");
    let src = mini_with(
        "      - name: read\n",
        "      - name: read\n        steps: []\n      - name: read\n",
    );
    assert_problem(
        &src,
        "handlers[0].operations[1].name",
        "duplicate name `read`",
    );
    let src = format!("{MINI}  - name: two-dbs\n");
    assert_problem(&src, "variants[1].name", "duplicate name");
}

#[test]
fn unknown_references() {
    assert_problem(
        &mini_with("runs_on: api", "runs_on: apii"),
        "handlers[0].runs_on",
        "did you mean `api`?",
    );
    assert_problem(
        &mini_with("- call: db", "- call: nowhere"),
        "handlers[0].operations[0].steps[0].call",
        "`nowhere` is not a declared resource",
    );
    assert_problem(
        &mini_with("- call: db", "- call: h"),
        "handlers[0].operations[0].steps[0].call",
        "`h` is a handler: use the resource it runs on (`api`)",
    );
    assert_problem(
        &mini_with("  - handler: h\n", "  - handler: hh\n"),
        "workload[0].handler",
        "did you mean `h`?",
    );
    let src = format!("{MINI}dependencies:\n  - {{ from: api, to: dbb }}\n");
    assert_problem(&src, "dependencies[0].to", "did you mean `db`?");
    let src = format!(
        "{MINI}injections:\n  - {{ id: i, target: cache, mode: process_crash, duration: 1m }}\n"
    );
    assert_problem(
        &src,
        "injections[0].target",
        "`cache` is not a declared resource",
    );
    let src = format!(
        "{MINI}injections:\n  - {{ id: i, target: db, mode: network_partition, duration: 1m, injection_parameters: {{ links: [api, edge] }} }}\n"
    );
    assert_problem(
        &src,
        "injections[0].injection_parameters.links[1]",
        "`edge` is not a declared resource",
    );
}

#[test]
fn operation_references() {
    // Calls into a handler naming an operation it does not have.
    let src = "\
name: ops
resources:
  - { id: front, type: service }
  - { id: back, type: service }
handlers:
  - id: f
    runs_on: front
    operations:
      - name: go
        steps:
          - { call: back, operation: raed }
          - { call: back, operation: write }
  - id: b
    runs_on: back
    operations:
      - { name: read }
workload:
  - { handler: f, arrivals: { process: poisson, rate: 1/s } }
";
    assert_problem(
        src,
        "handlers[0].operations[0].steps[0].operation",
        "did you mean `read`?",
    );
    assert_problem(
        src,
        "handlers[0].operations[0].steps[1].operation",
        "has no operation `write`",
    );
    let src = mini_with("- call: db", "- call: db\n            operation: read");
    assert_problem(
        &src,
        "handlers[0].operations[0].steps[0].operation",
        "no handler runs on `db`",
    );
}

#[test]
fn number_ranges() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "    replicas: 2\n",
            "    replicas: 2\n    concurrency: 0\n",
            "resources[0].concurrency",
            "at least 1",
        ),
        (
            "      - name: read\n",
            "      - name: read\n        weight: 0\n",
            "handlers[0].operations[0].weight",
            "greater than 0",
        ),
        (
            "      - name: read\n",
            "      - name: read\n        weight: -2\n",
            "handlers[0].operations[0].weight",
            "greater than 0",
        ),
        (
            "max_attempts: 3",
            "max_attempts: 0",
            "handlers[0].operations[0].steps[0].retry.max_attempts",
            "at least 1",
        ),
        (
            "timeout: 100ms",
            "timeout: 0s",
            "handlers[0].operations[0].steps[0].timeout",
            "longer than 0",
        ),
        (
            "rate: 10/s",
            "rate: 0/s",
            "workload[0].arrivals.rate",
            "more than 0",
        ),
        (
            "base: 10ms }",
            "base: 10ms, max: 1ms }",
            "handlers[0].operations[0].steps[0].retry.base",
            "must not be longer than `max`",
        ),
    ];
    for (from, to, path, frag) in cases {
        assert_problem(&mini_with(from, to), path, frag);
    }
    let breaker = "            circuit_breaker: { failure_rate: 1.5, min_calls: 0, window: 0s, open_for: 0ms }\n";
    let src = mini_with(
        "            timeout: 100ms\n",
        &format!("            timeout: 100ms\n{breaker}"),
    );
    let p = "handlers[0].operations[0].steps[0].circuit_breaker";
    assert_problem(
        &src,
        &format!("{p}.failure_rate"),
        "between 0 and 1, got 1.5",
    );
    assert_problem(&src, &format!("{p}.min_calls"), "at least 1");
    assert_problem(&src, &format!("{p}.window"), "longer than 0");
    assert_problem(&src, &format!("{p}.open_for"), "longer than 0");
    let src = mini_with(
        "    runs_on: api\n",
        "    runs_on: api\n    slo: { success_rate: 99.9, latency_p99: 0s }\n",
    );
    assert_problem(&src, "handlers[0].slo.success_rate", "between 0 and 1");
    assert_problem(&src, "handlers[0].slo.latency_p99", "longer than 0");
    let src =
        format!("{MINI}dependencies:\n  - {{ from: api, to: db, network: {{ loss: -0.1 }} }}\n");
    assert_problem(&src, "dependencies[0].network.loss", "between 0 and 1");
    let src =
        format!("{MINI}risk: {{ threshold: {{ low: 0.5, medium: 0.1, high: 0.2 }}, gate: 2 }}\n");
    assert_problem(&src, "risk.gate", "between 0 and 1");
    assert_problem(&src, "risk.threshold", "thresholds must grow");
}

#[test]
fn distribution_parameters() {
    let cases = [
        (
            "{ dist: weibull, shape: 0, scale: 1h }",
            "service_time.shape",
            "between 0.001 and 1000",
        ),
        (
            "{ dist: weibull, shape: 1, scale: 0s }",
            "service_time.scale",
            "longer than 0",
        ),
        (
            "{ dist: lognormal, median: 1ms, sigma: 0 }",
            "service_time.sigma",
            "greater than 0",
        ),
        (
            "{ dist: lognormal, median: 0s, sigma: 1 }",
            "service_time.median",
            "longer than 0",
        ),
        (
            "{ dist: uniform, min: 5ms, max: 1ms }",
            "service_time.min",
            "must not be greater than `max`",
        ),
        (
            "{ dist: gamma, shape: -1, scale: 1ms }",
            "service_time.shape",
            "between 0.001 and 1000",
        ),
        (
            "{ dist: exponential, mean: 0s }",
            "service_time.mean",
            "longer than 0",
        ),
        (
            "{ dist: constant, value: 0 }",
            "service_time.value",
            "longer than 0",
        ),
        (
            "{ dist: empirical, file: f.csv, column: c, unit: weeks }",
            "service_time.unit",
            "unknown duration unit",
        ),
    ];
    for (d, path, frag) in cases {
        let src = mini_with("{ dist: constant, value: 1ms }", d);
        assert_problem(&src, &format!("resources[0].{path}"), frag);
    }
}

#[test]
fn diurnal_shape() {
    let with = |d: &str| {
        mini_with(
            "rate: 10/s }\n",
            &format!("rate: 10/s }}\n    diurnal: {d}\n"),
        )
    };
    assert_problem(&with("[1, 2]"), "workload[0].diurnal", "exactly 24 numbers");
    let zeros = format!("[{}]", vec!["0"; 24].join(", "));
    assert_problem(&with(&zeros), "workload[0].diurnal", "at least one hour");
    let mut v = vec!["1"; 24];
    v[3] = "-1";
    assert_problem(
        &with(&format!("[{}]", v.join(", "))),
        "workload[0].diurnal[3]",
        "0 or more",
    );
    let ok = format!("[{}]", vec!["0.5"; 24].join(", "));
    yaml(&with(&ok)).expect("a valid diurnal shape");
}

#[test]
fn workload_is_needed() {
    assert_problem("name: x\n", "", "nothing to simulate");
    let src = MINI
        .split("workload:")
        .next()
        .unwrap_or_default()
        .to_string();
    assert_problem(&src, "workload", "no workload");
}

#[test]
fn call_cycles() {
    let src = "\
name: cyc
resources:
  - { id: a, type: service }
  - { id: b, type: service }
handlers:
  - id: ha
    runs_on: a
    operations:
      - name: x
        steps: [ { call: b, operation: y } ]
      - name: z
        steps: []
  - id: hb
    runs_on: b
    operations:
      - name: y
        steps: [ { call: a, operation: x } ]
      - name: w
        steps: [ { call: a, operation: z } ]
workload:
  - { handler: ha, arrivals: { process: poisson, rate: 1/s } }
";
    let ps = problems(src);
    assert_eq!(
        ps.len(),
        1,
        "{}",
        LoadError {
            problems: ps.clone()
        }
    );
    assert_eq!(ps[0].path, "handlers[0].operations[0]");
    assert!(
        ps[0].message.contains(
            "handlers[ha].operations[x] → handlers[hb].operations[y] → handlers[ha].operations[x]"
        ),
        "{}",
        ps[0]
    );
    // Mutual calls through different operations are fine.
    let ok = src.replace("{ call: a, operation: x }", "{ call: a, operation: z }");
    yaml(&ok).expect("a -> b -> a through different operations is not a cycle");
    // A call without `operation:` reaches every operation of the target handler.
    let src = src.replace("{ call: a, operation: x }", "{ call: a }");
    assert_problem(&src, "handlers[0].operations[0]", "operation call cycle");
    // Calling yourself is a cycle too.
    let self_call = mini_with("- call: db", "- call: api");
    assert_problem(
        &self_call,
        "handlers[0].operations[0]",
        "handlers[h].operations[read] → handlers[h].operations[read]",
    );
}

#[test]
fn injection_parameters_must_fit_the_mode() {
    let src = format!(
        "{MINI}injections:\n  - {{ id: i, target: db, mode: latency_spike, duration: 1m, injection_parameters: {{ code: 503, added: {{ dist: constant, value: 1s }} }} }}\n"
    );
    assert_problem(
        &src,
        "injections[0].injection_parameters.code",
        "does not apply to `latency_spike`",
    );
    let src = format!(
        "{MINI}resource_failure_modes:\n  - resource_type: database\n    failure_modes:\n      - mode: disk_error\n        time_between: {{ dist: exponential, mean: 100h }}\n        repair: {{ dist: constant, value: 1m }}\n        injection_parameters: {{ error_fraction: 2, slowdown: 0.5, percent: 150 }}\n"
    );
    let p = "resource_failure_modes[0].failure_modes[0].injection_parameters";
    assert_problem(&src, &format!("{p}.error_fraction"), "between 0 and 1");
    assert_problem(&src, &format!("{p}.slowdown"), "at least 1");
    assert_problem(
        &src,
        &format!("{p}.percent"),
        "does not apply to `disk_error`",
    );
    assert_problem(&src, &format!("{p}.percent"), "between 0 and 100");
    let src = format!(
        "{MINI}injections:\n  - {{ id: i, target: db, mode: dependency_failure, duration: 1m, injection_parameters: {{ slowdown: 2 }} }}\n"
    );
    assert_problem(
        &src,
        "injections[0].injection_parameters.slowdown",
        "takes no injection parameters",
    );
    let src = format!(
        "{MINI}injections:\n  - {{ id: i, target: db, mode: process_crash, duration: 1m, injection_parameters: {{ replicas_affected: 2 }} }}\n"
    );
    assert_problem(
        &src,
        "injections[0].injection_parameters.replicas_affected",
        "has only 1",
    );
}

#[test]
fn service_path_rules() {
    let base = format!(
        "name: stream\n{}",
        include_str!("../../../sim-models/src/spec/testdata/spec_paths.yaml")
    );
    let bad = base
        .replace("{ from: n2, to: n3,", "{ from: n2, to: n9,")
        .replace(
            "sink:   { node: n3, type: video/h264-small }",
            "sink:   { node: n3, type: audio/mp3 }",
        )
        .replace("missed: 3", "missed: 0");
    assert_problem(&bad, "links[1].to", "`n9` is not a declared node");
    assert_problem(
        &bad,
        "paths[0].sink.type",
        "no chain of operators turns `video/mpeg` into `audio/mp3`",
    );
    assert_problem(&bad, "paths[0].monitoring.missed", "at least 1");
}

// ---------------------------------------------------------------------------
// Empirical distributions
// ---------------------------------------------------------------------------

#[test]
fn empirical_files_are_read_relative_to_the_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("data")).expect("mkdir");
    std::fs::write(
        dir.path().join("data/repair.csv"),
        "id,minutes\n1,2\n2,4.5\n3,\n",
    )
    .expect("csv");
    let src = mini_with(
        "{ dist: constant, value: 1ms }",
        "{ dist: empirical, file: data/repair.csv, column: minutes, unit: m }",
    );
    let f = dir.path().join("s.yaml");
    std::fs::write(&f, &src).expect("write");
    let l = load(&f).expect("load");
    let key = ("data/repair.csv".to_string(), "minutes".to_string());
    assert_eq!(l.empirical.get(&key), Some(&vec![120.0, 270.0]));

    let bad_col = src.replace("column: minutes", "column: minute");
    std::fs::write(&f, &bad_col).expect("write");
    let e = load(&f).expect_err("bad column");
    assert_eq!(e.problems[0].path, "resources[0].service_time.column");
    assert!(
        e.problems[0].message.contains("did you mean `minutes`?"),
        "{e}"
    );

    let missing = src.replace("data/repair.csv", "data/nope.csv");
    std::fs::write(&f, &missing).expect("write");
    let e = load(&f).expect_err("missing file");
    assert_eq!(e.problems[0].path, "resources[0].service_time.file");
    assert!(e.problems[0].message.contains("cannot read"), "{e}");

    std::fs::write(dir.path().join("data/repair.csv"), "minutes\n1\nfast\n").expect("csv");
    std::fs::write(&f, &src).expect("write");
    let e = load(&f).expect_err("not a number");
    assert!(e.problems[0].message.contains("`fast`"), "{e}");
}

// ---------------------------------------------------------------------------
// Variants and schema
// ---------------------------------------------------------------------------

fn variant(set: &[(&str, serde_json::Value)]) -> sim_models::spec::Variant {
    sim_models::spec::Variant {
        name: "v".into(),
        set: set
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

#[test]
fn variants_apply() {
    let base = yaml(MINI).expect("mini").scenario;
    let v = &base.variants[0];
    let s = apply_variant(&base, v).expect("two-dbs");
    assert_eq!(s.resources[1].replicas, 2);
    assert_eq!(s.resources[0], base.resources[0]);

    let v = variant(&[
        (
            "handlers[h].operations[read].steps[0].retry.max_attempts",
            1.into(),
        ),
        (
            "handlers[0].operations[0].steps[0].circuit_breaker",
            serde_json::json!(
                { "failure_rate": 0.5, "min_calls": 10, "window": "10s", "open_for": "30s" }
            ),
        ),
        ("resources[api].concurrency", 8.into()),
        ("resources[db].service_time.mean", "5ms".into()),
        ("risk.gate", 0.1.into()),
    ]);
    let s = apply_variant(&base, &v).expect("variant");
    let sim_models::spec::Step::Call(c) = &s.handlers[0].operations[0].steps[0] else {
        panic!("a call step");
    };
    assert_eq!(c.retry.as_ref().map(|r| r.max_attempts), Some(1));
    assert_eq!(c.circuit_breaker.as_ref().map(|b| b.min_calls), Some(10));
    assert_eq!(s.resources[0].concurrency, Some(8));
    assert_eq!(s.risk.gate, 0.1);
    assert_eq!(
        s.resources[1].service_time,
        Some(sim_models::spec::Distribution::Exponential {
            mean: sim_models::spec::Duration(0.005)
        })
    );
}

#[test]
fn bad_variants_are_reported() {
    let base = yaml(MINI).expect("mini").scenario;
    let cases: &[(&str, serde_json::Value, &str)] = &[
        ("resources[dbb].replicas", 2.into(), "did you mean `db`?"),
        (
            "resources[7].replicas",
            2.into(),
            "has 2 elements, so there is no [7]",
        ),
        (
            "resources[db].replicas",
            0.into(),
            "resources[1].replicas: must be at least 1, got 0",
        ),
        (
            "resources[db].replicas",
            "many".into(),
            "expected a whole number",
        ),
        (
            "resources[db].replicaz",
            2.into(),
            "did you mean `replicas`?",
        ),
        ("resources[db", 2.into(), "never closed"),
        (
            "name.first",
            2.into(),
            "is a string, it has no field `first`",
        ),
    ];
    for (expr, value, frag) in cases {
        let e = apply_variant(&base, &variant(&[(expr, value.clone())])).expect_err(expr);
        assert!(
            e.iter().any(
                |p| p.path == format!("variants[v].set.\"{expr}\"") && p.message.contains(frag)
            ),
            "{expr}: no `{frag}` in {e:?}"
        );
    }
    // Through `load`, the problem has the variant's index and the line of the `set:` entry.
    let src = MINI.replace(
        "\"resources[db].replicas\": 2",
        "\"resources[db].replicas\": 0",
    );
    let ps = problems(&src);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].path, "variants[0].set.\"resources[db].replicas\"");
    assert_eq!(ps[0].line, Some(24));
}

#[test]
fn schema_describes_the_format() {
    let schema: serde_json::Value = serde_json::from_str(&json_schema()).expect("valid JSON");
    let props = &schema["properties"];
    for key in [
        "name",
        "resources",
        "handlers",
        "workload",
        "risk",
        "variants",
        "paths",
    ] {
        assert!(props.get(key).is_some(), "no `{key}` in the schema");
    }
    let text = json_schema();
    assert!(text.contains("\"pattern\""), "units carry a pattern");
    assert!(text.contains("oneOf"), "distributions are a oneOf");
    assert!(
        text.contains("Number of replicas"),
        "doc comments become descriptions"
    );
}

#[test]
fn targets_load_and_malformed_ones_are_reported_where_they_are() {
    let good = mini_with(
        "    service_time: { dist: exponential, mean: 2ms }",
        "    service_time: { dist: exponential, mean: 2ms }
    target:
      aws: { arn: \"arn:aws:rds:eu-west-1:123456789012:db:orders\" }
      kubernetes: { namespace: shop, selector: { app: orders-db, app.kubernetes.io/part-of: shop }, container: postgres }
      http: { url: \"https://orders.shop.internal/healthz\" }
      prometheus: { selector: '{job=\"orders-db\"}' }",
    );
    let l = yaml(&good).expect("a full target is valid");
    let t = l.scenario.resources[1].target.as_ref().unwrap();
    assert_eq!(
        t.kubernetes.as_ref().unwrap().selector["app"],
        "orders-db",
        "{t:?}"
    );
    let bad = |target: &str| {
        mini_with(
            "    service_time: { dist: exponential, mean: 2ms }",
            &format!("    service_time: {{ dist: exponential, mean: 2ms }}\n    target:\n{target}"),
        )
    };
    assert_problem(
        &bad("      aws: { resource_type: \"aws:rds:db\" }"),
        "resources[1].target.aws",
        "needs `arn:` or `tags:`",
    );
    assert_problem(
        &bad("      aws: { arn: \"rds:orders\" }"),
        "resources[1].target.aws.arn",
        "expected an ARN",
    );
    assert_problem(
        &bad("      aws: { tags: { app: orders }, resource_type: ecs-task }"),
        "resources[1].target.aws.resource_type",
        "not an AWS FIS resource type",
    );
    assert_problem(
        &bad("      kubernetes: { namespace: Shop, selector: { app: orders } }"),
        "resources[1].target.kubernetes.namespace",
        "not a Kubernetes namespace name",
    );
    assert_problem(
        &bad("      kubernetes: { namespace: shop }"),
        "resources[1].target.kubernetes.selector",
        "at least one label",
    );
    assert_problem(
        &bad("      kubernetes: { selector: { app: \"-bad-\" } }"),
        "resources[1].target.kubernetes.selector.app",
        "not a Kubernetes label value",
    );
    assert_problem(
        &bad("      http: { url: \"orders.internal/healthz\" }"),
        "resources[1].target.http.url",
        "`http://` or `https://`",
    );
    assert_problem(
        &bad("      prometheus: { selector: 'job=\"orders\"' }"),
        "resources[1].target.prometheus.selector",
        "label matcher in braces",
    );
    assert_problem(
        &bad("      kubernetes: { selector: { app: x }, pod: y }"),
        "resources[1].target.kubernetes.pod",
        "unknown field",
    );
    let ps = problems(&bad("      http: { url: \"nope\" }"));
    assert_eq!((ps[0].line, ps[0].column), (Some(11), Some(15)), "{ps:?}");
}
