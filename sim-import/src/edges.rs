//! Call graphs from tracing: a CSV of `caller,callee[,calls_per_s]` (with or
//! without a header naming those columns) and the JSON of Jaeger's
//! dependencies endpoint (`[{parent, child, callCount}]`, bare or under
//! `data`).

use std::path::Path;

use sim_engine::error::Error;

use crate::graph::{Evidence, Graph};

/// Reads an edge CSV.
pub fn read_csv(text: &str, file: &Path, g: &mut Graph) -> Result<(), Error> {
    let f = file.display().to_string();
    let bad =
        |line: usize, what: String| Error::input(format!("preflight: import: {f}:{line}: {what}"));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut columns = (0usize, 1usize, Some(2usize));
    let mut header = false;
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(i + 1, format!("not CSV: {e}")))?;
        let line = record.position().map_or(i + 1, |p| p.line() as usize);
        if i == 0 {
            let names: Vec<String> = record.iter().map(|s| s.to_ascii_lowercase()).collect();
            if let (Some(a), Some(b)) = (
                names
                    .iter()
                    .position(|n| n == "caller" || n == "parent" || n == "from"),
                names
                    .iter()
                    .position(|n| n == "callee" || n == "child" || n == "to"),
            ) {
                let rate = names.iter().position(|n| n == "calls_per_s" || n == "rate");
                columns = (a, b, rate);
                header = true;
                continue;
            }
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        let get = |c: usize| record.get(c).unwrap_or("");
        let (from, to) = (get(columns.0), get(columns.1));
        if from.is_empty() || to.is_empty() {
            return Err(bad(
                line,
                "expected `caller,callee[,calls_per_s]` (a caller and a callee)".into(),
            ));
        }
        let rate = match columns.2.map(get).filter(|s| !s.is_empty()) {
            None => None,
            Some(r) => match r.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                _ if !header && columns.2 == Some(2) => None,
                _ => return Err(bad(line, format!("calls_per_s `{r}` is not a number ≥ 0"))),
            },
        };
        g.ensure_service(from, "traced service", &f, line);
        g.ensure_service(to, "traced service", &f, line);
        g.add_edge(
            from,
            to,
            Evidence {
                via: "edges".into(),
                detail: format!("{from},{to}"),
                file: f.clone(),
                line,
            },
            rate,
        );
    }
    Ok(())
}

/// Reads a Jaeger dependencies JSON.
pub fn read_jaeger(text: &str, file: &Path, g: &mut Graph) -> Result<(), Error> {
    let f = file.display().to_string();
    let bad = |what: String| Error::input(format!("preflight: import: {f}: {what}"));
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let list = match &v {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => {
            o.get("data").and_then(|d| d.as_array()).ok_or_else(|| {
                bad("expected a list of {parent, child, callCount} (or one under `data`)".into())
            })?
        }
        _ => return Err(bad("expected a list of {parent, child, callCount}".into())),
    };
    for (i, d) in list.iter().enumerate() {
        let (Some(p), Some(c)) = (
            d.get("parent").and_then(|x| x.as_str()),
            d.get("child").and_then(|x| x.as_str()),
        ) else {
            return Err(bad(format!("dependency {i}: needs `parent` and `child`")));
        };
        let count = d.get("callCount").and_then(|x| x.as_f64());
        g.ensure_service(p, "traced service", &f, 0);
        g.ensure_service(c, "traced service", &f, 0);
        g.add_edge(
            p,
            c,
            Evidence {
                via: "tracing".into(),
                detail: format!(
                    "Jaeger dependency {p} → {c}{}",
                    count.map(|n| format!(", {n} calls")).unwrap_or_default()
                ),
                file: f.clone(),
                line: 0,
            },
            None,
        );
    }
    Ok(())
}
