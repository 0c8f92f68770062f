//! What-if variants: the base scenario with `set:` changes applied.

use serde_json::Value;
use sim_models::spec::{Scenario, Variant};
use sim_models::validate::suggest;
use sim_models::validate::validate;

use super::Problem;
use super::deser::deserialize_all;
use super::path::{Seg, Sel, parse_expr, render};

/// Keys that identify an array element in `[x]`, in order of preference.
const ID_KEYS: [&str; 5] = ["id", "name", "resource_type", "handler", "mode"];

/// Applies `v`'s changes to `base` and re-validates the result.
///
/// Each `set:` key is a field path: `resources[orders-db].replicas`, where
/// `[x]` selects an array element by its `id` (or `name`, or
/// `resource_type` for `resource_failure_modes`, or `handler` for
/// `workload`), or by index when `x` is a number. Missing optional fields are
/// created. Problems name `variants[i].set."<expr>"` (no file: the caller
/// knows it).
pub fn apply_variant(base: &Scenario, v: &Variant) -> Result<Scenario, Vec<super::Problem>> {
    let vpath = match base.variants.iter().position(|x| x.name == v.name) {
        Some(i) => format!("variants[{i}]"),
        None => format!("variants[{}]", v.name),
    };
    let entry_path = |expr: &str| {
        format!(
            "{vpath}.{}",
            render(&[Seg::Key("set".into()), Seg::Key(expr.to_string())])
        )
    };
    let mut root = match serde_json::to_value(base) {
        Ok(r) => r,
        Err(e) => {
            return Err(vec![Problem::at(
                vpath.clone(),
                format!("cannot apply: {e}"),
            )]);
        }
    };
    let mut problems = Vec::new();
    // (rendered concrete path, expression) of each change applied.
    let mut applied: Vec<(String, &str)> = Vec::new();
    for (expr, new) in &v.set {
        let result = parse_expr(expr).and_then(|sels| set(&mut root, &sels, new.clone()));
        match result {
            Ok(concrete) => applied.push((render(&concrete), expr)),
            Err(msg) => problems.push(Problem::at(entry_path(expr), msg)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // Which change does a problem at `path` come from?
    let blame = |path: &str| -> Option<&str> {
        applied
            .iter()
            .filter(|(c, _)| related(c, path))
            .max_by_key(|(c, _)| c.len())
            .map(|(_, e)| *e)
    };
    let report = |path: String, msg: String| -> Problem {
        let shown = if path.is_empty() {
            "the scenario".to_string()
        } else {
            path.clone()
        };
        match blame(&path) {
            Some(expr) => Problem::at(entry_path(expr), format!("{shown}: {msg}")),
            None => Problem::at(vpath.clone(), format!("with this variant, {shown}: {msg}")),
        }
    };
    let scenario: Scenario = match deserialize_all(&root) {
        Ok(s) => s,
        Err(errs) => {
            return Err(errs
                .into_iter()
                .map(|(p, m)| report(render(&p), m))
                .collect());
        }
    };
    let issues = validate(&scenario);
    if issues.is_empty() {
        Ok(scenario)
    } else {
        Err(issues.into_iter().map(|(p, m)| report(p, m)).collect())
    }
}

/// Whether one path is the other or an ancestor of it.
fn related(a: &str, b: &str) -> bool {
    let prefix = |short: &str, long: &str| {
        long.starts_with(short)
            && (long.len() == short.len() || matches!(long.as_bytes()[short.len()], b'.' | b'['))
    };
    prefix(a, b) || prefix(b, a)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Sets the value at `sels` in `root`, creating missing map keys on the way.
/// Returns the concrete path (indices instead of ids).
fn set(root: &mut Value, sels: &[Sel], new: Value) -> Result<Vec<Seg>, String> {
    let mut cur = root;
    let mut concrete: Vec<Seg> = Vec::new();
    for (n, sel) in sels.iter().enumerate() {
        let last = n + 1 == sels.len();
        let here = if concrete.is_empty() {
            "the scenario".to_string()
        } else {
            format!("`{}`", render(&concrete))
        };
        match sel {
            Sel::Key(k) => {
                if cur.is_null() {
                    *cur = Value::Object(Default::default());
                }
                let Value::Object(m) = cur else {
                    return Err(format!("{here} is {}, it has no field `{k}`", kind(cur)));
                };
                concrete.push(Seg::Key(k.clone()));
                if last {
                    m.insert(k.clone(), new);
                    return Ok(concrete);
                }
                cur = m.entry(k.clone()).or_insert(Value::Null);
            }
            Sel::Index(_) | Sel::Id(_) if !cur.is_array() => {
                let what = match sel {
                    Sel::Index(i) => i.to_string(),
                    Sel::Id(x) => x.clone(),
                    Sel::Key(_) => String::new(),
                };
                return Err(format!(
                    "{here} is {}, not a list, so `[{what}]` selects nothing",
                    kind(cur)
                ));
            }
            Sel::Index(i) => {
                let Value::Array(a) = cur else {
                    return Err(format!("{here} is not a list"));
                };
                let len = a.len();
                let Some(slot) = a.get_mut(*i) else {
                    return Err(format!(
                        "{here} has {len} element{}, so there is no [{i}]",
                        if len == 1 { "" } else { "s" }
                    ));
                };
                concrete.push(Seg::Index(*i));
                if last {
                    *slot = new;
                    return Ok(concrete);
                }
                cur = slot;
            }
            Sel::Id(x) => {
                let Value::Array(a) = cur else {
                    return Err(format!("{here} is not a list"));
                };
                let key_of = |e: &Value| -> Option<(&'static str, String)> {
                    ID_KEYS.iter().find_map(|k| {
                        e.get(*k)
                            .and_then(Value::as_str)
                            .map(|s| (*k, s.to_string()))
                    })
                };
                let found = ID_KEYS.iter().find_map(|k| {
                    a.iter()
                        .position(|e| e.get(*k).and_then(Value::as_str) == Some(x.as_str()))
                });
                let Some(i) = found else {
                    let ids: Vec<(&str, String)> = a.iter().filter_map(key_of).collect();
                    let key = ids.first().map_or("id", |(k, _)| *k);
                    let mut msg = format!("{here} has no element with {key} `{x}`");
                    if let Some(b) = suggest(x, ids.iter().map(|(_, s)| s.as_str())) {
                        msg.push_str(&format!("; did you mean `{b}`?"));
                    } else if ids.is_empty() {
                        msg.push_str(" (it is empty)");
                    } else {
                        let l: Vec<String> = ids.iter().map(|(_, s)| format!("`{s}`")).collect();
                        msg.push_str(&format!(" (it has {})", l.join(", ")));
                    }
                    return Err(msg);
                };
                concrete.push(Seg::Index(i));
                let slot = &mut a[i];
                if last {
                    *slot = new;
                    return Ok(concrete);
                }
                cur = slot;
            }
        }
    }
    Err("the path is empty".into())
}
