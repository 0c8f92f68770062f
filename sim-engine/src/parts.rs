//! Campaign ranges as the unit of work (`docs/distributed.md`).
//!
//! A run is a pure function of its scenario bytes, seed, campaigns,
//! variants, mode and result-changing options; their hash is the **run
//! key**. The run's jobs ([`crate::run::plan_jobs`]) split into **ranges**
//! of campaign indices, and a campaign's seed depends on the master seed,
//! its job and its index only, so a range gives the same outcomes wherever
//! and however often it runs. A finished range is a **part**: a directory
//! `parts/j{job}-{first}-{end}/` written atomically (built beside it under a
//! temporary name, then renamed) holding
//!
//! - `outcomes.cbor`: the campaigns' outcomes, exactly (CBOR keeps every
//!   float's bits), which is what a merge or a resumed run folds;
//! - `campaigns.parquet`, `handlers.parquet` (and `events.parquet` when the
//!   run logs events): the range's rows, for whoever reads parts directly;
//! - `part.json`: the [`PartManifest`] — run key, tool version, job, range,
//!   row counts and the SHA-256 of every file.
//!
//! A part is used only when its manifest names the same run key and tool
//! version and every file still has its hash; anything else is ignored
//! (resume) or refused (merge).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sim_output::{OutputError, WriteOptions};

use crate::error::Error;
use crate::prepare::PreparedVariant;
use crate::provenance::sha256;
use crate::run::{CHUNK, CampaignOutcome, ReadyJob, RunPlan, plan_jobs};
use crate::scenario::{FileAccess, Format, Loaded};

/// The format of `part.json` and `run.json`.
pub const FORMAT: u32 = 1;

/// The part manifest (`part.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartManifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The Preflight version that wrote it.
    pub tool_version: String,
    /// The run it belongs to.
    pub run_key: String,
    /// The job's index in the run's plan, and its name.
    pub job: usize,
    /// `base/natural`, `base/programme`, `db-replica/targeted/cache-down`.
    pub job_name: String,
    /// The campaigns `[first, end)` of the job.
    pub range: [u64; 2],
    /// Rows per file.
    pub rows: BTreeMap<String, u64>,
    /// SHA-256 of every file of the part, by name.
    pub files: BTreeMap<String, String>,
}

/// What identifies a part within a run: job and range.
pub type PartKey = (usize, u64, u64);

pub use crate::run::job_name;

