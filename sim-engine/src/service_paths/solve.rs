//! `preflight paths`: the compositions and the placement of every service
//! path of a scenario, as a table or JSON.
//!
//! Paths are placed in file order on one capacity ledger: each placement
//! takes its CPU before the next path is placed, as they would be deployed.
//! The algorithms are in `sim_models::paths`; this module only prints.

use serde_json::{Value, json};
use sim_models::paths::physical::{fmt_num, fmt_secs};
use sim_models::paths::{
    CapacityLedger, Exclusions, PathModel, Placement, PlacementError, Solution, solve,
};

/// One path's outcome, in file order.
#[derive(Debug, Clone)]
pub struct PathOutcome {
    /// Path index in the model.
    pub path: usize,
    /// Compositions and placement.
    pub solution: Solution,
}

/// The nodes named by `--down`, or a message naming the unknown one.
pub fn exclusions(model: &PathModel, down: &[String]) -> Result<Exclusions, String> {
    let mut ex = Exclusions::none();
    for id in down {
        match model.node_index(id) {
            Some(n) => {
                ex.nodes.insert(n);
            }
            None => {
                let ids = model.nodes.iter().map(|n| n.id.as_str());
                let hint = match sim_models::validate::suggest(id, ids) {
                    Some(best) => format!("; did you mean `{best}`?"),
                    None => String::new(),
                };
                return Err(format!("--down {id}: not a node of the scenario{hint}"));
            }
        }
    }
    Ok(ex)
}

/// Solves every path of `model` with `k` compositions each and the nodes
/// and links of `down` failed, placing them in file order on one ledger.
pub fn report(model: &PathModel, k: usize, down: &Exclusions) -> Vec<PathOutcome> {
    let mut ledger = CapacityLedger::new(model);
    (0..model.paths.len())
        .map(|path| {
            let solution = solve(model, path, k, &ledger, down);
            if let Ok(p) = &solution.placement {
                // It was found against this ledger, so it fits.
                let _ = ledger.allocate(p);
            }
            PathOutcome { path, solution }
        })
        .collect()
}

fn ms(secs: f64) -> f64 {
    (secs * 1e3 * 1e6).round() / 1e6
}

fn op_names(model: &PathModel, ops: &[usize]) -> Vec<String> {
    ops.iter()
        .map(|&o| model.operators.get(o).map_or("?", |o| &o.id).to_string())
        .collect()
}

fn type_chain(model: &PathModel, path: usize, ops: &[usize]) -> Vec<String> {
    let mut out = vec![model.paths[path].source.kind.clone()];
    out.extend(
        ops.iter()
            .filter_map(|&o| model.operators.get(o))
            .map(|o| o.output.clone()),
    );
    out
}

fn node(model: &PathModel, n: usize) -> &str {
    model.nodes.get(n).map_or("?", |n| &n.id)
}

/// What a leg joins: `source → transcode`, `transcode → downscale`, `downscale → sink`.
fn leg_label(model: &PathModel, p: &Placement, i: usize) -> String {
    let names = op_names(model, &p.ops);
    let from = if i == 0 { "source" } else { &names[i - 1] };
    let to = if i == names.len() { "sink" } else { &names[i] };
    format!("{from} → {to}")
}

fn qos_text(model: &PathModel, path: usize) -> String {
    let q = &model.paths[path].qos;
    let mut parts = Vec::new();
    if let Some(d) = q.max_delay {
        parts.push(format!("max_delay {}", fmt_secs(d)));
    }
    if let Some(l) = q.max_loss {
        parts.push(format!("max_loss {}", fmt_num(l)));
    }
    if parts.is_empty() {
        "no QoS bound".to_string()
    } else {
        format!("QoS {}", parts.join(", "))
    }
}

fn optimise_name(o: sim_models::spec::Optimise) -> &'static str {
    match o {
        sim_models::spec::Optimise::Delay => "delay",
        sim_models::spec::Optimise::Cost => "cost",
        sim_models::spec::Optimise::Load => "load",
    }
}

