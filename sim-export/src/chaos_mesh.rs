//! `--format chaos-mesh`: per scenario one YAML file with the chaos
//! resource (created paused: applying the file injects once) and a
//! `Workflow` that injects it in parallel with a `StatusCheck` on the
//! workload's health endpoint that aborts the Workflow. A StatusCheck can
//! only test an HTTP status, so the error-rate and p99 thresholds are in
//! the Workflow's annotations and enforced by the prometheus-rules export.

use serde_json::{Value, json};
use sim_engine::error::Error;

use crate::k8s::{chaos_spec, health_url, metadata, pods};
use crate::select::{Chosen, Selection};
use crate::{Ctx, Files, comment, exact, k8s_name, num, whole_seconds, yaml};

pub(crate) fn files(ctx: &Ctx<'_>, sel: &Selection) -> Result<Files, Error> {
    let mut files = Files::default();
    for c in &sel.chosen {
        let id = &c.row.scenario_id;
        let pods = pods(ctx, &mut files, &c.row.target)?;
        let fault = match chaos_spec(c, &pods) {
            Ok(f) => f,
            Err(why) => {
                files.skipped.push((id.clone(), why));
                continue;
            }
        };
        let secs = whole_seconds(c.row.duration_s);
        if secs == 0 {
            files
                .skipped
                .push((id.clone(), "its duration is under a second".into()));
            continue;
        }
        let url = health_url(ctx, &mut files, &c.row.target)?;
        let name = k8s_name(id);
        let duration = format!("{secs}s");
        let mut standalone = fault.spec.clone();
        if let Value::Object(m) = &mut standalone {
            m.insert("duration".into(), json!(duration));
        }
        let chaos = json!({
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": fault.kind,
            "metadata": metadata(ctx, c, &name, &pods.namespace,
                json!({ "experiment.chaos-mesh.org/pause": "true" })),
            "spec": standalone,
        });
        let abort = abort_annotations(c);
        let workflow = json!({
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "Workflow",
            "metadata": metadata(ctx, c, &name, &pods.namespace, abort),
            "spec": {
                "entry": name,
                "templates": [
                    {
                        "name": name,
                        "templateType": "Parallel",
                        "deadline": duration,
                        "children": [fault.step, "abort-check"],
                    },
                    {
                        "name": fault.step,
                        "templateType": fault.kind,
                        "deadline": duration,
                        fault.template_field: fault.spec,
                    },
                    {
                        "name": "abort-check",
                        "templateType": "StatusCheck",
                        "deadline": duration,
                        "abortWithStatusCheck": true,
                        "statusCheck": {
                            "mode": "Continuous",
                            "type": "HTTP",
                            "intervalSeconds": 1,
                            "timeoutSeconds": 1,
                            "failureThreshold": 3,
                            "successThreshold": 1,
                            "http": {
                                "url": url,
                                "method": "GET",
                                "criteria": { "statusCode": "200-399" },
                            },
                        },
                    },
                ],
            },
        });
        let p = &c.row;
        let text = format!(
            "{}Two documents. The Workflow is the experiment: it injects the fault\nand, in parallel, checks {url} every second; three failures in a\nrow abort the Workflow, which removes the fault. The {kind} is the same\nfault on its own, created paused so that applying this file injects it\nonce; run it by hand with\n  kubectl annotate -n {ns} {plural} {name} experiment.chaos-mesh.org/pause-\nA StatusCheck tests an HTTP status only: the abort thresholds (annotations\npreflight/abort-*) are enforced by the prometheus-rules export's alerts.\nHealthy: error rate {}, p99 {} ms; expected during the fault: error rate\n{}, p99 {} ms. Rollback: {}\nReview first: kubectl apply --dry-run=server -f {name}.yaml\n",
            ctx.header(c) + "\n",
            num(p.healthy_error_rate),
            num(p.healthy_latency_p99_ms.round()),
            num(p.error_rate_during),
            num(p.latency_p99_during_ms.round()),
            p.rollback_plan,
            kind = fault.kind,
            ns = pods.namespace,
            plural = fault.plural,
        );
        let body = format!(
            "{}---\n{}---\n{}",
            comment(&text),
            yaml(&chaos)?,
            yaml(&workflow)?
        );
        let file = format!("{name}.yaml");
        files.files.push((file.clone(), body.into_bytes()));
        files.exported.push((id.clone(), fault.action, vec![file]));
    }
    Ok(files)
}

/// The abort thresholds as annotations (only those that may be written).
pub(crate) fn abort_annotations(c: &Chosen) -> Value {
    let mut m = serde_json::Map::new();
    if c.abort_error_rate.usable() {
        m.insert(
            "preflight/abort-error-rate".into(),
            json!(exact(c.abort_error_rate.value)),
        );
    }
    if c.abort_latency_p99_ms.usable() {
        m.insert(
            "preflight/abort-latency-p99-ms".into(),
            json!(exact(c.abort_latency_p99_ms.value)),
        );
    }
    Value::Object(m)
}
