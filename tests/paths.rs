//! `preflight paths` through the binary: the bundled media scenario (table,
//! JSON, a failed node), a QoS miss, and bad input.

use serde_json::Value;

mod common;
use common::{preflight, stderr, stdout};

fn json(args: &[&str]) -> Vec<Value> {
    let o = preflight(args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("stdout is a JSON array")
}

fn by_id<'a>(rows: &'a [Value], id: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["path"] == id)
        .unwrap_or_else(|| panic!("no path {id}"))
}

#[test]
fn media_paths_validates() {
    let o = preflight(&["validate", "scenarios/media-paths.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn media_paths_table() {
    let o = preflight(&["paths", "scenarios/media-paths.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "path mobile-video: video/mpeg at camera → video/h264-small at mobile-pop",
        "1. transcode → downscale",
        "2. decode → encode_small",
        "3. transcode_small",
        "transcode  on edge-a",
        "camera → edge-a",
        "(max_delay 60 ms: met)",
        "QoS met.",
    ] {
        assert!(out.contains(want), "no `{want}` in\n{out}");
    }
}

#[test]
fn media_paths_json() {
    let rows = json(&["paths", "scenarios/media-paths.yaml", "--json"]);
    assert_eq!(rows.len(), 3);
    let video = by_id(&rows, "mobile-video");
    let comps = video["compositions"].as_array().unwrap();
    assert_eq!(comps.len(), 3, "three compositions, k = 3");
    assert_eq!(
        comps[0]["operators"],
        serde_json::json!(["transcode", "downscale"])
    );
    assert_eq!(
        comps[1]["operators"],
        serde_json::json!(["decode", "encode_small"])
    );
    let costs: Vec<f64> = comps.iter().map(|c| c["cost"].as_f64().unwrap()).collect();
    assert!(
        costs.windows(2).all(|w| w[0] <= w[1]),
        "cheapest first: {costs:?}"
    );
    assert_eq!(video["qos_met"], true);
    let p = &video["placement"];
    assert_eq!(p["composition"], 1);
    let delay = p["delay_ms"].as_f64().unwrap();
    assert!(delay <= 60.0, "{delay}");
    // Delay = links + service, and the links are the hops' delays.
    let hops: f64 = p["route"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|leg| leg["hops"].as_array().unwrap())
        .map(|h| h["delay_ms"].as_f64().unwrap())
        .sum();
    assert!((hops - p["link_delay_ms"].as_f64().unwrap()).abs() < 1e-6);
    assert!((delay - hops - p["service_ms"].as_f64().unwrap()).abs() < 1e-6);
    // -k limits the list.
    let one = json(&["paths", "scenarios/media-paths.yaml", "--json", "-k", "1"]);
    assert_eq!(
        by_id(&one, "mobile-video")["compositions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_node_down_moves_the_operators() {
    let rows = json(&[
        "paths",
        "scenarios/media-paths.yaml",
        "--json",
        "--down",
        "edge-a",
    ]);
    let video = by_id(&rows, "mobile-video");
    let nodes: Vec<&str> = video["placement"]["operators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["node"].as_str().unwrap())
        .collect();
    assert!(!nodes.contains(&"edge-a"), "{nodes:?}");
    let rows = json(&[
        "paths",
        "scenarios/media-paths.yaml",
        "--json",
        "--down",
        "core",
    ]);
    let archive = by_id(&rows, "archive");
    assert_eq!(archive["qos_met"], false);
    assert_eq!(archive["error"], "the sink node `core` is down");
}

#[test]
fn a_qos_miss_says_by_how_much() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/media-paths.yaml"),
    )
    .unwrap();
    let tight = src.replace("max_delay: 60ms", "max_delay: 20ms");
    assert_ne!(tight, src);
    let file = dir.path().join("tight.yaml");
    std::fs::write(&file, tight).unwrap();
    let file = file.to_str().unwrap();
    let o = preflight(&["paths", file]);
    assert_eq!(o.status.code(), Some(0), "advisory: {}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("no placement meets the QoS: the best placement has delay"),
        "{out}"
    );
    let rows = json(&["paths", file, "--json"]);
    let video = by_id(&rows, "mobile-video");
    assert_eq!(video["qos_met"], false);
    assert!(video["placement"].is_null());
    let miss = &video["miss"];
    let best = miss["best"]["delay_ms"].as_f64().unwrap();
    let over = miss["delay_over_ms"].as_f64().unwrap();
    assert!((best - 20.0 - over).abs() < 1e-6, "{miss}");
    assert!(over > 0.0);
}

#[test]
fn bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "name: bad
operators:
  - { id: t, input: a, output: b, cost: 1, cpu: 1, service_time: { dist: constant, value: 1ms } }
nodes:
  - { id: n1, cpu: 4 }
  - { id: n2, cpu: 4 }
links:
  - { from: n1, to: n2, delay: 1ms }
paths:
  - { id: p, source: { node: n1, type: a }, sink: { node: n2, type: c }, adu_rate: 1/s }
",
    )
    .unwrap();
    let o = preflight(&["paths", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("paths[0].sink.type"), "{err}");
    assert!(
        err.contains("the types reachable from `a` are `a`, `b`, and `c` is not among them"),
        "{err}"
    );
    assert!(stdout(&o).is_empty());
    let o = preflight(&["paths", "scenarios/media-paths.yaml", "--down", "nowhere"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--down nowhere: not a node"),
        "{}",
        stderr(&o)
    );
    let o = preflight(&["paths", "no/such/file.yaml"]);
    assert_eq!(o.status.code(), Some(2));
}

/// The columns of `paths.parquet` the test looks at, in file order.
struct PathRows {
    variant: Vec<String>,
    campaign: Vec<u64>,
    path: Vec<String>,
    sent: Vec<u64>,
    delivered: Vec<u64>,
    lost: Vec<u64>,
    availability: Vec<f64>,
}

fn read_paths(file: &std::path::Path) -> PathRows {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, Int64Type};
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(file).expect("paths.parquet opens"),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut rows = PathRows {
        variant: Vec::new(),
        campaign: Vec::new(),
        path: Vec::new(),
        sent: Vec::new(),
        delivered: Vec::new(),
        lost: Vec::new(),
        availability: Vec::new(),
    };
    for batch in reader {
        let b = batch.unwrap();
        let s = |name: &str| -> Vec<String> {
            let c = b.column_by_name(name).unwrap().as_string::<i32>();
            (0..c.len()).map(|i| c.value(i).to_owned()).collect()
        };
        let u = |name: &str| -> Vec<u64> {
            let c = b.column_by_name(name).unwrap();
            c.as_primitive::<Int64Type>()
                .values()
                .iter()
                .map(|&v| v as u64)
                .collect()
        };
        rows.variant.extend(s("variant"));
        rows.path.extend(s("path"));
        rows.campaign.extend(u("campaign"));
        rows.sent.extend(u("adus_sent"));
        rows.delivered.extend(u("adus_delivered"));
        rows.lost.extend(u("adus_lost"));
        let a = b.column_by_name("availability").unwrap();
        rows.availability
            .extend(a.as_primitive::<Float64Type>().values().iter().copied());
    }
    rows
}

/// `preflight run` on the media scenario: a paths-only scenario runs path
/// campaigns alone and writes one `paths.parquet` row per campaign × path,
/// the same bytes for 1 and 2 threads. (The bundled file, 12-hour
/// campaigns, is run as it is, base variant only.)
#[test]
fn run_simulates_the_media_paths() {
    let file = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/media-paths.yaml"
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.path().join(format!("run-{threads}"));
        let o = preflight(&[
            "run",
            file.to_str().unwrap(),
            "--campaigns",
            "4",
            "--variant",
            "base",
            "--threads",
            threads,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(
            text.contains("service paths (4 campaigns of 12h each)"),
            "{text}"
        );
        for id in ["mobile-video", "mobile-audio", "archive"] {
            assert!(text.contains(id), "{text}");
        }
        assert!(!stderr(&o).contains("not simulated"), "{}", stderr(&o));

        let rows = read_paths(&out.join("paths.parquet"));
        assert_eq!(rows.path.len(), 4 * 3);
        assert!(rows.variant.iter().all(|v| v == "base"));
        let want_paths: Vec<&str> = (0..4)
            .flat_map(|_| ["mobile-video", "mobile-audio", "archive"])
            .collect();
        assert_eq!(rows.path, want_paths);
        assert_eq!(
            rows.campaign,
            (0..4u64).flat_map(|c| [c; 3]).collect::<Vec<_>>()
        );
        for i in 0..rows.path.len() {
            // 30 to 50 ADU/s over 12 hours.
            assert!(rows.sent[i] > 1_000_000, "row {i}: {}", rows.sent[i]);
            assert!(rows.delivered[i] + rows.lost[i] <= rows.sent[i], "row {i}");
            assert!(rows.delivered[i] > rows.sent[i] / 2, "row {i}");
            assert!((0.0..=1.0).contains(&rows.availability[i]), "row {i}");
        }
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["row_counts"]["paths"], 12);
        assert_eq!(
            manifest["row_counts"]["campaigns"], 0,
            "no handler campaign"
        );
        assert_eq!(manifest["paths"]["summary"].as_array().unwrap().len(), 3);
        bytes.push(std::fs::read(out.join("paths.parquet")).unwrap());
    }
    assert!(
        bytes[0] == bytes[1],
        "paths.parquet depends on the thread count"
    );
}

/// A scenario with a workload and service paths runs both kinds of
/// campaigns: `campaigns.parquet` and `paths.parquet` both get rows.
#[test]
fn run_with_a_workload_and_paths_runs_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("both.yaml");
    std::fs::write(
        &file,
        "name: both
horizon: 200s
resources:
  - { id: server, type: service, concurrency: 1, service_time: { dist: exponential, mean: 1ms }, failure_modes: [] }
handlers:
  - { id: h, runs_on: server, operations: [ { name: op, steps: [] } ] }
workload:
  - { handler: h, arrivals: { process: poisson, rate: 50/s } }
operators:
  - { id: zip, input: raw, output: gz, cost: 1, cpu: 1, service_time: { dist: constant, value: 2ms } }
nodes:
  - { id: a, cpu: 2 }
  - { id: b, cpu: 2 }
links:
  - { from: a, to: b, delay: 5ms }
paths:
  - { id: p, source: { node: a, type: raw }, sink: { node: b, type: gz }, adu_rate: 10/s }
",
    )
    .unwrap();
    let out = dir.path().join("run");
    let o = preflight(&[
        "run",
        file.to_str().unwrap(),
        "--campaigns",
        "3",
        "--no-remediate",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("service paths (3 campaigns of 200s each)"),
        "{text}"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["row_counts"]["campaigns"], 3, "{manifest}");
    assert_eq!(manifest["row_counts"]["paths"], 3, "{manifest}");
    let rows = read_paths(&out.join("paths.parquet"));
    assert_eq!(rows.path, ["p", "p", "p"]);
    assert_eq!(rows.campaign, [0, 1, 2]);
    for i in 0..3 {
        // 10 ADU/s over 200 s, no loss, no failure.
        assert!((1_700..2_300).contains(&rows.sent[i]), "{}", rows.sent[i]);
        assert_eq!(rows.lost[i], 0);
        assert_eq!(rows.availability[i], 1.0);
    }
}
