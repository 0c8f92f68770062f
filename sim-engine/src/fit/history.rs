//! Reading an incident history (CSV or Parquet) and mapping its columns.
//!
//! The canonical columns are `resource`, `resource_type`, `mode`, `start`,
//! `end` and `cause` (see the scenario format, "Input data files"). Real
//! exports name them differently, so a [`Mapping`] says which source column
//! holds each, which rows to keep (`--filter`), how to group them
//! (`--group-by`), how to read times (`--time-format`) and the observation
//! window (`--from`, `--to`). Every problem names the file, the column and the
//! line (CSV, counting the header as line 1) or row (Parquet, from 1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// The canonical column names.
pub const CANONICAL: [&str; 6] = ["resource", "resource_type", "mode", "start", "end", "cause"];

/// How the columns of a file map to the canonical ones, and what to keep.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// `--col CANONICAL=SOURCE`.
    pub cols: Vec<(String, String)>,
    /// `--set CANONICAL=VALUE`: a constant for a column the file lacks.
    pub set: Vec<(String, String)>,
    /// `--time-format` (chrono `strftime` syntax); default RFC 3339 and ISO forms.
    pub time_format: Option<String>,
    /// `--filter COLUMN=VALUE[,VALUE...]`: keep rows whose column is one of the values.
    pub filters: Vec<(String, Vec<String>)>,
    /// `--group-by COLUMN[,COLUMN...]`; empty means `resource_type,mode`.
    pub group_by: Vec<String>,
    /// `--type-map RAW=TYPE`: resource-type labels as the file writes them → scenario types.
    pub type_map: Vec<(String, String)>,
    /// `--from`: start of the observation window (default: the first timestamp).
    pub from: Option<String>,
    /// `--to`: end of the observation window (default: the last timestamp).
    pub to: Option<String>,
    /// Whether the caller takes `--col`/`--time-format` (`preflight fit`),
    /// so messages may suggest them; `calibrate --history` and
    /// `historical_faults:` read the canonical columns only.
    pub mapping_flags: bool,
}

impl Mapping {
    /// How to get a column named `canon`: a flag where the command has one,
    /// else renaming the file's column.
    fn map_hint(&self, canon: &str) -> String {
        if self.mapping_flags {
            format!("map one with --col {canon}=COLUMN")
        } else {
            format!(
                "name a column `{canon}` (this command reads the canonical column names {}; \
                 `preflight fit` can map other names with --col)",
                CANONICAL.join(", ")
            )
        }
    }
}

/// One incident after mapping. Times are seconds since the Unix epoch (UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Which resource failed.
    pub resource: String,
    /// Its type (after `--type-map`), when the file or `--set` gives one.
    pub resource_type: Option<String>,
    /// The failure mode, when the file or `--set` gives one.
    pub mode: Option<String>,
    /// When the failure began.
    pub start: f64,
    /// When service was restored; `None` while still open.
    pub end: Option<f64>,
    /// Root-cause label.
    pub cause: Option<String>,
    /// The values of the `--group-by` columns (name, value).
    pub group: Vec<(String, String)>,
    /// Where the row is: CSV line or Parquet row.
    pub line: usize,
}

/// A loaded, filtered and windowed history.
#[derive(Debug, Clone)]
pub struct History {
    /// The file read.
    pub file: PathBuf,
    /// Incidents whose start lies in the window, in file order.
    pub incidents: Vec<Incident>,
    /// Observation window, seconds since the epoch.
    pub from: f64,
    /// End of the observation window.
    pub to: f64,
    /// Rows read from the file.
    pub rows_read: usize,
    /// Things worth saying (defaults taken, rows outside the window...).
    pub notes: Vec<String>,
    /// Whether the file had `end` times (else no repair times can be fitted).
    pub has_end: bool,
}

/// Bad input, with everything needed to find it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryError {
    /// One line per problem, each naming the file.
    pub problems: Vec<String>,
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problems.join("\n"))
    }
}

