//! The scenario loader never panics: on random bytes, random YAML-ish text
//! and mutations of a valid scenario it returns either a scenario or
//! problems, each with a message.

use std::path::Path;

use proptest::prelude::*;
use sim_engine::scenario::{Format, LoadError, Loaded, load, load_bytes};

const VALID: &str = "\
name: fuzz
seed: 7
resources:
  - id: api
    type: load_balancer
    replicas: 2
    concurrency: 16
    service_time: { dist: lognormal, median: 2ms, sigma: 0.4 }
  - id: db
    type: database
    capacity: { cpu: 4, memory: 16GiB, iops: 3000 }
    service_time: { dist: exponential, mean: 4ms }
handlers:
  - id: h
    runs_on: api
    operations:
      - name: write
        weight: 0.7
        steps:
          - call: db
            timeout: 200ms
            retry: { max_attempts: 3, backoff: exponential, base: 50ms, max: 1s, jitter: full }
            circuit_breaker: { failure_rate: 0.5, min_calls: 20, window: 10s, open_for: 30s }
          - poll: db
            interval: 1s
            ready_after: { dist: uniform, min: 1s, max: 3s }
            timeout: 60s
      - name: read
        weight: 0.3
        steps:
          - { call: db, timeout: 100ms, fallback: cached }
    slo: { success_rate: 0.999, latency_p99: 500ms }
workload:
  - handler: h
    arrivals: { process: poisson, rate: 200/s }
resource_failure_modes:
  - resource_type: database
    failure_modes:
      - mode: latency_spike
        time_between: { dist: weibull, shape: 0.8, scale: 300h }
        repair: { dist: gamma, shape: 2, scale: 1m }
        injection_parameters: { added: { dist: constant, value: 150ms } }
injections:
  - { id: i1, target: db, mode: error_code, at: 1h, duration: 10m, injection_parameters: { code: 503, error_fraction: 0.5 } }