fn placement_text(model: &PathModel, p: &Placement, out: &mut String) {
    let def = &model.paths[p.path];
    out.push_str(&format!(
        "  placement of composition {} ({}, {} search step{}):\n",
        p.rank + 1,
        if p.exact {
            "exact"
        } else {
            "search cut off: best found"
        },
        p.visited,
        if p.visited == 1 { "" } else { "s" }
    ));
    let names = op_names(model, &p.ops);
    let w = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    for (name, (&o, &n)) in names.iter().zip(p.ops.iter().zip(&p.nodes)) {
        let cpu = model.operators.get(o).map_or(0.0, |o| o.cpu);
        out.push_str(&format!(
            "    {name:<w$}  on {:<12} {} CPU of {}\n",
            node(model, n),
            fmt_num(cpu),
            fmt_num(model.nodes[n].cpu)
        ));
    }
    if names.is_empty() {
        out.push_str("    (no operators: the source type is the sink type)\n");
    }
    out.push_str("  route:\n");
    for (i, leg) in p.legs.iter().enumerate() {
        let label = leg_label(model, p, i);
        if leg.hops.is_empty() {
            out.push_str(&format!(
                "    {:<28} {:>9}  {:<11} {label}\n",
                format!("{} (same node)", node(model, leg.from)),
                "0 ms",
                ""
            ));
        }
        for (j, h) in leg.hops.iter().enumerate() {
            let hop = format!("{} → {}", node(model, h.from), node(model, h.to));
            let loss = if h.loss > 0.0 {
                format!("loss {}", fmt_num(h.loss))
            } else {
                String::new()
            };
            let line = format!(
                "    {hop:<28} {:>9}  {loss:<11} {}",
                fmt_secs(h.delay),
                if j == 0 { label.as_str() } else { "" }
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    let met = |ok: bool| if ok { "met" } else { "MISSED" };
    let delay_note = def.qos.max_delay.map_or(String::new(), |m| {
        format!(
            "   (max_delay {}: {})",
            fmt_secs(m),
            met(p.delay <= m * (1.0 + 1e-9))
        )
    });
    let loss_note = def.qos.max_loss.map_or(String::new(), |m| {
        format!(
            "   (max_loss {}: {})",
            fmt_num(m),
            met(p.loss <= m * (1.0 + 1e-9) + 1e-15)
        )
    });
    out.push_str(&format!(
        "  delay {} = links {} + service {}{delay_note}\n",
        fmt_secs(p.delay),
        fmt_secs(p.link_delay),
        fmt_secs(p.service_delay)
    ));
    out.push_str(&format!("  loss {}{loss_note}\n", fmt_num(p.loss)));
    out.push_str(&format!(
        "  cost {} (operators {} × (1 + {} hops)), busiest node of the path at {}% CPU\n",
        fmt_num(p.cost),
        fmt_num(
            p.ops
                .iter()
                .filter_map(|&o| model.operators.get(o))
                .fold(0.0, |a, o| a + o.cost)
        ),
        p.hop_count(),
        fmt_num(p.load * 100.0)
    ));
}

/// The table: per path, the compositions, the placement, the route, and
/// the QoS verdict.
pub fn render_text(
    model: &PathModel,
    k: usize,
    down: &Exclusions,
    outcomes: &[PathOutcome],
) -> String {
    let mut out = String::new();
    if outcomes.is_empty() {
        out.push_str("no paths\n");
        return out;
    }
    if !down.nodes.is_empty() {
        let ids: Vec<&str> = down.nodes.iter().map(|&n| node(model, n)).collect();
        out.push_str(&format!("nodes down: {}\n\n", ids.join(", ")));
    }
    for (i, o) in outcomes.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let def = &model.paths[o.path];
        out.push_str(&format!(
            "path {}: {} at {} → {} at {}, {} ADU/s, optimise {}, {}\n",
            def.id,
            def.source.kind,
            node(model, def.source.node),
            def.sink.kind,
            node(model, def.sink.node),
            fmt_num(def.adu_rate),
            optimise_name(def.optimise),
            qos_text(model, o.path)
        ));
        let s = &o.solution;
        out.push_str(&format!(
            "  compositions ({} of at most {k}, cheapest first):\n",
            s.logical.len()
        ));
        for (r, l) in s.logical.iter().enumerate() {
            let names = op_names(model, &l.ops);
            let ops = if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(" → ")
            };
            out.push_str(&format!(
                "    {}. {ops:<36} cost {:<6} {}\n",
                r + 1,
                fmt_num(l.cost),
                type_chain(model, o.path, &l.ops).join(" → ")
            ));
        }
        match &s.placement {
            Ok(p) => {
                for (r, why) in &s.passed_over {
                    out.push_str(&format!("  composition {} passed over: {why}\n", r + 1));
                }
                placement_text(model, p, &mut out);
                out.push_str("  QoS met.\n");
            }
            Err(e @ PlacementError::QosMiss { best, .. }) => {
                out.push_str(&format!("  {e}.\n"));
                out.push_str("  nearest miss:\n");
                placement_text(model, best, &mut out);
                for (r, why) in &s.passed_over {
                    if *r != best.rank {
                        out.push_str(&format!("  composition {}: {why}\n", r + 1));
                    }
                }
            }
            Err(e) => {
                let main = e.to_string();
                out.push_str(&format!("  not placed: {main}.\n"));
                for (r, why) in s.passed_over.iter().filter(|(_, why)| *why != main) {
                    out.push_str(&format!("  composition {}: {why}\n", r + 1));
                }
            }
        }
    }
    out
}

fn placement_json(model: &PathModel, p: &Placement) -> Value {
    let names = op_names(model, &p.ops);
    let operators: Vec<Value> = names
        .iter()
        .zip(p.ops.iter().zip(&p.nodes))
        .map(|(name, (&o, &n))| {
            json!({
                "operator": name,
                "node": node(model, n),
                "cpu": model.operators.get(o).map_or(0.0, |o| o.cpu),
            })
        })
        .collect();
    let route: Vec<Value> = p
        .legs
        .iter()
        .enumerate()
        .map(|(i, leg)| {
            json!({
                "leg": leg_label(model, p, i),
                "from": node(model, leg.from),
                "to": node(model, leg.to),
                "delay_ms": ms(leg.delay()),
                "hops": leg.hops.iter().map(|h| json!({
                    "link": h.link,
                    "from": node(model, h.from),
                    "to": node(model, h.to),
                    "delay_ms": ms(h.delay),
                    "loss": h.loss,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "composition": p.rank + 1,
        "operators": operators,
        "route": route,
        "delay_ms": ms(p.delay),
        "link_delay_ms": ms(p.link_delay),
        "service_ms": ms(p.service_delay),
        "loss": p.loss,
        "cost": p.cost,
        "load": p.load,
        "exact": p.exact,
        "search_steps": p.visited,
    })
}

/// The JSON array: one object per path.
pub fn render_json(model: &PathModel, outcomes: &[PathOutcome]) -> String {
    let rows: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            let def = &model.paths[o.path];
            let s = &o.solution;
            let compositions: Vec<Value> = s
                .logical
                .iter()
                .enumerate()
                .map(|(r, l)| {
                    json!({
                        "rank": r + 1,
                        "operators": op_names(model, &l.ops),
                        "types": type_chain(model, o.path, &l.ops),
                        "cost": l.cost,
                    })
                })
                .collect();
            let (placement, miss, error) = match &s.placement {
                Ok(p) => (placement_json(model, p), Value::Null, Value::Null),
                Err(
                    e @ PlacementError::QosMiss {
                        best,
                        delay_over,
                        loss_over,
                        ..
                    },
                ) => (
                    Value::Null,
                    json!({
                        "message": e.to_string(),
                        "delay_over_ms": delay_over.map(ms),
                        "loss_over": loss_over,
                        "best": placement_json(model, best),
                    }),
                    Value::Null,
                ),
                Err(e) => (Value::Null, Value::Null, Value::String(e.to_string())),
            };
            json!({
                "path": def.id,
                "source": { "node": node(model, def.source.node), "type": def.source.kind },
                "sink": { "node": node(model, def.sink.node), "type": def.sink.kind },
                "adu_rate": def.adu_rate,
                "optimise": optimise_name(def.optimise),
                "qos": {
                    "max_delay_ms": def.qos.max_delay.map(ms),
                    "max_loss": def.qos.max_loss,
                },
                "compositions": compositions,
                "qos_met": s.placement.is_ok(),
                "placement": placement,
                "miss": miss,
                "error": error,
                "passed_over": s.passed_over.iter().map(|(r, why)| json!({
                    "composition": r + 1,
                    "reason": why,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".to_string())
}