impl std::error::Error for HistoryError {}

fn err(file: &Path, msg: impl std::fmt::Display) -> HistoryError {
    HistoryError {
        problems: vec![format!("{}: {msg}", file.display())],
    }
}

/// The raw table: header names and rows of strings (missing cells empty).
struct Table {
    headers: Vec<String>,
    /// (line or row number, cells).
    rows: Vec<(usize, Vec<String>)>,
    /// "line" for CSV, "row" for Parquet.
    unit: &'static str,
}

impl Table {
    fn col(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// The column names for a message, as "`a`, `b`, `c`". A first line
    /// with fewer than two fields is not shown: it is not the header of an
    /// incident history (which needs at least a resource and a start), and
    /// such a file may be anything (a configuration or password file
    /// named by mistake or on purpose), whose content a message must not
    /// echo. Long or many names are cut.
    fn describe_columns(&self) -> String {
        if self.headers.len() < 2 {
            return "no header row with column names (its first line is not a \
                    comma-separated list of names)"
                .to_string();
        }
        const NAMES: usize = 40;
        const CHARS: usize = 40;
        let mut names: Vec<String> = self
            .headers
            .iter()
            .take(NAMES)
            .map(|h| {
                let cut: String = h
                    .chars()
                    .take(CHARS)
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                if h.chars().count() > CHARS {
                    format!("`{cut}…`")
                } else {
                    format!("`{cut}`")
                }
            })
            .collect();
        if self.headers.len() > NAMES {
            names.push(format!("and {} more", self.headers.len() - NAMES));
        }
        names.join(", ")
    }
}

fn read_csv(file: &Path) -> Result<Table, HistoryError> {
    let bytes = crate::inputs::read_regular(file, crate::inputs::MAX_DATA_FILE_BYTES)
        .map_err(|m| err(file, m))?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(bytes.as_slice());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| err(file, format!("cannot read the header line: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    // Rows whose field count differs from the header's: (line, fields).
    let mut ragged: Vec<(usize, usize)> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            err(file, format!("line {line}: not valid CSV: {e}"))
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        if rec.len() != headers.len() {
            ragged.push((line, rec.len()));
            continue;
        }
        let cells: Vec<String> = rec.iter().map(|c| c.trim().to_string()).collect();
        rows.push((line, cells));
    }
    if !ragged.is_empty() {
        const SHOWN: usize = 10;
        let lines: Vec<String> = ragged
            .iter()
            .take(SHOWN)
            .map(|(l, n)| format!("line {l} has {n}"))
            .collect();
        let more = if ragged.len() > SHOWN {
            format!(" (and {} more rows)", ragged.len() - SHOWN)
        } else {
            String::new()
        };
        return Err(err(
            file,
            format!(
                "{} row(s) do not have one field per column: the header has {} fields, but {}{more}; \
                 write every column in every row (an empty field for an open incident's end)",
                ragged.len(),
                headers.len(),
                lines.join(", ")
            ),
        ));
    }
    Ok(Table {
        headers,
        rows,
        unit: "line",
    })
}

fn read_parquet(file: &Path) -> Result<Table, HistoryError> {
    use arrow::array::{Array, StringArray};
    use arrow::datatypes::DataType;
    use arrow::record_batch::RecordBatchReader;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let f = crate::inputs::open_regular(file, crate::inputs::MAX_DATA_FILE_BYTES)
        .map_err(|m| err(file, m))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.build())
        .map_err(|e| err(file, format!("not a readable Parquet file: {e}")))?;
    let headers: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(file, format!("cannot read: {e}")))?;
        let cols: Vec<StringArray> = batch
            .columns()
            .iter()
            .zip(&headers)
            .map(|(c, name)| {
                let s = arrow::compute::cast(c, &DataType::Utf8)
                    .map_err(|e| err(file, format!("column `{name}`: cannot read as text: {e}")))?;
                Ok(s.as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .unwrap_or_else(|| StringArray::from(vec![None::<&str>; c.len()])))
            })
            .collect::<Result<_, HistoryError>>()?;
        for i in 0..batch.num_rows() {
            let cells = cols
                .iter()
                .map(|c| {
                    if c.is_null(i) {
                        String::new()
                    } else {
                        c.value(i).trim().to_string()
                    }
                })
                .collect();
            rows.push((rows.len() + 1, cells));
        }
    }
    Ok(Table {
        headers,
        rows,
        unit: "row",
    })
}

