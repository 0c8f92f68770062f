//! `preflight fit` and `historical_faults:`: failure and repair distributions
//! fitted to an incident history.
//!
//! - [`history`] reads the file (CSV or Parquet) and maps its columns;
//! - [`mle`] fits exponential, Weibull, lognormal and gamma by maximum
//!   likelihood with right-censoring, with AIC and a Kaplan–Meier
//!   Kolmogorov–Smirnov distance;
//! - this module turns incidents into samples (times between failures per
//!   resource, pooled within a group; repair times), prints the
//!   `resource_failure_modes` YAML, the table and the JSON, and refits a
//!   scenario's failure modes from its `historical_faults:` file.
//!
//! The method is described in `docs/fit.md`.

pub mod history;
pub mod mle;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sim_models::spec::{
    Distribution, Duration, FailureMode, FailureModeSpec, ResourceType, ResourceTypeFailureModes,
    Scenario,
};

use crate::error::Error;
pub use history::{History, HistoryError, Incident, Mapping, load_history};
pub use mle::{Family, Fit, FitError, FitSet, Obs};

/// The mode an incident gets when the history has no `mode` column.
pub const DEFAULT_MODE: &str = "process_crash";
/// The resource type an incident gets in `preflight fit` when the history
/// has no `resource_type` column.
pub const DEFAULT_TYPE: &str = "compute";

/// The samples of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSample {
    /// The group's values of the `--group-by` columns.
    pub labels: Vec<(String, String)>,
    /// The resource type most incidents of the group have.
    pub resource_type: Option<String>,
    /// The mode most incidents of the group have.
    pub mode: Option<String>,
    /// Incidents in the group (before removing simultaneous ones).
    pub incidents: usize,
    /// Distinct resources.
    pub resources: usize,
    /// Failures of a resource at the same instant as another of its
    /// failures, counted once.
    pub simultaneous: usize,
    /// Repairs of zero length (below the time resolution), left out.
    pub zero_repairs: usize,
    /// Times between failures (s), per resource, pooled; the time from the
    /// last failure to the end of the window is censored.
    pub between: Vec<(String, Obs)>,
    /// Repair times (s); incidents still open at the end of the window are censored.
    pub repair: Vec<(String, Obs)>,
}

impl GroupSample {
    /// `name=value, name=value`.
    pub fn key(&self) -> String {
        self.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a time between failures is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Between {
    /// From one failure's start to the next one's (the literature's
    /// convention, and `preflight fit`'s default).
    #[default]
    Start,
    /// From the repair (`end`) to the next failure: the up time, which is
    /// what the simulator draws from `time_between`. Falls back to start to
    /// start where `end` is missing or overlaps the next failure.
    Up,
}

/// Builds the samples of each group. `groups` maps a group's labels to its
/// incidents; `to` ends the window; `repairs` is false when the history has
/// no end times.
pub fn build_samples(
    groups: BTreeMap<Vec<(String, String)>, Vec<&Incident>>,
    to: f64,
    repairs: bool,
    between: Between,
) -> Vec<GroupSample> {
    let mut out = Vec::new();
    for (labels, incidents) in groups {
        let most_common = |f: &dyn Fn(&Incident) -> Option<String>| {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for i in &incidents {
                if let Some(v) = f(i) {
                    *counts.entry(v).or_default() += 1;
                }
            }
            counts
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(v, _)| v)
        };
        let resource_type = most_common(&|i: &Incident| i.resource_type.clone());
        let mode = most_common(&|i: &Incident| i.mode.clone());
        let mut by_resource: BTreeMap<&str, Vec<&Incident>> = BTreeMap::new();
        for i in &incidents {
            by_resource.entry(i.resource.as_str()).or_default().push(i);
        }
        let mut g = GroupSample {
            labels,
            resource_type,
            mode,
            incidents: incidents.len(),
            resources: by_resource.len(),
            simultaneous: 0,
            zero_repairs: 0,
            between: Vec::new(),
            repair: Vec::new(),
        };
        for (res, mut list) in by_resource {
            list.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.line.cmp(&b.line)));
            let before = list.len();
            list.dedup_by(|b, a| a.start == b.start);
            g.simultaneous += before - list.len();
            for w in list.windows(2) {
                // Up time: from the repair to the next failure, when the
                // repair is known and ends before it; else start to start.
                let from = match (between, w[0].end) {
                    (Between::Up, Some(e)) if e < w[1].start => e,
                    _ => w[0].start,
                };
                g.between
                    .push((res.to_string(), Obs::exact(w[1].start - from)));
            }
            if let Some(last) = list.last() {
                let from = match (between, last.end) {
                    (Between::Up, Some(e)) => Some(e),
                    // Still down at the end of the window: no up time to censor.
                    (Between::Up, None) => None,
                    (Between::Start, _) => Some(last.start),
                };
                if let Some(from) = from
                    && to > from
                {
                    g.between.push((res.to_string(), Obs::censored(to - from)));
                }
            }
            if !repairs {
                continue;
            }
            for i in &list {
                match i.end {
                    Some(e) if e <= to => {
                        if e > i.start {
                            g.repair.push((res.to_string(), Obs::exact(e - i.start)));
                        } else {
                            g.zero_repairs += 1;
                        }
                    }
                    _ => {
                        if to > i.start {
                            g.repair
                                .push((res.to_string(), Obs::censored(to - i.start)));
                        }
                    }
                }
            }
        }
        out.push(g);
    }
    out
}

