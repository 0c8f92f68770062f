//! `preflight export RUN_DIR --format F`: a run directory turned into what
//! live fault injectors and monitoring read (`docs/exports.md`), so that
//! nobody re-types targets, magnitudes, durations or thresholds.
//!
//! Data flow: [`read::read_run`] reads the manifest, the scenario copy
//! (`target:`, handlers, SLOs), `scenarios.parquet` and `risk.parquet`;
//! [`select::select`] takes the scenarios asked for and checks every abort
//! threshold (strictly between the healthy steady state and the SLO's
//! breach level); one module per format turns them into files; the files
//! are published atomically into `--out` (default `RUN_DIR/export/FORMAT/`)
//! with an `index.json` of what was exported, skipped and why.
//!
//! Rules (the contract): an export is a pure function of the run directory
//! and the options (byte-identical files); durations and magnitudes are
//! never larger than the simulated ones (rounded down); a tool without the
//! failure mode's action skips the scenario and says why, never invents an
//! action; a target the format needs and the scenario lacks is an obvious
//! placeholder (`REPLACE-ME`) and a warning (`--strict`: an error); every
//! file names the run (manifest hash) and the scenario's rank.

mod chaos_mesh;
mod chaostoolkit;
mod fis;
mod k8s;
mod litmus;
mod prometheus;
pub mod read;
pub mod select;
pub mod thresholds;

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;
use sim_engine::error::Error;

pub use read::{Run, read_run};
pub use select::{Filter, Selection, select};

/// The formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON and Parquet of every number (ours).
    Thresholds,
    /// AWS FIS request JSON per scenario and a CloudFormation template.
    Fis,
    /// Chaos Mesh chaos resources and Workflows.
    ChaosMesh,
    /// Litmus ChaosEngines with probes.
    Litmus,
    /// Chaos Toolkit experiments.
    ChaosToolkit,
    /// Prometheus alerting rules.
    PrometheusRules,
}

impl Format {
    /// Every format, in the order of `docs/exports.md`.
    pub const ALL: [Format; 6] = [
        Format::Thresholds,
        Format::Fis,
        Format::ChaosMesh,
        Format::Litmus,
        Format::ChaosToolkit,
        Format::PrometheusRules,
    ];

    /// Its name on the command line and as a folder.
    pub fn name(self) -> &'static str {
        match self {
            Format::Thresholds => "thresholds",
            Format::Fis => "fis",
            Format::ChaosMesh => "chaos-mesh",
            Format::Litmus => "litmus",
            Format::ChaosToolkit => "chaostoolkit",
            Format::PrometheusRules => "prometheus-rules",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown format `{s}`: expected one of {}",
                    Format::ALL.map(Format::name).join(", ")
                )
            })
    }
}

/// Where the workload's requests and latencies are in Prometheus, for the
/// formats that query it (the series are the user's; these are the common
/// conventions, overridable).
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Base URL of the Prometheus server the probes query.
    pub prometheus_url: String,
    /// A counter of requests (`http_requests_total`).
    pub requests: String,
    /// The label matcher that picks the failed ones (`code=~"5.."`).
    pub errors: String,
    /// A histogram of request durations in seconds, without `_bucket`
    /// (`http_request_duration_seconds`).
    pub duration: String,
    /// The range of `rate()` (`1m`).
    pub window: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            prometheus_url: "http://prometheus-operated.monitoring.svc:9090".into(),
            requests: "http_requests_total".into(),
            errors: "code=~\"5..\"".into(),
            duration: "http_request_duration_seconds".into(),
            window: "1m".into(),
        }
    }
}

/// What `preflight export` is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// The run directory.
    pub run_dir: PathBuf,
    /// The format.
    pub format: Format,
    /// Which scenarios.
    pub filter: Filter,
    /// Where to write (default `RUN_DIR/export/FORMAT/`).
    pub out: Option<PathBuf>,
    /// A missing target or a threshold that cannot be written is an error.
    pub strict: bool,
    /// The Prometheus series the probes and rules query.
    pub metrics: Metrics,
    /// The IAM role AWS FIS assumes (`--fis-role-arn`).
    pub fis_role_arn: Option<String>,
}

/// What an export wrote.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    /// The directory.
    pub dir: PathBuf,
    /// Its files, `index.json` included.
    pub files: Vec<String>,
    /// The scenarios exported, by id.
    pub exported: Vec<String>,
    /// `(scenario id, why)` of every scenario skipped.
    pub skipped: Vec<(String, String)>,
    /// Placeholders written and thresholds left out.
    pub warnings: Vec<String>,
}

