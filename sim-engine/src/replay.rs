//! `preflight replay`: re-run one campaign of a run directory from its
//! manifest and compare its rows with the ones the run wrote.
//!
//! A campaign's rows depend only on the scenario, the files it reads, the
//! options that change results, the master seed, the job (variant, mode,
//! injection) and the campaign's index ([`crate::run::ReadyJob::run_range`]).
//! The manifest records all of them: the scenario is read from the run
//! directory's copy (checked against its recorded hash), the files it names
//! from their recorded absolute paths (checked too), and the in-flight caps
//! are the run's, whatever the memory of the machine that replays.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sim_models::campaign::CampaignMode;
use sim_output::cells::{self, Cells};
use sim_output::manifest::Manifest;
use sim_output::{CampaignRow, EventRow, HandlerRow, TableRow};

use crate::error::Error;
use crate::inputs::FileAccess;
use crate::job::{RunOptions, plan_live_injection, plan_loaded, predict_scenarios};
use crate::run::{JobSpec, ReadyJob};
use crate::scenario::{Format, load_bytes_with};
use crate::timing::{Mark, Phases};

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The run directory.
    pub run_dir: PathBuf,
    /// The campaign's index in its job (`campaign` in `campaigns.parquet`).
    pub campaign: u64,
    /// The variant (`base` for the scenario as written).
    pub variant: String,
    /// A targeted campaign: the injection's id (`scenario_id`); `None`: a
    /// natural campaign.
    pub injection: Option<String>,
    /// A programme campaign (`mode` `programme`): the natural campaign of
    /// that index with the injection programme running.
    pub programme: bool,
}

/// One cell of a replayed row beside the run's.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The column.
    pub column: String,
    /// The value the run wrote.
    pub recorded: String,
    /// The value the replay gave.
    pub replayed: String,
}

impl Cell {
    /// Whether the two agree.
    pub fn same(&self) -> bool {
        self.recorded == self.replayed
    }
}

/// A replayed campaign.
#[derive(Debug, Clone)]
pub struct ReplayOutcome {
    /// Its row of `campaigns.parquet`, cell by cell.
    pub campaign: Vec<Cell>,
    /// Its rows of `handlers.parquet` (one per handler), cell by cell.
    pub handlers: Vec<Vec<Cell>>,
    /// The live injections' events of the replayed campaign (empty without
    /// live injection).
    pub events: Vec<EventRow>,
    /// Why the replay may not match: another build, changed input files.
    pub warnings: Vec<String>,
}

impl ReplayOutcome {
    /// Whether every replayed cell equals the run's.
    pub fn identical(&self) -> bool {
        self.campaign.iter().all(Cell::same) && self.handlers.iter().flatten().all(Cell::same)
    }

    /// The cells that differ, as `table.column: recorded → replayed`.
    pub fn differences(&self) -> Vec<String> {
        let campaign = self.campaign.iter().map(|c| ("campaigns", c));
        let handlers = self.handlers.iter().flatten().map(|c| ("handlers", c));
        campaign
            .chain(handlers)
            .filter(|(_, c)| !c.same())
            .map(|(t, c)| format!("{t}.{}: {} → {}", c.column, c.recorded, c.replayed))
            .collect()
    }
}