/// The fits of one group.
#[derive(Debug, Clone)]
pub struct GroupFit {
    /// The data.
    pub sample: GroupSample,
    /// Times between failures.
    pub between: Result<FitSet, FitError>,
    /// Repair times (`None` when the history has no end times).
    pub repair: Option<Result<FitSet, FitError>>,
}

impl GroupFit {
    fn new(sample: GroupSample, repairs: bool) -> Self {
        let obs = |v: &[(String, Obs)]| v.iter().map(|(_, o)| *o).collect::<Vec<_>>();
        let between = mle::fit_all(&obs(&sample.between));
        let repair = repairs.then(|| mle::fit_all(&obs(&sample.repair)));
        GroupFit {
            sample,
            between,
            repair,
        }
    }

    /// The failure mode to write: the best fits, when the group names a
    /// known resource type and mode and both samples could be fitted.
    fn spec(&self) -> Result<(ResourceType, FailureModeSpec), String> {
        let t = self.sample.resource_type.as_deref().unwrap_or("");
        let rt = parse_type(t).ok_or_else(|| {
            format!("resource type `{t}` is not a scenario resource type (map it with --type-map {t}=TYPE)")
        })?;
        let m = self.sample.mode.as_deref().unwrap_or("");
        let mode =
            parse_mode(m).ok_or_else(|| format!("mode `{m}` is not a scenario failure mode"))?;
        let between = self
            .between
            .as_ref()
            .map_err(|e| format!("times between failures: {e}"))?;
        let repair = match &self.repair {
            None => return Err("no repair times (the history has no `end` column)".into()),
            Some(r) => r.as_ref().map_err(|e| format!("repair times: {e}"))?,
        };
        Ok((
            rt,
            FailureModeSpec {
                mode,
                time_between: to_spec(&between.best().dist),
                repair: to_spec(&repair.best().dist),
                scope: Default::default(),
                injection_parameters: None,
            },
        ))
    }
}

/// A scenario resource type by its name (`compute`).
pub fn parse_type(s: &str) -> Option<ResourceType> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

/// A scenario failure mode by its name (`process_crash`).
pub fn parse_mode(s: &str) -> Option<FailureMode> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

/// The scenario distribution of a fit (durations at full precision).
pub fn to_spec(f: &Family) -> Distribution {
    match *f {
        Family::Exponential { mean } => Distribution::Exponential {
            mean: Duration::from_secs(mean),
        },
        Family::Weibull { shape, scale } => Distribution::Weibull {
            shape,
            scale: Duration::from_secs(scale),
        },
        Family::Lognormal { mu, sigma } => Distribution::Lognormal {
            median: Duration::from_secs(mu.exp()),
            sigma,
        },
        Family::Gamma { shape, scale } => Distribution::Gamma {
            shape,
            scale: Duration::from_secs(scale),
        },
    }
}

