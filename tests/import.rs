//! `preflight import` (docs/importers.md) against real templates,
//! manifests and Compose files (tests/fixtures/import/, with their
//! sources): the contract's check values, JSON and YAML forms giving one
//! graph, the Online Boutique manifest's edges against the edges read from
//! its source, skeletons that validate and run, `analyze` on a template,
//! and bad input.

use std::collections::BTreeSet;
use std::path::Path;

mod common;
use common::{preflight, stderr, stdout, write};

const FIX: &str = "tests/fixtures/import";

fn graph(files: &[&str]) -> serde_json::Value {
    let mut args = vec!["import"];
    args.extend(files);
    args.extend(["--graph", "--json"]);
    let o = preflight(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn edges(g: &serde_json::Value) -> BTreeSet<(String, String)> {
    g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_owned(),
                e["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn cloudformation_check_values_in_json_and_yaml() {
    for (stem, resources, n_edges) in [
        ("Solutions_WebApp_webapp", 42, 57),
        ("EKS_template", 36, 55),
        ("RDS_RDS_MySQL_With_Read_Replica", 4, 3),
    ] {
        let json = graph(&[&format!("{FIX}/cloudformation/{stem}.json")]);
        let yaml = graph(&[&format!("{FIX}/cloudformation/{stem}.yaml")]);
        assert_eq!(json["nodes"].as_array().unwrap().len(), resources, "{stem}");
        assert_eq!(edges(&json).len(), n_edges, "{stem}");
        assert_eq!(edges(&json), edges(&yaml), "{stem}: JSON and YAML differ");
        let kinds = |g: &serde_json::Value| -> Vec<(String, String)> {
            g["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| {
                    (
                        n["id"].as_str().unwrap().into(),
                        n["kind"].as_str().unwrap().into(),
                    )
                })
                .collect()
        };
        assert_eq!(kinds(&json), kinds(&yaml), "{stem}");
    }
    // Every edge says where it came from.
    let g = graph(&[&format!(
        "{FIX}/cloudformation/Solutions_WebApp_webapp.yaml"
    )]);
    let vias: BTreeSet<&str> = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["evidence"].as_array().unwrap())
        .map(|v| v["via"].as_str().unwrap())
        .collect();
    for via in ["Ref", "Fn::GetAtt", "Fn::Sub", "DependsOn"] {
        assert!(vias.contains(via), "no {via} evidence: {vias:?}");
    }
}

#[test]
fn kubernetes_edges_match_the_call_graph_read_from_the_source() {
    let g = graph(&[&format!("{FIX}/kubernetes/online-boutique.yaml")]);
    let deployments: BTreeSet<String> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "Deployment")
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(deployments.len(), 12);
    // Workload → Service (env) → workload (selector).
    let e = edges(&g);
    let mut calls = BTreeSet::new();
    for (from, svc) in &e {
        if deployments.contains(from) && svc.starts_with("service/") {
            for (s, to) in &e {
                if s == svc && deployments.contains(to) {
                    calls.insert((from.clone(), to.clone()));
                }
            }
        }
    }
    let csv = std::fs::read_to_string(format!("{FIX}/graphs/online_boutique_edges.csv")).unwrap();
    let expected: BTreeSet<(String, String)> = csv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((f.next()?.to_owned(), f.next()?.to_owned()))
        })
        .collect();
    let missing: Vec<_> = expected.difference(&calls).collect();
    let extra: Vec<_> = calls.difference(&expected).collect();
    assert!(
        extra.is_empty(),
        "edges the source does not have: {extra:?}"
    );
    // The one edge the manifest cannot show: to a service it does not deploy.
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(!deployments.contains(&missing[0].1), "{missing:?}");
}

#[test]
fn compose_depends_on_check_values() {
    for (file, services, n) in [
        ("socialnetwork-docker-compose.yml", 27, 19),
        ("hotelreservation-docker-compose.yml", 24, 22),
    ] {
        let g = graph(&[&format!("{FIX}/compose/{file}")]);
        assert_eq!(g["nodes"].as_array().unwrap().len(), services, "{file}");
        let depends = g["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v["via"] == "depends_on")
            })
            .count();
        assert_eq!(depends, n, "{file}");
    }
}

