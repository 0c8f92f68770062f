//! The run directory: Parquet tables and `manifest.json`, written atomically.
//!
//! The binding contract is `shared/spec/outputs.md`. This module owns the
//! schemas (one definition per table in [`tables`]), writes the files, and
//! publishes the directory so that results appear complete or not at all.
//!
//! Modules:
//! - [`rows`]: one row type per table (`CampaignRow`, `HandlerRow`, …).
//! - [`tables`]: each table's schema and column builders (the contract).
//! - [`manifest`]: the schema of `manifest.json` (`Manifest`, `RunInfo`).
//! - [`cells`]: rows as named text cells, to compare a row with a file's.
//! - `writer` (Parquet writing in bounded batches), `staging` (the staging
//!   directory, the run-directory check and the atomic rename), `error`
//!   ([`OutputError`]); their public items are re-exported here.
//!
//! ```no_run
//! use std::path::Path;
//! use std::sync::Arc;
//! use sim_output::{CampaignRow, Mode, RunWriter};
//!
//! # fn main() -> Result<(), sim_output::OutputError> {
//! let mut run = RunWriter::create(Path::new("reports/checkout"))?;
//! run.write_campaign(&CampaignRow {
//!     variant: Arc::from("base"), campaign: 0, seed: 7, mode: Mode::Natural,
//!     scenario_id: None, horizon_s: 3600.0, requests: 1000, errors: 3,
//!     error_rate: 0.003, latency_mean_ms: 12.0, latency_p50_ms: 10.0,
//!     latency_p99_ms: 40.0, availability: 1.0, slo_breached: false,
//!     faults_injected: 1, rollbacks: 0, events: 52_000, weight: 1.0,
//!     degraded: 0, faults: Arc::from("db/process_crash"),
//! })?;
//! // ... write_handler for each campaign × handler ...
//! let info = sim_output::RunInfo { seed: 7, ..Default::default() };
//! let summary = run.finish(&[], info)?;
//! assert_eq!(summary.campaigns, 1);
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! - **Atomic**: everything is written into a staging directory beside the
//!   output directory and renamed into place by [`RunWriter::finish`]. A run
//!   that fails, is dropped, or is killed leaves the previous results intact;
//!   dropping a [`RunWriter`] deletes its staging directory.
//! - **Bounded memory**: rows are buffered in Arrow builders up to
//!   [`WriteOptions::batch_rows`], and row groups are capped, whatever the
//!   number of campaigns.
//! - **Readable everywhere**: plain `Utf8` strings (dictionary-encoded in
//!   Parquet), unsigned integers as `UInt64`/`UInt32`, snappy compression;
//!   `tests/python/check_outputs.py` opens a run directory with pyarrow,
//!   pandas, polars and DuckDB.
//! - **Safe**: an existing output directory is only replaced when it is
//!   empty or provably a run directory: a run's own `manifest.json`
//!   (`"tool": "preflight"`, `files`, `row_counts`) and no entry but the
//!   files that manifest lists. A mistyped `--out ~`, or `--out` naming a
//!   project folder that happens to hold a `manifest.json`, is refused and
//!   nothing in it is touched.

#![warn(missing_docs, unreachable_pub)]

pub mod cells;
pub use replace::write_file_atomic;
pub use report_file::{REPORT_FILE, REPORT_MARKER, is_report};
mod error;
pub mod manifest;
pub mod plot_font;
mod replace;
mod report_file;
pub mod rows;
mod staging;
pub mod tables;
mod writer;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};

pub use error::OutputError;
pub use manifest::{Manifest, RunInfo};
pub use rows::{
    CampaignRow, EventRow, HandlerRow, Magnitudes, Mode, PathRow, RemediationRow, RiskRow,
    ScenarioRow, Severity, severity_str,
};
pub use tables::{RowBuilder, TableRow};
pub use writer::{
    BatchWriter, TableWriter, VERSION_METADATA_KEY, WriteOptions, write_rows, write_table,
};

pub use staging::{EXPORT_DIR, EXPORT_INDEX, ExportStaging, check_export_dir, remove_unfinished};
use staging::{MANIFEST_FILE, StagingDir};

/// What [`RunWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// The published run directory.
    pub out_dir: PathBuf,
    /// Rows of `campaigns.parquet`.
    pub campaigns: u64,
    /// Rows of `handlers.parquet`.
    pub handlers: u64,
    /// Rows of `risk.parquet`.
    pub risk: u64,
    /// Rows of every Parquet file in the run directory, by table name (file
    /// stem), as read back from the files' footers; the same object is the
    /// manifest's `row_counts`.
    pub row_counts: BTreeMap<String, u64>,
}

/// Writes one run directory: `campaigns.parquet` and `handlers.parquet`
/// streamed row by row, optionally `events.parquet` and `paths.parquet`
/// (streamed too), `scenarios.parquet` and `remediations.parquet`, then
/// `risk.parquet` and `manifest.json` in [`finish`](Self::finish), which
/// publishes the directory atomically.
///
/// One writer per run; rows are written in the order given (the runner
/// folds per-campaign results in index order, so files are deterministic).
#[derive(Debug)]
pub struct RunWriter {
    out_dir: PathBuf,
    parent: PathBuf,
    name: OsString,
    options: WriteOptions,
    campaigns: TableWriter<CampaignRow>,
    handlers: TableWriter<HandlerRow>,
    events: Option<TableWriter<EventRow>>,
    paths: Option<TableWriter<PathRow>>,
    // Declared last: dropped after the files above are closed.
    staging: StagingDir,
}

