//! `--format litmus`: a `ChaosEngine` per scenario running the Litmus fault
//! nearest its failure mode, with `promProbe`s at the abort thresholds
//! (stop on failure) and an `httpProbe` on the workload's health endpoint.

use serde_json::{Value, json};
use sim_engine::error::Error;

use crate::k8s::{Pods, health_url, metadata, pods};
use crate::prometheus::series;
use crate::select::{Chosen, Selection};
use crate::{
    Ctx, Files, Mapped, comment, exact, k8s_name, whole_ms, whole_percent, whole_seconds, yaml,
};

/// Status codes `pod-http-status-code` takes (its fault definition).
const HTTP_CODES: [i32; 19] = [
    200, 201, 202, 204, 300, 301, 302, 304, 307, 400, 401, 403, 404, 500, 501, 502, 503, 504, 0,
];

/// An experiment's environment: `(name, value)`.
type Env = Vec<(String, String)>;

/// The Litmus experiment of a scenario and its environment, or why none.
fn experiment(
    c: &Chosen,
    pods: &Pods,
    ctx: &Ctx<'_>,
    files: &mut Files,
) -> Mapped<(&'static str, Env)> {
    let p = &c.row;
    let secs = whole_seconds(p.duration_s);
    if secs == 0 {
        return Ok(Err("its duration is under a second".into()));
    }
    let mut env: Vec<(String, String)> = vec![("TOTAL_CHAOS_DURATION".into(), secs.to_string())];
    // 0 = one pod (the fault definitions' default), 100 = all.
    let affected = if p.replicas == "all" { "100" } else { "0" };
    let name = match p.failure_mode.as_str() {
        "process_crash" => {
            env.push(("CHAOS_INTERVAL".into(), secs.to_string()));
            env.push(("FORCE".into(), "false".into()));
            "pod-delete"
        }
        "latency_spike" | "network_latency" => {
            let Some(ms) = p.added_latency_ms.map(whole_ms).filter(|ms| *ms > 0) else {
                return Ok(Err(
                    "the added latency is under 1 ms (or unknown) in scenarios.parquet".into(),
                ));
            };
            env.push(("NETWORK_LATENCY".into(), ms.to_string()));
            env.push(("JITTER".into(), "0".into()));
            "pod-network-latency"
        }
        "network_partition" | "dependency_failure" => {
            env.push(("NETWORK_PACKET_LOSS_PERCENTAGE".into(), "100".into()));
            "pod-network-loss"
        }
        "cpu_throttle" => {
            let Some(load) = p
                .slowdown
                .filter(|s| *s > 1.0)
                .map(|s| whole_percent(1.0 - 1.0 / s))
                .filter(|l| *l > 0)
            else {
                return Ok(Err(
                    "the slowdown is unknown or under 1% in scenarios.parquet".into(),
                ));
            };
            env.push(("CPU_CORES".into(), "0".into()));
            env.push(("CPU_LOAD".into(), load.to_string()));
            "pod-cpu-hog"
        }
        "error_code" => {
            let code = p.status_code.unwrap_or(500);
            if code == 0 || !HTTP_CODES.contains(&code) {
                return Ok(Err(format!(
                    "pod-http-status-code cannot answer {code} (it takes 200–504 from a fixed list)"
                )));
            }
            let toxicity = whole_percent(p.error_fraction.unwrap_or(1.0));
            if toxicity == 0 {
                return Ok(Err("the error fraction is under 1%".into()));
            }
            ctx.placeholder(
                files,
                format!(
                    "pod-http-status-code needs the port `{}` serves HTTP on: written as TARGET_SERVICE_PORT REPLACE-ME",
                    p.target
                ),
            )?;
            env.push(("STATUS_CODE".into(), code.to_string()));
            env.push(("TOXICITY".into(), toxicity.to_string()));
            env.push(("MODIFY_RESPONSE_BODY".into(), "false".into()));
            env.push(("TARGET_SERVICE_PORT".into(), "REPLACE-ME".into()));
            "pod-http-status-code"
        }
        "memory_starvation" => {
            return Ok(Err(
                "pod-memory-hog takes mebibytes and the scenario gives a share of the memory (the container's limit is unknown)".into(),
            ));
        }
        "disk_error" => {
            return Ok(Err(
                "Litmus has no fault that fails a fraction of disk I/O".into()
            ));
        }
        "disk_io_starvation" => {
            return Ok(Err(
                "pod-io-stress fills the filesystem with writers; it does not slow I/O by a factor"
                    .into(),
            ));
        }
        other => return Ok(Err(format!("no Litmus fault for failure mode `{other}`"))),
    };
    if let Some(container) = &pods.container {
        env.push(("TARGET_CONTAINER".into(), container.clone()));
    }
    env.push(("PODS_AFFECTED_PERC".into(), affected.into()));
    Ok(Ok((name, env)))
}