fn read_table(file: &Path) -> Result<Table, HistoryError> {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => read_csv(file),
        Some("parquet") | Some("pq") => read_parquet(file),
        _ => Err(err(
            file,
            "unknown file type: an incident history is a .csv or .parquet file",
        )),
    }
}

/// Parses a timestamp: with `format` (chrono `strftime`, read as UTC; a
/// format without a time of day reads midnight), else RFC 3339 or
/// `YYYY-MM-DD[ T]HH:MM[:SS[.fff]]` or `YYYY-MM-DD`. Seconds since the epoch.
pub fn parse_time(s: &str, format: Option<&str>) -> Option<f64> {
    let s = s.trim();
    let secs = |dt: NaiveDateTime| {
        let u = dt.and_utc();
        u.timestamp() as f64 + u.timestamp_subsec_nanos() as f64 * 1e-9
    };
    if let Some(fmt) = format {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt.timestamp() as f64 + dt.timestamp_subsec_nanos() as f64 * 1e-9);
        }
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(secs(dt));
        }
        return NaiveDate::parse_from_str(s, fmt)
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(secs);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp() as f64 + dt.timestamp_subsec_nanos() as f64 * 1e-9);
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(secs(dt));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(secs)
}

/// Formats seconds since the epoch as RFC 3339 (UTC).
pub fn format_time(t: f64) -> String {
    DateTime::from_timestamp(t.floor() as i64, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("{t}"))
}

fn expected_time(format: Option<&str>, flags: bool) -> String {
    match format {
        Some(f) => format!("a time in --time-format `{f}`"),
        None if flags => {
            "an RFC 3339 time like 2005-06-21T10:54:00Z (or give --time-format)".into()
        }
        None => "an RFC 3339 time like 2005-06-21T10:54:00Z, or YYYY-MM-DD[ HH:MM[:SS]]".into(),
    }
}

/// Where a canonical column comes from.
enum Source {
    Column(usize),
    Constant(String),
    Absent,
}

/// Reads `file` and applies `mapping`, in stages: the table read, its
/// columns resolved (`Columns::resolve`), every row kept by the filters
/// mapped to an incident (`Columns::incidents`), then the observation
/// window found (`window`) and applied.
pub fn load_history(file: &Path, mapping: &Mapping) -> Result<History, HistoryError> {
    let table = read_table(file)?;
    let mut notes = Vec::new();
    let cols = Columns::resolve(&table, file, mapping)?;
    let has_end = !matches!(cols.end, Source::Absent);
    if !has_end {
        notes.push(format!(
            "no `end` column: repair times cannot be fitted ({})",
            mapping.map_hint("end")
        ));
    }
    let mut incidents = cols.incidents()?;
    let (from, to) = window(file, mapping, &incidents)?;
    let before = incidents.len();
    incidents.retain(|i| i.start >= from && i.start <= to);
    if incidents.len() < before {
        notes.push(format!(
            "{} incident{} outside the window {} .. {} left out",
            before - incidents.len(),
            if before - incidents.len() == 1 {
                ""
            } else {
                "s"
            },
            format_time(from),
            format_time(to)
        ));
    }
    if incidents.is_empty() {
        return Err(err(
            file,
            format!(
                "empty selection: no incident{} starts within {} .. {}; expected at least one",
                matching(mapping),
                format_time(from),
                format_time(to)
            ),
        ));
    }
    Ok(History {
        file: file.to_path_buf(),
        incidents,
        from,
        to,
        rows_read: table.rows.len(),
        notes,
        has_end,
    })
}

