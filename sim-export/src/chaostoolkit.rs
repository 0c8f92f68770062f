//! `--format chaostoolkit`: a Chaos Toolkit experiment per scenario. The
//! steady-state hypothesis holds the healthy bounds (checked before and
//! after the method), a safeguards control stops the run at the abort
//! thresholds, the method injects the fault (a Chaos Mesh object on
//! Kubernetes, with its own duration; an RDS reboot or EC2 stop on AWS) and
//! the rollbacks remove it.

use serde_json::{Value, json};
use sim_engine::error::Error;

use crate::k8s::{chaos_spec, metadata, pods};
use crate::prometheus::{Series, series};
use crate::select::{Chosen, Selection};
use crate::{Ctx, Files, Mapped, exact, json, k8s_name, num, whole_seconds};

/// A `chaosprometheus.probes.query` probe that passes when `expr <= bound`
/// returns a sample.
fn probe(name: String, expr: String, bound: f64, frequency: Option<u64>) -> Value {
    let mut p = json!({
        "type": "probe",
        "name": name,
        "tolerance": { "type": "jsonpath", "path": "$.data.result[0].value[1]" },
        "provider": {
            "type": "python",
            "module": "chaosprometheus.probes",
            "func": "query",
            "arguments": { "query": format!("{expr} <= {}", exact(bound)) },
        },
    });
    if let (Value::Object(m), Some(f)) = (&mut p, frequency) {
        m.insert("frequency".into(), json!(f));
    }
    p
}

fn python(name: String, module: &str, func: &str, arguments: Value) -> Value {
    json!({
        "type": "action",
        "name": name,
        "provider": { "type": "python", "module": module, "func": func, "arguments": arguments },
    })
}

/// The method's action and its rollback, or why there is none.
fn method(ctx: &Ctx<'_>, files: &mut Files, c: &Chosen) -> Mapped<(Value, Value, String)> {
    let p = &c.row;
    let secs = whole_seconds(p.duration_s);
    if let Some(aws) = ctx.run.target(&p.target).and_then(|t| t.aws.as_ref()) {
        let arn = aws.arn.as_deref().unwrap_or("");
        let last = arn.rsplit([':', '/']).next().unwrap_or("");
        return Ok(match (p.failure_mode.as_str(), arn.split(':').nth(2)) {
            ("process_crash", Some("rds")) if arn.contains(":db:") => Ok((
                python(
                    format!("reboot-{last}"),
                    "chaosaws.rds.actions",
                    "reboot_db_instance",
                    json!({ "db_instance_identifier": last, "force_failover": false }),
                ),
                Value::Null,
                "chaosaws.rds.actions.reboot_db_instance".into(),
            )),
            ("process_crash", Some("ec2")) if arn.contains(":instance/") => Ok((
                python(
                    format!("stop-{last}"),
                    "chaosaws.ec2.actions",
                    "stop_instances",
                    json!({ "instance_ids": [last] }),
                ),
                python(
                    format!("start-{last}"),
                    "chaosaws.ec2.actions",
                    "start_instances",
                    json!({ "instance_ids": [last] }),
                ),
                "chaosaws.ec2.actions.stop_instances".into(),
            )),
            (mode, _) => Err(format!(
                "no Chaos Toolkit AWS action for {mode} on {} that selects exactly this resource; run the fis export's experiment template (chaosaws.fis.actions.start_experiment)",
                if arn.is_empty() {
                    "tagged resources"
                } else {
                    arn
                }
            )),
        });
    }
    let pods = pods(ctx, files, &p.target)?;
    let fault = match chaos_spec(c, &pods) {
        Ok(f) => f,
        Err(why) => return Ok(Err(why)),
    };
    if secs == 0 {
        return Ok(Err("its duration is under a second".into()));
    }
    let name = format!("{}-chaostoolkit", k8s_name(&p.scenario_id));
    let mut spec = fault.spec.clone();
    if let Value::Object(m) = &mut spec {
        m.insert("duration".into(), json!(format!("{secs}s")));
    }
    let resource = json!({
        "apiVersion": "chaos-mesh.org/v1alpha1",
        "kind": fault.kind,
        "metadata": metadata(ctx, c, &name, &pods.namespace, json!({})),
        "spec": spec,
    });
    Ok(Ok((
        python(
            format!("{}-{}", fault.step, k8s_name(&p.target)),
            "chaosk8s.crd.actions",
            "create_custom_object",
            json!({ "group": "chaos-mesh.org", "version": "v1alpha1", "plural": fault.plural,
                    "ns": pods.namespace, "resource": resource }),
        ),
        python(
            format!("remove-{}", fault.step),
            "chaosk8s.crd.actions",
            "delete_custom_object",
            json!({ "group": "chaos-mesh.org", "version": "v1alpha1", "plural": fault.plural,
                    "name": name, "ns": pods.namespace }),
        ),
        format!(
            "chaosk8s.crd.actions.create_custom_object ({})",
            fault.action
        ),
    )))
}