#[test]
fn skeletons_validate_and_run_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    for input in [
        "cloudformation/Solutions_WebApp_webapp.yaml",
        "cloudformation/EKS_template.json",
        "cloudformation/RDS_RDS_MySQL_With_Read_Replica.yaml",
        "cloudformation/VPC_VPC_With_Managed_NAT_And_Private_Subnet.yaml",
        "kubernetes/online-boutique.yaml",
        "compose/socialnetwork-docker-compose.yml",
        "graphs/deathstarbench_socialnetwork_edges.csv",
    ] {
        let out = tmp.path().join("s.yaml");
        let _ = std::fs::remove_file(&out);
        let o = preflight(&[
            "import",
            &format!("{FIX}/{input}"),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{input}: {}", stderr(&o));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("# guess"), "{input}");
        let o = preflight(&["validate", out.to_str().unwrap()]);
        assert!(o.status.success(), "{input}: {}\n{text}", stderr(&o));
        let run = tmp.path().join("run");
        let o = preflight(&[
            "run",
            out.to_str().unwrap(),
            "--campaigns",
            "2",
            "--quiet",
            "--out",
            run.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{input}: {}\n{text}", stderr(&o));
    }
    // Kubernetes: targets from the manifest; the social network's real
    // cycle (user ↔ social-graph) is broken and said.
    let out = tmp.path().join("ob.yaml");
    let o = preflight(&[
        "import",
        &format!("{FIX}/kubernetes/online-boutique.yaml"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains(r#"{"kubernetes":{"namespace":"default","selector":{"app":"redis-cart"},"container":"redis"}}"#),
        "{text}"
    );
    assert!(text.contains("type: cache"), "redis is a cache: {text}");
    let o = preflight(&[
        "import",
        &format!("{FIX}/graphs/deathstarbench_socialnetwork_edges.csv"),
    ]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("closes a cycle of calls"),
        "{}",
        stdout(&o)
    );
    // An existing file an import did not write is not replaced.
    let mine = write(tmp.path(), "mine.yaml", "name: mine\n");
    let o = preflight(&[
        "import",
        &format!("{FIX}/kubernetes/online-boutique.yaml"),
        "--out",
        mine.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "name: mine\n");
}

#[test]
fn analyze_reads_a_template_by_importing_it_first() {
    let o = preflight(&[
        "analyze",
        &format!("{FIX}/cloudformation/RDS_RDS_MySQL_With_Read_Replica.yaml"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("imported first"), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("MainDB (AWS::RDS::DBInstance")
            && stdout(&o).contains("without MultiAZ"),
        "{}",
        stdout(&o)
    );
    let o = preflight(&[
        "analyze",
        &format!("{FIX}/cloudformation/EKS_template.yaml"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("resources[NATGateway1]"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_inputs_are_clear_errors_or_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |name: &str, text: &str| write(tmp.path(), name, text);
    let run = |p: &Path| preflight(&["import", p.to_str().unwrap(), "--graph"]);
    let missing = t(
        "missing.yaml",
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Web:\n    Type: AWS::EC2::Instance\n    Properties:\n      SubnetId: !Ref Nowhere\n",
    );
    let o = run(&missing);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("missing.yaml:6: Resources.Web.Properties.SubnetId: `Ref` names `Nowhere`"),
        "{}",
        stderr(&o)
    );
    let cyclic = t(
        "cyclic.json",
        r#"{"Resources": {"A": {"Type": "AWS::SQS::Queue", "DependsOn": "B"},
                          "B": {"Type": "AWS::SQS::Queue", "DependsOn": ["A"]}}}"#,
    );
    let o = run(&cyclic);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("a cycle of DependsOn: A → B → A"),
        "{}",
        stderr(&o)
    );
    let odd = t(
        "odd.yaml",
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Frobnicate x\n  C:\n    Type: Custom::Thing\n    Properties:\n      Q: !GetAtt Q.Arn\n",
    );
    let o = run(&odd);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unknown intrinsic function `!Frobnicate`"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("`Custom::Thing` is not one Preflight knows: kept as a `service`"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("C → Q"), "{}", stdout(&o));
    let k8s = t(
        "k.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { selector: { app: web } }\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\nspec: { template: { metadata: { labels: { app: web } }, spec: { containers: [ { name: w, image: nginx } ] } } }\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }\n",
    );
    let o = run(&k8s);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("k.yaml:11: a Kubernetes `Widget` (w) is not a kind Preflight reads"),
        "{}",
        stderr(&o)
    );
    let compose = t(
        "compose.yml",
        "services:\n  web:\n    image: nginx\n    depends_on: [db]\n",
    );
    let o = run(&compose);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("compose.yml:4: services.web.depends_on: `db` is not a service of this file"),
        "{}",
        stderr(&o)
    );
    let neither = t("n.yaml", "just: text\n");
    let o = run(&neither);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("give --from"), "{}", stderr(&o));
    let bomb = t(
        "bomb.yaml",
        "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nResources: {}\n",
    );
    let o = run(&bomb);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("nodes once aliases are expanded"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn several_files_merge_by_name() {
    let g = graph(&[
        &format!("{FIX}/kubernetes/online-boutique.yaml"),
        &format!("{FIX}/graphs/online_boutique_edges.csv"),
    ]);
    let e = edges(&g);
    // The tracing graph's direct edges join the manifest's nodes.
    assert!(
        e.contains(&("frontend".into(), "cartservice".into())),
        "{e:?}"
    );
    assert!(e.contains(&("frontend".into(), "service/cartservice".into())));
    let frontend = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "frontend")
        .unwrap();
    assert_eq!(
        frontend["kind"], "Deployment",
        "the manifest's node, not a new one"
    );
}

#[test]
fn tracing_graphs_jaeger_and_edge_csvs() {
    let tmp = tempfile::tempdir().unwrap();
    let jaeger = write(
        tmp.path(),
        "deps.json",
        r#"{"data": [{"parent": "frontend", "child": "cart", "callCount": 1200},
                     {"parent": "cart", "child": "redis", "callCount": 1100}]}"#,
    );
    let o = preflight(&["import", jaeger.to_str().unwrap(), "--graph", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("read as jaeger (inferred"),
        "{}",
        stderr(&o)
    );
    let g: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(edges(&g).len(), 2);
    let csv = write(
        tmp.path(),
        "e.csv",
        "caller,callee,calls_per_s\nweb,api,120\napi,db,300.5\n",
    );
    let g = graph(&[csv.to_str().unwrap()]);
    let rates: Vec<f64> = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["calls_per_s"].as_f64().unwrap())
        .collect();
    assert_eq!(rates, vec![300.5, 120.0]);
    let bad = write(
        tmp.path(),
        "b.csv",
        "caller,callee,calls_per_s\nweb,api,lots\n",
    );
    let o = preflight(&["import", bad.to_str().unwrap(), "--graph"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("b.csv:2: calls_per_s `lots` is not a number"),
        "{}",
        stderr(&o)
    );
}