fn run_properties(timeout: &str, interval: &str, attempt: u32, stop: bool) -> Value {
    let mut v = json!({
        "probeTimeout": timeout,
        "interval": interval,
        "probePollingInterval": interval,
        "attempt": attempt,
    });
    if stop && let Value::Object(m) = &mut v {
        m.insert("stopOnFailure".into(), json!(true));
    }
    v
}

pub(crate) fn files(ctx: &Ctx<'_>, sel: &Selection) -> Result<Files, Error> {
    let mut files = Files::default();
    let series = series(ctx, &mut files)?;
    for c in &sel.chosen {
        let p = &c.row;
        let id = &p.scenario_id;
        let pods = pods(ctx, &mut files, &p.target)?;
        let (experiment, env) = match experiment(c, &pods, ctx, &mut files)? {
            Ok(e) => e,
            Err(why) => {
                files.skipped.push((id.clone(), why));
                continue;
            }
        };
        let url = health_url(ctx, &mut files, &p.target)?;
        let mut probes = Vec::new();
        for s in &series {
            if c.abort_error_rate.usable() {
                probes.push(json!({
                    "name": format!("{}-error-rate-below-abort", k8s_name(&s.handler)),
                    "type": "promProbe",
                    "mode": "Continuous",
                    "promProbe/inputs": {
                        "endpoint": ctx.opts.metrics.prometheus_url,
                        "query": s.error_rate(ctx),
                        "comparator": { "criteria": "<=", "value": exact(c.abort_error_rate.value) },
                    },
                    "runProperties": run_properties("5s", "5s", 1, true),
                }));
            }
            if c.abort_latency_p99_ms.usable() {
                probes.push(json!({
                    "name": format!("{}-latency-p99-below-abort", k8s_name(&s.handler)),
                    "type": "promProbe",
                    "mode": "Continuous",
                    "promProbe/inputs": {
                        "endpoint": ctx.opts.metrics.prometheus_url,
                        "query": s.latency_p99_s(ctx),
                        "comparator": { "criteria": "<=", "value": exact(c.abort_latency_p99_ms.value / 1000.0) },
                    },
                    "runProperties": run_properties("5s", "5s", 1, true),
                }));
            }
        }
        probes.push(json!({
            "name": "workload-healthz",
            "type": "httpProbe",
            "mode": "Continuous",
            "httpProbe/inputs": {
                "url": url,
                "insecureSkipVerify": false,
                "method": { "get": { "criteria": "==", "responseCode": "200" } },
            },
            "runProperties": run_properties("1s", "1s", 3, false),
        }));
        let name = k8s_name(id);
        let engine = json!({
            "apiVersion": "litmuschaos.io/v1alpha1",
            "kind": "ChaosEngine",
            "metadata": metadata(ctx, c, &name, &pods.namespace, json!({})),
            "spec": {
                "engineState": "active",
                "appinfo": { "appns": pods.namespace, "applabel": pods.label_selector() },
                "chaosServiceAccount": format!("{experiment}-sa"),
                "jobCleanUpPolicy": "delete",
                "experiments": [{
                    "name": experiment,
                    "spec": {
                        "components": {
                            "env": env.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>(),
                        },
                        "probe": probes,
                    },
                }],
            },
        });
        let text = format!(
            "{}\nThe promProbes stop the experiment (stopOnFailure) when an abort threshold\nis crossed; the httpProbe watches {url}.\nNeeds the {experiment} ChaosExperiment and its service account\n({experiment}-sa) in namespace {}. Rollback: {}\nReview first: kubectl apply --dry-run=server -f {name}.yaml\n",
            ctx.header(c),
            pods.namespace,
            p.rollback_plan,
        );
        let file = format!("{name}.yaml");
        files.files.push((
            file.clone(),
            format!("{}{}", comment(&text), yaml(&engine)?).into_bytes(),
        ));
        files
            .exported
            .push((id.clone(), experiment.to_owned(), vec![file]));
    }
    Ok(files)
}
