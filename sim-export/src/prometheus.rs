//! `--format prometheus-rules`: alerting rules per workload handler, an
//! early warning at the healthy bound and, per exported scenario, a stop
//! at its abort thresholds. The PromQL here is shared with the Litmus and
//! Chaos Toolkit probes.

use serde_json::{Value, json};
use sim_engine::error::Error;

use crate::select::{Chosen, Selection};
use crate::{Ctx, Files, comment, exact, k8s_name, num, whole_seconds, yaml};

/// A workload handler's series in Prometheus.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// The handler.
    pub handler: String,
    /// The resource it runs on.
    pub resource: String,
    /// The label matchers inside the braces (`job="checkout"`).
    pub matchers: String,
}

impl Series {
    /// The one-`window` error ratio.
    pub fn error_rate(&self, ctx: &Ctx<'_>) -> String {
        let m = &ctx.opts.metrics;
        format!(
            "(sum(rate({req}{{{sel},{err}}}[{w}])) / sum(rate({req}{{{sel}}}[{w}])))",
            req = m.requests,
            sel = self.matchers,
            err = m.errors,
            w = m.window
        )
    }

    /// The one-`window` p99 in seconds.
    pub fn latency_p99_s(&self, ctx: &Ctx<'_>) -> String {
        let m = &ctx.opts.metrics;
        format!(
            "histogram_quantile(0.99, sum by (le) (rate({d}_bucket{{{sel}}}[{w}])))",
            d = m.duration,
            sel = self.matchers,
            w = m.window
        )
    }
}

/// The series of every workload handler (placeholders, noted, for a
/// resource without `target.prometheus`).
pub(crate) fn series(ctx: &Ctx<'_>, files: &mut Files) -> Result<Vec<Series>, Error> {
    let mut out = Vec::new();
    for h in &ctx.run.handlers {
        let matchers = match ctx
            .run
            .target(&h.runs_on)
            .and_then(|t| t.prometheus.as_ref())
        {
            Some(p) => p
                .selector
                .trim()
                .trim_start_matches('{')
                .trim_end_matches('}')
                .to_owned(),
            None => {
                ctx.placeholder(
                    files,
                    format!(
                        "resource `{}` (handler `{}`) has no `target.prometheus`: its series are written as {{job=\"REPLACE-ME-{}\"}}",
                        h.runs_on, h.id, h.runs_on
                    ),
                )?;
                format!("job=\"REPLACE-ME-{}\"", h.runs_on)
            }
        };
        out.push(Series {
            handler: h.id.clone(),
            resource: h.runs_on.clone(),
            matchers,
        });
    }
    Ok(out)
}

/// `abort_when.for` of the scenario's live-injection profile, if any.
pub(crate) fn abort_for(ctx: &Ctx<'_>) -> Option<u64> {
    ctx.run
        .scenario
        .failure_injection_profile
        .as_ref()
        .and_then(|p| p.abort_when.as_ref())
        .and_then(|a| a.for_)
        .map(|d| whole_seconds(d.secs()))
}

fn rule(
    alert: &str,
    expr: String,
    r#for: Option<&str>,
    labels: Value,
    summary: String,
    description: String,
) -> Value {
    let mut r = json!({
        "alert": alert,
        "expr": expr,
        "labels": labels,
        "annotations": { "summary": summary, "description": description },
    });
    if let (Value::Object(m), Some(f)) = (&mut r, r#for) {
        m.insert("for".into(), json!(f));
    }
    r
}

