//! What the Kubernetes formats share: the pods a resource runs as (its
//! `target.kubernetes`, or a placeholder), the Chaos Mesh spec of a
//! scenario's fault (Chaos Mesh and Chaos Toolkit both create it), and the
//! HTTP endpoint a status check watches.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sim_engine::error::Error;

use crate::select::Chosen;
use crate::{Ctx, Files, whole_ms, whole_percent};

/// The pods of a resource.
#[derive(Debug, Clone)]
pub struct Pods {
    /// Their namespace.
    pub namespace: String,
    /// Their labels.
    pub selector: BTreeMap<String, String>,
    /// The container a fault acts on, when known.
    pub container: Option<String>,
}

impl Pods {
    /// `app=orders-db,tier=db`.
    pub fn label_selector(&self) -> String {
        self.selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Chaos Mesh's `selector`.
    pub fn chaos_mesh_selector(&self) -> Value {
        json!({ "namespaces": [self.namespace], "labelSelectors": self.selector })
    }
}

/// The pods of `resource`, or a placeholder (noted) when its `target:` has
/// no `kubernetes:`.
pub fn pods(ctx: &Ctx<'_>, files: &mut Files, resource: &str) -> Result<Pods, Error> {
    if let Some(k) = ctx.run.target(resource).and_then(|t| t.kubernetes.as_ref()) {
        return Ok(Pods {
            namespace: k.namespace.clone().unwrap_or_else(|| "default".into()),
            selector: k.selector.clone(),
            container: k.container.clone(),
        });
    }
    ctx.placeholder(
        files,
        format!(
            "resource `{resource}` has no `target.kubernetes`: its pods are written as namespace `default`, label `app: REPLACE-ME-{resource}`; set `resources[{resource}].target.kubernetes` (namespace, selector, container) and export again"
        ),
    )?;
    Ok(Pods {
        namespace: "default".into(),
        selector: [("app".to_owned(), format!("REPLACE-ME-{resource}"))].into(),
        container: None,
    })
}

/// A Chaos Mesh fault: its kind and spec (without `duration`).
#[derive(Debug, Clone)]
pub struct ChaosSpec {
    /// `NetworkChaos`, `PodChaos`, `StressChaos`, `HTTPChaos`.
    pub kind: &'static str,
    /// The plural of the kind's resource (`networkchaos`).
    pub plural: &'static str,
    /// The Workflow template's field for it (`networkChaos`).
    pub template_field: &'static str,
    /// `spec` without `duration`.
    pub spec: Value,
    /// What it does, in words (`NetworkChaos delay`).
    pub action: String,
    /// A verb phrase for names (`add-170ms-latency`).
    pub step: String,
}

/// The Chaos Mesh fault of scenario `c` on `pods`, or why there is none.
/// Magnitudes are rounded down.
pub fn chaos_spec(c: &Chosen, pods: &Pods) -> Result<ChaosSpec, String> {
    let p = &c.row;
    let mode = if p.replicas == "all" { "all" } else { "one" };
    let base = |extra: Value| {
        let mut spec = json!({ "mode": mode, "selector": pods.chaos_mesh_selector() });
        if let (Value::Object(m), Value::Object(e)) = (&mut spec, extra) {
            m.extend(e);
        }
        spec
    };
    match p.failure_mode.as_str() {
        "process_crash" => Ok(ChaosSpec {
            kind: "PodChaos",
            plural: "podchaos",
            template_field: "podChaos",
            spec: base(json!({ "action": "pod-failure" })),
            action: "PodChaos pod-failure".into(),
            step: "fail-pods".into(),
        }),
        "latency_spike" | "network_latency" => {
            let ms = p
                .added_latency_ms
                .map(whole_ms)
                .filter(|ms| *ms > 0)
                .ok_or("the added latency is under 1 ms (or unknown) in scenarios.parquet")?;
            Ok(ChaosSpec {
                kind: "NetworkChaos",
                plural: "networkchaos",
                template_field: "networkChaos",
                spec: base(json!({
                    "action": "delay",
                    "direction": "to",
                    "delay": { "latency": format!("{ms}ms"), "jitter": "0ms" },
                })),
                action: "NetworkChaos delay".into(),
                step: format!("add-{ms}ms-latency"),
            })
        }
        "network_partition" | "dependency_failure" => Ok(ChaosSpec {
            kind: "NetworkChaos",
            plural: "networkchaos",
            template_field: "networkChaos",
            spec: base(json!({
                "action": "loss",
                "direction": "to",
                "loss": { "loss": "100", "correlation": "0" },
            })),
            action: "NetworkChaos loss 100%".into(),
            step: "drop-all-traffic".into(),
        }),
        "error_code" => {
            let fraction = p.error_fraction.unwrap_or(1.0);
            if whole_percent(fraction) < 100 {
                return Err(format!(
                    "HTTPChaos cannot fail a fraction of requests: it would fail all of them, more than the simulated {fraction}"
                ));
            }
            let code = p.status_code.unwrap_or(500);
            Ok(ChaosSpec {
                kind: "HTTPChaos",
                plural: "httpchaos",
                template_field: "httpChaos",
                spec: base(json!({
                    "target": "Response",
                    "path": "*",
                    "replace": { "code": code },
                })),
                action: format!("HTTPChaos replace code {code}"),
                step: format!("answer-{code}"),
            })
        }
        "cpu_throttle" => {
            let load = p
                .slowdown
                .filter(|s| *s > 1.0)
                .map(|s| whole_percent(1.0 - 1.0 / s))
                .filter(|l| *l > 0)
                .ok_or("the slowdown is unknown or under 1% in scenarios.parquet")?;
            let mut spec = base(json!({
                "stressors": { "cpu": { "workers": 1, "load": load } },
            }));
            container_names(&mut spec, pods);
            Ok(ChaosSpec {
                kind: "StressChaos",
                plural: "stresschaos",
                template_field: "stressChaos",
                spec,
                action: format!("StressChaos cpu load {load}%"),
                step: format!("load-cpu-{load}pct"),
            })
        }
        "memory_starvation" => {
            let pct = p
                .concurrency_lost_percent
                .map(|x| whole_percent(x / 100.0))
                .filter(|x| *x > 0)
                .ok_or("the share of memory taken is unknown in scenarios.parquet")?;
            let mut spec = base(json!({
                "stressors": { "memory": { "workers": 1, "size": format!("{pct}%") } },
            }));
            container_names(&mut spec, pods);
            Ok(ChaosSpec {
                kind: "StressChaos",
                plural: "stresschaos",
                template_field: "stressChaos",
                spec,
                action: format!("StressChaos memory {pct}%"),
                step: format!("take-{pct}pct-memory"),
            })
        }
        "disk_error" | "disk_io_starvation" => Err(
            "Chaos Mesh's IOChaos needs the mount path of the volume (volumePath), which `target.kubernetes` does not give".into(),
        ),
        other => Err(format!("no Chaos Mesh action for failure mode `{other}`")),
    }
}

fn container_names(spec: &mut Value, pods: &Pods) {
    if let (Value::Object(m), Some(c)) = (spec, &pods.container) {
        m.insert("containerNames".into(), json!([c]));
    }
}

/// The URL a status check or HTTP probe watches: the health endpoint of
/// the workload's entry point (a handler's resource), else of the target;
/// a placeholder (noted) when the scenario gives none.
pub fn health_url(ctx: &Ctx<'_>, files: &mut Files, target: &str) -> Result<String, Error> {
    let run = ctx.run;
    let from = run
        .handlers
        .iter()
        .map(|h| h.runs_on.as_str())
        .chain([target])
        .find_map(|r| {
            run.target(r)
                .and_then(|t| t.http.as_ref())
                .map(|h| h.url.clone())
        });
    if let Some(url) = from {
        return Ok(url);
    }
    ctx.placeholder(
        files,
        format!(
            "no `target.http.url` on the workload's resources or on `{target}`: the health check is written as http://REPLACE-ME.invalid/healthz"
        ),
    )?;
    Ok("http://REPLACE-ME.invalid/healthz".into())
}

/// Common metadata of an exported object.
pub fn metadata(ctx: &Ctx<'_>, c: &Chosen, name: &str, ns: &str, extra: Value) -> Value {
    let mut annotations = json!({
        "preflight/run": ctx.provenance.run_manifest,
        "preflight/rank": c.row.rank.to_string(),
    });
    if let (Value::Object(a), Value::Object(e)) = (&mut annotations, extra) {
        a.extend(e);
    }
    json!({
        "name": name,
        "namespace": ns,
        "labels": {
            "app.kubernetes.io/managed-by": "preflight",
            "preflight/scenario": crate::k8s_name(&c.row.scenario_id),
        },
        "annotations": annotations,
    })
}