/// The run key: SHA-256 over the tool version, the scenario's bytes, the
/// content hashes of the files it names (empirical samples, incidents,
/// telemetry, the calibration map), the options that can change rows (as `manifest.json` records them) and the
/// effective seed and campaigns.
pub fn run_key(
    scenario: &[u8],
    inputs: &[sim_output::manifest::InputInfo],
    options: &sim_output::manifest::OptionsInfo,
    seed: u64,
    campaigns: u64,
) -> String {
    let mut bytes = Vec::with_capacity(scenario.len() + 512);
    bytes.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(&(scenario.len() as u64).to_le_bytes());
    bytes.extend_from_slice(scenario);
    // The content of every file the scenario names (not where it is).
    for i in inputs {
        bytes.extend_from_slice(i.role.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(i.sha256.as_bytes());
        bytes.push(0);
    }
    bytes.extend_from_slice(
        serde_json::to_string(options)
            .expect("options serialise")
            .as_bytes(),
    );
    bytes.extend_from_slice(&seed.to_le_bytes());
    bytes.extend_from_slice(&campaigns.to_le_bytes());
    sha256(&bytes)
}

/// The part directory's name for a job and range.
pub fn part_dir_name((job, first, end): PartKey) -> String {
    format!("j{job:04}-{first:012}-{end:012}")
}

/// Where the parts of a run are read from and written to.
#[derive(Debug)]
pub struct PartStore {
    /// The run key parts must carry.
    pub run_key: String,
    /// Where new parts are written (`None`: nothing is written, a merge).
    pub write_dir: Option<PathBuf>,
    /// The parts found, by job and range.
    pub found: BTreeMap<PartKey, PathBuf>,
    /// Whether a range without a part is simulated (`false`: a merge,
    /// where a missing range is an error).
    pub simulate_missing: bool,
    /// Whether the run logs events (parts then hold `events.parquet`).
    pub events: bool,
    /// Campaigns per range.
    pub range_size: u64,
}

impl crate::run::RangeStore for PartStore {
    fn range_size(&self) -> u64 {
        self.range_size
    }

    fn simulate_missing(&self) -> bool {
        self.simulate_missing
    }

    fn load(&self, key: PartKey) -> Result<Option<Vec<CampaignOutcome>>, Error> {
        PartStore::load(self, key)
    }

    fn save(
        &self,
        key: PartKey,
        job: &ReadyJob<'_>,
        outcomes: &[CampaignOutcome],
    ) -> Result<(), Error> {
        PartStore::save(self, key, job, outcomes)
    }
}

impl PartStore {
    /// The outcomes of range `key` when a part holds them (checked), else
    /// `None`.
    pub fn load(&self, key: PartKey) -> Result<Option<Vec<CampaignOutcome>>, Error> {
        let Some(dir) = self.found.get(&key) else {
            return Ok(None);
        };
        let m = read_manifest(dir)?;
        check_files(dir, &m)?;
        let bytes = std::fs::read(dir.join("outcomes.cbor"))
            .map_err(|e| Error::environment(format!("preflight: {}: {e}", dir.display())))?;
        let outcomes: Vec<CampaignOutcome> =
            ciborium::from_reader(bytes.as_slice()).map_err(|e| {
                Error::input(format!(
                    "preflight: {}: outcomes.cbor does not decode: {e}",
                    dir.display()
                ))
            })?;
        let want = key.2 - key.1;
        if outcomes.len() as u64 != want
            || outcomes
                .iter()
                .zip(key.1..key.2)
                .any(|(o, c)| o.campaign != c)
        {
            return Err(Error::input(format!(
                "preflight: {}: the part does not hold campaigns {}..{} of its job",
                dir.display(),
                key.1,
                key.2
            )));
        }
        Ok(Some(outcomes))
    }

    /// Writes the part of range `key` of `job` atomically, when parts are
    /// written. An existing part of the same range is kept when its files
    /// are the same; a different one is a determinism bug and an error.
    pub fn save(
        &self,
        key: PartKey,
        job: &ReadyJob<'_>,
        outcomes: &[CampaignOutcome],
    ) -> Result<(), Error> {
        let Some(root) = &self.write_dir else {
            return Ok(());
        };
        let env = |what: &str, e: &dyn std::fmt::Display| {
            Error::environment(format!(
                "preflight: writing a part in {}: {what}: {e}",
                root.display()
            ))
        };
        let tmp = tempfile::Builder::new()
            .prefix(".part-")
            .tempdir_in(root)
            .map_err(|e| env("a temporary directory", &e))?;
        let mut files = BTreeMap::new();
        let mut rows = BTreeMap::new();
        let mut bytes = Vec::new();
        ciborium::into_writer(outcomes, &mut bytes).map_err(|e| env("outcomes.cbor", &e))?;
        write_synced(&tmp.path().join("outcomes.cbor"), &bytes)
            .map_err(|e| env("outcomes.cbor", &e))?;
        files.insert("outcomes.cbor".to_owned(), sha256(&bytes));
        rows.insert("outcomes".to_owned(), outcomes.len() as u64);
        let mut sink = crate::run::Collect::default();
        for o in outcomes {
            job.write_rows(o, self.events, &mut sink)
                .map_err(|e| env("rows", &e))?;
        }
        let options = WriteOptions::default();
        let mut table = |name: &str, n: Result<u64, OutputError>| -> Result<(), Error> {
            let n = n.map_err(|e| env(name, &e))?;
            let b = std::fs::read(tmp.path().join(name)).map_err(|e| env(name, &e))?;
            files.insert(name.to_owned(), sha256(&b));
            rows.insert(name.trim_end_matches(".parquet").to_owned(), n);
            Ok(())
        };
        table(
            "campaigns.parquet",
            sim_output::write_rows(tmp.path(), &sink.campaigns, &options),
        )?;
        table(
            "handlers.parquet",
            sim_output::write_rows(tmp.path(), &sink.handlers, &options),
        )?;
        if self.events {
            table(
                "events.parquet",
                sim_output::write_rows(tmp.path(), &sink.events, &options),
            )?;
        }
        let m = PartManifest {
            format: FORMAT,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            run_key: self.run_key.clone(),
            job: key.0,
            job_name: job_name(&job.spec),
            range: [key.1, key.2],
            rows,
            files,
        };
        let json = serde_json::to_vec_pretty(&m).expect("a part manifest serialises");
        write_synced(&tmp.path().join("part.json"), &json).map_err(|e| env("part.json", &e))?;
        let dest = root.join(part_dir_name(key));
        let tmp = tmp.keep();
        match std::fs::rename(&tmp, &dest) {
            Ok(()) => Ok(()),
            Err(_) if dest.is_dir() => {
                // The range ran twice (a scheduler started an index twice):
                // the copies must be identical.
                let _ = std::fs::remove_dir_all(&tmp);
                let other = read_manifest(&dest)?;
                if other.files == m.files {
                    Ok(())
                } else {
                    Err(Error::Internal(format!(
                        "preflight: {}: this range ran twice and gave different results ({} and a new copy): a determinism bug; please report it with both",
                        dest.display(),
                        other.files.get("outcomes.cbor").map_or("?", |s| s.as_str())
                    )))
                }
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(env("renaming the part into place", &e))
            }
        }
    }
}

/// Writes `bytes` to `path` and syncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Reads `dir/part.json`.
pub fn read_manifest(dir: &Path) -> Result<PartManifest, Error> {
    let path = dir.join("part.json");
    let bytes = std::fs::read(&path)
        .map_err(|e| Error::input(format!("preflight: {}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::input(format!(
            "preflight: {}: not a part manifest: {e}",
            path.display()
        ))
    })
}