impl RunWriter {
    /// Starts writing the run directory `out_dir` with default
    /// [`WriteOptions`]. See [`create_with`](Self::create_with).
    pub fn create(out_dir: &Path) -> Result<RunWriter, OutputError> {
        Self::create_with(out_dir, WriteOptions::default())
    }

    /// Starts writing the run directory `out_dir`: creates its parent if
    /// needed and a staging directory `.{name}.tmp-{pid}-{nanos}` beside it,
    /// and opens `campaigns.parquet` and `handlers.parquet` there.
    ///
    /// Fails early, naming the path, when `out_dir` could not be written or
    /// replaced: it has no final name (`/`, `..`), it is a file, or it is a
    /// non-empty directory without a `manifest.json`. Leftovers of killed
    /// writers of the same `out_dir` are cleaned up first.
    pub fn create_with(out_dir: &Path, options: WriteOptions) -> Result<RunWriter, OutputError> {
        let (parent, name) = staging::split_out_dir(out_dir)?;
        staging::recover(&parent, &name, out_dir);
        staging::check_replaceable(out_dir)?;
        let staging = StagingDir::create(&parent, &name)?;
        let campaigns = TableWriter::create(staging.path(), &options)?;
        let handlers = TableWriter::create(staging.path(), &options)?;
        Ok(RunWriter {
            out_dir: out_dir.to_owned(),
            parent,
            name,
            options,
            campaigns,
            handlers,
            events: None,
            paths: None,
            staging,
        })
    }

    /// Sets how many rows each table buffers before writing a batch (at
    /// least 1; default [`WriteOptions::DEFAULT_BATCH_ROWS`]).
    #[must_use]
    pub fn with_batch_rows(mut self, rows: usize) -> RunWriter {
        self.options.batch_rows = rows.max(1);
        self.campaigns.set_batch_rows(rows);
        self.handlers.set_batch_rows(rows);
        if let Some(events) = &mut self.events {
            events.set_batch_rows(rows);
        }
        if let Some(paths) = &mut self.paths {
            paths.set_batch_rows(rows);
        }
        self
    }

    /// The directory the results will be published to.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// The staging directory the files are written to until
    /// [`finish`](Self::finish). Other files put here (for example more
    /// Parquet tables via [`write_table`]) are published with the run; every
    /// `*.parquet` here is listed in the manifest with its row count.
    pub fn staging_dir(&self) -> &Path {
        self.staging.path()
    }

    /// Appends a row to `campaigns.parquet`.
    pub fn write_campaign(&mut self, row: &CampaignRow) -> Result<(), OutputError> {
        self.campaigns.push(row)
    }

    /// Appends a row to `handlers.parquet`.
    pub fn write_handler(&mut self, row: &HandlerRow) -> Result<(), OutputError> {
        self.handlers.push(row)
    }

    /// Opens `events.parquet` (for `--events`), so that the file exists even
    /// when no event is written. Does nothing when it is already open.
    pub fn enable_events(&mut self) -> Result<(), OutputError> {
        if self.events.is_none() {
            self.events = Some(TableWriter::create(self.staging.path(), &self.options)?);
        }
        Ok(())
    }

    /// Appends a row to `events.parquet`, opening it first if needed.
    pub fn write_event(&mut self, row: &EventRow) -> Result<(), OutputError> {
        self.enable_events()?;
        match &mut self.events {
            Some(events) => events.push(row),
            None => unreachable!("enable_events opened events.parquet"),
        }
    }

    /// Opens `paths.parquet` (a scenario with service paths), so that the
    /// file exists even when no row is written. Does nothing when it is
    /// already open.
    pub fn enable_paths(&mut self) -> Result<(), OutputError> {
        if self.paths.is_none() {
            self.paths = Some(TableWriter::create(self.staging.path(), &self.options)?);
        }
        Ok(())
    }

    /// Appends a row to `paths.parquet`, opening it first if needed.
    pub fn write_path(&mut self, row: &PathRow) -> Result<(), OutputError> {
        self.enable_paths()?;
        match &mut self.paths {
            Some(paths) => paths.push(row),
            None => unreachable!("enable_paths opened paths.parquet"),
        }
    }

    /// Writes `scenarios.parquet` (ranked injection scenarios), replacing it
    /// if written before. Returns the number of rows.
    pub fn write_scenarios(&mut self, rows: &[ScenarioRow]) -> Result<u64, OutputError> {
        write_rows(self.staging.path(), rows, &self.options)
    }

    /// Writes `remediations.parquet` (remediation suggestions), replacing it
    /// if written before. Returns the number of rows.
    pub fn write_remediations(&mut self, rows: &[RemediationRow]) -> Result<u64, OutputError> {
        write_rows(self.staging.path(), rows, &self.options)
    }