/// The filters in words for a message (" matching --filter a=b"), or nothing.
fn matching(mapping: &Mapping) -> String {
    if mapping.filters.is_empty() {
        return String::new();
    }
    format!(
        " matching {}",
        mapping
            .filters
            .iter()
            .map(|(c, v)| format!("--filter {c}={}", v.join(",")))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// The observation window `(from, to)`, seconds since the epoch: `--from`
/// and `--to`, by default the first start and the last start or end of
/// `incidents`. An empty window is an error.
fn window(
    file: &Path,
    mapping: &Mapping,
    incidents: &[Incident],
) -> Result<(f64, f64), HistoryError> {
    let fmt = mapping.time_format.as_deref();
    let window_time = |flag: &str, v: &Option<String>| -> Result<Option<f64>, HistoryError> {
        v.as_deref()
            .map(|s| {
                parse_time(s, None)
                    .or_else(|| parse_time(s, fmt))
                    .ok_or_else(|| {
                        err(
                            file,
                            format!(
                                "{flag} `{s}`: cannot read as a time; expected RFC 3339, YYYY-MM-DD or the --time-format"
                            ),
                        )
                    })
            })
            .transpose()
    };
    let from = window_time("--from", &mapping.from)?.unwrap_or_else(|| {
        incidents
            .iter()
            .map(|i| i.start)
            .fold(f64::INFINITY, f64::min)
    });
    let to = window_time("--to", &mapping.to)?.unwrap_or_else(|| {
        incidents
            .iter()
            .map(|i| i.end.unwrap_or(i.start).max(i.start))
            .fold(f64::NEG_INFINITY, f64::max)
    });
    if to <= from {
        return Err(err(
            file,
            format!(
                "the observation window is empty: --from {} is not before --to {}",
                format_time(from),
                format_time(to)
            ),
        ));
    }
    Ok((from, to))
}

/// Where everything [`load_history`] reads comes from in one table: the
/// canonical columns, the filters' columns and the group-by columns.
struct Columns<'a> {
    file: &'a Path,
    mapping: &'a Mapping,
    table: &'a Table,
    resource: Source,
    start: Source,
    end: Source,
    resource_type: Source,
    mode: Source,
    cause: Source,
    /// `--filter`: the column and the values kept.
    filters: Vec<(usize, &'a [String])>,
    /// `--group-by` names (default `resource_type,mode`).
    group_cols: Vec<String>,
    /// Per group-by name: the raw column read, or `None` for a canonical
    /// name (its mapped value).
    group_src: Vec<Option<usize>>,
    /// `--type-map`.
    type_map: BTreeMap<&'a str, &'a str>,
}

impl<'a> Columns<'a> {
    /// Resolves `mapping` against `table`'s header: every name mapped is a
    /// canonical one, `resource` and `start` are present, and every
    /// `--col`, `--filter` and `--group-by` column exists.
    fn resolve(
        table: &'a Table,
        file: &'a Path,
        mapping: &'a Mapping,
    ) -> Result<Columns<'a>, HistoryError> {
        for (canon, _) in mapping.cols.iter().chain(&mapping.set) {
            if !CANONICAL.contains(&canon.as_str()) {
                return Err(err(
                    file,
                    format!(
                        "`{canon}` is not a column preflight reads (expected one of {})",
                        CANONICAL.join(", ")
                    ),
                ));
            }
        }
        let source = |canon: &str| source(table, file, mapping, canon);
        let need = |canon: &str| -> Result<Source, HistoryError> {
            match source(canon)? {
                Source::Absent => Err(err(
                    file,
                    format!(
                        "no `{canon}` column: {} (the file has {})",
                        mapping.map_hint(canon),
                        table.describe_columns()
                    ),
                )),
                s => Ok(s),
            }
        };
        let resource = need("resource")?;
        let start = need("start")?;
        let end = source("end")?;
        let resource_type = source("resource_type")?;
        let mode = source("mode")?;
        let cause = source("cause")?;
        let filters: Vec<(usize, &[String])> = mapping
            .filters
            .iter()
            .map(|(c, vs)| Ok((resolve(table, file, mapping, c, "--filter")?, vs.as_slice())))
            .collect::<Result<_, HistoryError>>()?;
        let group_cols: Vec<String> = if mapping.group_by.is_empty() {
            vec!["resource_type".into(), "mode".into()]
        } else {
            mapping.group_by.clone()
        };
        // Group by a canonical column reads its mapped value; by any other, the raw cell.
        let group_src: Vec<Option<usize>> = group_cols
            .iter()
            .map(|g| {
                if CANONICAL.contains(&g.as_str()) {
                    Ok(None)
                } else {
                    resolve(table, file, mapping, g, "--group-by").map(Some)
                }
            })
            .collect::<Result<_, HistoryError>>()?;
        let type_map: BTreeMap<&str, &str> = mapping
            .type_map
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        Ok(Columns {
            file,
            mapping,
            table,
            resource,
            start,
            end,
            resource_type,
            mode,
            cause,
            filters,
            group_cols,
            group_src,
            type_map,
        })
    }

    /// The incidents of the rows the filters keep, in file order. Every
    /// row that cannot be read is a problem (the first 20 are reported);
    /// no incident at all is an error.
    fn incidents(&self) -> Result<Vec<Incident>, HistoryError> {
        let file = self.file;
        let mut problems = Vec::new();
        let mut incidents = Vec::new();
        for (line, row) in &self.table.rows {
            if !self
                .filters
                .iter()
                .all(|(i, vs)| vs.iter().any(|v| v == &row[*i]))
            {
                continue;
            }
            match self.incident(*line, row) {
                Ok(i) => incidents.push(i),
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            let n = problems.len();
            problems.truncate(20);
            if n > 20 {
                problems.push(format!(
                    "{}: … and {} more problems",
                    file.display(),
                    n - 20
                ));
            }
            return Err(HistoryError { problems });
        }
        if incidents.is_empty() {
            return Err(err(
                file,
                format!(
                    "empty selection: no incident{} ({} rows read); expected at least one",
                    matching(self.mapping),
                    self.table.rows.len()
                ),
            ));
        }
        Ok(incidents)
    }

    /// The cell of `row` for a canonical column (`None` when empty or absent).
    fn cell(&self, row: &[String], s: &Source) -> Option<String> {
        match s {
            Source::Column(i) => Some(row[*i].clone()).filter(|v| !v.is_empty()),
            Source::Constant(v) => Some(v.clone()),
            Source::Absent => None,
        }
    }

    /// The name of the column a canonical column is read from, for messages.
    fn col_name(&self, canon: &str, s: &Source) -> String {
        match s {
            Source::Column(i) => self.table.headers[*i].clone(),
            _ => canon.to_string(),
        }
    }

    /// The incident of one row at `line`, or the problem with it.
    fn incident(&self, line: usize, row: &[String]) -> Result<Incident, String> {
        let fmt = self.mapping.time_format.as_deref();
        let flags = self.mapping.mapping_flags;
        let at = format!("{}: {} {line}", self.file.display(), self.table.unit);
        let Some(res) = self.cell(row, &self.resource) else {
            return Err(format!(
                "{at}: column `{}`: empty; expected a resource id",
                self.col_name("resource", &self.resource)
            ));
        };
        let Some(start_s) = self.cell(row, &self.start) else {
            return Err(format!(
                "{at}: column `{}`: empty; expected {}",
                self.col_name("start", &self.start),
                expected_time(fmt, flags)
            ));
        };
        let Some(t0) = parse_time(&start_s, fmt) else {
            return Err(format!(
                "{at}: column `{}`: cannot read `{start_s}` as a time; expected {}",
                self.col_name("start", &self.start),
                expected_time(fmt, flags)
            ));
        };
        let t1 = match self.cell(row, &self.end) {
            None => None,
            Some(end_s) => match parse_time(&end_s, fmt) {
                Some(t1) if t1 < t0 => {
                    return Err(format!(
                        "{at}: column `{}`: `{end_s}` is before the start `{start_s}`; expected an end at or after the start (or empty while still open)",
                        self.col_name("end", &self.end)
                    ));
                }
                Some(t1) => Some(t1),
                None => {
                    return Err(format!(
                        "{at}: column `{}`: cannot read `{end_s}` as a time; expected {} (or empty while still open)",
                        self.col_name("end", &self.end),
                        expected_time(fmt, flags)
                    ));
                }
            },
        };
        let rt = self.cell(row, &self.resource_type).map(|t| {
            self.type_map
                .get(t.as_str())
                .map_or(t.clone(), |m| m.to_string())
        });
        let md = self.cell(row, &self.mode);
        let group = self
            .group_cols
            .iter()
            .zip(&self.group_src)
            .map(|(g, src)| {
                let v = match src {
                    Some(i) => row[*i].clone(),
                    None => match g.as_str() {
                        "resource" => res.clone(),
                        "resource_type" => rt.clone().unwrap_or_default(),
                        "mode" => md.clone().unwrap_or_default(),
                        "cause" => self.cell(row, &self.cause).unwrap_or_default(),
                        "start" => start_s.clone(),
                        _ => self.cell(row, &self.end).unwrap_or_default(),
                    },
                };
                (g.clone(), v)
            })
            .collect();
        Ok(Incident {
            resource: res,
            resource_type: rt,
            mode: md,
            start: t0,
            end: t1,
            cause: self.cell(row, &self.cause),
            group,
            line,
        })
    }
}

/// Where canonical column `canon` comes from: `--col` (which must name a
/// column of the table), else `--set`, else the table's column of that name.
fn source(
    table: &Table,
    file: &Path,
    mapping: &Mapping,
    canon: &str,
) -> Result<Source, HistoryError> {
    if let Some((_, src)) = mapping.cols.iter().rev().find(|(c, _)| c == canon) {
        return table.col(src).map(Source::Column).ok_or_else(|| {
            err(
                file,
                format!(
                    "--col {canon}={src}: the file has no column `{src}` (it has {})",
                    table.describe_columns()
                ),
            )
        });
    }
    if let Some((_, v)) = mapping.set.iter().rev().find(|(c, _)| c == canon) {
        return Ok(Source::Constant(v.clone()));
    }
    Ok(table.col(canon).map_or(Source::Absent, Source::Column))
}

/// The column of a filter or group-by (`what` names the flag): a source
/// name, or a canonical name mapped with `--col`.
fn resolve(
    table: &Table,
    file: &Path,
    mapping: &Mapping,
    name: &str,
    what: &str,
) -> Result<usize, HistoryError> {
    if let Some(i) = table.col(name) {
        return Ok(i);
    }
    if let Some((_, src)) = mapping.cols.iter().rev().find(|(c, _)| c == name)
        && let Some(i) = table.col(src)
    {
        return Ok(i);
    }
    Err(err(
        file,
        format!(
            "{what} {name}: the file has no column `{name}` (it has {})",
            table.describe_columns()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_the_documented_forms() {
        assert_eq!(parse_time("1970-01-01T00:01:00Z", None), Some(60.0));
        assert_eq!(parse_time("1970-01-01 00:01", None), Some(60.0));
        assert_eq!(parse_time("1970-01-02", None), Some(86_400.0));
        assert_eq!(
            parse_time("1/1/1970 0:02", Some("%m/%d/%Y %H:%M")),
            Some(120.0)
        );
        assert_eq!(parse_time("yesterday", None), None);
        assert_eq!(format_time(86_400.0), "1970-01-02T00:00:00Z");
    }
}