/// The rows one campaign sends, kept.
/// Re-runs campaign `opts.campaign` of the job `opts` names, from the run
/// directory's manifest, and compares its rows with the run's.
///
/// Errors: the directory is not a run's, the scenario copy was modified,
/// the variant, injection or campaign is not in the run (input, exit 2); a
/// table cannot be read (environment).
pub fn replay(opts: &ReplayOptions) -> Result<ReplayOutcome, Error> {
    let dir = &opts.run_dir;
    let manifest_path = dir.join("manifest.json");
    if !manifest_path.is_file() {
        return Err(Error::input(format!(
            "preflight: replay: {}: not a run directory (no manifest.json)",
            dir.display()
        )));
    }
    let m = Manifest::read(&manifest_path)
        .map_err(|e| Error::input(format!("preflight: replay: {e}")))?;
    let mut warnings = Vec::new();
    if m.run.tool_version != env!("CARGO_PKG_VERSION")
        || m.run.tool_commit != crate::provenance::COMMIT
    {
        warnings.push(format!(
            "the run was made by Preflight {} (commit {}), this is {} (commit {}): rows may differ",
            m.run.tool_version,
            m.run.tool_commit,
            env!("CARGO_PKG_VERSION"),
            crate::provenance::COMMIT
        ));
    }
    let loaded = load_copy(dir, &m)?;
    let run_opts = options_of(&m)?;
    let mut run = plan_loaded(&run_opts, loaded)?;
    warnings.extend(changed_inputs(&run.inputs(), &m));
    // The run's in-flight caps, not this machine's.
    for v in &mut run.variants {
        if let Some(c) = m
            .run
            .limits
            .in_flight_cap
            .iter()
            .find(|c| c.variant == *v.name)
        {
            v.model.in_flight_cap = c.cap;
        }
    }
    let variant = run
        .variants
        .iter()
        .position(|v| *v.name == opts.variant)
        .ok_or_else(|| {
            Error::input(format!(
                "preflight: replay: --variant: the run has no variant `{}` (it ran: {})",
                opts.variant,
                names(run.variants.iter().map(|v| &*v.name))
            ))
        })?;
    let mode = match &opts.injection {
        None => CampaignMode::Natural,
        Some(id) => {
            let injections = &run.variants[variant].model.injections;
            let k = injections.iter().position(|i| i.id == *id).ok_or_else(|| {
                Error::input(format!(
                    "preflight: replay: --injection: variant `{}` has no injection `{id}` (it has: {})",
                    opts.variant,
                    names(injections.iter().map(|i| i.id.as_str()))
                ))
            })?;
            CampaignMode::Targeted(k)
        }
    };
    if opts.programme && opts.injection.is_some() {
        return Err(Error::input(
            "preflight: replay: --programme and --injection: a campaign is either a programme campaign or a targeted one".to_owned(),
        ));
    }
    // The programme's live injections draw from the predicted scenarios:
    // predicted again, as the run did.
    if opts.programme && !run.plan.two_scale && crate::job::live_profile(&run, &run_opts).is_some()
    {
        let predicted = predict_scenarios(&run, &run_opts)?;
        plan_live_injection(&mut run, &run_opts, &predicted);
    }
    let spec = JobSpec {
        variant: &run.variants[variant],
        mode,
        scenario_id: opts.injection.as_deref().map(Arc::from),
        programme: opts.programme,
    };
    if opts.programme && job_live_missing(&run) {
        return Err(Error::input(
            "preflight: replay: --programme: the run had no injection programme (an enabled `failure_injection_profile` at request level)".to_owned(),
        ));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(run.plan.threads.max(1))
        .thread_name(|i| format!("preflight-worker-{i}"))
        .build()
        .map_err(|e| Error::environment(format!("preflight: replay: {e}")))?;
    let (mut phases, mut mark) = (Phases::default(), Mark::now());
    let job = ReadyJob::prepare(spec, &run.plan, &pool, &mut phases, &mut mark)?;
    let hidden = crate::progress::Task::start("replay", 1, false);
    let c = opts.campaign;
    let outcome = job.run_range(&run.plan, c..c + 1, &pool, &hidden)?;
    let mut kept = crate::run::Collect::default();
    for o in &outcome {
        job.write_rows(o, run_opts.events, &mut kept)
            .map_err(|e| Error::output("replay", e))?;
    }
    let campaign = compare_one(dir, &kept.campaigns, opts)?;
    let handlers = compare_handlers(dir, &kept.handlers)?;
    Ok(ReplayOutcome {
        campaign,
        handlers,
        events: kept.events,
        warnings,
    })
}

/// The scenario as the run read it: the run directory's copy, checked
/// against the recorded hash, read as if it were at its recorded path (so
/// that the files it names resolve as they did).
fn load_copy(dir: &Path, m: &Manifest) -> Result<crate::scenario::Loaded, Error> {
    let copy = dir.join(&m.run.scenario_copy);
    let bytes = crate::inputs::read_regular(&copy, crate::scenario::MAX_SCENARIO_BYTES)
        .map_err(|e| Error::input(format!("preflight: replay: {}: {e}", copy.display())))?;
    let hash = crate::provenance::sha256(&bytes);
    if hash != m.run.scenario_hash {
        return Err(Error::input(format!(
            "preflight: replay: {}: the copy of the scenario does not match the hash the run recorded ({} ≠ {}): it was changed after the run",
            copy.display(),
            hash,
            m.run.scenario_hash
        )));
    }
    let format = Format::from_path(&copy)
        .map_err(|e| Error::input(format!("preflight: replay: {}: {e}", copy.display())))?;
    let access = FileAccess::allowing_external(m.run.options.allow_external_files);
    let path = Path::new(&m.run.scenario_path);
    load_bytes_with(&bytes, format, path, access)
        .map_err(|e| crate::prepare::problems_error(path, &e))
}

/// Input files whose content changed since the run (or are gone), `now`
/// being what the replay's plan read.
fn changed_inputs(now: &[sim_output::manifest::InputInfo], m: &Manifest) -> Vec<String> {
    m.run
        .inputs
        .iter()
        .filter(|i| i.role != "calibration") // calibration changes no row
        .filter(|i| !now.iter().any(|n| n.path == i.path && n.sha256 == i.sha256))
        .map(|i| {
            format!(
                "{} file {} changed since the run (or cannot be read): rows may differ",
                i.role, i.path
            )
        })
        .collect()
}

/// The run's options: as given, with the effective seed, campaigns, scale,
/// threads and memory limit the manifest recorded.
fn options_of(m: &Manifest) -> Result<RunOptions, Error> {
    let o = &m.run.options;
    let bad = |what: &str, e: String| {
        Error::input(format!(
            "preflight: replay: manifest.json: options.{what}: {e}"
        ))
    };
    let mut r = RunOptions::new(&m.run.scenario_path);
    r.campaigns = Some(m.run.campaigns);
    r.seed = Some(m.run.seed);
    r.threads = Some(m.run.threads.max(1) as usize);
    r.variant = o.variant.clone();
    r.mode = o.mode.parse().map_err(|e| bad("mode", e))?;
    r.rare_event = o
        .rare_event
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| bad("rare_event", e))?;
    r.no_calibration = true;
    r.max_memory = Some(m.run.limits.max_memory);
    r.events = true;
    r.live_injection = o.live_injection;
    r.scenario_campaigns = o.scenario_campaigns;
    r.scale = m.run.scale.parse().map_err(|e| bad("scale", e))?;
    r.independent_streams = o.independent_streams;
    r.remediate = None;
    r.service_paths = false;
    r.file_access = FileAccess::allowing_external(o.allow_external_files);
    r.telemetry = o.telemetry.as_ref().map(std::path::PathBuf::from);
    Ok(r)
}