pub(crate) fn files(ctx: &Ctx<'_>, sel: &Selection) -> Result<Files, Error> {
    let mut files = Files::default();
    let series: Vec<Series> = series(ctx, &mut files)?;
    for c in &sel.chosen {
        let p = &c.row;
        let id = &p.scenario_id;
        let (mut action, rollback, what) = match method(ctx, &mut files, c)? {
            Ok(m) => m,
            Err(why) => {
                files.skipped.push((id.clone(), why));
                continue;
            }
        };
        let secs = whole_seconds(p.duration_s);
        // Wait out the fault, then a rate window, before the hypothesis is
        // checked again.
        if let Value::Object(m) = &mut action {
            m.insert("pauses".into(), json!({ "after": secs + 60 }));
        }
        let mut hypothesis = Vec::new();
        let mut safeguards = Vec::new();
        for s in &series {
            let h = k8s_name(&s.handler);
            hypothesis.push(probe(
                format!("{h}-error-rate-within-healthy-bound"),
                s.error_rate(ctx),
                p.healthy_error_rate_high,
                None,
            ));
            hypothesis.push(probe(
                format!("{h}-latency-p99-within-healthy-bound"),
                s.latency_p99_s(ctx),
                p.healthy_latency_p99_high_ms / 1000.0,
                None,
            ));
            if c.abort_error_rate.usable() {
                safeguards.push(probe(
                    format!("{h}-error-rate-below-abort-threshold"),
                    s.error_rate(ctx),
                    c.abort_error_rate.value,
                    Some(5),
                ));
            }
            if c.abort_latency_p99_ms.usable() {
                safeguards.push(probe(
                    format!("{h}-latency-p99-below-abort-threshold"),
                    s.latency_p99_s(ctx),
                    c.abort_latency_p99_ms.value / 1000.0,
                    Some(5),
                ));
            }
        }
        let description = format!(
            "{} Healthy: error rate {} (bound {}), p99 {} ms (bound {} ms), the bounds being the 99.9th percentile of one-second ticks. Expected during the fault: error rate {}, p99 {} ms. The safeguards stop the experiment when {}. Rollback: {}",
            ctx.header(c),
            num(p.healthy_error_rate),
            num(p.healthy_error_rate_high),
            num(p.healthy_latency_p99_ms.round()),
            num(p.healthy_latency_p99_high_ms.round()),
            num(p.error_rate_during),
            num(p.latency_p99_during_ms.round()),
            [
                c.abort_error_rate
                    .usable()
                    .then(|| format!("the error rate exceeds {}", num(c.abort_error_rate.value))),
                c.abort_latency_p99_ms.usable().then(|| format!(
                    "p99 exceeds {} ms",
                    num(c.abort_latency_p99_ms.value.round())
                )),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" or "),
            p.rollback_plan,
        );
        let mut experiment = json!({
            "version": "1.0.0",
            "title": format!("The workload stays within its abort thresholds under {} on {} for {secs} s and returns to its healthy steady state", p.failure_mode, p.target),
            "description": description,
            "tags": ["preflight", p.failure_mode, p.target, format!("rank-{}", p.rank)],
            "configuration": {
                "prometheus_base_url": {
                    "type": "env",
                    "key": "PROMETHEUS_URL",
                    "default": ctx.opts.metrics.prometheus_url,
                },
            },
            "controls": [{
                "name": "abort-thresholds",
                "provider": {
                    "type": "python",
                    "module": "chaosaddons.controls.safeguards",
                    "arguments": { "probes": safeguards },
                },
            }],
            "steady-state-hypothesis": {
                "title": "The workload is within its healthy bounds",
                "probes": hypothesis,
            },
            "method": [action],
            "rollbacks": [],
        });
        if !rollback.is_null()
            && let Some(Value::Array(r)) = experiment.get_mut("rollbacks")
        {
            r.push(rollback);
        }
        let file = format!("{}.json", k8s_name(id));
        files.files.push((file.clone(), json(&experiment)));
        files.exported.push((id.clone(), what, vec![file]));
    }
    Ok(files)
}
