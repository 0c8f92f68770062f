//! Running a run's campaign ranges apart and putting them back together:
//! parts kept while a local run goes (`--resume`), shards of batch arrays
//! (`run --shard I/N`) and `merge` (`docs/distributed.md`). The parts
//! themselves are [`crate::parts`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::job::{Planned, RunOptions};
use crate::parts::{self, PartKey, PartStore, RunSpec, planned_ranges};
pub use crate::parts::{Parts, resume_dir};
use crate::run::{CHUNK, plan_jobs};
use crate::scenario::FileAccess;

fn env_error(what: &Path, e: impl std::fmt::Display) -> Error {
    Error::environment(format!("preflight: {}: {e}", what.display()))
}

/// The run key of a planned run.
/// What one shard did.
#[derive(Debug, Clone)]
pub struct ShardOutcome {
    /// Where its parts are (`--out`).
    pub dir: PathBuf,
    /// This shard and the number of shards.
    pub shard: (u64, u64),
    /// Ranges of the run in all, and of this shard.
    pub ranges: u64,
    /// This shard's ranges.
    pub owned: u64,
    /// Of which run now, and found done already (kept).
    pub ran: u64,
    /// Ranges found done already.
    pub kept: u64,
    /// Campaigns run now.
    pub campaigns: u64,
}

/// `run --shard I/N`: runs the ranges of shard `index` of `count` (range
/// `g`, counted over every job's ranges in plan order, belongs to shard
/// `g mod count`) and writes their parts under `--out`, with `run.json`
/// describing the run for `merge`. Ranges whose part is there already are
/// not run again.
pub fn execute_shard(opts: &RunOptions, index: u64, count: u64) -> Result<ShardOutcome, Error> {
    if count == 0 || index >= count {
        return Err(Error::input(format!(
            "preflight: --shard {index}/{count}: expected I/N with 0 ≤ I < N"
        )));
    }
    if opts.until_decided.is_some() || opts.against_gate {
        return Err(Error::input(
            "preflight: --shard: --until-decided chooses the number of campaigns as the rows come in, which separate shards cannot share; give --campaigns instead",
        ));
    }
    let Some(dir) = opts.out.clone() else {
        return Err(Error::input(
            "preflight: --shard needs --out DIR: the directory this shard's parts go to (give every shard's directory to `preflight merge`)",
        ));
    };
    let prepared = prepare(opts, count)?;
    let parts_dir = dir.join("parts");
    std::fs::create_dir_all(&parts_dir).map_err(|e| env_error(&parts_dir, e))?;
    write_spec(&dir, &prepared.spec)?;
    let found = parts::scan(&dir, &prepared.spec.run_key, false)?;
    let planned = planned_ranges(
        &prepared.run.variants,
        &prepared.run.plan,
        prepared.spec.range_size,
    );
    let mine: Vec<_> = planned
        .iter()
        .filter(|(g, _, _)| parts::shard_of(*g, count) == index)
        .collect();
    let todo: u64 = mine
        .iter()
        .filter(|(_, k, _)| !found.contains_key(k))
        .map(|(_, k, _)| k.2 - k.1)
        .sum();
    let progress = prepared.run.plan.progress;
    let worker = WorkerRun::of(prepared)?;
    let bar =
        crate::progress::Task::start(&format!("shard {index}/{count} campaigns"), todo, progress);
    let mut out = ShardOutcome {
        dir: dir.clone(),
        shard: (index, count),
        ranges: planned.len() as u64,
        owned: mine.len() as u64,
        ran: 0,
        kept: 0,
        campaigns: 0,
    };
    for (_, key, _) in mine {
        if found.contains_key(key) {
            out.kept += 1;
            continue;
        }
        worker.run_part_counted(*key, &parts_dir, &bar)?;
        out.ran += 1;
        out.campaigns += key.2 - key.1;
    }
    bar.finish_and_clear();
    Ok(out)
}

/// A run planned for its ranges to run elsewhere, with its `run.json`.
struct Prepared {
    run: Planned,
    spec: RunSpec,
}

/// Plans the run of `opts` as shards and workers see it: the variants, the
/// predicted scenarios when the injection programme needs them (its job
/// exists only with them), and the `run.json` of a split into `shards`.
fn prepare(opts: &RunOptions, shards: u64) -> Result<Prepared, Error> {
    let mut run = crate::job::plan_run(opts)?;
    let run_key = run.run_key(opts);
    let range_size = opts.range_size.unwrap_or(CHUNK).max(1);
    let predicted =
        if crate::job::predicts(&run, opts) && crate::job::live_profile(&run, opts).is_some() {
            crate::job::predict_scenarios(&run, opts)?
        } else {
            Vec::new()
        };
    crate::job::plan_live_injection(&mut run, opts, &predicted);
    let jobs = plan_jobs(&run.variants, &run.plan);
    let spec = RunSpec {
        format: parts::FORMAT,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        run_key,
        scenario_path: std::path::absolute(&run.loaded.file)
            .unwrap_or_else(|_| run.loaded.file.clone())
            .display()
            .to_string(),
        scenario: String::from_utf8_lossy(&run.loaded.source).into_owned(),
        options: opts.manifest(),
        seed: run.plan.seed,
        campaigns: run.plan.campaigns,
        scale: if run.plan.two_scale {
            "two-scale"
        } else {
            "request-level"
        }
        .to_owned(),
        range_size,
        shards,
        jobs: jobs.iter().map(parts::job_name).collect(),
        command: opts.command_line.clone(),
    };
    Ok(Prepared { run, spec })
}