/// Checks that every file of the part has the hash its manifest gives.
fn check_files(dir: &Path, m: &PartManifest) -> Result<(), Error> {
    for (name, want) in &m.files {
        let path = dir.join(name);
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::input(format!("preflight: {}: {e}", path.display())))?;
        let got = sha256(&bytes);
        if &got != want {
            return Err(Error::input(format!(
                "preflight: {}: its content does not match part.json ({got} ≠ {want}): the part was changed or damaged; delete it and run its range again",
                path.display()
            )));
        }
    }
    Ok(())
}

/// The parts under `root/parts/` (or `root` itself when it holds part
/// directories) that belong to `run_key` and this tool version, by job and
/// range. Other directories, unfinished (temporary) ones included, are
/// skipped; when `strict`, a part of another run or version is an error.
pub fn scan(root: &Path, run_key: &str, strict: bool) -> Result<BTreeMap<PartKey, PathBuf>, Error> {
    let mut out = BTreeMap::new();
    let dir = if root.join("parts").is_dir() {
        root.join("parts")
    } else {
        root.to_path_buf()
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !strict => return Ok(out),
        Err(e) => return Err(Error::input(format!("preflight: {}: {e}", dir.display()))),
    };
    for e in entries {
        let e = e.map_err(|e| Error::environment(format!("preflight: {}: {e}", dir.display())))?;
        let path = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with('j') || !path.join("part.json").is_file() {
            continue;
        }
        let m = read_manifest(&path)?;
        if m.run_key != run_key || m.tool_version != env!("CARGO_PKG_VERSION") || m.format != FORMAT
        {
            if strict {
                return Err(Error::input(format!(
                    "preflight: {}: this part belongs to another run or version (run key {}, Preflight {}; this run: {run_key}, Preflight {})",
                    path.display(),
                    m.run_key,
                    m.tool_version,
                    env!("CARGO_PKG_VERSION")
                )));
            }
            continue;
        }
        out.insert((m.job, m.range[0], m.range[1]), path);
    }
    Ok(out)
}

/// The ranges of a job of `campaigns` campaigns, `size` at a time.
pub fn ranges(campaigns: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    let size = size.max(1);
    (0..campaigns.div_ceil(size)).map(move |k| (k * size, ((k + 1) * size).min(campaigns)))
}

/// `run.json`: what a shard ran, for `merge` to plan the same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// [`FORMAT`].
    pub format: u32,
    /// The Preflight version.
    pub tool_version: String,
    /// The run key.
    pub run_key: String,
    /// The scenario's path when the shard ran (absolute), and its content.
    pub scenario_path: String,
    /// The scenario's bytes, as text.
    pub scenario: String,
    /// The options that can change rows.
    pub options: sim_output::manifest::OptionsInfo,
    /// The effective seed, campaigns per job and scale.
    pub seed: u64,
    /// Campaigns per job.
    pub campaigns: u64,
    /// `request-level` or `two-scale`.
    pub scale: String,
    /// Campaigns per range.
    pub range_size: u64,
    /// Shards the ranges were split into (`--shard I/N`: N).
    pub shards: u64,
    /// The jobs, in plan order.
    pub jobs: Vec<String>,
    /// The shard's command line (to name the command that fills a gap).
    pub command: Vec<String>,
}

/// Which shard runs range number `g` (counted over every job's ranges, in
/// plan order) of a run split into `shards`.
pub fn shard_of(g: u64, shards: u64) -> u64 {
    g % shards.max(1)
}

