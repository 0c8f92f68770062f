//! `preflight paths` through the binary: the bundled media scenario (table,
//! JSON, a failed node), a QoS miss, and bad input.

use std::process::{Command, Output};

use serde_json::Value;

fn preflight(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("UTF-8")
}

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