pub(crate) fn files(ctx: &Ctx<'_>, sel: &Selection) -> Result<Files, Error> {
    let mut files = Files::default();
    let series = series(ctx, &mut files)?;
    let first: &Chosen = &sel.chosen[0];
    let healthy = &first.row;
    let mut groups = Vec::new();
    // The healthy bounds belong to the system, not to a fault: one group.
    let mut rules = Vec::new();
    for s in &series {
        let labels = |what: &str| {
            json!({
                "severity": "warning",
                "preflight_handler": s.handler,
                "preflight_threshold": what,
            })
        };
        rules.push(rule(
            "PreflightErrorRateAboveHealthyBound",
            format!("{} > {}", s.error_rate(ctx), exact(healthy.healthy_error_rate_high)),
            Some("1m"),
            labels("healthy"),
            format!(
                "{} error rate {{{{ $value | humanizePercentage }}}} is above its healthy bound {}",
                s.handler,
                num(healthy.healthy_error_rate_high)
            ),
            format!(
                "Preflight simulated a healthy error rate of {} for handler {} (on {}), at most {} in 99.9% of one-second ticks (run {}).",
                num(healthy.healthy_error_rate),
                s.handler,
                s.resource,
                num(healthy.healthy_error_rate_high),
                ctx.provenance.run_manifest
            ),
        ));
        let high_s = healthy.healthy_latency_p99_high_ms / 1000.0;
        rules.push(rule(
            "PreflightLatencyP99AboveHealthyBound",
            format!("{} > {}", s.latency_p99_s(ctx), exact(high_s)),
            Some("1m"),
            labels("healthy"),
            format!(
                "{} p99 {{{{ $value | humanizeDuration }}}} is above its healthy bound {} ms",
                s.handler,
                num(healthy.healthy_latency_p99_high_ms.round())
            ),
            format!(
                "Preflight simulated a healthy p99 of {} ms for handler {} (on {}), at most {} ms in 99.9% of one-second ticks (run {}).",
                num(healthy.healthy_latency_p99_ms.round()),
                s.handler,
                s.resource,
                num(healthy.healthy_latency_p99_high_ms.round()),
                ctx.provenance.run_manifest
            ),
        ));
    }
    groups.push(json!({ "name": "preflight-healthy", "rules": rules }));
    let hold = abort_for(ctx).map(|s| format!("{s}s"));
    for c in &sel.chosen {
        let p = &c.row;
        let mut rules = Vec::new();
        for s in &series {
            let labels = |what: &str| {
                json!({
                    "severity": "critical",
                    "preflight_handler": s.handler,
                    "preflight_scenario": p.scenario_id,
                    "preflight_rank": p.rank.to_string(),
                    "preflight_target": p.target,
                    "preflight_threshold": what,
                })
            };
            let t = &c.abort_error_rate;
            if t.usable() {
                rules.push(rule(
                    "PreflightAbortErrorRate",
                    format!("{} > {}", s.error_rate(ctx), exact(t.value)),
                    hold.as_deref(),
                    labels("abort"),
                    format!(
                        "Stop experiment {}: {} error rate {{{{ $value | humanizePercentage }}}} is above the abort threshold {}",
                        p.scenario_id,
                        s.handler,
                        num(t.value)
                    ),
                    format!(
                        "Abort threshold {} ({}: the healthy bound {}, the SLO's breach level {}). Rollback: {} Run {}, rank {}.",
                        num(t.value),
                        t.basis,
                        num(t.healthy_high),
                        t.breach.map_or("none".into(), num),
                        p.rollback_plan,
                        ctx.provenance.run_manifest,
                        p.rank
                    ),
                ));
            }
            let t = &c.abort_latency_p99_ms;
            if t.usable() {
                rules.push(rule(
                    "PreflightAbortLatencyP99",
                    format!("{} > {}", s.latency_p99_s(ctx), exact(t.value / 1000.0)),
                    hold.as_deref(),
                    labels("abort"),
                    format!(
                        "Stop experiment {}: {} p99 {{{{ $value | humanizeDuration }}}} is above the abort threshold {} ms",
                        p.scenario_id,
                        s.handler,
                        num(t.value.round())
                    ),
                    format!(
                        "Abort threshold {} ms ({}: the healthy bound {} ms, the SLO's breach level {} ms). Rollback: {} Run {}, rank {}.",
                        num(t.value.round()),
                        t.basis,
                        num(t.healthy_high.round()),
                        t.breach.map_or("none".into(), |b| num(b.round())),
                        p.rollback_plan,
                        ctx.provenance.run_manifest,
                        p.rank
                    ),
                ));
            }
        }
        groups.push(
            json!({ "name": format!("preflight-{}", k8s_name(&p.scenario_id)), "rules": rules }),
        );
        files.exported.push((
            p.scenario_id.clone(),
            format!("alert group preflight-{}", k8s_name(&p.scenario_id)),
            vec!["rules.yaml".into()],
        ));
    }
    let text = format!(
        "Preflight prometheus-rules export of run {} (scenario file {} {}, seed {}).\nGroup preflight-healthy: an early warning per workload handler at the\nhealthy bound (the 99.9th percentile of simulated one-second ticks without\na fault). One group per exported scenario: a stop at its abort thresholds{}.\nSeries: {}{{…}} and {}_bucket{{…}}, rate over {} (export options).\nCheck with: promtool check rules rules.yaml\n",
        ctx.provenance.run_manifest,
        ctx.provenance.scenario,
        ctx.provenance.scenario_hash,
        ctx.provenance.seed,
        hold.as_ref()
            .map(|h| format!(" held for {h} (failure_injection_profile.abort_when.for)"))
            .unwrap_or_default(),
        ctx.opts.metrics.requests,
        ctx.opts.metrics.duration,
        ctx.opts.metrics.window,
    );
    let body = format!("{}{}", comment(&text), yaml(&json!({ "groups": groups }))?);
    files.files.push(("rules.yaml".into(), body.into_bytes()));
    Ok(files)
}
