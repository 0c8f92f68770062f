//! Reading the samples of empirical distributions from CSV files.

use std::collections::BTreeMap;
use std::path::Path;

use sim_models::spec::{Distribution, Scenario};
use sim_models::validate::distributions;
use sim_models::validate::empirical_unit_secs;

/// Samples by (file as written in the scenario, column), in seconds.
pub(crate) type Samples = BTreeMap<(String, String), Vec<f64>>;

use crate::inputs::{FileAccess, MAX_DATA_FILE_BYTES, read_regular, resolve_named};

/// Reads every empirical distribution's samples, resolving files relative
/// to the folder of `scenario_file` by the rule of `access`. Problems are
/// (field path, message).
pub(crate) fn read_all(
    s: &Scenario,
    scenario_file: &Path,
    access: FileAccess,
) -> (Samples, Vec<(String, String)>) {
    let mut samples = Samples::new();
    let mut problems = Vec::new();
    let mut failed: BTreeMap<(String, String), String> = BTreeMap::new();
    for (path, d) in distributions(s) {
        let Distribution::Empirical { file, column, unit } = d else {
            continue;
        };
        let Some(scale) = empirical_unit_secs(unit.as_deref()) else {
            continue; // reported by validation
        };
        let key = (file.clone(), column.clone());
        if samples.contains_key(&key) {
            continue;
        }
        if let Some(msg) = failed.get(&key) {
            problems.push((format!("{path}.file"), msg.clone()));
            continue;
        }
        let read = resolve_named(scenario_file, file, access)
            .map_err(|m| ("file", m))
            .and_then(|p| read_column(&p, column));
        match read {
            Ok(values) => {
                samples.insert(key, values.into_iter().map(|v| v * scale).collect());
            }
            Err((field, msg)) => {
                problems.push((format!("{path}.{field}"), msg.clone()));
                failed.insert(key, msg);
            }
        }
    }
    (samples, problems)
}

/// Reads one column of numbers from a CSV file with a header row. The error
/// names the field to blame (`file` or `column`) and says what is wrong.
pub(crate) fn read_column(file: &Path, column: &str) -> Result<Vec<f64>, (&'static str, String)> {
    let shown = file.display();
    let bytes =
        read_regular(file, MAX_DATA_FILE_BYTES).map_err(|m| ("file", format!("`{shown}`: {m}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        (
            "file",
            format!(
                "`{shown}` is not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(("file", format!("`{shown}` is empty")));
    };
    let names: Vec<&str> = split_row(header.trim_start_matches('\u{feff}'));
    let Some(col) = names.iter().position(|n| *n == column) else {
        let mut msg = format!("`{shown}` has no column `{column}`");
        match sim_models::validate::suggest(column, names.iter().copied()) {
            Some(b) => msg.push_str(&format!("; did you mean `{b}`?")),
            None => msg.push_str(&format!(" (columns: {})", names.join(", "))),
        }
        return Err(("column", msg));
    };
    let mut out = Vec::new();
    for (i, line) in lines {
        let cells = split_row(line);
        let Some(cell) = cells.get(col) else {
            return Err((
                "file",
                format!("`{shown}` line {}: no value in column `{column}`", i + 1),
            ));
        };
        if cell.is_empty() {
            continue;
        }
        let v: f64 = cell.parse().map_err(|_| {
            (
                "file",
                format!(
                    "`{shown}` line {}: `{cell}` in column `{column}` is not a number",
                    i + 1
                ),
            )
        })?;
        if !(v.is_finite() && v >= 0.0) {
            return Err((
                "file",
                format!(
                    "`{shown}` line {}: durations cannot be negative, got `{cell}`",
                    i + 1
                ),
            ));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err((
            "file",
            format!("`{shown}` has no values in column `{column}`"),
        ));
    }
    Ok(out)
}

/// Splits a CSV row on commas, trimming spaces and surrounding double quotes.
fn split_row(line: &str) -> Vec<&str> {
    line.split(',')
        .map(|c| c.trim().trim_matches('"').trim())
        .collect()
}