/// Which run, and which scenario ranks, an export came from.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// `preflight`.
    pub tool: String,
    /// The Preflight version that exported.
    pub tool_version: String,
    /// `sha256:…` of the run's `manifest.json`.
    pub run_manifest: String,
    /// The scenario's `name:`.
    pub scenario: String,
    /// `sha256:…` of the scenario file that ran.
    pub scenario_hash: String,
    /// The run's seed.
    pub seed: u64,
    /// Campaigns per variant.
    pub campaigns: u64,
}

impl Provenance {
    fn of(run: &Run) -> Provenance {
        Provenance {
            tool: sim_output::manifest::TOOL.into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            run_manifest: run.manifest_sha256.clone(),
            scenario: run.manifest.run.scenario.clone(),
            scenario_hash: run.manifest.run.scenario_hash.clone(),
            seed: run.manifest.run.seed,
            campaigns: run.manifest.run.campaigns,
        }
    }
}

/// `Some(x)` when `x` is a number (JSON has no NaN).
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// A tool's action for a scenario (`Ok(Ok(_))`), or why the scenario is
/// skipped for that tool (`Ok(Err(why))`); `Err` fails the export.
type Mapped<T> = Result<Result<T, String>, Error>;

/// What a format module makes of the selection.
#[derive(Debug, Default)]
struct Files {
    /// `(name, content)`, written in this order.
    files: Vec<(String, Vec<u8>)>,
    /// Per exported scenario: `(id, what the tool runs, its files)`.
    exported: Vec<(String, String, Vec<String>)>,
    /// `(id, why)`.
    skipped: Vec<(String, String)>,
    /// Placeholders written.
    warnings: Vec<String>,
}

/// The text the format modules share.
struct Ctx<'a> {
    run: &'a Run,
    opts: &'a ExportOptions,
    provenance: Provenance,
}

impl Ctx<'_> {
    /// A placeholder for something the scenario does not give: noted as a
    /// warning (an error with `--strict`).
    fn placeholder(&self, files: &mut Files, what: String) -> Result<(), Error> {
        if self.opts.strict {
            return Err(Error::input(format!(
                "preflight: export: {what} (--strict)"
            )));
        }
        if !files.warnings.contains(&what) {
            files.warnings.push(what);
        }
        Ok(())
    }

    /// The first comment lines of a file: which run and scenario.
    fn header(&self, c: &select::Chosen) -> String {
        let p = &c.row;
        format!(
            "Preflight {} export of run {} (scenario file {} {}, seed {}): predicted scenario rank {} {} ({} on {}, {} s).",
            self.opts.format.name(),
            self.provenance.run_manifest,
            self.provenance.scenario,
            self.provenance.scenario_hash,
            self.provenance.seed,
            p.rank,
            p.scenario_id,
            p.failure_mode,
            p.target,
            whole_seconds(p.duration_s),
        )
    }
}

/// Seconds rounded down: never longer than simulated.
pub fn whole_seconds(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        s.floor() as u64
    } else {
        0
    }
}

/// Milliseconds rounded down: never more than simulated.
pub fn whole_ms(ms: f64) -> u64 {
    whole_seconds(ms)
}

/// A fraction as a whole percentage, rounded down.
pub fn whole_percent(fraction: f64) -> u64 {
    // 0.29 * 100 is 28.999…: nudge by a relative epsilon before flooring,
    // never by enough to round a real 28.99 up.
    whole_seconds(fraction * 100.0 * (1.0 + 1e-12))
}

/// A number exactly, as Rust prints it (the shortest text that reads back
/// as the same f64): for values tools compare against.
pub fn exact(x: f64) -> String {
    format!("{x}")
}

/// A number as short text for prose: `0.02`, `600`, `0.00049`.
pub fn num(x: f64) -> String {
    let s = format!("{x}");
    if s.len() > 12 {
        format!("{x:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    } else {
        s
    }
}

/// A Kubernetes object name from a scenario id: lower case, `-`, at most 63.
pub fn k8s_name(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(63);
    s.trim_matches('-').to_owned()
}

/// YAML text of `value` (keys in order: serde_json maps are sorted).
fn yaml(value: &serde_json::Value) -> Result<String, Error> {
    serde_saphyr::to_string(value)
        .map_err(|e| Error::Internal(format!("preflight: export: YAML: {e}")))
}

/// Pretty JSON with a final newline.
fn json(value: &impl Serialize) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(value).expect("export documents serialise");
    v.push(b'\n');
    v
}

/// `text` as `# ` comment lines.
fn comment(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "#\n".to_owned()
            } else {
                format!("# {l}\n")
            }
        })
        .collect()
}