    /// Writes `bytes` as the file `name` of the run directory (a copy of
    /// an input, for example). `name` is a plain file name: no path
    /// separator, not hidden, not `manifest.json` and not a table's
    /// `*.parquet`.
    pub fn write_file(&mut self, name: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && !name.contains(['/', '\\'])
            && name != MANIFEST_FILE
            && !name.ends_with(".parquet");
        if !plain {
            return Err(OutputError::InvalidOutDir {
                path: self.out_dir.join(name),
                reason: "not a plain file name for a run directory".to_string(),
            });
        }
        let path = self.staging.path().join(name);
        let mut file = File::create(&path).map_err(|e| OutputError::io("create", &path, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| OutputError::io("write", &path, e))
    }

    /// Completes and publishes the run directory.
    ///
    /// Closes the streamed tables (writing their footers), writes
    /// `risk.parquet`, reads every Parquet footer back to count rows, writes
    /// `manifest.json` (a [`Manifest`]: `info` plus the `tool` marker,
    /// `row_counts` — `{"campaigns": n, "handlers": n, "risk": n, ...}` —
    /// and `files`, the sorted list of data files), syncs everything, and
    /// atomically replaces `out_dir` with the staging directory.
    ///
    /// On error the staging directory is deleted and `out_dir` is left as it
    /// was.
    pub fn finish(self, risk: &[RiskRow], info: RunInfo) -> Result<RunSummary, OutputError> {
        self.finish_with(risk, info, |_| {})
    }

    /// [`finish`](Self::finish), calling `complete` on the run's
    /// information just before the manifest is written, after every table
    /// (so that it can record how long writing them took).
    pub fn finish_with(
        self,
        risk: &[RiskRow],
        mut info: RunInfo,
        complete: impl FnOnce(&mut RunInfo),
    ) -> Result<RunSummary, OutputError> {
        let RunWriter {
            out_dir,
            parent,
            name,
            options,
            campaigns,
            handlers,
            events,
            paths,
            staging,
        } = self;

        let dir = staging.path();
        let campaigns = campaigns.finish()?;
        let handlers = handlers.finish()?;
        if let Some(events) = events {
            events.finish()?;
        }
        if let Some(paths) = paths {
            paths.finish()?;
        }
        let risk = write_rows(dir, risk, &options)?;

        let (row_counts, files) = verify_tables(dir)?;
        for (table, written) in [
            (CampaignRow::NAME, campaigns),
            (HandlerRow::NAME, handlers),
            (RiskRow::NAME, risk),
        ] {
            assert_eq!(
                row_counts.get(table),
                Some(&written),
                "{table}.parquet footer disagrees with the rows written"
            );
        }
        complete(&mut info);
        let manifest = Manifest {
            // The marker that lets a later run replace this directory.
            tool: manifest::TOOL.to_owned(),
            run: info,
            row_counts: row_counts.clone(),
            files,
        };
        write_manifest(&dir.join(MANIFEST_FILE), &manifest)?;

        staging.publish(&out_dir, &parent, &name)?;
        Ok(RunSummary {
            out_dir,
            campaigns,
            handlers,
            risk,
            row_counts,
        })
    }

    /// Gives up on this run: deletes the staging directory and leaves
    /// `out_dir` as it was. Dropping the writer does the same.
    pub fn abandon(self) {
        drop(self);
    }
}

/// Reads the footer of every `*.parquet` in `dir` (proving each is complete)
/// and syncs each file. Returns row counts by table name and the sorted
/// list of file names in the directory (other than the manifest).
fn verify_tables(dir: &Path) -> Result<(BTreeMap<String, u64>, Vec<String>), OutputError> {
    let mut row_counts = BTreeMap::new();
    let mut files = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| OutputError::io("read", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| OutputError::io("read", dir, e))?;
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name == MANIFEST_FILE {
            continue;
        }
        files.push(file_name);
        if path.extension().is_none_or(|ext| ext != "parquet") || !path.is_file() {
            continue;
        }
        let file = File::open(&path).map_err(|e| OutputError::io("open", &path, e))?;
        file.sync_all()
            .map_err(|e| OutputError::io("sync", &path, e))?;
        let reader = SerializedFileReader::new(file).map_err(|e| OutputError::parquet(&path, e))?;
        let rows = reader.metadata().file_metadata().num_rows();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        row_counts.insert(stem, u64::try_from(rows).unwrap_or(0));
    }
    files.sort();
    Ok((row_counts, files))
}

/// Writes `manifest.json` pretty-printed with a final newline, and syncs it.
fn write_manifest(path: &Path, manifest: &Manifest) -> Result<(), OutputError> {
    let mut text = serde_json::to_vec_pretty(manifest).map_err(|source| OutputError::Json {
        action: "write",
        path: path.to_owned(),
        source,
    })?;
    text.push(b'\n');
    let mut file = File::create(path).map_err(|e| OutputError::io("create", path, e))?;
    file.write_all(&text)
        .and_then(|()| file.sync_all())
        .map_err(|e| OutputError::io("write", path, e))
}