/// Where a run's campaign ranges come from and go to.
#[derive(Debug, Clone, Default)]
pub enum Parts {
    /// Each range is saved as a part beside the output directory while the
    /// run goes (`.NAME.parts`), and the parts are removed when it ends; an
    /// unfinished run's parts are removed when the run starts again.
    #[default]
    Local,
    /// As [`Parts::Local`], but ranges whose part an unfinished run of the
    /// same run key left are read instead of run again (`--resume`).
    Resume,
    /// As [`Parts::Resume`], for parts a worker pool has just put there
    /// (`run --cluster`): ranges not there run on local threads.
    Filled,
    /// `merge`: every range is read from the parts under `dirs`, which
    /// shards of the run described by `spec` wrote; none is simulated.
    Merge {
        /// The directories the shards wrote (`--out` of `run --shard`).
        dirs: Vec<PathBuf>,
        /// Their `run.json`.
        spec: Box<RunSpec>,
    },
}

/// The directory of the parts of a local run into `out_dir`.
pub fn resume_dir(out_dir: &Path) -> PathBuf {
    let name = out_dir
        .file_name()
        .map_or("run".into(), |n| n.to_string_lossy().into_owned());
    out_dir.with_file_name(format!(".{name}.parts"))
}

fn env_error(what: &Path, e: impl std::fmt::Display) -> Error {
    Error::environment(format!("preflight: {}: {e}", what.display()))
}

/// What [`part_store`] needs to know of a planned run.
pub(crate) struct StoreRequest<'a> {
    pub parts: &'a Parts,
    pub write: bool,
    pub quiet: bool,
    pub range_size: Option<u64>,
    pub handler_campaigns: bool,
    pub run_key: String,
    pub out_dir: &'a Path,
    pub variants: &'a [PreparedVariant],
    pub plan: &'a RunPlan,
}

/// The store a run's campaigns go through: `None` for a run that publishes
/// nothing (the gate without `--out`) or runs no handler campaigns.
pub(crate) fn part_store(r: StoreRequest<'_>) -> Result<Option<PartStore>, Error> {
    if !r.handler_campaigns {
        return Ok(None);
    }
    let run_key = r.run_key;
    let range_size = r.range_size.unwrap_or(CHUNK).max(1);
    match r.parts {
        Parts::Local | Parts::Resume | Parts::Filled if !r.write => Ok(None),
        Parts::Local | Parts::Resume | Parts::Filled => {
            let dir = resume_dir(r.out_dir);
            let resume = matches!(r.parts, Parts::Resume | Parts::Filled);
            if !resume && dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| env_error(&dir, e))?;
            }
            std::fs::create_dir_all(&dir).map_err(|e| env_error(&dir, e))?;
            let found = if resume {
                scan(&dir, &run_key, false)?
            } else {
                BTreeMap::new()
            };
            if matches!(r.parts, Parts::Resume) && !r.quiet {
                eprintln!(
                    "preflight: --resume: {} range{} of an unfinished run found in {}",
                    found.len(),
                    if found.len() == 1 { "" } else { "s" },
                    dir.display()
                );
            }
            Ok(Some(PartStore {
                run_key,
                write_dir: Some(dir),
                found,
                simulate_missing: true,
                events: r.plan.events,
                range_size,
            }))
        }
        Parts::Merge { dirs, spec } => {
            if run_key != spec.run_key {
                // The scenario and options come from run.json: what differs
                // is a file the scenario names (its hash is in the key).
                return Err(Error::input(format!(
                    "preflight: merge: the shards ran with run key {}, but the run planned here has {run_key}: a file the scenario names (empirical samples, historical_faults, telemetry, the calibration map) differs from the one the shards read; merge with the same files",
                    spec.run_key
                )));
            }
            let found = merge_index(dirs, &run_key)?;
            check_complete(r.variants, r.plan, spec, &found)?;
            Ok(Some(PartStore {
                run_key,
                write_dir: None,
                found,
                simulate_missing: false,
                events: r.plan.events,
                range_size: spec.range_size,
            }))
        }
    }
}