/// Runs an export.
pub fn export(opts: &ExportOptions) -> Result<Exported, Error> {
    let run = read_run(&opts.run_dir)?;
    let sel = select(&run, &opts.filter, opts.strict)?;
    let ctx = Ctx {
        run: &run,
        opts,
        provenance: Provenance::of(&run),
    };
    let mut files = match opts.format {
        Format::Thresholds => {
            let doc = thresholds::document(&run, &sel, ctx.provenance.clone());
            Files {
                files: vec![("thresholds.json".into(), json(&doc))],
                exported: sel
                    .chosen
                    .iter()
                    .map(|c| {
                        (
                            c.row.scenario_id.clone(),
                            "thresholds".to_owned(),
                            vec!["thresholds.json".into(), "thresholds.parquet".into()],
                        )
                    })
                    .collect(),
                ..Files::default()
            }
        }
        Format::Fis => fis::files(&ctx, &sel)?,
        Format::ChaosMesh => chaos_mesh::files(&ctx, &sel)?,
        Format::Litmus => litmus::files(&ctx, &sel)?,
        Format::ChaosToolkit => chaostoolkit::files(&ctx, &sel)?,
        Format::PrometheusRules => prometheus::files(&ctx, &sel)?,
    };
    let mut warnings = sel.warnings.clone();
    warnings.append(&mut files.warnings);
    if files.exported.is_empty() {
        let why: Vec<String> = files
            .skipped
            .iter()
            .map(|(id, why)| format!("  {id}: {why}"))
            .collect();
        return Err(Error::input(format!(
            "preflight: export: nothing to export as {}: every scenario chosen was skipped:\n{}",
            opts.format.name(),
            why.join("\n")
        )));
    }
    let out = opts.out.clone().unwrap_or_else(|| {
        opts.run_dir
            .join(sim_output::EXPORT_DIR)
            .join(opts.format.name())
    });
    let staging = sim_output::ExportStaging::create(&out)
        .map_err(|e| Error::output(format!("--out {}", out.display()), e))?;
    let mut names = Vec::new();
    for (name, bytes) in &files.files {
        write(staging.path(), name, bytes)?;
        names.push(name.clone());
    }
    if opts.format == Format::Thresholds {
        let doc = thresholds::document(&run, &sel, ctx.provenance.clone());
        thresholds::write_parquet(&staging.path().join("thresholds.parquet"), &doc)?;
        names.push("thresholds.parquet".into());
    }
    names.sort();
    let index = Index {
        tool: sim_output::manifest::TOOL,
        format: opts.format.name(),
        provenance: &ctx.provenance,
        files: &names,
        exported: files
            .exported
            .iter()
            .map(|(id, action, f)| IndexEntry {
                rank: rank_of(&run, id),
                scenario_id: id.clone(),
                failure_mode: mode_of(&run, id),
                action: Some(action.clone()),
                files: f.clone(),
                reason: None,
            })
            .collect(),
        skipped: files
            .skipped
            .iter()
            .map(|(id, why)| IndexEntry {
                rank: rank_of(&run, id),
                scenario_id: id.clone(),
                failure_mode: mode_of(&run, id),
                action: None,
                files: Vec::new(),
                reason: Some(why.clone()),
            })
            .collect(),
        warnings: &warnings,
    };
    write(staging.path(), sim_output::EXPORT_INDEX, &json(&index))?;
    staging
        .publish()
        .map_err(|e| Error::output(format!("--out {}", out.display()), e))?;
    let mut all = names;
    all.push(sim_output::EXPORT_INDEX.into());
    all.sort();
    Ok(Exported {
        dir: out,
        files: all,
        exported: files.exported.into_iter().map(|(id, _, _)| id).collect(),
        skipped: files.skipped,
        warnings,
    })
}

fn rank_of(run: &Run, id: &str) -> i32 {
    run.predicted
        .iter()
        .find(|p| p.scenario_id == id)
        .map_or(0, |p| p.rank)
}

fn mode_of(run: &Run, id: &str) -> String {
    run.predicted
        .iter()
        .find(|p| p.scenario_id == id)
        .map_or_else(String::new, |p| p.failure_mode.clone())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path)
        .map_err(|e| Error::environment(format!("preflight: {}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::environment(format!("preflight: {}: {e}", path.display())))
}

/// `index.json`: what an export wrote, skipped and why; its marker
/// (`tool`, `format`, `files`) lets a later export replace the folder.
#[derive(Serialize)]
struct Index<'a> {
    tool: &'a str,
    format: &'a str,
    provenance: &'a Provenance,
    files: &'a [String],
    exported: Vec<IndexEntry>,
    skipped: Vec<IndexEntry>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct IndexEntry {
    rank: i32,
    scenario_id: String,
    failure_mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// The JSON Schema of `thresholds.json` (`preflight schema --exports`).
pub fn thresholds_schema() -> String {
    thresholds::json_schema()
}