/// The ranges of a run, for a coordinator to hand out.
#[derive(Debug, Clone)]
pub struct RangePlan {
    /// What a worker needs to run any of them.
    pub spec: RunSpec,
    /// Every range of every job in plan order, with its job's name.
    pub ranges: Vec<(PartKey, String)>,
    /// Where the local run's parts go ([`resume_dir`] of its output).
    pub parts_dir: PathBuf,
}

/// Plans the run of `opts` and lists its ranges (`run --cluster`).
pub fn plan_ranges(opts: &RunOptions) -> Result<RangePlan, Error> {
    if opts.until_decided.is_some() || opts.against_gate {
        return Err(Error::input(
            "preflight: --cluster: --until-decided chooses the number of campaigns as the rows come in, which workers cannot share; give --campaigns instead",
        ));
    }
    let Prepared { run, spec } = prepare(opts, 1)?;
    let ranges = planned_ranges(&run.variants, &run.plan, spec.range_size)
        .into_iter()
        .map(|(_, k, name)| (k, name))
        .collect();
    Ok(RangePlan {
        spec,
        ranges,
        parts_dir: resume_dir(&run.out_dir),
    })
}

/// A worker's side of a run: planned once from its `run.json`, then any of
/// its ranges run into parts ([`WorkerRun::run_part`]).
pub struct WorkerRun {
    run: Planned,
    spec: RunSpec,
    /// Per job, its two-scale baseline and library once built.
    baselines: std::sync::Mutex<BTreeMap<usize, Option<sim_models::two_scale::Baseline>>>,
    pool: rayon::ThreadPool,
}

impl WorkerRun {
    /// Plans the run `spec` describes on `threads` threads (default: all
    /// cores); an error when the plan does not give the spec's run key.
    pub fn new(spec: RunSpec, threads: Option<usize>) -> Result<WorkerRun, Error> {
        let mut opts = merge_options(spec.clone(), Vec::new(), std::env::temp_dir())?;
        opts.quiet = true;
        opts.threads = threads;
        let prepared = prepare(&opts, spec.shards)?;
        if prepared.spec.run_key != spec.run_key {
            return Err(Error::input(format!(
                "preflight: worker: the run planned here has run key {}, not the coordinator's {} (another build, or a file the scenario names differs here)",
                prepared.spec.run_key, spec.run_key
            )));
        }
        WorkerRun::of(prepared)
    }

    /// A run planned here ([`prepare`]), on its plan's threads.
    fn of(prepared: Prepared) -> Result<WorkerRun, Error> {
        let Prepared { run, spec } = prepared;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(run.plan.threads.max(1))
            .thread_name(|i| format!("preflight-worker-{i}"))
            .build()
            .map_err(|e| Error::environment(format!("preflight: a thread pool: {e}")))?;
        Ok(WorkerRun {
            run,
            spec,
            baselines: std::sync::Mutex::new(BTreeMap::new()),
            pool,
        })
    }

    /// The run key.
    pub fn run_key(&self) -> &str {
        &self.spec.run_key
    }

    /// Runs range `key` and writes its part under `dir`; returns the
    /// part's directory.
    pub fn run_part(&self, key: PartKey, dir: &Path) -> Result<PathBuf, Error> {
        self.run_part_counted(key, dir, &crate::progress::Task::start("", 0, false))
    }

    /// [`WorkerRun::run_part`], counting campaigns into `progress`.
    fn run_part_counted(
        &self,
        key: PartKey,
        dir: &Path,
        progress: &crate::progress::Task,
    ) -> Result<PathBuf, Error> {
        let (j, a, b) = key;
        let jobs = plan_jobs(&self.run.variants, &self.run.plan);
        let Some(spec) = jobs.get(j).cloned() else {
            return Err(Error::input(format!(
                "preflight: worker: the run has no job {j}"
            )));
        };
        if a >= b || b > self.run.plan.campaigns {
            return Err(Error::input(format!(
                "preflight: worker: campaigns {a}..{b} are not a range of this run"
            )));
        }
        let cached = self
            .baselines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&j)
            .cloned();
        let job = match cached {
            Some(b) => crate::run::ReadyJob::with_baseline(spec, &self.run.plan, b),
            None => {
                let mut phases = crate::timing::Phases::default();
                let mut mark = crate::timing::Mark::now();
                let job = crate::run::ReadyJob::prepare(
                    spec,
                    &self.run.plan,
                    &self.pool,
                    &mut phases,
                    &mut mark,
                )?;
                self.baselines
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(j, job.baseline.clone());
                job
            }
        };
        let outcomes = job.run_range(&self.run.plan, a..b, &self.pool, progress)?;
        let store = PartStore {
            run_key: self.spec.run_key.clone(),
            write_dir: Some(dir.to_path_buf()),
            found: BTreeMap::new(),
            simulate_missing: true,
            events: self.run.plan.events,
            range_size: self.spec.range_size,
        };
        store.save(key, &job, &outcomes)?;
        Ok(dir.join(parts::part_dir_name(key)))
    }
}