/// After a run has published its directory: a local run's parts are no
/// longer needed.
pub(crate) fn finished(store: Option<&PartStore>, parts: &Parts) {
    if let (Some(s), Parts::Local | Parts::Resume | Parts::Filled) = (store, parts)
        && let Some(dir) = &s.write_dir
    {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The parts under every directory, each range once: a range found twice
/// is kept once when both copies are the same, and is an error when they
/// differ (a determinism bug: both are named).
fn merge_index(dirs: &[PathBuf], run_key: &str) -> Result<BTreeMap<PartKey, PathBuf>, Error> {
    let mut all: BTreeMap<PartKey, PathBuf> = BTreeMap::new();
    for d in dirs {
        for (k, path) in scan(d, run_key, true)? {
            match all.get(&k) {
                None => {
                    all.insert(k, path);
                }
                Some(first) => {
                    let (a, b) = (read_manifest(first)?, read_manifest(&path)?);
                    if a.files != b.files {
                        return Err(Error::Internal(format!(
                            "preflight: merge: campaigns {}..{} of job {} ({}) ran twice with different results, in {} and {}: a determinism bug; please report it with both parts",
                            k.1,
                            k.2,
                            k.0,
                            a.job_name,
                            first.display(),
                            path.display()
                        )));
                    }
                }
            }
        }
    }
    Ok(all)
}

/// Every range of every job, in plan order: `(range number, key, job name)`.
pub(crate) fn planned_ranges(
    variants: &[PreparedVariant],
    plan: &RunPlan,
    range_size: u64,
) -> Vec<(u64, PartKey, String)> {
    let mut out = Vec::new();
    let mut g = 0;
    for (j, spec) in plan_jobs(variants, plan).iter().enumerate() {
        for (a, b) in ranges(plan.campaigns, range_size) {
            out.push((g, (j, a, b), job_name(spec)));
            g += 1;
        }
    }
    out
}

/// Every range present exactly once, and nothing else: else an error that
/// names what is missing and the command that fills it.
fn check_complete(
    variants: &[PreparedVariant],
    plan: &RunPlan,
    spec: &RunSpec,
    found: &BTreeMap<PartKey, PathBuf>,
) -> Result<(), Error> {
    let planned = planned_ranges(variants, plan, spec.range_size);
    let missing: Vec<_> = planned
        .iter()
        .filter(|(_, k, _)| !found.contains_key(k))
        .collect();
    let extra: Vec<_> = found
        .iter()
        .filter(|(k, _)| !planned.iter().any(|(_, p, _)| p == *k))
        .collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    let mut msg = String::new();
    if !missing.is_empty() {
        msg.push_str(&format!(
            "preflight: merge: {} of {} ranges are missing:\n",
            missing.len(),
            planned.len()
        ));
        let mut shards = std::collections::BTreeSet::new();
        for (g, (j, a, b), name) in missing.iter().take(20) {
            let s = shard_of(*g, spec.shards);
            shards.insert(s);
            msg.push_str(&format!(
                "  job {j} ({name}), campaigns {a}..{b}: shard {s}/{}\n",
                spec.shards
            ));
        }
        if missing.len() > 20 {
            msg.push_str(&format!("  … and {} more\n", missing.len() - 20));
            for (g, _, _) in &missing[20..] {
                shards.insert(shard_of(*g, spec.shards));
            }
        }
        msg.push_str("run again, each into a directory given to merge:\n");
        for s in shards {
            msg.push_str(&format!(
                "  {}\n",
                shard_command(&spec.command, s, spec.shards)
            ));
        }
    }
    if !extra.is_empty() {
        msg.push_str(&format!(
            "preflight: merge: {} part{} of this run match no range of its plan (another --range-size?): {}\n",
            extra.len(),
            if extra.len() == 1 { "" } else { "s" },
            extra[0].1.display()
        ));
    }
    Err(Error::input(msg.trim_end().to_owned()))
}

/// The shard's command line with shard `index` of `count`.
fn shard_command(command: &[String], index: u64, count: u64) -> String {
    let mut out = Vec::with_capacity(command.len());
    let mut next_is_shard = false;
    for (k, a) in command.iter().enumerate() {
        if k == 0 {
            // The program as a user types it, not the path it ran from.
            out.push(
                Path::new(a)
                    .file_name()
                    .map_or(a.clone(), |n| n.to_string_lossy().into_owned()),
            );
        } else if next_is_shard {
            out.push(format!("{index}/{count}"));
            next_is_shard = false;
        } else if a == "--shard" {
            out.push(a.clone());
            next_is_shard = true;
        } else if a.starts_with("--shard=") {
            out.push(format!("--shard={index}/{count}"));
        } else {
            out.push(a.clone());
        }
    }
    if out.is_empty() {
        return format!("preflight run SCENARIO --shard {index}/{count} --out DIR");
    }
    out.join(" ")
}

/// Loads the scenario `run.json` carries, resolving the files it names
/// from where it was when the shard ran.
pub(crate) fn load_spec(spec: &RunSpec, access: FileAccess) -> Result<Loaded, Error> {
    let path = Path::new(&spec.scenario_path);
    let format = Format::from_path(path)
        .map_err(|e| Error::input(format!("preflight: merge: {}: {e}", path.display())))?;
    crate::scenario::load_bytes_with(spec.scenario.as_bytes(), format, path, access)
        .map_err(|e| crate::prepare::problems_error(path, &e))
}