/// The replayed campaign row beside the run's.
fn compare_one(
    dir: &Path,
    replayed: &[CampaignRow],
    opts: &ReplayOptions,
) -> Result<Vec<Cell>, Error> {
    let mine = cells::of(replayed).map_err(|e| Error::output("replay", e))?;
    let Some(mine) = mine.into_iter().next() else {
        return Ok(Vec::new());
    };
    let path = dir.join(CampaignRow::FILE_NAME);
    let theirs = read_rows(&path, &key(&mine))?;
    let Some(theirs) = theirs.into_iter().next() else {
        return Err(Error::input(format!(
            "preflight: replay: {}: no row for campaign {} of variant `{}` ({}): the run did not simulate it",
            path.display(),
            opts.campaign,
            opts.variant,
            opts.injection
                .as_deref()
                .map_or(natural_or_programme(opts).to_owned(), |i| format!(
                    "injection `{i}`"
                ))
        )));
    };
    Ok(pair(&theirs, &mine))
}

/// The replayed handler rows beside the run's (none when the run wrote
/// no per-campaign handler rows).
fn compare_handlers(dir: &Path, replayed: &[HandlerRow]) -> Result<Vec<Vec<Cell>>, Error> {
    let mine = cells::of(replayed).map_err(|e| Error::output("replay", e))?;
    let Some(first) = mine.first() else {
        return Ok(Vec::new());
    };
    // The campaign's rows, read once, then matched by handler.
    let theirs = read_rows(&dir.join(HandlerRow::FILE_NAME), &key(first))?;
    let handler = |row: &Cells| row.iter().find(|(c, _)| c == "handler").cloned();
    Ok(mine
        .iter()
        .filter_map(|row| {
            let t = theirs.iter().find(|t| handler(t) == handler(row))?;
            Some(pair(t, row))
        })
        .collect())
}