/// `x` with six significant digits, trailing zeros dropped.
fn sig6(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (5 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A duration for the scenario file: `412.345h`, `17.5m`, `42s`, `3.2ms`.
pub fn fmt_duration(secs: f64) -> String {
    let (v, u) = if secs >= 3600.0 {
        (secs / 3600.0, "h")
    } else if secs >= 60.0 {
        (secs / 60.0, "m")
    } else if secs >= 1.0 {
        (secs, "s")
    } else {
        (secs * 1e3, "ms")
    };
    format!("{}{u}", sig6(v))
}

/// The flow-style YAML of a fitted distribution, as the scenario accepts it.
pub fn dist_yaml(f: &Family) -> String {
    match *f {
        Family::Exponential { mean } => {
            format!("{{ dist: exponential, mean: {} }}", fmt_duration(mean))
        }
        Family::Weibull { shape, scale } => format!(
            "{{ dist: weibull, shape: {}, scale: {} }}",
            sig6(shape),
            fmt_duration(scale)
        ),
        Family::Lognormal { mu, sigma } => format!(
            "{{ dist: lognormal, median: {}, sigma: {} }}",
            fmt_duration(mu.exp()),
            sig6(sigma)
        ),
        Family::Gamma { shape, scale } => format!(
            "{{ dist: gamma, shape: {}, scale: {} }}",
            sig6(shape),
            fmt_duration(scale)
        ),
    }
}

/// The parameters of a fit as JSON (durations in seconds).
fn params_json(f: &Family) -> serde_json::Value {
    match *f {
        Family::Exponential { mean } => serde_json::json!({ "mean": mean }),
        Family::Weibull { shape, scale } => serde_json::json!({ "shape": shape, "scale": scale }),
        Family::Lognormal { mu, sigma } => {
            serde_json::json!({ "mu": mu, "sigma": sigma, "median": mu.exp() })
        }
        Family::Gamma { shape, scale } => serde_json::json!({ "shape": shape, "scale": scale }),
    }
}

fn params_text(f: &Family) -> String {
    match *f {
        Family::Exponential { mean } => format!("mean {}", fmt_duration(mean)),
        Family::Weibull { shape, scale } => {
            format!("shape {} scale {}", sig6(shape), fmt_duration(scale))
        }
        Family::Lognormal { mu, sigma } => {
            format!("median {} sigma {}", fmt_duration(mu.exp()), sig6(sigma))
        }
        Family::Gamma { shape, scale } => {
            format!("shape {} scale {}", sig6(shape), fmt_duration(scale))
        }
    }
}

/// Options of `preflight fit` (also its command-line flags).
#[derive(Debug, Clone, Default)]
pub struct FitOptions {
    /// Incident history: .csv or .parquet, one row per incident.
    pub input: PathBuf,
    /// NAME=COLUMN: read the canonical column NAME (resource, resource_type,
    /// mode, start, end, cause) from COLUMN, e.g. `--col start="Prob Started"`.
    pub col: Vec<String>,
    /// NAME=VALUE: a constant for a canonical column the file lacks, e.g.
    /// `--set resource_type=compute`.
    pub set: Vec<String>,
    /// How times are written (strftime, read as UTC), e.g. "%m/%d/%Y %H:%M".
    /// Default: RFC 3339 or `YYYY-MM-DD[ HH:MM[:SS]]`.
    pub time_format: Option<String>,
    /// COLUMN=VALUE[,VALUE...]: keep only rows whose COLUMN is one of the
    /// values (repeat for several columns).
    pub filter: Vec<String>,
    /// Comma-separated columns to fit separately (default: resource_type,mode).
    pub group_by: Option<String>,
    /// RAW=TYPE[,RAW=TYPE...]: resource-type labels of the file → scenario
    /// resource types, e.g. `--type-map cluster=compute`.
    pub type_map: Vec<String>,
    /// Start of the observation window (default: the first timestamp).
    pub from: Option<String>,
    /// End of the observation window (default: the last timestamp); the time
    /// from a resource's last failure to here is a censored observation.
    pub to: Option<String>,
    /// Print JSON (every candidate fit of every group) instead of YAML and the table.
    pub json: bool,
    /// Write the samples fitted to this CSV: group, kind (time_between or
    /// repair), resource, value_s, censored.
    pub intervals_out: Option<PathBuf>,
    /// Times between failures from one failure's start to the next (`start`,
    /// the literature's convention) or from the repair to the next failure
    /// (`up`: the up time the simulator draws from `time_between`).
    pub between: Between,
}

fn pairs(flag: &str, values: &[String]) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    for v in values {
        for part in v.split(',').filter(|p| !p.trim().is_empty()) {
            let Some((a, b)) = part.split_once('=') else {
                return Err(Error::input(format!(
                    "preflight: {flag} `{part}`: expected NAME=VALUE"
                )));
            };
            out.push((a.trim().to_string(), b.trim().to_string()));
        }
    }
    Ok(out)
}

impl FitOptions {
    /// The column mapping these options describe.
    pub fn mapping(&self) -> Result<Mapping, Error> {
        // --col and --set values may hold commas (column names do): one pair per flag.
        let single = |flag: &str, vs: &[String]| -> Result<Vec<(String, String)>, Error> {
            vs.iter()
                .map(|v| {
                    v.split_once('=')
                        .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
                        .ok_or_else(|| {
                            Error::input(format!("preflight: {flag} `{v}`: expected NAME=VALUE"))
                        })
                })
                .collect()
        };
        let mut filters: Vec<(String, Vec<String>)> = Vec::new();
        for (c, v) in single("--filter", &self.filter)? {
            filters.push((c, v.split(',').map(|s| s.trim().to_string()).collect()));
        }
        let type_map = pairs("--type-map", &self.type_map)?;
        for (raw, t) in &type_map {
            if parse_type(t).is_none() {
                return Err(Error::input(format!(
                    "preflight: --type-map {raw}={t}: `{t}` is not a resource type (expected one of {})",
                    ResourceType::ALL
                        .iter()
                        .map(|t| serde_json::to_value(t)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(Mapping {
            mapping_flags: true,
            cols: single("--col", &self.col)?,
            set: single("--set", &self.set)?,
            time_format: self.time_format.clone(),
            filters,
            group_by: self
                .group_by
                .as_deref()
                .map(|g| {
                    g.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            type_map,
            from: self.from.clone(),
            to: self.to.clone(),
        })
    }
}

/// The result of `preflight fit`, before printing.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// The history as loaded.
    pub history: History,
    /// One per group, in group order.
    pub groups: Vec<GroupFit>,
    /// Whether the grouping was the default (resource type × mode).
    pub default_grouping: bool,
}

/// The problems of a history as one exit-2 error, a line each, each
/// after `preflight: ` and `context` (say `--history: `).
pub fn history_error(e: HistoryError, context: &str) -> Error {
    Error::input(
        e.problems
            .iter()
            .map(|p| format!("preflight: {context}{p}"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Loads, groups and fits (no printing).
pub fn fit_history(opts: &FitOptions) -> Result<FitReport, Error> {
    let mapping = opts.mapping()?;
    let mut history = load_history(&opts.input, &mapping).map_err(|e| history_error(e, ""))?;
    let mut defaulted = (false, false);
    for i in &mut history.incidents {
        if i.resource_type.is_none() {
            i.resource_type = Some(DEFAULT_TYPE.into());
            defaulted.0 = true;
        }
        if i.mode.is_none() {
            i.mode = Some(DEFAULT_MODE.into());
            defaulted.1 = true;
        }
        // The default grouping reads the defaults, too.
        for (k, v) in &mut i.group {
            if v.is_empty() && k == "resource_type" {
                *v = DEFAULT_TYPE.into();
            }
            if v.is_empty() && k == "mode" {
                *v = DEFAULT_MODE.into();
            }
        }
    }
    if defaulted.0 {
        history.notes.push(format!("incidents without a resource type are taken as `{DEFAULT_TYPE}` (map one with --col resource_type=COLUMN, --set resource_type=TYPE)"));
    }
    if defaulted.1 {
        history.notes.push(format!("incidents without a mode are taken as `{DEFAULT_MODE}` (map one with --col mode=COLUMN, --set mode=MODE)"));
    }
    let mut groups: BTreeMap<Vec<(String, String)>, Vec<&Incident>> = BTreeMap::new();
    for i in &history.incidents {
        groups.entry(i.group.clone()).or_default().push(i);
    }
    let samples = build_samples(groups, history.to, history.has_end, opts.between);
    let groups = samples
        .into_iter()
        .map(|s| GroupFit::new(s, history.has_end))
        .collect();
    Ok(FitReport {
        history,
        groups,
        default_grouping: mapping.group_by.is_empty(),
    })
}

/// The `resource_failure_modes` YAML: one document for the default grouping,
/// else one per group (several groups may share a type and mode). Groups that
/// cannot be written are listed in the returned notes.
pub fn yaml(report: &FitReport) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    /// A YAML document: its label and its modes per resource type.
    type Doc<'a> = (
        Option<String>,
        BTreeMap<ResourceType, Vec<(&'a GroupFit, FailureModeSpec)>>,
    );
    let mut docs: Vec<Doc> = Vec::new();
    for g in &report.groups {
        match g.spec() {
            Ok((t, spec)) => {
                if report.default_grouping {
                    if docs.is_empty() {
                        docs.push((None, BTreeMap::new()));
                    }
                    docs[0].1.entry(t).or_default().push((g, spec));
                } else {
                    let mut m = BTreeMap::new();
                    m.insert(t, vec![(g, spec)]);
                    docs.push((Some(g.sample.key()), m));
                }
            }
            Err(why) => notes.push(format!("group {}: not written: {why}", g.sample.key())),
        }
    }
    let mut out = String::new();
    for (i, (label, by_type)) in docs.iter().enumerate() {
        if docs.len() > 1 || label.is_some() {
            if i > 0 {
                out.push('\n');
            }
            let _ = writeln!(out, "--- # {}", label.as_deref().unwrap_or(""));
        }
        out.push_str("resource_failure_modes:\n");
        for (t, modes) in by_type {
            let _ = writeln!(
                out,
                "  - resource_type: {}",
                serde_json::to_value(t)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            );
            out.push_str("    failure_modes:\n");
            for (g, spec) in modes {
                let (Ok(b), Some(Ok(r))) = (&g.between, &g.repair) else {
                    continue;
                };
                let _ = writeln!(out, "      - mode: {}", spec.mode);
                let _ = writeln!(
                    out,
                    "        time_between: {}   # n={}, censored={}",
                    dist_yaml(&b.best().dist),
                    b.n,
                    b.censored
                );
                let _ = writeln!(
                    out,
                    "        repair: {}   # n={}, censored={}",
                    dist_yaml(&r.best().dist),
                    r.n,
                    r.censored
                );
            }
        }
    }
    (out, notes)
}

fn table_section(out: &mut String, title: &str, set: &Result<FitSet, FitError>) {
    match set {
        Err(e) => {
            let _ = writeln!(out, "#   {title}: not fitted: {e}");
        }
        Ok(s) => {
            let _ = writeln!(out, "#   {title}: n={} (censored {})", s.n, s.censored);
            let _ = writeln!(
                out,
                "#     {:<13} {:<36} {:>14} {:>14} {:>9} {:>8}",
                "dist", "parameters", "log-lik", "AIC", "ΔAIC", "KS(KM)"
            );
            let best_aic = s.best().aic;
            for (i, f) in s.fits.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "#     {:<13} {:<36} {:>14.2} {:>14.2} {:>9.2} {:>8.4}",
                    format!("{}{}", f.dist.name(), if i == s.best { " *" } else { "" }),
                    params_text(&f.dist),
                    f.log_likelihood,
                    f.aic,
                    f.aic - best_aic,
                    f.gof_ks
                );
            }
        }
    }
}

/// The fit table, every line a YAML comment (so stdout stays valid YAML).
pub fn table(report: &FitReport) -> String {
    let h = &report.history;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# preflight fit: {} ({} rows read, {} incidents in the window {} .. {})",
        h.file.display(),
        h.rows_read,
        h.incidents.len(),
        history::format_time(h.from),
        history::format_time(h.to)
    );
    let _ = writeln!(
        out,
        "# maximum likelihood with right-censoring; * = lowest AIC; KS(KM) = sup |Kaplan–Meier − fitted CDF|"
    );
    for g in &report.groups {
        let s = &g.sample;
        let _ = writeln!(
            out,
            "#\n# group {}: {} incidents on {} resources{}{}",
            s.key(),
            s.incidents,
            s.resources,
            if s.simultaneous > 0 {
                format!(
                    "; {} simultaneous failure{} of one resource counted once",
                    s.simultaneous,
                    if s.simultaneous == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            },
            if s.zero_repairs > 0 {
                format!("; {} zero-length repairs left out", s.zero_repairs)
            } else {
                String::new()
            }
        );
        table_section(&mut out, "time between failures", &g.between);
        if let Some(r) = &g.repair {
            table_section(&mut out, "repair time", r);
        }
    }
    out
}

fn set_json(set: &Result<FitSet, FitError>) -> serde_json::Value {
    match set {
        Err(e) => serde_json::json!({ "error": e.to_string() }),
        Ok(s) => serde_json::json!({
            "n": s.n,
            "censored": s.censored,
            "best": s.best().dist.name(),
            "fits": s.fits.iter().map(|f| serde_json::json!({
                "dist": f.dist.name(),
                "params": params_json(&f.dist),
                "log_likelihood": f.log_likelihood,
                "aic": f.aic,
                "ks_km": f.gof_ks,
            })).collect::<Vec<_>>(),
        }),
    }
}

/// The machine-readable report.
pub fn json(report: &FitReport) -> serde_json::Value {
    let h = &report.history;
    let (yaml_text, yaml_notes) = yaml(report);
    serde_json::json!({
        "file": h.file.display().to_string(),
        "rows_read": h.rows_read,
        "incidents": h.incidents.len(),
        "window": { "from": history::format_time(h.from), "to": history::format_time(h.to),
                    "from_s": h.from, "to_s": h.to },
        "time_unit": "s",
        "gof": "ks_km: sup over the observed values of |Kaplan-Meier CDF - fitted CDF| (the Kolmogorov-Smirnov statistic when nothing is censored)",
        "notes": h.notes.iter().chain(&yaml_notes).collect::<Vec<_>>(),
        "groups": report.groups.iter().map(|g| serde_json::json!({
            "group": g.sample.key(),
            "labels": g.sample.labels.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
            "resource_type": g.sample.resource_type,
            "mode": g.sample.mode,
            "incidents": g.sample.incidents,
            "resources": g.sample.resources,
            "simultaneous": g.sample.simultaneous,
            "zero_repairs": g.sample.zero_repairs,
            "time_between": set_json(&g.between),
            "repair": g.repair.as_ref().map(set_json),
        })).collect::<Vec<_>>(),
        "resource_failure_modes_yaml": yaml_text,
    })
}

/// Writes the samples as CSV: `group,kind,resource,value_s,censored`.
pub fn write_intervals(report: &FitReport, path: &Path) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["group", "kind", "resource", "value_s", "censored"])?;
    for g in &report.groups {
        let key = g.sample.key();
        for (kind, list) in [
            ("time_between", &g.sample.between),
            ("repair", &g.sample.repair),
        ] {
            for (res, o) in list {
                w.write_record([
                    key.as_str(),
                    kind,
                    res.as_str(),
                    &format!("{}", o.value),
                    if o.censored { "true" } else { "false" },
                ])?;
            }
        }
    }
    w.flush()
}

/// `preflight fit`: the fitted distributions as YAML after a table, or
/// as JSON with `--json` (the text for stdout; notes go to stderr).
pub fn fit(opts: &FitOptions) -> Result<String, Error> {
    let mut out = String::new();
    let report = fit_history(opts)?;
    if !report.groups.iter().any(|g| g.between.is_ok()) {
        let why: Vec<String> = report
            .groups
            .iter()
            .map(|g| match &g.between {
                Err(e) => format!("group {}: {e}", g.sample.key()),
                Ok(_) => String::new(),
            })
            .collect();
        return Err(Error::input(format!(
            "preflight: {}: no group has enough failures to fit: {}",
            opts.input.display(),
            why.join("; ")
        )));
    }
    if let Some(p) = &opts.intervals_out {
        write_intervals(&report, p).map_err(|e| {
            Error::input(format!("preflight: --intervals-out {}: {e}", p.display()))
        })?;
    }
    if opts.json {
        crate::textln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json(&report)).unwrap_or_default()
        );
    } else {
        let (y, notes) = yaml(&report);
        for n in report.history.notes.iter().chain(&notes) {
            eprintln!("preflight: note: {n}");
        }
        crate::text!(out, "{}", table(&report));
        crate::textln!(out, "#");
        crate::text!(out, "{y}");
    }
    Ok(out)
}

/// What refitting a scenario from `historical_faults:` did.
#[derive(Debug, Clone, Default)]
pub struct Refit {
    /// One line per mode replaced, and per group left alone (with why).
    pub notes: Vec<String>,
}

/// Refits `scenario`'s failure modes from its `historical_faults:` file (a
/// path relative to the directory of `scenario_file`, with the canonical
/// column names).
///
/// Rows map to scenario resources by id; rows of resources the scenario does
/// not have map by their `resource_type`. A resource with its own
/// `failure_modes:` list is fitted from its own rows; all other rows are
/// pooled per resource type and mode, and the fits replace `time_between` and
/// `repair` of that mode in the type's `resource_failure_modes` entry (the
/// built-in defaults of the type are copied in first when the scenario has no
/// entry) and in the own lists of resources of that type that had no rows of
/// their own. Modes the scenario does not have are not added.
pub fn refit_scenario(
    scenario: &Scenario,
    scenario_file: &Path,
    access: crate::inputs::FileAccess,
) -> Result<(Scenario, Refit), Error> {
    let Some(file) = &scenario.historical_faults else {
        return Ok((scenario.clone(), Refit::default()));
    };
    let path = crate::inputs::resolve_named(scenario_file, file, access).map_err(|m| {
        Error::input(format!(
            "preflight: {}: historical_faults: {m}",
            scenario_file.display()
        ))
    })?;
    let history = load_history(&path, &Mapping::default()).map_err(|e| {
        history_error(
            e,
            &format!("{}: historical_faults: ", scenario_file.display()),
        )
    })?;
    Ok(refit_with_history(scenario, &history))
}

/// [`refit_scenario`] from a history already loaded (or cut to a window:
/// the backtest of `preflight calibrate` refits on the incidents before
/// each origin). `history.to` ends the observation window.
pub fn refit_with_history(scenario: &Scenario, history: &History) -> (Scenario, Refit) {
    let mut refit = Refit::default();
    refit.notes.extend(history.notes.iter().cloned());
    let mut s = scenario.clone();
    let by_id: BTreeMap<&str, &sim_models::spec::Resource> = scenario
        .resources
        .iter()
        .map(|r| (r.id.as_str(), r))
        .collect();
    let type_name = |t: &ResourceType| {
        serde_json::to_value(t)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    // Group labels: [("resource", id) | ("resource_type", t), ("mode", m)].
    let mut groups: BTreeMap<Vec<(String, String)>, Vec<&Incident>> = BTreeMap::new();
    let mut unmapped = 0usize;
    let mut unknown_modes: BTreeMap<String, usize> = BTreeMap::new();
    for i in &history.incidents {
        let m = i.mode.clone().unwrap_or_else(|| DEFAULT_MODE.into());
        if parse_mode(&m).is_none() {
            *unknown_modes.entry(m).or_default() += 1;
            continue;
        }
        // `ID#K` names replica K of resource ID (as `preflight synth` writes).
        let id = i
            .resource
            .split_once('#')
            .map_or(i.resource.as_str(), |(id, _)| id);
        let head = match by_id.get(id) {
            Some(r) if r.failure_modes.is_some() => ("resource".to_string(), r.id.clone()),
            Some(r) => ("resource_type".to_string(), type_name(&r.kind)),
            None => match i.resource_type.as_deref().and_then(parse_type) {
                Some(t) => ("resource_type".to_string(), type_name(&t)),
                None => {
                    unmapped += 1;
                    continue;
                }
            },
        };
        groups
            .entry(vec![head, ("mode".to_string(), m)])
            .or_default()
            .push(i);
    }
    if unmapped > 0 {
        refit.notes.push(format!(
            "{unmapped} incidents name neither a scenario resource nor a resource type: not used"
        ));
    }
    for (m, n) in unknown_modes {
        refit.notes.push(format!(
            "{n} incidents of mode `{m}` (not a scenario failure mode): not used"
        ));
    }
    let defaults = crate::defaults::default_failure_modes();
    // Refits feed the simulator, which draws up times.
    let samples = build_samples(groups, history.to, history.has_end, Between::Up);
    let fits: Vec<GroupFit> = samples
        .into_iter()
        .map(|g| GroupFit::new(g, history.has_end))
        .collect();
    // (resource id, mode) set from the resource's own rows.
    let mut own: Vec<(String, FailureMode)> = Vec::new();
    let best = |g: &GroupFit| -> Result<(Family, Family), String> {
        let b = g
            .between
            .as_ref()
            .map_err(|e| format!("times between failures: {e}"))?;
        let r = match &g.repair {
            None => return Err("no `end` column, no repair times".into()),
            Some(r) => r.as_ref().map_err(|e| format!("repair times: {e}"))?,
        };
        Ok((b.best().dist, r.best().dist))
    };
    let replace = |list: &mut Vec<FailureModeSpec>,
                   mode: FailureMode,
                   tb: &Distribution,
                   rp: &Distribution| {
        let mut hit = false;
        for spec in list.iter_mut().filter(|x| x.mode == mode) {
            spec.time_between = tb.clone();
            spec.repair = rp.clone();
            hit = true;
        }
        hit
    };
    for pass in ["resource", "resource_type"] {
        for g in fits.iter().filter(|g| g.sample.labels[0].0 == pass) {
            let target = g.sample.labels[0].1.clone();
            let Some(mode) = parse_mode(&g.sample.labels[1].1) else {
                continue;
            };
            let (tb, rp) = match best(g) {
                Ok(x) => x,
                Err(why) => {
                    refit
                        .notes
                        .push(format!("{}: not refitted: {why}", g.sample.key()));
                    continue;
                }
            };
            let what = format!(
                "time_between {} (n={}), repair {} (n={})",
                dist_yaml(&tb),
                g.sample.between.len(),
                dist_yaml(&rp),
                g.sample.repair.len()
            );
            let (tb, rp) = (to_spec(&tb), to_spec(&rp));
            if pass == "resource" {
                if let Some(r) = s.resources.iter_mut().find(|r| r.id == target)
                    && let Some(list) = r.failure_modes.as_mut()
                {
                    if replace(list, mode, &tb, &rp) {
                        own.push((target.clone(), mode));
                        refit
                            .notes
                            .push(format!("resources[{target}] {mode}: {what}"));
                    } else {
                        refit.notes.push(format!("resources[{target}]: has no {mode} failure mode; its incidents are not used"));
                    }
                }
                continue;
            }
            let Some(t) = parse_type(&target) else {
                continue;
            };
            let mut applied = Vec::new();
            for r in s.resources.iter_mut().filter(|r| r.kind == t) {
                if own.iter().any(|(id, m)| id == &r.id && *m == mode) {
                    continue;
                }
                if let Some(list) = r.failure_modes.as_mut()
                    && replace(list, mode, &tb, &rp)
                {
                    applied.push(format!("resources[{}]", r.id));
                }
            }
            if !s
                .resource_failure_modes
                .iter()
                .any(|e| e.resource_type == t)
                && let Some(d) = defaults.iter().find(|d| d.resource_type == t)
                && d.failure_modes.iter().any(|x| x.mode == mode)
            {
                s.resource_failure_modes.push(ResourceTypeFailureModes {
                    resource_type: t,
                    failure_modes: d.failure_modes.clone(),
                });
            }
            if let Some(e) = s
                .resource_failure_modes
                .iter_mut()
                .find(|e| e.resource_type == t)
                && replace(&mut e.failure_modes, mode, &tb, &rp)
            {
                applied.push(format!("resource_failure_modes[{target}]"));
            }
            if applied.is_empty() {
                refit.notes.push(format!(
                    "{target} {mode}: no such failure mode in the scenario; not used"
                ));
            } else {
                refit
                    .notes
                    .push(format!("{} {mode}: {what}", applied.join(", ")));
            }
        }
    }
    (s, refit)
}

#[cfg(test)]
mod tests;