/// Writes `dir/run.json`, or checks that the one there describes the same
/// run.
fn write_spec(dir: &Path, spec: &RunSpec) -> Result<(), Error> {
    let path = dir.join("run.json");
    if let Ok(bytes) = std::fs::read(&path) {
        let other: RunSpec = serde_json::from_slice(&bytes).map_err(|e| {
            Error::input(format!(
                "preflight: {}: not a shard's run.json: {e}",
                path.display()
            ))
        })?;
        if other.run_key != spec.run_key || other.range_size != spec.range_size {
            return Err(Error::input(format!(
                "preflight: {}: this directory holds parts of another run (run key {}, {} campaigns per range); give this shard another --out",
                path.display(),
                other.run_key,
                other.range_size
            )));
        }
        if other.shards != spec.shards {
            return Err(Error::input(format!(
                "preflight: {}: this run was split into {} shards here, not {}; give this shard another --out",
                path.display(),
                other.shards,
                spec.shards
            )));
        }
        return Ok(());
    }
    sim_output::write_file_atomic(
        &path,
        &serde_json::to_vec_pretty(spec).expect("run.json serialises"),
    )
    .map_err(|e| env_error(&path, e))
}

/// Reads the `run.json` of every directory given to `merge`: one run key,
/// one version, one layout.
pub fn read_specs(dirs: &[PathBuf]) -> Result<RunSpec, Error> {
    let mut first: Option<(PathBuf, RunSpec)> = None;
    for d in dirs {
        let path = d.join("run.json");
        let bytes = std::fs::read(&path).map_err(|e| {
            Error::input(format!(
                "preflight: merge: {}: {e} (each directory must be the --out of a `run --shard`)",
                path.display()
            ))
        })?;
        let spec: RunSpec = serde_json::from_slice(&bytes).map_err(|e| {
            Error::input(format!(
                "preflight: merge: {}: not a shard's run.json: {e}",
                path.display()
            ))
        })?;
        if spec.tool_version != env!("CARGO_PKG_VERSION") || spec.format != parts::FORMAT {
            return Err(Error::input(format!(
                "preflight: merge: {}: written by Preflight {} (format {}); this is {}: merge with the version that ran the shards",
                path.display(),
                spec.tool_version,
                spec.format,
                env!("CARGO_PKG_VERSION")
            )));
        }
        match &first {
            None => first = Some((path, spec)),
            Some((p0, s0)) => {
                if s0.run_key != spec.run_key || s0.range_size != spec.range_size {
                    return Err(Error::input(format!(
                        "preflight: merge: {} and {} are shards of different runs (run keys {} and {})",
                        p0.display(),
                        path.display(),
                        s0.run_key,
                        spec.run_key
                    )));
                }
            }
        }
    }
    first
        .map(|(_, s)| s)
        .ok_or_else(|| Error::input("preflight: merge: no directory given"))
}

/// The options of the run `spec` describes, to merge its parts from
/// `dirs` into `out`.
pub fn merge_options(spec: RunSpec, dirs: Vec<PathBuf>, out: PathBuf) -> Result<RunOptions, Error> {
    let o = &spec.options;
    let bad = |what: &str, e: String| {
        Error::input(format!("preflight: merge: run.json: options.{what}: {e}"))
    };
    let mut r = RunOptions::new(&spec.scenario_path);
    r.campaigns = o.campaigns;
    r.seed = o.seed;
    r.variant = o.variant.clone();
    r.mode = o.mode.parse().map_err(|e| bad("mode", e))?;
    r.until_decided = o.until_decided;
    r.against_gate = o.against_gate;
    r.rare_event = o
        .rare_event
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| bad("rare_event", e))?;
    r.calibration = o.calibration.as_ref().map(PathBuf::from);
    r.no_calibration = o.no_calibration;
    r.max_memory = o.max_memory;
    r.events = o.events;
    r.live_injection = o.live_injection;
    r.scenario_campaigns = o.scenario_campaigns;
    r.scale = o.scale.parse().map_err(|e| bad("scale", e))?;
    r.independent_streams = o.independent_streams;
    r.remediate = o.remediate.map(|n| n as usize);
    r.remediation_rows = o.remediation_rows;
    r.service_paths = o.service_paths;
    r.file_access = FileAccess::allowing_external(o.allow_external_files);
    r.telemetry = o.telemetry.as_ref().map(PathBuf::from);
    r.out = Some(out);
    r.range_size = Some(spec.range_size);
    r.parts = Parts::Merge {
        dirs,
        spec: Box::new(spec),
    };
    Ok(r)
}
