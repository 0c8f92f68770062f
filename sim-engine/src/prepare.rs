//! Loading a scenario and preparing its variants for a run: the first
//! steps of every command that simulates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sim_models::compile::compile;
use sim_models::spec::Scenario;

use crate::error::Error;
use crate::run::{PreparedVariant, ScaleChoice, TWO_SCALE_ABOVE, default_out_dir};
use crate::scenario::{FileAccess, Loaded, apply_variant, load_with};

/// Loads a scenario, or the error listing every problem (exit code 2).
/// Warnings (a YAML tag Preflight ignores) go to stderr.
pub fn load(path: &Path, access: FileAccess) -> Result<Loaded, Error> {
    let loaded = load_with(path, access).map_err(|e| {
        let mut msg = String::new();
        for p in e.problems() {
            msg.push_str(&format!("preflight: {p}\n"));
        }
        let n = e.problems().len();
        msg.push_str(&format!(
            "preflight: {} has {n} problem{}",
            path.display(),
            if n == 1 { "" } else { "s" }
        ));
        Error::input(msg)
    })?;
    for w in &loaded.warnings {
        eprintln!("preflight: warning: {w}");
    }
    Ok(loaded)
}

/// Applies the selected variants and compiles each.
pub fn prepare_variants(loaded: &Loaded, selection: &str) -> Result<Vec<PreparedVariant>, Error> {
    // `historical_faults:` refits the base scenario's failure modes first;
    // variants then apply to the refitted base.
    let (refitted, refit) =
        crate::fit::refit_scenario(&loaded.scenario, &loaded.file, loaded.file_access)?;
    for note in &refit.notes {
        tracing::info!("{}: historical_faults: {note}", loaded.file.display());
    }
    let base = &refitted;
    let empirical = loaded.empirical_tables();
    let defaults = crate::defaults::default_failure_modes();
    let build = |name: &str, index: u64, scenario: Scenario| -> Result<PreparedVariant, Error> {
        let model = compile(&scenario, &defaults, &empirical).map_err(|errs| {
            let lines: Vec<String> = errs
                .iter()
                .map(|e| {
                    format!(
                        "preflight: {}: variant `{name}`: {e}",
                        loaded.file.display()
                    )
                })
                .collect();
            Error::input(lines.join("\n"))
        })?;
        Ok(PreparedVariant {
            name: Arc::from(name),
            index,
            scenario,
            model,
        })
    };
    let mut out = vec![build("base", 0, base.clone())?];
    let wanted: Vec<(usize, &sim_models::spec::Variant)> = match selection {
        "all" => base.variants.iter().enumerate().collect(),
        "base" => Vec::new(),
        name => {
            let found: Vec<_> = base
                .variants
                .iter()
                .enumerate()
                .filter(|(_, v)| v.name == name)
                .collect();
            if found.is_empty() {
                let names: Vec<&str> = base.variants.iter().map(|v| v.name.as_str()).collect();
                return Err(Error::input(format!(
                    "preflight: --variant {name}: {} has no such variant (it has: all, base{}{})",
                    loaded.file.display(),
                    if names.is_empty() { "" } else { ", " },
                    names.join(", ")
                )));
            }
            found
        }
    };
    for (i, v) in wanted {
        let scenario = apply_variant(base, v).map_err(|problems| {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("preflight: {}: {p}", loaded.file.display()))
                .collect();
            Error::input(lines.join("\n"))
        })?;
        out.push(build(&v.name, i as u64 + 1, scenario)?);
    }
    Ok(out)
}

/// Where `preflight calibrate` keeps the map of a scenario by default:
/// beside its default run directory, `reports/<name>.calibration.json`.
pub fn default_calibration_path(s: &Scenario) -> PathBuf {
    let dir = default_out_dir(s);
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    dir.with_file_name(format!("{name}.calibration.json"))
}

/// Workload requests per campaign above which a run is refused: at request
/// level such a campaign takes many minutes and a run of them days.
pub const MAX_REQUESTS_PER_CAMPAIGN: f64 = sim_models::limits::MAX_REQUESTS_PER_SIMULATION;

/// Expected workload requests in one campaign of `model`.
pub fn expected_requests(model: &sim_models::model::Model) -> f64 {
    let horizon = model.horizon.as_secs_f64();
    model
        .workloads
        .iter()
        .map(|w| {
            let shape = w
                .diurnal
                .map(|d| d.iter().sum::<f64>() / 24.0)
                .unwrap_or(1.0);
            w.rate * shape * horizon
        })
        .sum()
}

/// Whether campaigns run by the two-scale method: as asked, or with
/// `--scale auto` when some variant expects more than
/// [`TWO_SCALE_ABOVE`] workload requests per campaign.
pub fn choose_two_scale(scale: ScaleChoice, variants: &[PreparedVariant]) -> bool {
    match scale {
        ScaleChoice::Request => false,
        ScaleChoice::TwoScale => true,
        ScaleChoice::Auto => variants
            .iter()
            .any(|v| expected_requests(&v.model) > TWO_SCALE_ABOVE),
    }
}

/// Refuses campaigns too large for request-level simulation, and says when a
/// campaign is large enough to take a while.
pub(crate) fn check_size(
    loaded: &Loaded,
    variants: &[PreparedVariant],
    quiet: bool,
) -> Result<(), Error> {
    let Some((v, n)) = variants
        .iter()
        .rev() // on ties, `max_by` keeps the last: report the first variant
        .map(|v| (v, expected_requests(&v.model)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return Ok(());
    };
    if n > MAX_REQUESTS_PER_CAMPAIGN {
        // Recommend the two-scale method only where it can finish.
        let instead = match crate::limits::check_two_scale_work(variants) {
            Ok(()) => {
                "Use `--scale two-scale` (or `auto`), or a shorter `horizon:` (minutes to hours)."
                    .to_string()
            }
            Err(why) => format!(
                "The two-scale method cannot take it either ({}). Use a shorter `horizon:` or a lower rate.",
                why.trim_end_matches('.')
            ),
        };
        return Err(Error::input(format!(
            "preflight: {}: horizon: variant `{}` expects {:.0} million requests per campaign ({} of simulated time); \
             request-level simulation is limited to {:.0} million (docs/limits.md). {instead}",
            loaded.file.display(),
            v.name,
            n / 1e6,
            sim_models::spec::Duration::from_secs(v.model.horizon.as_secs_f64()),
            MAX_REQUESTS_PER_CAMPAIGN / 1e6,
        )));
    }
    if n > 1e7 && !quiet {
        eprintln!(
            "preflight: note: {}: about {:.0} million requests per campaign; each campaign may take several seconds",
            loaded.file.display(),
            n / 1e6
        );
    }
    Ok(())
}

/// Sections a scenario may hold that this version parses and validates but
/// does not simulate yet: said once per run, so nobody mistakes them for used.
pub fn unsupported_notes(s: &Scenario) -> Vec<&'static str> {
    let mut notes = Vec::new();
    if s.telemetry.is_some() {
        notes.push("telemetry: forecasting is not built yet; the file is not read");
    }
    notes
}
