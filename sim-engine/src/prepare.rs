//! Loading a scenario and preparing its variants for a run: the first
//! steps of every command that simulates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sim_models::compile::compile;
use sim_models::model::Model;
use sim_models::spec::Scenario;

use crate::error::Error;
use crate::scenario::{FileAccess, Loaded, apply_variant, load_with};

/// Loads a scenario, or the error listing every problem (exit code 2).
/// Warnings (a YAML tag Preflight ignores) go to stderr.
pub fn load(path: &Path, access: FileAccess) -> Result<Loaded, Error> {
    let loaded = load_with(path, access).map_err(|e| problems_error(path, &e))?;
    for w in &loaded.warnings {
        eprintln!("preflight: warning: {w}");
    }
    Ok(loaded)
}

/// Every problem of a scenario that did not load, one per line, and their
/// count, as an input error.
pub(crate) fn problems_error(path: &Path, e: &crate::scenario::LoadError) -> Error {
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

/// How campaigns are simulated (`--scale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleChoice {
    /// Request level up to [`TWO_SCALE_ABOVE`] expected workload requests
    /// per campaign, two-scale above.
    Auto,
    /// Every request of the whole horizon (exact; slow for long windows).
    Request,
    /// Fault timeline over the horizon, request-level episodes around the
    /// faults, and a pooled healthy baseline (see `docs/two-scale.md`).
    TwoScale,
}

impl ScaleChoice {
    /// `auto`, `request` or `two-scale`, as `--scale` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ScaleChoice::Auto => "auto",
            ScaleChoice::Request => "request",
            ScaleChoice::TwoScale => "two-scale",
        }
    }
}

impl std::str::FromStr for ScaleChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            ScaleChoice::Auto,
            ScaleChoice::Request,
            ScaleChoice::TwoScale,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| format!("expected `auto`, `request` or `two-scale`, got `{s}`"))
    }
}

/// Expected workload requests per campaign above which `--scale auto`
/// chooses the two-scale method (about 14 hours at 200 requests/s).
pub const TWO_SCALE_ABOVE: f64 = 1e7;

/// A variant ready to run: its name, its index (0 = base) and its model.
#[derive(Debug)]
pub struct PreparedVariant {
    /// `base`, or the variant's name.
    pub name: Arc<str>,
    /// 0 for the base, 1.. for `variants:` in file order (seeds derive
    /// from it with `--independent-streams` only).
    pub index: u64,
    /// The scenario after the variant's changes.
    pub scenario: Scenario,
    /// Its compiled model.
    pub model: Model,
}

/// Longest scenario name used as it is in the default output directory;
/// longer names are cut and given a hash of the whole name, so the
/// directory name stays far below file-system limits (255 bytes).
const OUT_NAME_CHARS: usize = 64;

/// The default output directory for a scenario: `reports/<scenario name>`,
/// with characters other than ASCII letters, digits, `-` and `_` as `_`,
/// and names over 64 characters cut to 55 plus `-` and 8 hex digits of the
/// name's hash.
pub fn default_out_dir(scenario: &Scenario) -> PathBuf {
    let safe: String = scenario
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = if safe.len() > OUT_NAME_CHARS {
        let hash = crate::scenario::fnv1a_hex(scenario.name.as_bytes());
        format!("{}-{}", &safe[..OUT_NAME_CHARS - 9], &hash[..8])
    } else {
        safe
    };
    PathBuf::from("reports").join(if safe.is_empty() { "run".into() } else { safe })
}