risk: { window: 30d, gate: 0.05 }
variants:
  - name: more
    set: { \"resources[db].replicas\": 2 }
";

fn check(result: Result<Loaded, LoadError>) {
    if let Err(e) = result {
        assert!(!e.problems.is_empty(), "an error without problems");
        for p in &e.problems {
            assert!(!p.message.trim().is_empty(), "an empty message: {p:?}");
        }
        // Display never panics either.
        let _ = e.to_string();
    }
}

fn load_as(bytes: &[u8], format: Format) {
    check(load_bytes(bytes, format, Path::new("fuzz.yaml")));
}

/// Text made of YAML's structural characters, keys and values of the format.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just(": ".to_string()),
        Just("\n".to_string()),
        Just("  ".to_string()),
        Just("- ".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(", ".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("<<: *a\n".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("#".to_string()),
        Just("---\n".to_string()),
        Just("!!str ".to_string()),
        Just("name".to_string()),
        Just("resources".to_string()),
        Just("handlers".to_string()),
        Just("operations".to_string()),
        Just("steps".to_string()),
        Just("call".to_string()),
        Just("id".to_string()),
        Just("type".to_string()),
        Just("database".to_string()),
        Just("replicas".to_string()),
        Just("dist".to_string()),
        Just("5m".to_string()),
        Just("-1".to_string()),
        Just("1e999".to_string()),
        Just(".nan".to_string()),
        Just("null".to_string()),
        Just("variants".to_string()),
        Just("set".to_string()),
        "[a-z_]{1,8}",
        "[0-9]{1,3}(ms|s|/s|GiB)?",
    ];
    proptest::collection::vec(token, 0..60).prop_map(|v| v.concat())
}

/// A valid scenario with one line deleted, duplicated, or a number swapped
/// for garbage.
fn mutated() -> impl Strategy<Value = String> {
    let lines: Vec<String> = VALID.lines().map(str::to_string).collect();
    let n = lines.len();
    let garbage = prop_oneof![
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("abc".to_string()),
        Just("1e400".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("[".to_string()),
        Just("{}".to_string()),
        Just("~".to_string()),
        Just("0.0.0".to_string()),
        Just("\"\"".to_string()),
    ];
    (0..n, 0..3u8, garbage).prop_map(move |(i, kind, g)| {
        let mut ls = lines.clone();
        match kind {
            0 => {
                ls.remove(i);
            }
            1 => {
                let l = ls[i].clone();
                ls.insert(i, l);
            }
            _ => {
                let l = &ls[i];
                let swapped = match l.find(|c: char| c.is_ascii_digit()) {
                    Some(start) => {
                        let end = l[start..]
                            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                            .map_or(l.len(), |e| start + e);
                        format!("{}{}{}", &l[..start], g, &l[end..])
                    }
                    None => format!("{l} {g}"),
                };
                ls[i] = swapped;
            }
        }
        ls.join("\n")
    })
}

/// Cases per property: 1000, or `LOADER_FUZZ_CASES` for a longer hunt.
fn cases() -> u32 {
    std::env::var("LOADER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

#[test]
fn the_valid_scenario_loads() {
    let l = load_bytes(VALID.as_bytes(), Format::Yaml, Path::new("fuzz.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.scenario.variants.len(), 1);
}

#[test]
fn load_of_a_temp_file_never_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        ("a.yaml", VALID),
        ("b.yml", "name: [\n"),
        ("c.toml", "name = 1\n[[resources]]\n"),
        ("d.json", "{\"name\": \"x\", \"resources\": 3}"),
        ("e.json", ""),
    ] {
        let f = dir.path().join(name);
        std::fs::write(&f, text).expect("write");
        check(load(&f));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        load_as(&bytes, Format::Yaml);
        load_as(&bytes, Format::Toml);
        load_as(&bytes, Format::Json);
    }

    #[test]
    fn yaml_ish_text(text in yamlish()) {
        load_as(text.as_bytes(), Format::Yaml);
        load_as(text.as_bytes(), Format::Json);
        load_as(text.as_bytes(), Format::Toml);
    }

    #[test]
    fn mutations_of_a_valid_scenario(text in mutated()) {
        load_as(text.as_bytes(), Format::Yaml);
    }

    /// One rule for the three formats: a key repeated anywhere in a JSON
    /// scenario is an error naming it (as YAML and TOML parsers do), never
    /// a silent last-wins.
    #[test]
    fn json_duplicate_keys_anywhere_are_errors(pick in any::<prop::sample::Index>()) {
        let l = load_bytes(VALID.as_bytes(), Format::Yaml, Path::new("v.yaml")).expect("valid");
        let json = serde_json::to_string_pretty(&l.scenario).expect("json");
        // Every line that starts an object member: repeat one of them.
        let lines: Vec<&str> = json.lines().collect();
        let members: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                let t = l.trim_start();
                t.starts_with('"') && t.contains("\": ") && !t.ends_with('{') && !t.ends_with('[')
            })
            .map(|(i, _)| i)
            .collect();
        let at = members[pick.index(members.len())];
        let member = lines[at].trim_end_matches(',');
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        out.insert(at, format!("{member},"));
        let text = out.join("\n");
        let key = member.trim_start().split('"').nth(1).expect("a key");
        let e = load_bytes(text.as_bytes(), Format::Json, Path::new("d.json"))
            .expect_err("a duplicate key must not load");
        prop_assert!(
            e.problems.iter().any(|p| p.message.contains(&format!("duplicate key `{key}`"))),
            "{e}"
        );
    }

    /// A non-finite number anywhere in a TOML or YAML scenario is an error
    /// naming its field, never a value read as missing.
    #[test]
    fn non_finite_numbers_anywhere_are_errors(
        pick in any::<prop::sample::Index>(),
        word in prop::sample::select(vec!["nan", "inf", "-inf", "+nan"]),
    ) {
        let l = load_bytes(VALID.as_bytes(), Format::Yaml, Path::new("v.yaml")).expect("valid");
        let toml = toml::to_string(&l.scenario).expect("toml");
        // Lines `key = <number>`: replace one number by a non-finite one.
        let lines: Vec<&str> = toml.lines().collect();
        let numeric: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                l.split_once(" = ")
                    .is_some_and(|(_, v)| v.trim().parse::<f64>().is_ok())
            })
            .map(|(i, _)| i)
            .collect();
        prop_assume!(!numeric.is_empty());
        let at = numeric[pick.index(numeric.len())];
        let key = lines[at].split_once(" = ").expect("a key").0.trim().to_string();
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        out[at] = format!("{key} = {word}");
        let text = out.join("\n");
        let e = load_bytes(text.as_bytes(), Format::Toml, Path::new("n.toml"))
            .expect_err("a non-finite number must not load");
        prop_assert!(
            e.problems.iter().any(|p| p.message.contains("not a finite number")
                && p.path.ends_with(&key)),
            "{e}"
        );
    }

    #[test]
    fn mutations_of_the_json_form(text in mutated()) {
        // The same mutation applied to the scenario's JSON form.
        if let Ok(l) = load_bytes(text.as_bytes(), Format::Yaml, Path::new("m.yaml"))
            && let Ok(json) = serde_json::to_string_pretty(&l.scenario)
        {
            load_as(json.as_bytes(), Format::Json);
            let cut = json.len() / 2;
            load_as(&json.as_bytes()[..cut], Format::Json);
        }
    }
}