fn read_rows(path: &Path, key: &[(String, String)]) -> Result<Vec<Cells>, Error> {
    cells::read_matching(path, key).map_err(|e| Error::output("replay: reading the run's rows", e))
}

/// The cells that identify a campaign's rows in every table.
fn key(row: &Cells) -> Vec<(String, String)> {
    row.iter()
        .filter(|(c, _)| matches!(c.as_str(), "variant" | "campaign" | "mode" | "scenario_id"))
        .cloned()
        .collect()
}

fn pair(recorded: &Cells, replayed: &Cells) -> Vec<Cell> {
    replayed
        .iter()
        .map(|(column, value)| Cell {
            column: column.clone(),
            recorded: recorded
                .iter()
                .find(|(c, _)| c == column)
                .map_or_else(|| "(absent)".to_owned(), |(_, v)| v.clone()),
            replayed: value.clone(),
        })
        .collect()
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = it.map(|n| format!("`{n}`")).collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

/// The outcome as text: the campaign's cells side by side, each handler's
/// differences, the events, and the verdict.
pub fn render(o: &ReplayOutcome, opts: &ReplayOptions) -> String {
    let mut out = String::new();
    let width = o.campaign.iter().map(|c| c.column.len()).max().unwrap_or(0);
    crate::textln!(
        out,
        "campaign {} of `{}` ({}), replayed from {}:",
        opts.campaign,
        opts.variant,
        opts.injection
            .as_deref()
            .map_or(natural_or_programme(opts).to_owned(), |i| format!(
                "injection `{i}`"
            )),
        opts.run_dir.display()
    );
    crate::textln!(
        out,
        "  {:width$}  {:>24}  {:>24}",
        "column",
        "recorded",
        "replayed"
    );
    for c in &o.campaign {
        crate::textln!(
            out,
            "  {:width$}  {:>24}  {:>24}{}",
            c.column,
            c.recorded,
            c.replayed,
            if c.same() { "" } else { "  ≠" }
        );
    }
    let same_handlers = o
        .handlers
        .iter()
        .filter(|h| h.iter().all(Cell::same))
        .count();
    crate::textln!(
        out,
        "handlers: {same_handlers} of {} rows identical",
        o.handlers.len()
    );
    if !o.events.is_empty() {
        crate::textln!(out, "events ({}):", o.events.len());
        for e in &o.events {
            crate::textln!(
                out,
                "  {:>12.3} s  {:<10} {} {}  {}",
                e.time_s,
                e.kind,
                e.target,
                e.mode,
                e.detail
            );
        }
    }
    if o.identical() {
        crate::textln!(out, "identical: the replayed rows equal the run's");
    } else {
        crate::textln!(out, "DIFFERENT:");
        for d in o.differences() {
            crate::textln!(out, "  {d}");
        }
    }
    out
}

/// How a campaign that is not targeted is named.
fn natural_or_programme(opts: &ReplayOptions) -> &'static str {
    if opts.programme {
        "programme"
    } else {
        "natural"
    }
}

/// Whether the run has no injection programme to replay.
fn job_live_missing(run: &crate::job::Planned) -> bool {
    run.plan.live.is_none() || run.plan.two_scale
}
