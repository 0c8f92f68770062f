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
use sim_output::{CampaignRow, EventRow, HandlerRow, OutputError, WriteOptions};

use crate::error::Error;
use crate::provenance::sha256;
use crate::run::{CampaignOutcome, JobSpec, ReadyJob, RowSink};

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

/// The name of a job, as parts and messages give it.
pub fn job_name(spec: &JobSpec<'_>) -> String {
    match (&spec.scenario_id, spec.programme) {
        (Some(id), _) => format!("{}/targeted/{id}", spec.variant.name),
        (None, true) => format!("{}/programme", spec.variant.name),
        (None, false) => format!("{}/natural", spec.variant.name),
    }
}

/// The run key: SHA-256 over the tool version, the scenario's bytes, the
/// options that can change rows (as `manifest.json` records them) and the
/// effective seed and campaigns.
pub fn run_key(
    scenario: &[u8],
    options: &sim_output::manifest::OptionsInfo,
    seed: u64,
    campaigns: u64,
) -> String {
    let mut bytes = Vec::with_capacity(scenario.len() + 512);
    bytes.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(&(scenario.len() as u64).to_le_bytes());
    bytes.extend_from_slice(scenario);
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
        let mut sink = Rows::default();
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

/// Collects a range's rows.
#[derive(Default)]
struct Rows {
    campaigns: Vec<CampaignRow>,
    handlers: Vec<HandlerRow>,
    events: Vec<EventRow>,
}

impl RowSink for Rows {
    fn campaign(&mut self, row: &CampaignRow) -> Result<(), OutputError> {
        self.campaigns.push(row.clone());
        Ok(())
    }
    fn handler(&mut self, row: &HandlerRow) -> Result<(), OutputError> {
        self.handlers.push(row.clone());
        Ok(())
    }
    fn event(&mut self, row: &EventRow) -> Result<(), OutputError> {
        self.events.push(row.clone());
        Ok(())
    }
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
